// The stepping API the explorer and the playground build on: step one CPU
// at a time, describe each step in a reusable record, snapshot the machine.

import assert from "node:assert/strict";
import { createPercpu, u64, u8 } from "../mod.ts";
import { accessProgram } from "../lib/isa/mod.ts";
import { Machine, SimulationError } from "../sched/mod.ts";
import {
  machinePort,
  STEP_DISPATCH,
  STEP_EXIT,
  STEP_NEWIDLE,
  STEP_PREEMPT,
  STEP_RESUME,
  STEP_TICK,
  STEP_TICK_DEFERRED,
  StepRecord,
} from "../sched/runtime/_port.ts";
import { Scripted } from "./fixtures/scripted_decisions.ts";

function increment(value: bigint): bigint {
  return value + 1n;
}

Deno.test("a step executes at most one instruction and says what it touched", () => {
  const percpu = createPercpu({ arch: "aarch64" });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  const machine = new Machine({ percpu, cpus: 1, decisions: new Scripted() });
  machine.spawn(function* (ctx) {
    yield* ctx.withCurrent(counter, increment);
  });
  const port = machinePort(machine);
  const record = new StepRecord(1);
  const program = accessProgram(counter, "with-current", { fn: "increment" }).instructions;
  const seen: string[] = [];
  for (let step = 0; port.live > 0; step++) {
    const before = machine.instructions;
    port.step(0, record);
    const executed = machine.instructions - before;
    assert.ok(executed <= 1, "at most one instruction per step");
    assert.equal(record.executed, executed === 1);
    assert.equal(record.cpu, 0);
    if (record.executed) {
      seen.push(record.instruction);
      assert.equal(record.task, 0);
      const text = record.instruction;
      if (text.startsWith("ldr")) {
        assert.deepEqual(
          [record.readAddress, record.readSize, record.writeSize],
          [counter.remotePtr(0), 8, 0],
        );
      } else if (text.startsWith("str")) {
        assert.deepEqual(
          [record.writeAddress, record.writeSize, record.readSize],
          [counter.remotePtr(0), 8, 0],
        );
      } else {
        assert.deepEqual([record.readSize, record.writeSize], [0, 0], text);
      }
    }
    if (step === 0) {
      assert.ok(record.events & STEP_DISPATCH && record.events & STEP_RESUME);
      assert.deepEqual([...record.queuesRead, ...record.queuesWritten], [1, 1]);
    }
    port.endCycle(null);
  }
  assert.ok(record.events & STEP_EXIT, "the last step ended the task");
  assert.deepEqual(seen, program.map((i) => i.text));
  assert.equal(counter.remoteRefRaw(0).value, 1n);
  assert.equal(port.stats().stopReason, "completed");
});

Deno.test("run() is lock step over step(): the same seed gives the same trace", () => {
  const build = () => {
    const percpu = createPercpu({ arch: "riscv64" });
    const counter = percpu.defPercpu("COUNTER", u64, 0n);
    const machine = new Machine({ percpu, cpus: 2, seed: 11, quantum: 3 });
    for (let t = 0; t < 3; t++) {
      machine.spawn(function* (ctx) {
        for (let i = 0; i < 20; i++) {
          yield* ctx.withCurrent(counter, increment);
          yield* ctx.schedYield();
        }
      });
    }
    return machine;
  };
  const ran = build().run();
  const stepped = build();
  const port = machinePort(stepped);
  while (port.live > 0) {
    port.step(0, null);
    port.step(1, null);
    port.endCycle(null);
  }
  const stats = port.stats();
  assert.equal(stats.traceHash, ran.traceHash);
  assert.deepEqual(
    [stats.instructions, stats.cycles, stats.pulls, stats.preemptions],
    [ran.instructions, ran.cycles, ran.pulls, ran.preemptions],
  );
});

