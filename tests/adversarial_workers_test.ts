// The adversarial suite for `@percpu/percpu/workers`: atomic remote access,
// remote sums, per-CPU counters and runOnCpus options, under the same
// hostile values as the core's suite. Each bad input throws the right class
// with a message naming the entry point (or the input's own error, as it
// was thrown) and changes nothing: memory, counter totals, no Worker left.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  bool,
  createPercpu,
  f32,
  i8,
  type Percpu,
  type ScalarKind,
  type ScalarPercpuVar,
  struct,
  u32,
  u64,
  u8,
  usize,
} from "../mod.ts";
import {
  atomicRemote,
  defPercpuCounter,
  remoteSum,
  runOnCpus,
  shareAreas,
} from "../lib/workers/mod.ts";
import { portOf } from "../lib/_port.ts";
import { isRevokedProxy } from "../lib/_describe.ts";
import { percpu as taskSystem } from "./fixtures/cpu_task.ts";

const TASK = new URL("./fixtures/cpu_task.ts", import.meta.url);

class Planted extends Error {}

function hostiles(): [string, unknown][] {
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  const throwing = () => {
    throw new Planted("planted");
  };
  return [
    ["null", null],
    ["undefined", undefined],
    ["NaN", NaN],
    ["-1", -1],
    ["1.5", 1.5],
    ["2^53", 2 ** 53],
    ['"1"', "1"],
    ["1n", 1n],
    ["2^64n", 2n ** 64n],
    ["symbol", Symbol("s")],
    ["true", true],
    ["a function", () => 1],
    ["[1]", [1]],
    ["{}", {}],
    ["null-prototype object", Object.create(null)],
    ["throwing toString/valueOf", {
      toString: throwing,
      valueOf: throwing,
      [Symbol.toPrimitive]: throwing,
    }],
    [
      "a Proxy whose every trap throws",
      new Proxy({}, {
        get: throwing,
        has: throwing,
        ownKeys: throwing,
        getOwnPropertyDescriptor: throwing,
        getPrototypeOf: throwing,
      }),
    ],
    ["a revoked Proxy", revocable.proxy],
    [
      "a getter that throws",
      Object.defineProperty({}, "batch", { enumerable: true, get: throwing }),
    ],
  ];
}

