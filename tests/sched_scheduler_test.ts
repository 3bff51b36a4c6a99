// The Linux-like scheduler: per-CPU run queues, ticks that preempt only when
// another task is runnable, migration by load balancing and newidle pulls,
// preemption points, and the stress policy kept for shaking out races.

import assert from "node:assert/strict";
import { ARCHES, createPercpu, u64, u8 } from "../mod.ts";
import { accessProgram } from "../lib/isa/mod.ts";
import { type AccessEvent, Machine, type SimEvent, simulate } from "../sched/mod.ts";
import { Scripted } from "./fixtures/scripted_decisions.ts";

function increment(value: bigint): bigint {
  return value + 1n;
}

function kinds(events: readonly SimEvent[] | null, cpu?: number): string[] {
  return (events ?? []).filter((e) => cpu === undefined || e.cpu === cpu).map((e) =>
    e.kind === "tick"
      ? `tick:${e.outcome}`
      : e.kind === "irq"
      ? `irq:${e.enabled}`
      : e.kind === "guard"
      ? `guard:${e.count}`
      : e.kind
  );
}

/** A task of `n` instructions of its own work. */
function* work(n: number) {
  for (let i = 0; i < n; i++) yield;
}

Deno.test("a tick preempts only when another task is runnable on the CPU", async (t) => {
  await t.step("one task per CPU: ticks never switch", () => {
    const percpu = createPercpu({ arch: "riscv64" });
    percpu.defPercpu("X", u8, 0);
    const decisions = new Scripted({ tick: () => true });
    const machine = new Machine({ percpu, cpus: 2, decisions, record: true });
    machine.spawn(() => work(20), { cpu: 0 });
    machine.spawn(() => work(20), { cpu: 1 });
    const stats = machine.run();
    assert.equal(stats.preemptions, 0);
    assert.equal(stats.contextSwitches, 2);
    const ticks = machine.events!.filter((e) => e.kind === "tick");
    assert.ok(ticks.length >= 30, "the timer did fire");
    assert.ok(ticks.every((e) => e.kind === "tick" && e.outcome === "alone"));
  });
  await t.step("two tasks on one CPU: a preempted task stays on its CPU's queue", () => {
    const percpu = createPercpu({ arch: "riscv64" });
    percpu.defPercpu("X", u8, 0);
    const decisions = new Scripted({ tick: (_cpu, _p, call) => call % 3 === 2 });
    const machine = new Machine({ percpu, cpus: 2, decisions, record: true });
    machine.spawn(() => work(20), { cpu: 0 });
    machine.spawn(() => work(20), { cpu: 0 });
    const stats = machine.run();
    assert.ok(stats.preemptions > 5);
    assert.equal(stats.migrations, 0, "newidle declined, nothing else moves tasks");
    for (const e of machine.events!) {
      if (e.kind === "preempt") assert.equal(e.target, e.cpu);
    }
    assert.ok(decisions.calls.some((c) => c.method === "newidle"), "CPU 1 was offered a pull");
  });
});

Deno.test("periodic load balancing pulls a queued task from the busiest CPU", () => {
  const percpu = createPercpu({ arch: "riscv64" });
  percpu.defPercpu("X", u8, 0);
  const decisions = new Scripted({
    tick: (cpu, _p, call) => cpu === 1 && call === 2,
    balance: () => 0,
  });
  const machine = new Machine({ percpu, cpus: 2, decisions, record: true });
  for (const name of ["a", "b", "c"]) machine.spawn(() => work(30), { cpu: 0, name });
  machine.spawn(() => work(30), { cpu: 1, name: "d" });
  const stats = machine.run();
  const balance = decisions.calls.find((c) => c.method === "balance");
  assert.deepEqual(balance?.args, [1, 2, 2], "CPU 1 (load 1) sees CPU 0's 2 queued tasks (load 3)");
  const pull = machine.events!.find((e) => e.kind === "pull");
  assert.deepEqual(pull && { ...pull, cycle: 0 }, {
    kind: "pull",
    cycle: 0,
    cpu: 1,
    task: 1,
    from: 0,
    reason: "balance",
  });
  const firstOnCpu1 = machine.events!.find((e) => e.kind === "dispatch" && e.task === 1);
  assert.equal(firstOnCpu1?.cpu, 1, "b, the oldest queued task, ran on CPU 1");
  assert.equal(stats.pulls, 1);
  assert.equal(stats.preemptions, 1, "d was preempted by the pulled task's need-resched");
});

