// Sharded and parallel exhaustive search: the shards of checkDfs merged
// equal the whole search, checkDfsParallel gives checkDfs's verdict, a
// failing Worker or a missing shard loses nothing of the rest and is
// reported, mismatched shards are refused, and results survive JSON (and
// corrupted JSON is refused).

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkDfs,
  checkRandom,
  counterTest,
  type ExploreOptions,
  type ExploreResult,
  replay,
  type SimOptions,
} from "../sched/mod.ts";
import { Explorer, exploreSettings } from "../sched/explore/_explorer.ts";
import { EXPLORE_RESULT_FORMAT } from "../sched/explore/merge.ts";
import {
  checkDfsParallel,
  exploreResultFromJson,
  exploreResultToJson,
  mergeExploreResults,
} from "../sched/parallel.ts";

const FIXTURES = new URL("./fixtures/explore_parallel_tests.ts", import.meta.url);
const THROWS_AT_LOAD = new URL("./fixtures/explore_throws_at_load.ts", import.meta.url);

/** Small tests: one with violations of two kinds, two without. */
const CASES: { name: string; test: SimOptions; options: ExploreOptions }[] = [
  {
    name: "x86_64 3×1, bound 1",
    test: { arch: "x86_64", tasks: 3, iters: 1 },
    options: { maxPreemptions: 1 },
  },
  {
    name: "riscv64 preempt 2×1, bound 2",
    test: { arch: "riscv64", tasks: 2, iters: 1, features: ["preempt"] },
    options: { maxPreemptions: 2 },
  },
  {
    name: "aarch64 preempt 2×2, unbounded",
    test: { arch: "aarch64", tasks: 2, iters: 2, features: ["preempt"] },
    options: { maxPreemptions: Infinity },
  },
];

/** What a verdict is made of: the same for equal searches. */
function verdict(r: ExploreResult) {
  return {
    complete: r.complete,
    stopReason: r.stopReason,
    boundReached: r.boundReached,
    violations: r.violations.map((v) => ({
      kind: v.kind,
      preemptions: v.preemptions,
      steps: v.steps,
    })),
  };
}

Deno.test("the n shards of checkDfs merged equal the whole search", async (t) => {
  for (const c of CASES) {
    const test = counterTest(c.test);
    const whole = checkDfs(test, c.options);
    for (const n of [1, 2, 3, 4, 7]) {
      await t.step(`${c.name}, ${n} shards`, () => {
        const shards = Array.from(
          { length: n },
          (_, index) => checkDfs(test, { ...c.options, shard: { index, count: n } }),
        );
        const merged = mergeExploreResults(shards.toReversed());
        assert.deepEqual(verdict(merged), verdict(whole));
        assert.deepEqual(merged.failures, []);
        assert.equal(merged.shard, null);
        assert.equal(
          merged.schedulesExplored,
          shards.reduce((sum, s) => sum + s.schedulesExplored, 0),
        );
        // The merged violations replay as what they say.
        for (const v of merged.violations) {
          assert.ok(
            replay(test, v.schedule, { record: false }).violations.some((w) => w.kind === v.kind),
          );
        }
      });
    }
  }
});

Deno.test("shards add up to the split search: its runs, no more, no less", () => {
  // One pass (exhaustive): the shards' runs are the runs of one search
  // split at the same depth, which enumerates its first steps unreduced.
  const test = counterTest({ arch: "x86_64", tasks: 3, iters: 1 });
  const options = { maxPreemptions: 1, exhaustive: true };
  for (const n of [2, 3]) {
    const shards = Array.from(
      { length: n },
      (_, index) => checkDfs(test, { ...options, shard: { index, count: n } }),
    );
    const explorer = new Explorer(test, exploreSettings(options, "test", 1_000_000));
    const depth = explorer.splitDepth(1, 8 * n);
    const split = explorer.search(1, Infinity, Infinity, { depth, own: () => true });
    assert.equal(mergeExploreResults(shards).schedulesExplored, split.runs);
    assert.ok(split.runs >= checkDfs(test, options).schedulesExplored);
  }
});

