// The machine's semantics, driven by scripted decisions so each case is exact.

import assert from "node:assert/strict";
import { ARCHES, createPercpu, i64, type Percpu, u32, u64, u8 } from "../mod.ts";
import { NoPreempt } from "../lib/guards.ts";
import {
  type AccessEvent,
  type Decisions,
  Machine,
  type Policy,
  type SimEvent,
  type TaskContext,
} from "../sched/mod.ts";
import { accessProgram } from "../lib/isa/mod.ts";
import { machinePort } from "../sched/runtime/_port.ts";

/**
 * Ticks at chosen boundaries, sends preempted tasks to chosen CPUs (under
 * `stress`), never balances or pulls.
 */
class Script implements Decisions {
  readonly #ticks: Map<number, Set<number>>;
  readonly #targets: number[];
  readonly #calls = new Map<number, number>();

  /**
   * @param ticks For each CPU, the 0-based tick calls at which the timer
   *   fires (the machine asks at every boundary after a task's first
   *   instruction since dispatch).
   * @param targets Where successive preempted tasks go.
   */
  constructor(ticks: Record<number, number[]>, targets: number[] = []) {
    this.#ticks = new Map(Object.entries(ticks).map(([cpu, at]) => [Number(cpu), new Set(at)]));
    this.#targets = [...targets];
  }

  tick(cpu: number): boolean {
    const call = this.#calls.get(cpu) ?? 0;
    this.#calls.set(cpu, call + 1);
    return this.#ticks.get(cpu)?.has(call) ?? false;
  }

  migrate(cpu: number): number {
    return this.#targets.shift() ?? cpu;
  }

  balance(): number {
    return -1;
  }

  newidle(): number {
    return -1;
  }

  pick(): number {
    return 0;
  }
}

/** A machine stepping by a script; `stress` so a tick preempts even a lone task. */
function machineFor(
  percpu: Percpu,
  cpus: number,
  decisions: Decisions,
  policy: Policy = "stress",
): Machine {
  return new Machine({ percpu, cpus, decisions, record: true, policy });
}

function accesses(events: readonly SimEvent[] | null): AccessEvent[] {
  return (events ?? []).filter((e): e is AccessEvent => e.kind === "access");
}

function increment(value: bigint): bigint {
  return value + 1n;
}

Deno.test("the per-CPU register is sampled by the instruction that reads it", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const percpu = createPercpu({ arch });
      const counter = percpu.defPercpu("COUNTER", u64, 0n);
      const program = accessProgram(counter, "with-current", { fn: "increment" }).instructions;
      const sampler = program.findIndex((i) => i.samplesPercpuReg);
      // Tick at the boundary right after the sampling instruction (tick call
      // `sampler`: none is asked before the first instruction), move the task to CPU 1.
      const machine = machineFor(percpu, 2, new Script({ 0: [sampler] }, [1]));
      machine.spawn(function* (ctx) {
        yield* ctx.withCurrent(counter, increment);
      }, { cpu: 0 });
      const stats = machine.run();
      const events = machine.events!;
      const copy = counter.remotePtr(0);
      // riscv32 moves the u64 as two words: both halves count.
      const memory = accesses(events).filter((e) => e.address >= copy && e.address < copy + 8);
      assert.ok(memory.length >= 2, "load and store of CPU 0's copy");
      for (const access of memory) {
        assert.equal(access.cpu, 1, `${access.text} ran on CPU 1`);
        assert.equal(access.hitCpu, 0, `${access.text} hit CPU 0's area`);
        assert.equal(access.wrong, true);
      }
      assert.equal(stats.migrations, 1);
      assert.equal(counter.remoteRefRaw(0).value, 1n, "the old CPU's copy was incremented");
      assert.equal(counter.remoteRefRaw(1).value, 0n);
      assert.equal(stats.wrongCpuAccesses, memory.length);
    });
  }
});

Deno.test("with preempt, a tick inside the guard only sets need-resched; the switch follows the release", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const percpu = createPercpu({ arch, features: ["preempt"] });
      const counter = percpu.defPercpu("COUNTER", u64, 0n);
      const machine = machineFor(percpu, 2, new Script({ 0: [2] }, [1]));
      machine.spawn(function* (ctx) {
        yield* ctx.withCurrent(counter, increment);
        yield;
      }, { cpu: 0 });
      const stats = machine.run();
      const events = machine.events!;
      const tick = events.find((e) => e.kind === "tick");
      assert.equal(tick?.kind === "tick" && tick.outcome, "deferred-guard");
      const release = events.findIndex((e) => e.kind === "guard" && e.count === 0);
      const preempt = events.findIndex((e) => e.kind === "preempt");
      assert.ok(release >= 0 && preempt === release + 1, "preempted right after the release");
      assert.equal(stats.wrongCpuAccesses, 0);
      assert.equal(stats.preemptions, 1);
      assert.equal(counter.remoteRefRaw(0).value, 1n);
    });
  }
});