Deno.test("a task preempted in the middle of an access is pulled and finishes in the old CPU's area", async (t) => {
  for (const arch of ARCHES.filter((a) => a !== "x86_64")) {
    await t.step(arch, () => {
      const percpu = createPercpu({ arch });
      const counter = percpu.defPercpu("COUNTER", u64, 0n);
      const program = accessProgram(counter, "with-current", { fn: "increment" }).instructions;
      const sampler = program.findIndex((i) => i.samplesPercpuReg);
      const decisions = new Scripted({
        // CPU 0 ticks right after the sampling instruction; CPU 1 later balances.
        tick: (cpu, _p, call) => cpu === 0 ? call === sampler : call === sampler + 6,
        balance: () => 0,
      });
      const machine = new Machine({ percpu, cpus: 2, decisions, record: true });
      machine.spawn(function* (ctx) {
        yield* ctx.withCurrent(counter, increment);
      }, { cpu: 0, name: "racer" });
      machine.spawn(() => work(30), { cpu: 0, name: "other" });
      machine.spawn(() => work(30), { cpu: 1, name: "busy" });
      const stats = machine.run();
      const pull = machine.events!.find((e) => e.kind === "pull");
      assert.equal(pull?.kind === "pull" && pull.reason, "balance");
      assert.equal(pull?.task, 0);
      const racer = machine.events!.filter((e): e is AccessEvent =>
        e.kind === "access" && e.task === 0
      );
      assert.ok(racer.length > 0 && racer.every((e) => e.cpu === 1 && e.hitCpu === 0));
      assert.equal(stats.wrongCpuAccesses, racer.length);
      assert.equal(counter.remoteRefRaw(0).value, 1n, "the increment landed in CPU 0's copy");
      assert.equal(stats.migrations, 1);
    });
  }
});

Deno.test("newidle: a CPU about to go idle pulls a queued task, if the decisions say so", async (t) => {
  const setUp = (newidle: number) => {
    const percpu = createPercpu({ arch: "riscv64" });
    percpu.defPercpu("X", u8, 0);
    const decisions = new Scripted({ newidle: () => newidle });
    const machine = new Machine({ percpu, cpus: 2, decisions, record: true });
    machine.spawn(() => work(5), { cpu: 0, name: "a" });
    machine.spawn(() => work(5), { cpu: 0, name: "b" });
    return { machine, decisions, stats: machine.run() };
  };
  await t.step("pull", () => {
    const { machine, decisions, stats } = setUp(0);
    const first = decisions.calls.find((c) => c.method === "newidle")!;
    assert.deepEqual(first.args.slice(0, 2), [1, 1], "CPU 1 is offered b");
    const pull = machine.events!.find((e) => e.kind === "pull");
    assert.equal(pull?.kind === "pull" && pull.reason, "newidle");
    assert.equal(machine.events!.find((e) => e.kind === "dispatch" && e.task === 1)?.cpu, 1);
    assert.equal(stats.pulls, 1);
    assert.equal(stats.cycles, 6, "both ran at once: 5 instructions and the exit");
  });
  await t.step("decline", () => {
    const { machine, stats } = setUp(-1);
    assert.equal(stats.pulls, 0);
    assert.ok(machine.events!.every((e) => e.cpu === 0));
    assert.equal(stats.cycles, 12, "one after the other");
  });
});

Deno.test("the seeded policy balances from its seed: same seed, same pulls", () => {
  const options = { arch: "aarch64", tasks: 3, iters: 60 } as const;
  const runs = [1, 1, 2, 3].map((seed) => simulate({ ...options, seed }));
  assert.equal(runs[0].traceHash, runs[1].traceHash);
  assert.equal(runs[0].pulls, runs[1].pulls);
  assert.ok(runs.every((r) => r.pulls > 0), "three tasks on two CPUs keep the balancer busy");
  assert.ok(new Set(runs.map((r) => r.traceHash)).size === 3);
});

Deno.test("local_irq_restore is not a preemption point; need-resched waits for the next one", async (t) => {
  const setUp = () => {
    const percpu = createPercpu({ arch: "riscv64" });
    percpu.defPercpu("X", u8, 0);
    const decisions = new Scripted({ tick: (_cpu, _p, call) => call === 0 });
    return { machine: new Machine({ percpu, cpus: 1, decisions, record: true }) };
  };
  await t.step("preempt_enable to 0 with IRQs off, then irq restore: no switch", () => {
    const { machine } = setUp();
    machine.spawn(function* (ctx) {
      const guard = ctx.noPreempt();
      yield; // the tick after this instruction only sets need-resched
      const irq = ctx.irqSave();
      guard.release(); // count 0 while IRQs are off: not preemptible
      yield;
      irq.release(); // IRQs back on, no tick pending: not a preemption point
      yield;
      yield;
      yield* ctx.schedYield();
    }, { name: "a" });
    machine.spawn(() => work(2), { name: "b" });
    machine.run();
    const a = kinds(machine.events).filter((k) => k !== "dispatch");
    assert.deepEqual(a.slice(0, 6), [
      "guard:1",
      "tick:deferred-guard",
      "irq:false",
      "guard:0",
      "irq:true",
      "yield",
    ], "a ran on to its sched_yield, the preemption point that switched");
    assert.ok(!a.slice(0, 6).includes("preempt"));
  });
  await t.step("preempt_enable to 0 with IRQs on: the switch happens there", () => {
    const { machine } = setUp();
    machine.spawn(function* (ctx) {
      const guard = ctx.noPreempt();
      yield;
      guard.release();
      yield;
      yield;
    }, { name: "a" });
    machine.spawn(() => work(2), { name: "b" });
    machine.run();
    const a = kinds(machine.events);
    const release = a.indexOf("guard:0");
    assert.equal(a[release + 1], "preempt");
  });
});