Deno.test("checkDfsParallel gives checkDfs's verdict", async (t) => {
  for (const c of CASES) {
    for (const workers of c === CASES[0] ? [2] : [1, 3]) {
      await t.step(`${c.name}, ${workers} Workers`, async () => {
        const whole = checkDfs(counterTest(c.test), c.options);
        const parallel = await checkDfsParallel(
          { module: FIXTURES, export: "counter", args: c.test },
          { ...c.options, workers },
        );
        assert.deepEqual(verdict(parallel), verdict(whole));
        assert.equal(parallel.test, whole.test);
        assert.deepEqual(parallel.scope, whole.scope);
        assert.deepEqual(parallel.failures, []);
        // DPOR reaches every class and final state in the split search too.
        assert.equal(parallel.equivalenceClasses, whole.equivalenceClasses);
        assert.equal(parallel.finalStates, whole.finalStates);
        for (const v of parallel.violations) {
          assert.equal(replay(counterTest(c.test), v.schedule).stats.traceHash, v.traceHash);
        }
      });
    }
  }
});

Deno.test("checkDfsParallel: a failing Worker loses nothing of the others and is reported", async (t) => {
  const test: SimOptions = { arch: "x86_64", tasks: 3, iters: 1 };
  const options = { maxPreemptions: 1, exhaustive: true, workers: 2 };
  const whole = checkDfs(counterTest(test), { maxPreemptions: 1, exhaustive: true });
  for (const how of ["throw", "close"] as const) {
    await t.step(`a test that ${how}s in spawn on one Worker`, async () => {
      const result = await checkDfsParallel({
        module: FIXTURES,
        export: "failing",
        args: { test, worker: " 1", after: 50, how },
      }, options);
      assert.equal(result.stopReason, "failed");
      assert.equal(result.complete, false);
      assert.equal(result.failures.length, 1);
      assert.match(result.failures[0], /^Worker 1 failed on job \d+ of \d+ at bound 1: /);
      assert.match(result.failures[0], how === "throw" ? /spawn failed on purpose/ : /close\(\)/);
      // Worker 0 went on with the queue: the violations it found are kept.
      assert.ok(result.schedulesExplored > 0);
      assert.ok(result.violations.length > 0);
      for (const v of result.violations) {
        assert.ok(whole.violations.some((w) => w.kind === v.kind));
        assert.ok(replay(counterTest(test), v.schedule).violations.some((w) => w.kind === v.kind));
      }
    });
  }
  await t.step("a module that throws while it loads", async () => {
    const result = await checkDfsParallel({ module: THROWS_AT_LOAD, export: "counter" }, options);
    assert.equal(result.stopReason, "failed");
    assert.equal(result.complete, false);
    assert.equal(result.schedulesExplored, 0);
    assert.deepEqual(result.failures.map((f) => f.slice(0, 24)), [
      "Worker 0 failed to start",
      "Worker 1 failed to start",
    ]);
    assert.match(result.failures[0], /fails to load on purpose/);
  });
  await t.step("a bad export name", async () => {
    const result = await checkDfsParallel(
      { module: FIXTURES, export: "nope", args: test },
      options,
    );
    assert.equal(result.stopReason, "failed");
    assert.equal(result.violation, null);
    assert.match(result.failures[0], /does not export a function "nope"/);
  });
});