Deno.test("ticks while IRQs are disabled wait for local_irq_restore; the tick's return preempts", () => {
  const percpu = createPercpu({ arch: "riscv64" });
  percpu.defPercpu("X", u8, 0);
  const machine = machineFor(percpu, 1, new Script({ 0: [0] }), "preemptive");
  machine.spawn(function* (ctx) {
    {
      using _irq = ctx.irqSave();
      yield;
      yield;
    }
    yield;
  });
  machine.spawn(function* () {
    yield;
  });
  machine.run();
  const kinds = machine.events!.map((e) =>
    e.kind === "tick" ? `tick:${e.outcome}` : e.kind === "irq" ? `irq:${e.enabled}` : e.kind
  );
  const tick = kinds.indexOf("tick:deferred-irq");
  const restore = kinds.indexOf("irq:true");
  assert.ok(tick >= 0 && restore > tick);
  assert.equal(
    kinds[restore + 1],
    "tick:preempt",
    "the deferred tick is delivered once IRQs are back",
  );
  assert.equal(kinds[restore + 2], "preempt", "and the return from it is a preemption point");
});

Deno.test("misuse is reported, never absorbed", async (t) => {
  const setUp = () => {
    const percpu = createPercpu({ arch: "aarch64", features: ["preempt"] });
    const counter = percpu.defPercpu("COUNTER", u64, 0n);
    return { percpu, counter, machine: new Machine({ percpu, cpus: 2, seed: 3, quantum: 4 }) };
  };
  const worker = (counter: ReturnType<typeof setUp>["counter"]) =>
    function* (ctx: TaskContext) {
      for (let i = 0; i < 20; i++) yield* ctx.withCurrent(counter, increment);
    };

  await t.step(
    "a guard held at task exit: exited with preempt_count, not scheduling while atomic",
    () => {
      const { machine } = setUp();
      machine.spawn(function* (ctx) {
        ctx.noPreempt();
        yield;
      }, { name: "leaky" });
      const stats = machine.run();
      assert.equal(stats.misuses.length, 1);
      assert.equal(stats.misuses[0].kind, "exit-preempt-count");
      assert.match(
        stats.misuses[0].message,
        /^note: leaky exited with preempt_count 1$/,
      );
    },
  );

  await t.step("preempt count underflow fails the task and is reported", () => {
    const { machine, counter } = setUp();
    machine.spawn(function* () {
      yield;
      NoPreempt.release(0);
    }, { name: "underflow" });
    machine.spawn(worker(counter), { name: "bystander" });
    const stats = machine.run();
    assert.ok(stats.misuses.some((m) => /preempt count underflow in underflow/.test(m.message)));
    assert.equal(stats.failures.length, 1);
    assert.equal(stats.failures[0].task, "underflow");
    assert.equal((stats.failures[0].error as { kind?: string }).kind, "PreemptCountUnderflow");
    assert.equal(counter.remoteRefRaw(0).value + counter.remoteRefRaw(1).value, 20n);
  });

  await t.step("a task that throws: others keep running, its guards are released by using", () => {
    const { machine, counter } = setUp();
    machine.spawn(function* (ctx) {
      using _guard = ctx.noPreempt();
      yield* ctx.withCurrent(counter, increment);
      throw new Error("boom");
    }, { name: "thrower" });
    machine.spawn(worker(counter), { name: "a" });
    machine.spawn(worker(counter), { name: "b" });
    const stats = machine.run();
    assert.deepEqual(stats.failures.map((f) => [f.task, f.message]), [["thrower", "boom"]]);
    assert.deepEqual(stats.misuses, [], "the using guard was released while unwinding");
    assert.ok(stats.completed);
    assert.equal(counter.remoteRefRaw(0).value + counter.remoteRefRaw(1).value, 41n);
  });

  await t.step("sched_yield with preemption disabled", () => {
    const { machine } = setUp();
    machine.spawn(function* (ctx) {
      using _guard = ctx.noPreempt();
      yield* ctx.schedYield();
    }, { name: "sleepy" });
    const stats = machine.run();
    assert.match(stats.misuses[0].message, /scheduling while atomic: sleepy called sched_yield/);
  });

  await t.step("exiting with IRQs disabled", () => {
    const { machine } = setUp();
    machine.spawn(function* (ctx) {
      ctx.irqSave();
      yield;
    }, { name: "irqs-off" });
    const stats = machine.run();
    assert.match(stats.misuses[0].message, /irqs-off exited with IRQs disabled/);
  });

  await t.step("yielding something that is not an operation", () => {
    const { machine } = setUp();
    machine.spawn(function* () {
      yield 42 as never;
    }, { name: "confused" });
    const stats = machine.run();
    assert.match(stats.failures[0].message, /confused yielded number 42/);
  });

  await t.step("a closure that returns the wrong type fails its task", () => {
    const { machine, counter } = setUp();
    machine.spawn(function* (ctx) {
      yield* ctx.withCurrent(counter, () => 1 as never);
    }, { name: "typo" });
    const stats = machine.run();
    assert.match(stats.failures[0].message, /a u64 value must be a bigint, got number 1/);
    assert.deepEqual(stats.misuses, [], "the guard taken by the program was released");
  });
});

