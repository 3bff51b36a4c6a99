// The `sim` decisions (SeededPolicy), one choice point at a time: where a
// preempted task migrates under `stress` (never to the CPU it leaves, every
// other CPU alike), when the timer ticks, when load balancing pulls, when an
// idle CPU steals, and that each answer is a valid index.

import assert from "node:assert/strict";
import { BALANCE_TICKS, type Policy, SeededPolicy } from "../sched/runtime/decisions.ts";
import { createPercpu, u64 } from "../mod.ts";
import { Machine, type SimEvent } from "../sched/mod.ts";

function policy(options: Partial<ConstructorParameters<typeof SeededPolicy>[0]> = {}) {
  return new SeededPolicy({
    policy: "preemptive",
    quantum: 8,
    seed: 1,
    migration: 0.5,
    steal: 0.5,
    cpus: 4,
    ...options,
  });
}

Deno.test("migrate: a migrating task goes to another CPU, each alike; otherwise it stays", () => {
  for (const cpus of [2, 3, 5]) {
    for (let seed = 0; seed < 4; seed++) {
      const always = policy({ policy: "stress", migration: 1, cpus, seed });
      const never = policy({ policy: "stress", migration: 0, cpus, seed });
      for (let cpu = 0; cpu < cpus; cpu++) {
        const seen = new Array(cpus).fill(0);
        const draws = 300 * cpus;
        for (let i = 0; i < draws; i++) {
          const to = always.migrate(cpu, cpus);
          assert.ok(Number.isInteger(to) && to >= 0 && to < cpus, `to ${to}`);
          assert.notEqual(to, cpu, `cpus ${cpus}: a migration leaves CPU ${cpu}`);
          seen[to]++;
          assert.equal(never.migrate(cpu, cpus), cpu);
        }
        const fair = draws / (cpus - 1);
        seen.forEach((n, to) => {
          if (to !== cpu) assert.ok(n > fair * 0.7 && n < fair * 1.3, `${cpu} → ${to}: ${n}`);
        });
      }
    }
  }
});

Deno.test("migrate: the probability is the `migration` option", () => {
  for (const migration of [0.2, 0.8]) {
    const p = policy({ policy: "stress", migration, cpus: 2, seed: 3 });
    let moved = 0;
    for (let i = 0; i < 4000; i++) if (p.migrate(0, 2) !== 0) moved++;
    assert.ok(Math.abs(moved / 4000 - migration) < 0.04, `${migration}: ${moved / 4000}`);
  }
});

Deno.test("stress with migration 1: every preemption queues the task on another CPU", () => {
  const percpu = createPercpu({ arch: "riscv64" });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  const events: SimEvent[] = [];
  const machine = new Machine({
    percpu,
    cpus: 3,
    policy: "stress",
    migration: 1,
    quantum: 2,
    seed: 5,
    record: true,
  });
  for (let t = 0; t < 3; t++) {
    machine.spawn(function* (ctx) {
      for (let i = 0; i < 20; i++) yield* ctx.add(counter, 1n);
    });
  }
  const stats = machine.run();
  events.push(...machine.events!);
  const preempts = events.filter((e) => e.kind === "preempt");
  assert.ok(preempts.length > 10, `${preempts.length} preemptions`);
  for (const e of preempts) {
    if (e.kind === "preempt") assert.notEqual(e.target, e.cpu, "queued on another CPU");
  }
  assert.ok(stats.migrations > 0);
});

Deno.test("tick: about one tick per quantum, jittered by at most half; never cooperative", () => {
  for (const quantum of [1, 2, 7, 20]) {
    const p = policy({ quantum, seed: quantum });
    let last = 0;
    const gaps: number[] = [];
    for (let i = 1; i <= 4000; i++) {
      if (p.tick(1)) {
        gaps.push(i - last);
        last = i;
      }
    }
    const half = quantum >> 1;
    for (const gap of gaps) {
      assert.ok(gap >= quantum - half && gap <= quantum + half, `quantum ${quantum}: gap ${gap}`);
    }
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    assert.ok(Math.abs(mean - quantum) <= Math.max(0.5, quantum * 0.1), `mean ${mean}`);
    if (half > 0) assert.ok(new Set(gaps).size > 1, "the interval is jittered");
  }
  const cooperative = policy({ policy: "cooperative" as Policy, quantum: 1 });
  for (let i = 0; i < 100; i++) assert.equal(cooperative.tick(0), false);
});

