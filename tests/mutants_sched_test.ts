// Behaviour of the scheduler simulation that mutation testing found
// unchecked: the seeded policy's first balancing attempt, option messages,
// a closure's bad return value, migrations in the event log, task-side
// validation messages, and the explorer's port (reset, state fingerprints).

import assert from "node:assert/strict";
import { createPercpu, u32, u64 } from "../mod.ts";
import { type Decisions, Machine, type TaskContext } from "../sched/mod.ts";
import { BALANCE_TICKS, SeededPolicy } from "../sched/runtime/decisions.ts";
import { machinePort } from "../sched/runtime/_port.ts";

function policy(cpus = 4): SeededPolicy {
  return new SeededPolicy({
    policy: "preemptive",
    quantum: 1,
    seed: 3,
    migration: 0,
    steal: 0,
    cpus,
  });
}

Deno.test("balance: the very first imbalance of 1 is not pulled, on any CPU", () => {
  const p = policy();
  for (let cpu = 0; cpu < 4; cpu++) {
    for (let i = 0; i < BALANCE_TICKS; i++) p.tick(cpu);
    assert.equal(p.balance(cpu, 3, 1), -1, `CPU ${cpu}`);
  }
});

Deno.test("a bad probability names its option", () => {
  for (const name of ["migration", "steal"] as const) {
    for (const [value, error] of [[2, RangeError], ["1", TypeError]] as const) {
      assert.throws(
        () =>
          new SeededPolicy({
            policy: "stress",
            quantum: 4,
            seed: 1,
            cpus: 2,
            migration: 0.5,
            steal: 0.5,
            [name]: value as number,
          }),
        (e: unknown) => {
          assert.ok(e instanceof error);
          assert.match((e as Error).message, new RegExp(`^${name} must be`));
          return true;
        },
      );
    }
  }
});

Deno.test("a closure's bad return value is reported as the call's returned value", () => {
  const percpu = createPercpu();
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  const machine = new Machine({ percpu, cpus: 1 });
  machine.spawn(function* (ctx) {
    yield* ctx.withCurrent(counter, () => 1 as never);
  }, { name: "typo" });
  const stats = machine.run();
  assert.match(stats.failures[0].message, /\(returned value\)/);
});

Deno.test("task-side checks name the task and the access", () => {
  const percpu = createPercpu();
  const x = percpu.defPercpu("X", u32, 0);
  const bad = createPercpu().defPercpu("Y", u32, 0);
  const machine = new Machine({ percpu, cpus: 2 });
  const messages: string[] = [];
  machine.spawn(function* (ctx) {
    for (
      const step of [
        () => ctx.add(x, 0.5),
        () => ctx.add(x, "1" as never),
        () => ctx.remoteWrite(bad, 1, 1),
        () => ctx.remoteWrite(x, 1, -1),
      ]
    ) {
      try {
        yield* step();
      } catch (error) {
        messages.push((error as Error).message);
      }
    }
  }, { name: "careless" });
  assert.deepEqual(machine.run().failures, []);
  assert.equal(messages.length, 4, messages.join("\n"));
  assert.match(messages[0], /^careless: add/);
  assert.match(messages[1], /^careless: add/);
  assert.match(
    messages[2],
    /^remoteWrite: expected a variable of this machine/,
  );
  assert.match(messages[3], /^careless: remoteWrite/);
});

