// The runtime in the corners: which task bodies spawn accepts, what the
// scheduler tells its decisions (preemptibility, balancing candidates and
// imbalance, only where balancing exists), a tick held back by disabled IRQs
// delivered exactly once, what the stepped operations return, and the
// machine's own option checks.

import assert from "node:assert/strict";
import { createPercpu, struct, u32, u64, u8 } from "../mod.ts";
import { Machine, type Policy, type SimEvent, type TaskContext } from "../sched/mod.ts";
import { machinePort } from "../sched/runtime/_port.ts";
import { Scripted } from "./fixtures/scripted_decisions.ts";

function system(arch: "riscv64" | "aarch64" = "riscv64") {
  const percpu = createPercpu({ arch });
  const x = percpu.defPercpu("X", u64, 0n);
  const small = percpu.defPercpu("SMALL", u8, 0);
  return { percpu, x, small };
}

Deno.test("spawn takes sync generator functions and refuses everything else up front", () => {
  const { percpu } = system();
  const machine = new Machine({ percpu, cpus: 1, policy: "cooperative" });
  const iterator = (extra: object) => () => ({
    next: () => ({ done: true, value: undefined }),
    throw: (e: unknown) => {
      throw e;
    },
    return: () => ({ done: true, value: undefined }),
    ...extra,
  });
  const refused: [string, unknown, RegExp][] = [
    ["an async function", async () => {}, /async function/],
    ["an async generator function", async function* () {}, /async function/],
    [
      "a body returning an async iterator",
      iterator({ [Symbol.asyncIterator]: () => ({}) }),
      /async one/,
    ],
    ["a body returning a thenable", iterator({ then: () => {} }), /async one/],
    [
      "a body returning an AsyncGenerator",
      iterator({ [Symbol.toStringTag]: "AsyncGenerator" }),
      /async one/,
    ],
    ["a body returning no next", iterator({ next: 1 }), /must be a generator function/],
    ["a body returning no throw", iterator({ throw: undefined }), /must be a generator function/],
    ["a body returning no return", iterator({ return: null }), /must be a generator function/],
    ["a body returning a number", () => 4, /must be a generator function/],
    ["a body that throws", () => {
      throw new RangeError("no");
    }, /calling it threw/],
    ["not a function", 5, /expects a generator function/],
  ];
  for (const [why, body, message] of refused) {
    assert.throws(
      () => machine.spawn(body as never, { name: "T" }),
      (e: Error) => e instanceof TypeError && message.test(e.message),
      why,
    );
  }
  machine.spawn(iterator({}) as never, { name: "hand-written" });
  const stats = machine.run();
  assert.equal(stats.stopReason, "completed");
  assert.deepEqual(stats.failures, []);
  assert.equal(stats.contextSwitches, 1, "only the accepted body became a task");
});

Deno.test("a body that throws when called gives its error as the cause", () => {
  const { percpu } = system();
  const machine = new Machine({ percpu, cpus: 1 });
  const boom = new RangeError("no");
  assert.throws(() =>
    machine.spawn(
      (() => {
        throw boom;
      }) as never,
    ), (e: Error) => e.cause === boom);
});

Deno.test("tick is told whether the task could be switched out right now", () => {
  const { percpu, x } = system();
  const decisions = new Scripted({ tick: () => false });
  const machine = new Machine({ percpu, cpus: 1, decisions });
  machine.spawn(function* (ctx) {
    yield* ctx.work(2);
    {
      using _guard = ctx.noPreempt();
      yield* ctx.work(2);
    }
    yield* ctx.work(2);
    {
      using _irq = ctx.irqSave();
      yield* ctx.work(2);
    }
    yield* ctx.read(x);
  });
  machine.run();
  const flags = decisions.calls.filter((c) => c.method === "tick").map((c) => c.args[1]);
  assert.ok(flags.includes(0) && flags.includes(1), `${flags}`);
  // Inside each guard every tick question says "not preemptible".
  const pattern = flags.join("");
  assert.match(pattern, /^1+0+1+0+1+$/, pattern);
});