Deno.test("checkDfsParallel refuses bad input before starting a Worker", async () => {
  const source = { module: FIXTURES, export: "counter", args: { arch: "x86_64" } };
  const cases: [unknown, unknown, ErrorConstructor | typeof Deno.errors.NotFound, RegExp][] = [
    [null, {}, TypeError, /source must be an object/],
    [{ ...source, module: "relative.ts" }, {}, TypeError, /absolute URL/],
    [{ ...source, export: "" }, {}, TypeError, /export name/],
    [{ ...source, args: () => 1 }, {}, TypeError, /could not be read or copied/],
    [source, { workers: 0 }, RangeError, /workers must be an integer from 1 to 256/],
    [source, { workers: "2" }, TypeError, /workers must be a number/],
    [source, { shard: { index: 0, count: 2 } }, RangeError, /shard is not supported/],
    [source, { maxPreemptions: -1 }, RangeError, /maxPreemptions/],
    [source, { bogus: 1 }, TypeError, /bogus/],
    [
      source,
      new Proxy({}, {
        ownKeys: () => {
          throw new Error("trap");
        },
      }),
      TypeError,
      /could not be read/,
    ],
    [
      { ...source, module: new URL("./fixtures/missing.ts", import.meta.url) },
      {},
      Deno.errors.NotFound,
      /no module file/,
    ],
  ];
  for (const [s, o, error, message] of cases) {
    await assert.rejects(
      () => checkDfsParallel(s as never, o as never),
      (e: unknown) => e instanceof error && message.test((e as Error).message),
    );
  }
});

/** Shards of one small search with violations (kept for the merge and JSON tests). */
const SHARD_TEST = counterTest({ arch: "x86_64", tasks: 3, iters: 1 });
const SHARDS = [0, 1, 2, 3].map((index) =>
  checkDfs(SHARD_TEST, { maxPreemptions: 1, shard: { index, count: 4 } })
);

Deno.test("merge: missing or failed shards make the result failed, keeping what the others found", () => {
  const partial = mergeExploreResults([SHARDS[2], SHARDS[0]]);
  assert.equal(partial.stopReason, "failed");
  assert.equal(partial.complete, false);
  assert.equal(partial.boundReached, -1);
  assert.deepEqual(partial.failures, ["shards 1, 3 of 4 are missing"]);
  assert.equal(
    partial.schedulesExplored,
    SHARDS[0].schedulesExplored + SHARDS[2].schedulesExplored,
  );
  const found = new Set([...SHARDS[0].violations, ...SHARDS[2].violations].map((v) => v.kind));
  assert.deepEqual(new Set(partial.violations.map((v) => v.kind)), found);

  const failedPart: ExploreResult = {
    ...SHARDS[1],
    complete: false,
    stopReason: "failed",
    failures: ["Worker 0 failed on job 3 of 8 at bound 1: Error: gone"],
  };
  const merged = mergeExploreResults([SHARDS[0], failedPart, SHARDS[2], SHARDS[3]]);
  assert.equal(merged.stopReason, "failed");
  assert.equal(merged.complete, false);
  assert.deepEqual(merged.failures, [
    "shard 1 of 4: Worker 0 failed on job 3 of 8 at bound 1: Error: gone",
  ]);

  const budget: ExploreResult = {
    ...SHARDS[3],
    complete: false,
    stopReason: "budget",
    boundReached: 0,
  };
  const stopped = mergeExploreResults([SHARDS[0], SHARDS[1], SHARDS[2], budget]);
  assert.equal(stopped.stopReason, "budget");
  assert.equal(stopped.complete, false);
  assert.equal(stopped.boundReached, 0);
});