/** Every tick preempts; a preempted task goes to the next CPU. */
class Rotate implements Decisions {
  tick(): boolean {
    return true;
  }
  migrate(cpu: number): number {
    return (cpu + 1) % 2;
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

Deno.test("the event log has each migration, as the counters do", () => {
  const percpu = createPercpu();
  const x = percpu.defPercpu("X", u32, 0);
  const machine = new Machine({
    percpu,
    cpus: 2,
    policy: "stress",
    decisions: new Rotate(),
    record: true,
  });
  for (let t = 0; t < 2; t++) {
    machine.spawn(function* (ctx) {
      for (let i = 0; i < 5; i++) yield* ctx.add(x, 1);
    }, { cpu: t });
  }
  const stats = machine.run();
  const migrations = (machine.events ?? []).filter((e) => e.kind === "migrate");
  assert.ok(stats.migrations > 0);
  assert.equal(migrations.length, stats.migrations);
  for (const e of migrations) {
    assert.ok(e.kind === "migrate" && e.from !== e.cpu);
  }
});

function writer(value: number) {
  const percpu = createPercpu();
  const x = percpu.defPercpu("X", u32, 7);
  const machine = new Machine({ percpu, cpus: 2, policy: "cooperative" });
  const port = machinePort(machine);
  port.reset(policy(2));
  machine.spawn(function* (ctx) {
    yield* ctx.write(x, value);
  }, { cpu: 0 });
  while (port.live > 0) {
    port.step(0, null);
    port.step(1, null);
    port.endCycle(null);
  }
  return { machine, port, x, percpu };
}

Deno.test("state fingerprints: equal for equal states, different when memory differs", () => {
  const a = writer(5), b = writer(5), c = writer(6);
  // CPU 1 stayed idle all along.
  assert.equal(a.port.stateHash(0), b.port.stateHash(0));
  assert.equal(a.port.stateHash(0), a.port.stateHash(0));
  assert.notEqual(a.port.stateHash(0), c.port.stateHash(0));
  assert.notEqual(a.port.stateHash(0), a.port.stateHash(1));
  assert.ok(Number.isSafeInteger(a.port.stateHash(0)));
});

Deno.test("reset starts over: no tasks, cycle 0, areas from the template", () => {
  const { machine, port, x } = writer(5);
  assert.ok(port.cycle > 0);
  assert.equal(x.readRemote(0), 5);
  port.reset(policy(2));
  assert.equal(port.cycle, 0);
  assert.equal(port.live, 0);
  assert.equal(x.readRemote(0), 7);
  assert.deepEqual(port.stats().failures, []);
  assert.equal(machine.run().instructions, 0);
});

Deno.test("Machine: too many CPUs blames the system only when the system is the limit", () => {
  // The default system takes more CPUs than a machine simulates.
  assert.throws(
    () => new Machine({ percpu: createPercpu(), cpus: 65 }),
    (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /from 1 to 64/);
      assert.doesNotMatch(e.message, /this system has at most/);
      return true;
    },
  );
  const naive = createPercpu({ features: ["sp-naive"] });
  assert.throws(
    () => new Machine({ percpu: naive, cpus: 2 }),
    /this system has at most 1 CPU\)/,
  );
});

Deno.test("a step made earlier can be yielded later; another machine's step is refused", () => {
  const percpu = createPercpu();
  const x = percpu.defPercpu("X", u32, 1);
  const y = percpu.defPercpu("Y", u32, 2);
  const machine = new Machine({ percpu, cpus: 1 });
  const seen: number[] = [];
  machine.spawn(function* (ctx) {
    const first = ctx.read(x);
    const second = ctx.read(y);
    seen.push(yield* first, yield* second);
  });
  assert.deepEqual(machine.run().failures, []);
  assert.deepEqual(seen, [1, 2]);

  const other = new Machine({ percpu, cpus: 1 });
  let foreign: ReturnType<TaskContext["read"]> | null = null;
  other.spawn(function* (ctx) {
    foreign = ctx.read(x);
    yield;
  });
  other.run();
  const third = new Machine({ percpu, cpus: 1 });
  third.spawn(function* () {
    yield* foreign!;
  }, { name: "thief" });
  const stats = third.run();
  assert.match(
    stats.failures[0].message,
    /thief yielded an operation of another machine/,
  );
});

Deno.test("stop reasons, task names, and a fresh run after reset", () => {
  const percpu = createPercpu();
  const x = percpu.defPercpu("X", u32, 0);
  const machine = new Machine({ percpu, cpus: 1, maxCycles: 5, record: true });
  machine.spawn(function* (ctx) {
    for (let i = 0; i < 100; i++) yield* ctx.add(x, 1);
  }, { name: "busy" });
  machine.spawn(function* () {}, { name: "idle" });
  assert.deepEqual(machine.taskNames, ["busy", "idle"]);
  const stats = machine.run();
  assert.equal(stats.stopReason, "cycle-limit");
  // Reads are local accesses.
  const reader = new Machine({ percpu, cpus: 1, record: true });
  reader.spawn(function* (ctx) {
    yield* ctx.read(x);
  });
  reader.run();
  const accesses = (reader.events ?? []).filter((e) => e.kind === "access");
  assert.ok(accesses.length > 0);
  for (const e of accesses) {
    assert.equal(e.kind === "access" && e.remote, false);
  }
});