Deno.test("the snapshot shows each CPU's task, program, counter, register, flags and queue", () => {
  const percpu = createPercpu({ arch: "aarch64", features: ["preempt"] });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  let masked = false;
  const decisions = new Scripted({ tick: (_cpu, _p, call) => call === 1 || masked });
  const machine = new Machine({ percpu, cpus: 1, decisions });
  machine.spawn(function* (ctx) {
    yield* ctx.withCurrent(counter, increment);
    const irq = ctx.irqSave();
    masked = true;
    yield;
    yield;
    masked = false;
    irq.release();
    yield;
  }, { name: "a" });
  machine.spawn(function* () {
    yield;
  }, { name: "b" });
  const port = machinePort(machine);
  const program = accessProgram(counter, "with-current", { fn: "increment" });
  const record = new StepRecord(1);
  for (let i = 0; i < 3; i++) port.step(0, record);
  let snap = port.snapshot();
  assert.deepEqual(
    { ...snap.cpus[0], program: snap.cpus[0].program?.instructions.map((x) => x.text) },
    {
      id: 0,
      task: 0,
      program: program.instructions.map((x) => x.text),
      pc: 3,
      reg: percpu.percpuAreaBase(0),
      preemptCount: 1,
      needResched: true,
      irqEnabled: true,
      pendingTick: false,
      queue: [1],
    },
    "inside the guard, the tick after the second instruction only set need-resched",
  );
  assert.deepEqual(snap.tasks.map((t) => [t.name, t.state, t.cpu]), [
    ["a", "running", 0],
    ["b", "ready", -1],
  ]);
  while (!(record.events & STEP_PREEMPT)) port.step(0, record);
  snap = port.snapshot();
  assert.deepEqual(
    [snap.cpus[0].task, snap.cpus[0].needResched, snap.cpus[0].queue],
    [-1, false, [1, 0]],
    "switched out right after the guard's release; b runs next",
  );
  assert.equal(snap.tasks[0].state, "ready");
  assert.equal(snap.tasks[0].preemptCount, 0, "preempted at the guard's release");
  while (port.live > 1) port.step(0, record);
  while (!(record.events & STEP_TICK_DEFERRED)) port.step(0, record);
  snap = port.snapshot();
  assert.deepEqual(
    [snap.cpus[0].task, snap.cpus[0].irqEnabled, snap.cpus[0].pendingTick],
    [0, false, true],
  );
  let delivered = false;
  while (port.live > 0) {
    port.step(0, record);
    // The step whose task code re-enabled IRQs delivers the pending tick.
    if (record.events & STEP_RESUME && record.events & STEP_TICK) delivered = true;
  }
  assert.ok(delivered, "the pending tick was delivered when IRQs came back on");
});

Deno.test("a newidle pull reads every queue and changes two", () => {
  const percpu = createPercpu({ arch: "riscv64" });
  percpu.defPercpu("X", u8, 0);
  const machine = new Machine({ percpu, cpus: 3, decisions: new Scripted({ newidle: () => 0 }) });
  machine.spawn(function* () {
    yield;
  }, { cpu: 0 });
  machine.spawn(function* () {
    yield;
  }, { cpu: 0 });
  const port = machinePort(machine);
  const record = new StepRecord(3);
  port.step(0, record);
  port.step(2, record);
  assert.ok(record.events & STEP_NEWIDLE && record.events & STEP_DISPATCH);
  assert.deepEqual([...record.queuesRead], [1, 1, 1]);
  assert.deepEqual([...record.queuesWritten], [1, 0, 1]);
  assert.equal(record.task, 1);
});

Deno.test("steps refuse to nest and to run over a system set up again", () => {
  const percpu = createPercpu({ arch: "riscv64" });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  const machine = new Machine({ percpu, cpus: 1 });
  const port = machinePort(machine);
  machine.spawn(function* () {
    port.step(0, null);
    yield;
  }, { name: "nester" });
  machine.spawn(function* (ctx) {
    yield* ctx.add(counter, 1n);
  }, { name: "bystander" });
  const stats = machine.run();
  assert.equal(stats.failures.length, 1);
  const error = stats.failures[0].error;
  assert.ok(error instanceof SimulationError && error.kind === "Reentrant");
  assert.match(stats.failures[0].message, /from inside nester/);
  assert.equal(counter.remoteRefRaw(0).value, 1n, "the bystander's increment landed");
  percpu.init(1);
  assert.throws(
    () => port.step(0, null),
    (e) => e instanceof SimulationError && e.kind === "StaleSystem",
  );
  assert.throws(() => port.step(1, null), RangeError);
});
