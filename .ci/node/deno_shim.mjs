// Runs Deno.test suites under node:test: Deno.test(…) becomes test(…), and
// t.step(…) a subtest, so the core and simulator suites run unchanged under
// Node. Only what those suites use is provided: a test file that needs more
// of Deno belongs to the Deno-only list in .ci/node_tests.
import { test } from "node:test";
import { inspect } from "node:util";

function normalize(args) {
  const [first, second, third] = args;
  if (typeof first === "function") return { name: first.name, fn: first };
  if (typeof first === "string") {
    return typeof second === "function"
      ? { name: first, fn: second }
      : { ...second, name: first, fn: third };
  }
  return typeof second === "function" ? { ...first, fn: second } : first;
}

function context(t) {
  return {
    name: t.name,
    step: async (...args) => {
      const { name, fn, ignore } = normalize(args);
      let passed = true;
      await t.test(name, { skip: ignore === true }, async (inner) => {
        try {
          await fn(context(inner));
        } catch (error) {
          passed = false;
          throw error;
        }
      });
      return passed;
    },
  };
}

globalThis.Deno = {
  // What the core suites ask of Deno beyond tests: rendering a value (refs
  // and views implement Node's inspect hook as well as Deno's) and heap size.
  inspect: (value, options) => inspect(value, options),
  memoryUsage: () => process.memoryUsage(),
  test(...args) {
    const { name, fn, ignore, only } = normalize(args);
    test(
      name,
      { skip: ignore === true, ...(only === true ? { only } : {}) },
      (t) => fn(context(t)),
    );
  },
};