Deno.test("merge refuses results that are not the shards of one search, and changes nothing", () => {
  // Results as other searches would report them (real searches of each
  // would only take longer).
  const other = (change: Partial<ExploreResult>) => ({ ...SHARDS[1], ...change });
  const scope = (change: Partial<ExploreResult["scope"]>) =>
    other({ scope: { ...SHARDS[1].scope, ...change } });
  const cases: [unknown, ErrorConstructor, RegExp][] = [
    ["not an array", TypeError, /must be an array/],
    [[], RangeError, /at least one result/],
    [[SHARDS[0], { ...SHARDS[1], mode: "bfs" }], RangeError, /results\[1\]\.mode must be one of/],
    [[SHARDS[0], null], TypeError, /results\[1\] must be an object/],
    [[SHARDS[0], SHARDS[0]], RangeError, /shard 0 of 4, which is given twice/],
    [[SHARDS[0], checkDfs(SHARD_TEST, { maxPreemptions: 1 })], RangeError, /whole search/],
    [
      [
        SHARDS[0],
        checkDfs(counterTest({ arch: "riscv64", tasks: 2, iters: 1 }), {
          maxPreemptions: 1,
          shard: { index: 1, count: 4 },
        }),
      ],
      RangeError,
      /test fingerprint/,
    ],
    [
      [SHARDS[0], other({ maxPreemptions: 2 })],
      RangeError,
      /its maxPreemptions is 2, results\[0\]'s is 1/,
    ],
    [[SHARDS[0], other({ reduction: "none" })], RangeError, /its reduction is "none"/],
    [
      [SHARDS[0], other({ maxPreemptions: Infinity })],
      RangeError,
      /its maxPreemptions is Infinity/,
    ],
    [
      [SHARDS[0], scope({ violations: ["lost-update", "wrong-cpu"] })],
      RangeError,
      /violation kinds/,
    ],
    [[SHARDS[0], scope({ picks: "any" })], RangeError, /picks/],
    [[SHARDS[0], scope({ exhaustive: true })], RangeError, /exhaustive/],
    [[SHARDS[0], scope({ maxCycles: 5000 })], RangeError, /maxCycles/],
    [
      [SHARDS[0], checkDfs(SHARD_TEST, { maxPreemptions: 1, shard: { index: 1, count: 3 } })],
      RangeError,
      /shard count is 3, results\[0\]'s is 4/,
    ],
    [[SHARDS[0], checkRandom(SHARD_TEST, { budget: 3 })], RangeError, /random search/],
  ];
  const before = JSON.stringify(SHARDS);
  for (const [input, error, message] of cases) {
    assert.throws(() => mergeExploreResults(input as never), (e: unknown) => {
      assert.ok(e instanceof error, `${(e as Error).name}: ${(e as Error).message}`);
      assert.match((e as Error).message, message);
      return true;
    });
  }
  assert.equal(JSON.stringify(SHARDS), before);
});

Deno.test("results survive JSON, Infinity included", () => {
  const unbounded = checkDfs(counterTest(CASES[2].test), { maxPreemptions: Infinity });
  const results = [
    ...SHARDS,
    mergeExploreResults(SHARDS),
    mergeExploreResults(SHARDS.slice(1)),
    unbounded,
    checkRandom(SHARD_TEST, { seed: 3, budget: 200 }),
  ];
  for (const result of results) {
    const json = exploreResultToJson(result);
    assert.equal(json.format, EXPLORE_RESULT_FORMAT);
    const back = exploreResultFromJson(JSON.parse(JSON.stringify(json)));
    assert.deepEqual({ ...back }, { ...result });
    assert.deepEqual(exploreResultToJson(back), json);
  }
  const json = exploreResultToJson(unbounded);
  assert.equal(json.maxPreemptions, "inf");
  assert.equal(json.boundReached, "inf");
  // Keys a tool adds beside the result's are ignored.
  assert.deepEqual(
    exploreResultFromJson({ ...json, command: "explore" }),
    exploreResultFromJson(json),
  );
});

/** Every path to a value in a JSON tree. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

/** A JSON object or array, indexed by key. */
type Tree = Record<string | number, unknown>;

function edited(
  value: unknown,
  path: (string | number)[],
  edit: (parent: Tree, key: string | number) => void,
): unknown {
  const copy = structuredClone(value);
  let parent = copy as Tree;
  for (const key of path.slice(0, -1)) parent = parent[key] as Tree;
  edit(parent, path[path.length - 1]);
  return copy;
}

const REFUSALS = [TypeError, RangeError, SyntaxError];