Deno.test("tick: each CPU has its own timer", () => {
  const p = policy({ quantum: 4, seed: 9 });
  const ticks = [0, 0];
  for (let i = 0; i < 400; i++) if (p.tick(0)) ticks[0]++;
  assert.ok(ticks[0] >= 400 / 6 && ticks[0] <= 400 / 2, `${ticks[0]}`);
  // CPU 1 was never asked: its first tick still needs its whole interval.
  assert.equal(p.tick(1), false);
});

Deno.test("balance: every BALANCE_TICKS ticks; an imbalance of 1 only at the second try", () => {
  const p = policy({ quantum: 1, seed: 4 });
  const tickOnce = () => assert.equal(p.tick(2), true);
  // Before BALANCE_TICKS ticks, no balancing at all, whatever the imbalance.
  for (let i = 0; i < BALANCE_TICKS - 1; i++) {
    tickOnce();
    assert.equal(p.balance(2, 3, 5), -1);
  }
  tickOnce();
  const k = p.balance(2, 3, 2);
  assert.ok(k >= 0 && k < 3, "an imbalance of 2 pulls at once");
  assert.equal(p.balance(2, 3, 2), -1, "and the count starts over");
  for (let i = 0; i < BALANCE_TICKS; i++) tickOnce();
  assert.equal(p.balance(2, 3, 1), -1, "an imbalance of 1: not the first time");
  for (let i = 0; i < BALANCE_TICKS; i++) tickOnce();
  const again = p.balance(2, 3, 1);
  assert.ok(again >= 0 && again < 3, "an imbalance of 1 found twice in a row pulls");
  for (let i = 0; i < BALANCE_TICKS; i++) tickOnce();
  assert.equal(p.balance(2, 3, 1), -1, "the failure count was reset by the pull");
  // Another CPU keeps its own count.
  assert.equal(p.balance(1, 3, 9), -1);
});

Deno.test("balance: the pulled candidate is uniform over the candidates", () => {
  const p = policy({ quantum: 1, seed: 8 });
  const seen = [0, 0, 0];
  for (let round = 0; round < 900; round++) {
    for (let i = 0; i < BALANCE_TICKS; i++) p.tick(0);
    seen[p.balance(0, 3, 4)]++;
  }
  for (const n of seen) assert.ok(n > 220 && n < 380, `${seen}`);
});

Deno.test("newidle: steals with probability `steal`, any candidate alike", () => {
  assert.equal(policy({ steal: 0 }).newidle(0, 3), -1);
  const always = policy({ steal: 1, seed: 2 });
  const seen = [0, 0, 0, 0];
  for (let i = 0; i < 2000; i++) seen[always.newidle(1, 4)]++;
  for (const n of seen) assert.ok(n > 400 && n < 600, `${seen}`);
  const sometimes = policy({ steal: 0.25, seed: 6 });
  let stole = 0;
  for (let i = 0; i < 4000; i++) if (sometimes.newidle(0, 2) >= 0) stole++;
  assert.ok(Math.abs(stole / 4000 - 0.25) < 0.04, `${stole / 4000}`);
});

Deno.test("pick: FIFO, the oldest queued task", () => {
  assert.equal(policy().pick(), 0);
});

Deno.test("options are checked: the policy, quantum 1 to 1e6, probabilities in [0, 1]", () => {
  const bad: [Partial<ConstructorParameters<typeof SeededPolicy>[0]>, ErrorConstructor][] = [
    [{ policy: "linux" as Policy }, RangeError],
    [{ policy: 3 as unknown as Policy }, TypeError],
    [{ quantum: 0 }, RangeError],
    [{ quantum: 1_000_001 }, RangeError],
    [{ quantum: 1.5 }, RangeError],
    [{ quantum: "4" as unknown as number }, TypeError],
    [{ migration: -0.01 }, RangeError],
    [{ migration: 1.01 }, RangeError],
    [{ migration: NaN }, RangeError],
    [{ migration: "0.5" as unknown as number }, TypeError],
    [{ steal: -1 }, RangeError],
    [{ steal: 2 }, RangeError],
    [{ steal: null as unknown as number }, TypeError],
    [{ seed: 0.5 }, RangeError],
  ];
  for (const [options, error] of bad) {
    assert.throws(() => policy(options), error, JSON.stringify(options));
  }
  for (const ok of [{ quantum: 1 }, { quantum: 1_000_000 }, { migration: 0, steal: 1 }]) {
    policy(ok);
  }
});
