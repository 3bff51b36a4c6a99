/**
 * The exhaustive explorer's goals, on the aarch64 counter test with the
 * `preempt` feature and 2 CPUs (every run is correct, so the search has to
 * cover the whole bounded space):
 *
 * - `dpor` against `none` (the baseline of each group): 3 tasks × 2 iters
 *   at bound 2 (goal < 1 s), 4 × 2 at bound 2 (goal < 10 s), 2 × 2 and
 *   3 × 1 unbounded (goal: complete). `none` cannot finish these in
 *   reasonable time, so its baseline runs as many schedules as `dpor`
 *   needs to finish (and is incomplete there): the group compares the cost
 *   of a schedule, and `dpor`'s name says it completes;
 * - `checkDfsParallel` with 2 Workers against `checkDfs` (the baseline),
 *   3 × 2 at bound 2 (goal ≥ 1.7× on 2 cores; 3 × 2 unbounded does not
 *   finish in reasonable time).
 *
 * The schedules explored against the equivalence classes (goal: within 2×)
 * and each search's verdict are printed by `bench/explorer_figures.ts`.
 *
 *     deno bench -A bench/explorer_bench.ts
 *
 * @module
 */

import { checkDfs, counterTest, type ExploreOptions } from "../sched/mod.ts";
import { checkDfsParallel } from "../sched/explore/parallel.ts";

const MODULE = new URL("../sched/scenario/counter_test.ts", import.meta.url);

/** The counter test with `preempt` on 2 CPUs. */
function args(tasks: number, iters: number) {
  return { arch: "aarch64", cpus: 2, tasks, iters, features: ["preempt"] } as const;
}

const CASES = [
  { tasks: 3, iters: 2, bound: 2, n: 3 },
  { tasks: 4, iters: 2, bound: 2, n: 1 },
  { tasks: 2, iters: 2, bound: Infinity, n: 10 },
  { tasks: 3, iters: 1, bound: Infinity, n: 10 },
];

for (const { tasks, iters, bound, n } of CASES) {
  const test = counterTest(args(tasks, iters));
  const options: ExploreOptions = { maxPreemptions: bound };
  const dpor = checkDfs(test, options);
  const group = `${tasks} tasks × ${iters}, bound ${bound === Infinity ? "∞" : bound}`;
  Deno.bench({
    name: `none, the same ${dpor.schedulesExplored} schedules (incomplete)`,
    group,
    baseline: true,
    n,
    warmup: 1,
    fn: () =>
      void checkDfs(test, { ...options, reduction: "none", budget: dpor.schedulesExplored }),
  });
  Deno.bench({
    name: `dpor, ${dpor.schedulesExplored} schedules, ${
      dpor.complete ? "complete" : `incomplete (${dpor.stopReason})`
    }`,
    group,
    n,
    warmup: 1,
    fn: () => void checkDfs(test, options),
  });
}

{
  const [tasks, iters, bound] = [3, 2, 2];
  const test = counterTest(args(tasks, iters));
  const group = `parallel, ${tasks} tasks × ${iters}, bound ${bound}`;
  Deno.bench({
    name: "checkDfs",
    group,
    baseline: true,
    n: 3,
    warmup: 1,
    fn: () => void checkDfs(test, { maxPreemptions: bound }),
  });
  Deno.bench({
    name: "checkDfsParallel, 2 Workers",
    group,
    n: 3,
    warmup: 1,
    fn: async () =>
      void await checkDfsParallel(
        { module: MODULE, export: "counterTest", args: args(tasks, iters) },
        { maxPreemptions: bound, workers: 2 },
      ),
  });
}
