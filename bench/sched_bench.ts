// Simulator throughput: simulated instructions per second on 4 CPUs × 16 tasks.
// Each bench name carries the run's instruction count (deterministic for its
// seed), so instructions/s = count / the reported time per run. Runs are long
// (1000 increments per task) so that building the system and machine, about
// 0.2 ms per simulate(), does not stand in for simulation speed. The
// baseline resumes bare generators as many times as the first case executes
// instructions: the floor of any generator-driven simulator, measured in the
// same run, so the ratio stays meaningful on a noisy machine.
// Goal: ≥ 15 M simulated instructions/s on the 2-core CI machines (about
// 6× the baseline's time or better).

import { type SimOptions, simulate } from "../sched/mod.ts";

const RUN: SimOptions = { cpus: 4, tasks: 16, iters: 1000, seed: 1 };

function instructions(options: SimOptions): number {
  return simulate({ ...RUN, ...options }).instructions;
}

/** The floor of any generator-driven simulator: resuming 16 generators round robin. */
function generatorsOnly(steps: number): number {
  function* task(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
  const tasks = Array.from({ length: 16 }, () => task(steps / 16));
  let live = tasks.length;
  let sum = 0;
  while (live > 0) {
    live = 0;
    for (const t of tasks) {
      const r = t.next();
      if (!r.done) {
        sum += r.value;
        live++;
      }
    }
  }
  return sum;
}

const cases: [string, SimOptions][] = [
  ["aarch64 with-current, preemptive", { arch: "aarch64" }],
  ["aarch64 with-current, preemptive + preempt", { arch: "aarch64", features: ["preempt"] }],
  ["x86_64 with-current, preemptive", { arch: "x86_64" }],
  ["riscv64 read-write, preemptive + preempt", {
    arch: "riscv64",
    access: "read-write",
    features: ["preempt"],
  }],
  ["arm with-current, cooperative", { arch: "arm", policy: "cooperative" }],
  ["aarch64 with-current, stress", { arch: "aarch64", policy: "stress" }],
];

const reference = instructions(cases[0][1]);
Deno.bench({
  name: `baseline: 16 generators resumed ${reference} times, no machine`,
  group: "sim",
  baseline: true,
  fn: () => void generatorsOnly(reference),
});

for (const [label, options] of cases) {
  Deno.bench({
    name: `${label} (${instructions(options)} instructions)`,
    group: "sim",
    fn: () => void simulate({ ...RUN, ...options }),
  });
}