Deno.test("load balancing exists only under preemptive, with two CPUs or more", async (t) => {
  for (
    const [policy, cpus, expected] of [
      ["preemptive", 2, true],
      ["preemptive", 1, false],
      ["cooperative", 2, false],
      ["stress", 2, false],
    ] as [Policy, number, boolean][]
  ) {
    await t.step(`${policy}, ${cpus} CPU(s)`, () => {
      const { percpu, x } = system();
      const decisions = new Scripted({ tick: () => true, migrate: (cpu) => cpu });
      const machine = new Machine({ percpu, cpus, decisions, policy });
      const body = function* (ctx: TaskContext) {
        for (let j = 0; j < 6; j++) yield* ctx.add(x, 1n);
      };
      for (let i = 0; i < 5; i++) machine.spawn(body, { cpu: 0 });
      machine.spawn(body, { cpu: cpus - 1 });
      machine.run();
      assert.equal(decisions.calls.some((c) => c.method === "balance"), expected);
    });
  }
});

Deno.test("balance and newidle are offered the busiest other CPUs' queued tasks only", () => {
  const { percpu, x } = system();
  const decisions = new Scripted({ tick: (cpu) => cpu === 1 });
  const machine = new Machine({ percpu, cpus: 3, decisions });
  // CPU 0: 4 tasks (1 running, 3 queued); CPU 1: 2 tasks (1 queued); CPU 2: none.
  const body = function* (ctx: TaskContext) {
    for (let j = 0; j < 3; j++) yield* ctx.add(x, 1n);
  };
  for (let i = 0; i < 4; i++) machine.spawn(body, { cpu: 0 });
  for (let i = 0; i < 2; i++) machine.spawn(body, { cpu: 1 });
  machine.run();
  const first = (method: string) => decisions.calls.find((c) => c.method === method)?.args;
  // CPU 2 is idle from the start: it may pull one of CPU 0's 3 queued tasks
  // (CPU 0 is busiest), never one of CPU 1's, never its own.
  assert.deepEqual(first("newidle")?.slice(0, 2), [2, 3]);
  const balance = first("balance");
  assert.ok(balance, "CPU 1's ticks balance");
  const [cpu, candidates, imbalance] = balance;
  assert.equal(cpu, 1);
  assert.ok(candidates >= 1 && imbalance >= 1, `${balance}`);
  for (const call of decisions.calls.filter((c) => c.method === "balance")) {
    assert.ok(call.args[2] >= 1, "an imbalance is at least 1");
  }
});

Deno.test("a tick held back while IRQs are off is delivered once when they come back", () => {
  const { percpu, x } = system();
  const decisions = new Scripted({ tick: (_cpu, _p, call) => call === 1 });
  const machine = new Machine({ percpu, cpus: 1, decisions, record: true });
  machine.spawn(function* (ctx) {
    yield* ctx.work(1);
    {
      using _irq = ctx.irqSave();
      yield* ctx.work(3);
    }
    for (let i = 0; i < 4; i++) yield* ctx.read(x);
  });
  machine.run();
  const ticks = (machine.events as SimEvent[]).filter((e) => e.kind === "tick");
  assert.deepEqual(ticks.map((e) => e.kind === "tick" && e.outcome), ["deferred-irq", "alone"]);
});

Deno.test("the stepped operations return what they say", () => {
  const { percpu, small, x } = system();
  percpu.init(2);
  const seen: unknown[] = [];
  const machine = new Machine({ percpu, cpus: 2, policy: "cooperative" });
  machine.spawn(function* (ctx) {
    seen.push(yield* ctx.ptr(small));
    seen.push(yield* ctx.withCurrent(small, (v) => v + 1));
    seen.push(yield* ctx.remoteWrite(x, 1, 5n));
    seen.push(yield* ctx.write(x, 2n));
    seen.push(yield* ctx.remoteRead(x, 1));
  }, { cpu: 0 });
  machine.run();
  assert.deepEqual(seen, [small.remotePtr(0), undefined, undefined, undefined, 5n]);
  assert.ok((seen[0] as number) > 0xff, "a whole address, not a byte");
  assert.equal(small.remoteRefRaw(0).value, 1);
});

Deno.test("ptr gives the whole address of any variable, struct or 64-bit on a 32-bit arch", () => {
  const percpu = createPercpu({ arch: "arm" });
  const wide = percpu.defPercpu("WIDE", u64, 0n);
  const pair = percpu.defPercpu("PAIR", struct({ a: u8, b: u32 }), { a: 1, b: 2 });
  percpu.init(2);
  const seen: unknown[] = [];
  const machine = new Machine({ percpu, cpus: 2, policy: "cooperative" });
  machine.spawn(function* (ctx) {
    seen.push(yield* ctx.ptr(wide));
    seen.push(yield* ctx.ptr(pair));
  }, { cpu: 1 });
  const stats = machine.run();
  assert.deepEqual(stats.failures, []);
  assert.deepEqual(seen, [wide.remotePtr(1), pair.remotePtr(1)]);
});

