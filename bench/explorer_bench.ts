// Schedule explorer throughput: schedules explored per second on a
// fixed scenario. Bench names carry the schedule count, so schedules/s is
// that count divided by the reported time. Goal: ≥ 100 k schedules/s.

import { checkDfs, counterTest } from "../sched/mod.ts";

const guarded = counterTest({
  arch: "aarch64",
  cpus: 2,
  tasks: 2,
  iters: 1,
  features: ["preempt"],
});
const racy = counterTest({ arch: "aarch64", cpus: 2, tasks: 2, iters: 1 });
const bigger = counterTest({ arch: "riscv64", cpus: 2, tasks: 2, iters: 2, features: ["preempt"] });

const count = (test: typeof guarded) => checkDfs(test, { maxPreemptions: 2 }).schedulesExplored;

Deno.bench({
  name: "baseline: one schedule (a machine reset and run)",
  group: "explore",
  baseline: true,
  fn: () => void checkDfs(guarded, { budget: 1 }),
});
Deno.bench({
  name: `dfs, aarch64 + preempt, 2 CPUs × 2 tasks × 1, bound 2 (${count(guarded)} schedules)`,
  group: "explore",
  fn: () => void checkDfs(guarded, { maxPreemptions: 2 }),
});
Deno.bench({
  name: `dfs, aarch64, first violation, bound 2 (${count(racy)} schedules)`,
  group: "explore",
  fn: () => void checkDfs(racy, { maxPreemptions: 2 }),
});
Deno.bench({
  name: `dfs, riscv64 + preempt, 2 CPUs × 2 tasks × 2, bound 2 (${count(bigger)} schedules)`,
  group: "explore",
  fn: () => void checkDfs(bigger, { maxPreemptions: 2 }),
});