/** A name for a generated value that no value's own code can break. */
function label(value: unknown): string {
  try {
    return typeof value === "symbol" ? value.toString() : JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}

function typeOf(value: unknown): string {
  return typeof value;
}

function system() {
  const p = createPercpu();
  const vars: Record<string, ScalarPercpuVar> = {
    u8: p.defPercpu("U8", u8, 1),
    i8: p.defPercpu("I8", i8, -1),
    u32: p.defPercpu("U32", u32, 7),
    u64: p.defPercpu("U64", u64, 7n),
    usize: p.defPercpu("USIZE", usize, 7),
    f32: p.defPercpu("F32", f32, 0.5),
    bool: p.defPercpu("FLAG", bool, true),
  };
  const pair = p.defPercpu("PAIR", struct({ a: u8 }), { a: 1 });
  const counter = defPercpuCounter(p, "EVENTS", { batch: 4 });
  p.init(2, { buffer: new SharedArrayBuffer(p.percpuAreaLayoutExpected(2).size) });
  p.initPercpuReg(0);
  counter.add(3);
  return { p, vars, pair, counter };
}

function snapshot(p: Percpu, counter: { read(): number; sum(): number }) {
  return {
    memory: portOf(p).memory.regions.map((region) => region.u8.slice()),
    read: counter.read(),
    sum: counter.sum(),
  };
}

type Expected = typeof TypeError | typeof RangeError | "either";

function refuses(
  what: string,
  name: string,
  expected: Expected,
  call: () => unknown,
  state: () => unknown,
): void {
  const before = state();
  assert.throws(call, (e) => {
    if (e instanceof Planted) return true;
    const ok = expected === "either"
      ? e instanceof TypeError || e instanceof RangeError
      : e instanceof expected && (e as Error).constructor === expected;
    assert.ok(
      ok,
      `${what}: expected ${expected === "either" ? "Type/RangeError" : expected.name}, got ${e}`,
    );
    assert.ok((e as Error).message.includes(name), `${what}: ${(e as Error).message}`);
    return true;
  }, what);
  assert.deepEqual(state(), before, `${what}: something changed`);
}

/** `atomicRemote(...).store(cpu, v)` and `.add`: the accessors' rules. */
function storeVerdict(kind: string, value: unknown): "ok" | Expected {
  const js = kind === "u64" ? "bigint" : kind === "bool" ? "boolean" : "number";
  if (typeOf(value) !== js) return TypeError;
  if (kind === "bool") return "ok";
  if (kind === "f32") {
    const n = value as number;
    return Number.isFinite(n) && !Number.isFinite(Math.fround(n)) ? RangeError : "ok";
  }
  if (kind === "u64") return BigInt.asUintN(64, value as bigint) === value ? "ok" : RangeError;
  const ranges: Record<string, [number, number]> = {
    u8: [0, 255],
    i8: [-128, 127],
    u32: [0, 2 ** 32 - 1],
    usize: [0, Number.MAX_SAFE_INTEGER],
  };
  const [min, max] = ranges[kind];
  const n = value as number;
  return Number.isInteger(n) && n >= min && n <= max ? "ok" : RangeError;
}

function addVerdict(kind: string, value: unknown): "ok" | Expected {
  if (kind === "bool") return TypeError;
  const js = kind === "u64" ? "bigint" : "number";
  if (typeOf(value) !== js) return TypeError;
  if (kind === "u64" || kind === "f32") return "ok";
  return Number.isSafeInteger(value) ? "ok" : RangeError;
}

/** `atomicRemote(...).add` on a usize also refuses a sum outside 0 to 2^53 − 1. */
function usizeSumVerdict(current: number, delta: number): "ok" | Expected {
  const sum = current + delta;
  return Number.isSafeInteger(sum) && sum >= 0 ? "ok" : RangeError;
}

Deno.test("atomicRemote and remoteSum refuse hostile input by class; nothing changes", () => {
  const { p, vars, pair, counter } = system();
  const state = () => snapshot(p, counter);
  let cases = 0;
  for (const [label, value] of hostiles()) {
    refuses(
      `atomicRemote(${label}, v)`,
      "atomicRemote",
      TypeError,
      () => atomicRemote(value as never, vars.u8),
      state,
    );
    refuses(
      `atomicRemote(p, ${label})`,
      "atomicRemote",
      TypeError,
      () => atomicRemote(p, value as never),
      state,
    );
    refuses(
      `remoteSum(${label}, v)`,
      "atomicRemote",
      TypeError,
      () => remoteSum(value as never, vars.u8),
      state,
    );
    refuses(
      `remoteSum(p, ${label})`,
      "atomicRemote",
      TypeError,
      () => remoteSum(p, value as never),
      state,
    );
    cases += 4;
    for (const [kind, v] of Object.entries(vars)) {
      const atomic = atomicRemote(p, v);
      const cpuClass = typeof value === "number" ? RangeError : TypeError;
      refuses(`${kind} load(${label})`, v.name, cpuClass, () => atomic.load(value as never), state);
      refuses(
        `${kind} store(${label}, ok)`,
        v.name,
        cpuClass,
        () => atomic.store(value as never, v.readCurrent() as never),
        state,
      );
      const store = storeVerdict(kind, value);
      if (store !== "ok") {
        refuses(
          `${kind} store(0, ${label})`,
          `${v.name}@CPU 0 atomic store`,
          store,
          () => atomic.store(0, value as never),
          state,
        );
        cases++;
      }
      const add = addVerdict(kind, value);
      if (add !== "ok") {
        refuses(
          `${kind} add(0, ${label})`,
          `${v.name}@CPU 0 atomic add`,
          add,
          () => atomic.add(0, value as never),
          state,
        );
        cases++;
      }
      cases += 2;
    }
  }
  // Scalar variables only; bool has no sum; other systems' variables are refused.
  refuses(
    "atomicRemote(struct)",
    "atomic access is for scalar",
    TypeError,
    () => atomicRemote(p, pair as never),
    state,
  );
  refuses("remoteSum(bool)", "FLAG is a bool", TypeError, () => remoteSum(p, vars.bool), state);
  refuses(
    "foreign variable",
    "not a variable of this system",
    TypeError,
    () => atomicRemote(p, createPercpu().defPercpu("U8", u8, 0)),
    state,
  );
  // usize adds that leave the safe integers are refused, not rounded.
  refuses(
    "usize add past 2^53",
    "USIZE@CPU 1 atomic add",
    RangeError,
    () => atomicRemote(p, vars.usize).add(1, Number.MAX_SAFE_INTEGER),
    state,
  );
  assert.ok(cases > 150, `${cases} cases`);
});

Deno.test("atomicRemote agrees with the accessors' rules for any value (fast-check)", () => {
  const { p, vars, counter } = system();
  const state = () => snapshot(p, counter);
  fc.assert(
    fc.property(
      fc.constantFrom(...Object.keys(vars) as ScalarKind[]),
      fc.oneof(
        fc.anything(),
        fc.integer({ min: -(2 ** 33), max: 2 ** 33 }),
        fc.double(),
        fc.bigInt(),
      ),
      fc.boolean(),
      (kind, value, adding) => {
        const v = vars[kind];
        const atomic = atomicRemote(p, v);
        let verdict = adding ? addVerdict(kind, value) : storeVerdict(kind, value);
        if (adding && kind === "usize" && verdict === "ok") {
          verdict = usizeSumVerdict(atomic.load(1) as number, value as number);
        }
        const call = adding
          ? () => atomic.add(1, value as never)
          : () => atomic.store(1, value as never);
        if (verdict === "ok") {
          const before = atomic.load(1);
          call();
          atomic.store(1, before as never);
          return;
        }
        refuses(
          `${kind} ${adding ? "add" : "store"} ${label(value)}`,
          v.name,
          verdict,
          call,
          state,
        );
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("defPercpuCounter and PercpuCounter.add refuse hostile input; nothing changes", () => {
  const { p, counter } = system();
  const state = () => snapshot(p, counter);
  let cases = 0;
  for (const [label, value] of hostiles()) {
    refuses(
      `defPercpuCounter(${label})`,
      "defPercpuCounter",
      TypeError,
      () => defPercpuCounter(value as never, "C"),
      state,
    );
    if (value !== undefined && label !== "{}" && label !== "null-prototype object") {
      const expected = typeof value === "object" && value !== null && !isRevokedProxy(value) &&
          !Array.isArray(value)
        ? "either" // an object: an unknown key, or a bad batch
        : TypeError;
      refuses(
        `defPercpuCounter(p, "C", ${label})`,
        "defPercpuCounter",
        expected,
        () => defPercpuCounter(createPercpu(), "C", value as never),
        state,
      );
      refuses(
        `{ batch: ${label} }`,
        "defPercpuCounter: batch",
        typeof value === "number" ? RangeError : TypeError,
        () => defPercpuCounter(createPercpu(), "C", { batch: value as never }),
        state,
      );
      if (Number.isSafeInteger(value)) continue; // a valid amount
      refuses(
        `add(${label})`,
        "EVENTS.add",
        typeof value === "number" ? RangeError : TypeError,
        () => counter.add(value as never),
        state,
      );
      cases += 3;
    }
    cases++;
  }
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.double(), fc.maxSafeInteger()), (amount) => {
      if (amount === undefined) return; // the default amount, 1
      if (Number.isSafeInteger(amount)) {
        const before = counter.sum();
        try {
          counter.add(amount as number);
        } catch (e) {
          // Only a total that would leave the safe integers is refused.
          assert.ok(e instanceof RangeError, String(e));
          assert.equal(counter.sum(), before);
          return;
        }
        assert.equal(counter.sum(), before + (amount as number));
        counter.add(-(amount as number));
        return;
      }
      refuses(
        `add(${label(amount)})`,
        "EVENTS.add",
        typeof amount === "number" ? RangeError : TypeError,
        () => counter.add(amount as never),
        state,
      );
    }),
    { numRuns: 300 },
  );
  assert.ok(cases > 50, `${cases} cases`);
});

Deno.test({
  name: "runOnCpus refuses hostile options before starting a Worker",
  // The resource sanitizer fails the test if any Worker is left behind.
  async fn() {
    const shared = shareAreas(taskSystem, 2);
    const base = { module: TASK, shared };
    let cases = 0;
    for (const [label, value] of hostiles()) {
      const variants: [string, unknown, Expected][] = [
        ["options", value, TypeError],
        ["module", { ...base, module: value }, TypeError],
        ["shared", { ...base, shared: value }, TypeError],
        ["task", { ...base, task: value }, TypeError],
        ["system", { ...base, system: value }, TypeError],
        [
          "workers",
          { ...base, workers: value },
          typeof value === "number" ? RangeError : TypeError,
        ],
        ["signal", { ...base, signal: value }, TypeError],
        ["args", { ...base, args: value }, TypeError],
      ];
      for (const [what, options, expected] of variants) {
        // Options that are fine after all: undefined for optional ones, any
        // string as an export name (a missing export fails that CPU's
        // outcome), plain data as args.
        if (value === undefined && what !== "options" && what !== "module" && what !== "shared") {
          continue;
        }
        if (typeof value === "string" && value !== "" && (what === "task" || what === "system")) {
          continue;
        }
        if (what === "args") {
          try {
            structuredClone(value);
            continue;
          } catch {
            // not cloneable: refused below
          }
        }
        await assert.rejects(() => runOnCpus(options as never), (e: unknown) => {
          if (e instanceof Planted) return true;
          const ok = expected === "either"
            ? e instanceof TypeError || e instanceof RangeError
            : e instanceof expected;
          assert.ok(ok, `${what} = ${label}: ${e}`);
          assert.match((e as Error).message, /runOnCpus/, `${what} = ${label}`);
          return true;
        }, `${what} = ${label}`);
        cases++;
      }
    }
    assert.ok(cases > 100, `${cases} cases`);
  },
});