Deno.test("a step that set the system up again ends the stepped run too", () => {
  const { percpu, x } = system();
  percpu.init(1);
  const machine = new Machine({ percpu, cpus: 1, policy: "cooperative" });
  machine.spawn(function* (ctx) {
    yield* ctx.read(x);
    percpu.init(1);
    yield* ctx.work(5);
  });
  const port = machinePort(machine);
  for (
    let i = 0;
    i < 20 && port.live > 0 && port.stats().stopReason !== "system-reinitialized";
    i++
  ) {
    port.step(0, null);
    port.endCycle(null);
  }
  assert.equal(port.stats().stopReason, "system-reinitialized");
});

Deno.test("a raw option that is not a boolean fails the task, by name", () => {
  const { percpu, x } = system();
  const machine = new Machine({ percpu, cpus: 1 });
  for (const raw of [1, "yes", null]) {
    machine.spawn(function* (ctx) {
      yield* ctx.read(x, { raw: raw as never });
    }, { name: `raw ${String(raw)}` });
  }
  machine.spawn(function* (ctx) {
    yield* ctx.read(x, { raw: true });
    yield* ctx.read(x, { raw: false });
    yield* ctx.read(x, {});
  }, { name: "fine" });
  const stats = machine.run();
  assert.deepEqual(stats.failures.map((f) => f.task), ["raw 1", "raw yes", "raw null"]);
  for (const f of stats.failures) assert.match(f.message, /raw must be a boolean/);
});

Deno.test("Machine refuses decisions without every method, and too many CPUs for sp-naive", () => {
  const { percpu } = system();
  const methods = {
    tick: () => false,
    pick: () => 0,
    balance: () => -1,
    newidle: () => -1,
    migrate: (cpu: number) => cpu,
  };
  for (const missing of Object.keys(methods)) {
    const decisions = { ...methods, [missing]: "no" };
    assert.throws(
      () => new Machine({ percpu, decisions: decisions as never }),
      (e: Error) => e instanceof TypeError && e.message.includes(`decisions.${missing}`),
    );
  }
  new Machine({ percpu, decisions: methods });
  const naive = createPercpu({ features: ["sp-naive"] });
  naive.defPercpu("X", u32, 0);
  assert.throws(
    () => new Machine({ percpu: naive, cpus: 2 }),
    (e: Error) => e instanceof RangeError && /at most 1 CPU\)/.test(e.message),
  );
  assert.equal(new Machine({ percpu: naive, cpus: 1 }).cpus, 1);
});

Deno.test("setting the system up again from a task stops the run as incomplete", () => {
  const { percpu, x } = system();
  percpu.init(2);
  const machine = new Machine({ percpu, cpus: 1, policy: "cooperative" });
  let after = 0;
  machine.spawn(function* (ctx) {
    yield* ctx.read(x);
    percpu.init(2);
    for (let i = 0; i < 600; i++) {
      yield* ctx.work(1);
      after++;
    }
  });
  const stats = machine.run();
  assert.equal(stats.stopReason, "system-reinitialized");
  assert.equal(stats.completed, false);
  assert.ok(after < 600, `the run stopped soon after (${after} steps)`);
});

Deno.test("a step left early (break, return) ends cleanly and is not resumed", () => {
  const { percpu, x } = system();
  percpu.init(1);
  const machine = new Machine({ percpu, cpus: 1, policy: "cooperative" });
  const seen: unknown[] = [];
  machine.spawn(function* (ctx) {
    for (const request of ctx.work(5)) {
      yield request;
      break;
    }
    const read = ctx.read(x)[Symbol.iterator]();
    const first = read.next();
    yield first.value;
    seen.push(read.return!(7n as never));
    seen.push(read.next());
    const work = ctx.work(3)[Symbol.iterator]();
    seen.push(work.return!());
    seen.push(work.next());
    seen.push(yield* ctx.read(x));
  });
  const stats = machine.run();
  assert.deepEqual(stats.failures, []);
  assert.deepEqual(seen, [
    { value: 7n, done: true },
    { value: undefined, done: true },
    { value: undefined, done: true },
    { value: undefined, done: true },
    0n,
  ]);
});