Deno.test("one table, two readers: the simulator executes exactly the disassembled sequence", async (t) => {
  for (const arch of ARCHES) {
    for (const features of [[], ["preempt"], ["non-zero-vma"]] as const) {
      await t.step(`${arch} ${features.join(",") || "default"}`, () => {
        const percpu = createPercpu({ arch, features: [...features] });
        const counter = percpu.defPercpu("COUNTER", u64, 5n);
        const machine = machineFor(percpu, 2, new Script({}));
        machine.spawn(function* (ctx) {
          yield* ctx.withCurrent(counter, increment);
        }, { cpu: 1 });
        const stats = machine.run();
        const program = accessProgram(counter, "with-current", { fn: "increment" }).instructions;
        assert.equal(stats.instructions, program.length);
        assert.deepEqual(
          accesses(machine.events).map((e) => e.text),
          program.filter((i) => i.accessesMemory).map((i) => i.text),
        );
        assert.equal(counter.remoteRefRaw(1).value, 6n);
        assert.equal(counter.remoteRefRaw(0).value, 5n);
      });
    }
  }
});

Deno.test("stepped values agree with the core accessors on every arch", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const percpu = createPercpu({ arch });
      const big = percpu.defPercpu("BIG", u64, 0n);
      const signed = percpu.defPercpu("SIGNED", i64, -1n);
      const small = percpu.defPercpu("SMALL", u32, 0xffff_fffe);
      const seen: unknown[] = [];
      const machine = machineFor(percpu, 2, new Script({}));
      machine.spawn(function* (ctx) {
        yield* ctx.write(big, 0xfeed_feed_feed_feedn);
        seen.push(yield* ctx.read(big));
        yield* ctx.add(big, 0x1_0000_0001n);
        seen.push(yield* ctx.read(signed));
        yield* ctx.add(signed, -(1n << 40n));
        yield* ctx.add(small, 3);
        yield* ctx.remoteWrite(small, 1, 77);
        seen.push(yield* ctx.remoteRead(small, 1));
        seen.push(yield* ctx.ptr(big));
      }, { cpu: 0 });
      const stats = machine.run();
      assert.deepEqual(stats.failures, []);
      assert.equal(stats.wrongCpuAccesses, 0, "remote accesses are not violations");
      assert.deepEqual(seen, [0xfeed_feed_feed_feedn, -1n, 77, big.remotePtr(0)]);
      assert.equal(big.remoteRefRaw(0).value, 0xfeed_feed_feed_feedn + 0x1_0000_0001n);
      assert.equal(signed.remoteRefRaw(0).value, -1n - (1n << 40n));
      assert.equal(small.remoteRefRaw(0).value, 1, "u32 wraps like this_cpu_add");
    });
  }
});

Deno.test("core accessors inside a task act on the CPU running it", () => {
  const percpu = createPercpu({ arch: "riscv64" });
  const id = percpu.defPercpu("CPU_ID", u32, 0);
  const machine = machineFor(percpu, 2, new Script({}));
  for (const cpu of [0, 1]) {
    machine.spawn(function* (ctx) {
      id.writeCurrent(ctx.cpu() + 10);
      yield;
    }, { cpu });
  }
  machine.run();
  assert.equal(id.remoteRefRaw(0).value, 10);
  assert.equal(id.remoteRefRaw(1).value, 11);
});

Deno.test("a guest's msr TPIDR_EL1 changes the per-CPU register only without arm-el2", () => {
  for (const features of [[], ["arm-el2"]] as const) {
    const percpu = createPercpu({ arch: "aarch64", features: [...features] });
    percpu.defPercpu("X", u8, 0);
    const machine = machineFor(percpu, 1, new Script({}));
    const before = machinePort(machine).cpuContexts[0].reg;
    machine.spawn(function* (ctx) {
      yield* ctx.writeSysreg("TPIDR_EL1", 0x1234_0000);
    });
    machine.run();
    const context = machinePort(machine).cpuContexts[0];
    assert.equal(context.readSysreg("TPIDR_EL1"), 0x1234_0000);
    assert.equal(context.reg, features.length ? before : 0x1234_0000);
  }
});

Deno.test("machine options are checked", () => {
  const percpu = createPercpu();
  assert.throws(() => new Machine({ percpu, cpus: 0 }), /cpus must be an integer from 1 to 64/);
  assert.throws(
    () => new Machine({ percpu, policy: "fifo" as never }),
    /policy must be one of cooperative, preemptive/,
  );
  assert.throws(() => new Machine({ percpu, quantum: 0 }), /quantum must be/);
  const machine = new Machine({ percpu });
  assert.throws(() => machine.spawn(null as never), TypeError);
  assert.throws(
    () => machine.spawn(function* () {}, { cpu: 5 }),
    /cpu must be an integer from 0 to 1/,
  );
});
