/**
 * The figures behind `bench/explorer_bench.ts`, once each: for every case,
 * `dpor` and `none` (each stopped after `--limit` seconds, default 20) with
 * their schedules explored, equivalence classes, verdict and time; then
 * `checkDfsParallel` with 2 Workers against `checkDfs`.
 *
 *     deno run -A bench/explorer_figures.ts [--limit 20]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { checkDfs, counterTest, type ExploreResult } from "../sched/mod.ts";
import { checkDfsParallel } from "../sched/explore/parallel.ts";

const { values } = parseArgs({ options: { limit: { type: "string", default: "20" } } });
const timeLimitMs = Number(values.limit) * 1000;

const MODULE = new URL("../sched/scenario/counter_test.ts", import.meta.url);

function args(tasks: number, iters: number) {
  return { arch: "aarch64", cpus: 2, tasks, iters, features: ["preempt"] } as const;
}

function line(what: string, r: ExploreResult): string {
  const ratio = r.equivalenceClasses
    ? (r.schedulesExplored / r.equivalenceClasses).toFixed(2)
    : "-";
  return `${what.padEnd(36)} ${r.elapsedMs.toFixed(0).padStart(7)} ms  ${
    String(r.schedulesExplored).padStart(8)
  } schedules  ${String(r.equivalenceClasses).padStart(8)} classes  ×${ratio.padEnd(6)} ${
    r.complete ? "complete" : `incomplete (${r.stopReason})`
  }`;
}

const CASES: [number, number, number][] = [
  [3, 2, 2],
  [4, 2, 2],
  [2, 2, Infinity],
  [3, 1, Infinity],
  [
    3,
    2,
    Infinity,
  ],
];
console.log(`aarch64 counter, preempt, 2 CPUs; each search stopped after ${values.limit} s`);
for (const [tasks, iters, bound] of CASES) {
  const test = counterTest(args(tasks, iters));
  const name = `${tasks}×${iters} bound ${bound === Infinity ? "∞" : bound}`;
  for (const reduction of ["dpor", "none"] as const) {
    console.log(
      line(
        `${name}, ${reduction}`,
        checkDfs(test, { maxPreemptions: bound, reduction, timeLimitMs }),
      ),
    );
  }
}
for (const [tasks, iters, bound] of [[3, 2, 2], [4, 2, 2]]) {
  const name = `${tasks}×${iters} bound ${bound}`;
  const sequential = checkDfs(counterTest(args(tasks, iters)), { maxPreemptions: bound });
  const parallel = await checkDfsParallel(
    { module: MODULE, export: "counterTest", args: args(tasks, iters) },
    { maxPreemptions: bound, workers: 2 },
  );
  console.log(line(`${name}, checkDfs`, sequential));
  console.log(line(`${name}, checkDfsParallel ×2`, parallel));
  console.log(`${name}: speed-up ×${(sequential.elapsedMs / parallel.elapsedMs).toFixed(2)}`);
}