Deno.test("options that are not options: the step and the Machine say what was wrong", () => {
  const percpu = createPercpu();
  const x = percpu.defPercpu("X", u32, 0);
  const machine = new Machine({ percpu, cpus: 1 });
  let message = "";
  machine.spawn(function* (ctx) {
    try {
      yield* ctx.add(x, 1, { raw: 1 as never });
    } catch (error) {
      message = (error as Error).message;
    }
  });
  machine.run();
  assert.match(message, /^add: raw must be a boolean/);
  assert.throws(
    () => new Machine({ percpu: {} as never }),
    /^TypeError: Machine: percpu must be a per-CPU system made by createPercpu/,
  );
});

Deno.test("one closure, raw and guarded: each access runs its own sequence", () => {
  const percpu = createPercpu({ features: ["preempt"] });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  const machine = new Machine({ percpu, cpus: 1, record: true });
  const increment = (v: bigint) => v + 1n;
  machine.spawn(function* (ctx) {
    yield* ctx.withCurrent(counter, increment);
    yield* ctx.withCurrent(counter, increment, { raw: true });
    yield* ctx.withCurrent(counter, increment);
  });
  machine.run();
  const guards = (machine.events ?? []).filter((e) => e.kind === "guard");
  // Disabled and enabled again by the two guarded accesses only.
  assert.equal(guards.length, 4);
  assert.equal(counter.readRemote(0), 3n);
});

Deno.test("the port: queue epochs move as queues gain tasks; sleepers hash by time left", () => {
  const percpu = createPercpu();
  percpu.defPercpu("X", u32, 0);
  const sleeper = (cycles: number) => {
    const machine = new Machine({ percpu, cpus: 1, policy: "cooperative" });
    const port = machinePort(machine);
    port.reset(policy(1));
    const before = port.queueEpoch;
    machine.spawn(function* (ctx) {
      yield* ctx.sleep(cycles);
    });
    assert.notEqual(port.queueEpoch, before);
    for (let i = 0; i < 3; i++) {
      port.step(0, null);
      port.endCycle(null);
    }
    return port.stateHash(0);
  };
  assert.equal(sleeper(20), sleeper(20));
  assert.notEqual(sleeper(20), sleeper(30));
});

Deno.test("the first violation is described: where, who, what", () => {
  const percpu = createPercpu({ arch: "aarch64" });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  const machine = new Machine({ percpu, cpus: 2, decisions: new Rotate(), policy: "stress" });
  for (let t = 0; t < 2; t++) {
    machine.spawn(function* (ctx) {
      for (let i = 0; i < 3; i++) yield* ctx.withCurrent(counter, (v) => v + 1n, { raw: true });
    }, { cpu: t });
  }
  const stats = machine.run();
  assert.ok(stats.wrongCpuAccesses > 0);
  const first = stats.firstViolation as unknown as Record<string, unknown>;
  assert.equal(first.kind, "access");
  assert.equal(typeof first.cycle, "number");
  assert.equal(typeof first.text, "string");
});

Deno.test("stress: an idle CPU steals from any queue", () => {
  const percpu = createPercpu();
  const x = percpu.defPercpu("X", u32, 0);
  const machine = new Machine({ percpu, cpus: 2, policy: "stress", steal: 1, record: true });
  for (let t = 0; t < 3; t++) {
    machine.spawn(function* (ctx) {
      for (let i = 0; i < 3; i++) yield* ctx.add(x, 1);
    }, { cpu: 0 });
  }
  const stats = machine.run();
  assert.ok(stats.pulls > 0, `${stats.pulls} pulls`);
  assert.ok((machine.events ?? []).some((e) => e.kind === "dispatch" && e.cpu === 1));
});