Deno.test("progress: a dispatched task executes an instruction before a tick can preempt it", () => {
  const percpu = createPercpu({ arch: "aarch64" });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  const decisions = new Scripted({ tick: () => true });
  const machine = new Machine({ percpu, cpus: 1, decisions, maxCycles: 10_000 });
  for (let t = 0; t < 2; t++) {
    machine.spawn(function* (ctx) {
      for (let i = 0; i < 5; i++) yield* ctx.withCurrent(counter, increment);
    });
  }
  const stats = machine.run();
  assert.equal(stats.stopReason, "completed", "ticking at every chance cannot starve the tasks");
  const perAccess = accessProgram(counter, "with-current", { fn: "increment" }).instructions.length;
  assert.equal(stats.instructions, 2 * 5 * perAccess);
  assert.ok(stats.preemptions >= stats.instructions - 2, "nearly every boundary preempted");
});

Deno.test("exiting with a preempt count is a note; sleeping with one is scheduling while atomic", () => {
  const percpu = createPercpu({ arch: "riscv64", features: ["preempt"] });
  percpu.defPercpu("X", u8, 0);
  const machine = new Machine({ percpu, cpus: 1, policy: "cooperative" });
  machine.spawn(function* (ctx) {
    ctx.noPreempt();
    yield* ctx.sleep(2);
    ctx.noPreempt();
    throw new Error("boom");
  }, { name: "holder" });
  const stats = machine.run();
  assert.deepEqual(stats.misuses.map((m) => [m.kind, m.message]), [
    [
      "scheduling-while-atomic",
      "BUG: scheduling while atomic: holder called sleep with preempt_count 1",
    ],
    ["exit-preempt-count", "note: holder exited with preempt_count 2"],
  ]);
});

Deno.test("stress: every tick preempts, even a lone task, and migrate chooses the queue", () => {
  const percpu = createPercpu({ arch: "riscv64" });
  percpu.defPercpu("X", u8, 0);
  const decisions = new Scripted({
    tick: (cpu, _p, call) => cpu === 0 && call === 1,
    migrate: () => 1,
  });
  const machine = new Machine({ percpu, cpus: 2, decisions, policy: "stress", record: true });
  machine.spawn(() => work(6), { cpu: 0 });
  const stats = machine.run();
  assert.equal(stats.preemptions, 1);
  assert.equal(stats.migrations, 1);
  const preempt = machine.events!.find((e) => e.kind === "preempt");
  assert.equal(preempt?.kind === "preempt" && preempt.target, 1);
  assert.deepEqual(
    decisions.calls.find((c) => c.method === "migrate")?.args,
    [0, 2],
  );
});

Deno.test("stress migrates far more than the Linux-like policy", () => {
  const sum = (policy: "preemptive" | "stress") =>
    [1, 2, 3, 4, 5].reduce(
      (n, seed) => n + simulate({ arch: "aarch64", policy, seed }).migrations,
      0,
    );
  const linux = sum("preemptive");
  const stress = sum("stress");
  assert.ok(stress > 10 * Math.max(linux, 1), `stress ${stress}, preemptive ${linux}`);
});

Deno.test("cooperative: no timer at all; idle CPUs still pull", () => {
  const percpu = createPercpu({ arch: "riscv64" });
  percpu.defPercpu("X", u8, 0);
  const decisions = new Scripted({ tick: () => true, newidle: () => 0 });
  const machine = new Machine({ percpu, cpus: 2, decisions, policy: "cooperative" });
  for (let t = 0; t < 3; t++) machine.spawn(() => work(4), { cpu: 0 });
  const stats = machine.run();
  assert.equal(decisions.calls.filter((c) => c.method === "tick").length, 0);
  assert.equal(stats.preemptions, 0);
  assert.ok(stats.pulls > 0);
});