/** fromJson either refuses with a listed class, or reads exactly what it was given. */
function refusedOrExact(json: unknown): void {
  let result: ExploreResult;
  try {
    result = exploreResultFromJson(json);
  } catch (error) {
    assert.ok(REFUSALS.some((c) => error instanceof c), `unexpected ${String(error)}`);
    return;
  }
  const known = Object.fromEntries(
    Object.entries(json as object).filter(([k]) => k in exploreResultToJson(result)),
  );
  assert.deepEqual(exploreResultToJson(result), known);
}

Deno.test("fromJson refuses corrupted JSON: every field edited, deleted or replaced", () => {
  const valid = JSON.parse(JSON.stringify(exploreResultToJson(mergeExploreResults(SHARDS))));
  const all = paths(valid).filter((p) => p.length > 0);
  const hostile = fc.oneof(
    fc.jsonValue(),
    fc.constantFrom(-1, 1.5, 2 ** 53, "inf", "", "x", null, true, [], {}, "s2.zz"),
  );
  fc.assert(
    fc.property(fc.constantFrom(...all), hostile, fc.boolean(), (path, replacement, remove) => {
      const json = edited(valid, path, (parent, key) => {
        if (remove && !Array.isArray(parent)) delete parent[key];
        else parent[key] = replacement;
      });
      refusedOrExact(json);
    }),
    { numRuns: 600 },
  );
  // Each single deletion of a field the result needs is refused.
  for (
    const path of all.filter((p) =>
      typeof p[p.length - 1] === "string" && p[p.length - 2] !== "details"
    )
  ) {
    const json = edited(valid, path, (parent, key) => delete parent[key]);
    assert.throws(() => exploreResultFromJson(json), TypeError, path.join("."));
  }
  // A violation whose schedule string lost a character.
  const cut = edited(
    valid,
    ["violations", 0, "schedule"],
    (p, k) => p[k] = String(p[k]).slice(0, -1),
  );
  assert.throws(
    () => exploreResultFromJson(cut),
    (e: unknown) => REFUSALS.some((c) => e instanceof c),
  );
});

Deno.test("fromJson refuses anything else: random values, getters, Proxies, prototypes", () => {
  fc.assert(
    fc.property(fc.anything(), (value) => {
      assert.throws(
        () => exploreResultFromJson(value),
        (e: unknown) => REFUSALS.some((c) => e instanceof c),
      );
    }),
    { numRuns: 300 },
  );
  const valid = exploreResultToJson(mergeExploreResults(SHARDS));
  const throwing = new Proxy({}, {
    getOwnPropertyDescriptor() {
      throw new Error("trap");
    },
  });
  const withGetter = { ...valid };
  Object.defineProperty(withGetter, "complete", { get: () => true, enumerable: true });
  const proto = JSON.parse(JSON.stringify(valid));
  proto.violations[0].details = JSON.parse('{"__proto__": 1}');
  proto.violation = proto.violations.find((v: { kind: string }) => v.kind === proto.violation.kind);
  const cases: [unknown, RegExp][] = [
    [throwing, /cannot be read/],
    [{ ...valid, violations: throwing }, /must be an array/],
    [withGetter, /complete must be a value, got a getter/],
    [{ ...valid, format: "percpu.explore-result.0" }, /format must be/],
    [
      { ...valid, maxPreemptions: Infinity },
      /maxPreemptions must be an integer ≥ 0, got number Infinity/,
    ],
    [{ ...valid, complete: true, stopReason: "budget" }, /stopReason complete/],
    [{ ...valid, failures: ["x"] }, /stopReason failed goes with/],
    [{ ...valid, shard: { index: 4, count: 4 } }, /shard.index must be below/],
    [{ ...valid, shard: { index: 0, count: 4, extra: 1 } }, /unknown key "extra"/],
    [{ ...valid, violation: null }, /must be the smallest/],
    [{ ...valid, test: "000000" }, /belongs to another test/],
    [proto, /not a plain name/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => exploreResultFromJson(value), (e: unknown) => {
      assert.ok(REFUSALS.some((c) => e instanceof c), String(e));
      assert.match((e as Error).message, message);
      return true;
    });
  }
});
