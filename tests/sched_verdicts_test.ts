// Verdicts that are true: incomplete runs are incomplete, a stale machine is
// refused, tasks fail alone, adds are exact, messages name options, and long
// runs stay within bounded memory and output.

import assert from "node:assert/strict";
import { XMLValidator } from "fast-xml-parser";
import { createPercpu, i16, i32, i8, type Percpu, u16, u32, u64, u8 } from "../mod.ts";
import {
  checkDfs,
  counterTest,
  type ExploreTest,
  formatExploreReport,
  formatSimReport,
  Machine,
  renderTimelineSvg,
  replay,
  simulate,
  SimulationError,
  type TaskContext,
} from "../sched/mod.ts";
import { portOf } from "../lib/_port.ts";

function increment(value: bigint): bigint {
  return value + 1n;
}

/** A system with a counter, and a task that adds to it `n` times. */
function counterSystem(arch: "aarch64" | "riscv64" = "riscv64") {
  const percpu = createPercpu({ arch, features: ["preempt"] });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  const worker = (n: number) =>
    function* (ctx: TaskContext) {
      for (let i = 0; i < n; i++) yield* ctx.withCurrent(counter, increment);
    };
  const sum = (cpus: number) => {
    let total = 0n;
    for (let cpu = 0; cpu < cpus; cpu++) total += counter.remoteRefRaw(cpu).value;
    return total;
  };
  return { percpu, counter, worker, sum };
}

Deno.test("a run stopped by the cycle limit is incomplete, never corrupted", async (t) => {
  await t.step("simulate: 2 000 000 guarded increments do not fit 10M cycles", () => {
    const result = simulate({ iters: 2_000_000, features: ["preempt"] });
    assert.equal(result.completed, false);
    assert.equal(result.stopReason, "cycle-limit");
    assert.equal(result.corrupted, false);
    assert.equal(result.lostUpdates, null, "increments never made are not lost");
    assert.equal(result.cycles, 10_000_000);
    const report = formatSimReport(result);
    assert.match(report, /INCOMPLETE: stopped at the cycle limit after 10000000 cycles/);
    assert.doesNotMatch(report, /CORRUPTED/);
  });
  await t.step("Machine: maxCycles stops the run and says so", () => {
    const { percpu, worker } = counterSystem();
    const machine = new Machine({ percpu, maxCycles: 20 });
    machine.spawn(worker(50));
    const stats = machine.run();
    assert.deepEqual([stats.completed, stats.stopReason, stats.cycles], [false, "cycle-limit", 20]);
  });
  await t.step("the explorer: a schedule cut off by the limit is not a violation", () => {
    const percpu = createPercpu({ arch: "riscv64" });
    percpu.defPercpu("X", u8, 0);
    const test: ExploreTest = {
      name: "sleeps past the limit",
      percpu,
      cpus: 1,
      spawn(machine) {
        machine.spawn(function* (ctx) {
          yield* ctx.sleep(20_000_000);
        });
      },
      check: () => "an invariant that a finished run would break",
    };
    const result = checkDfs(test, { maxPreemptions: 0 });
    assert.equal(result.violation, null);
    assert.equal(result.complete, false, "a schedule it could not finish is not covered");
  });
});

Deno.test("two machines on one system: the older one is refused, the newer one is right", async (t) => {
  for (const reinit of ["another Machine", "percpu.init()"] as const) {
    await t.step(reinit, () => {
      const { percpu, worker, sum } = counterSystem("aarch64");
      const first = new Machine({ percpu, cpus: 2, seed: 3 });
      first.spawn(worker(40));
      first.spawn(worker(40));
      if (reinit === "percpu.init()") {
        percpu.init(4);
        assert.throws(
          () => first.run(),
          (e) =>
            e instanceof SimulationError && e.kind === "StaleSystem" && /init\(\)/.test(e.message),
        );
        assert.equal(first.instructions, 0, "nothing ran");
        return;
      }
      const second = new Machine({ percpu, cpus: 2, seed: 4 });
      second.spawn(worker(30));
      second.spawn(worker(30));
      assert.throws(
        () => first.run(),
        (e) => e instanceof SimulationError && e.kind === "StaleSystem",
      );
      assert.equal(first.instructions, 0);
      const stats = second.run();
      assert.equal(stats.wrongCpuAccesses, 0);
      assert.equal(sum(2), 60n);
    });
  }
  await t.step("a task that re-initialises the system mid-run stops the run, incomplete", () => {
    const { percpu, worker } = counterSystem();
    const machine = new Machine({ percpu, cpus: 1 });
    machine.spawn(function* () {
      yield;
      percpu.init(1);
      yield;
    });
    machine.spawn(worker(5));
    const stats = machine.run();
    assert.equal(stats.stopReason, "system-reinitialized");
    assert.equal(stats.completed, false);
  });
});

Deno.test("spawn refuses async generators: tasks are sync generators", async (t) => {
  const bodies: [string, unknown][] = [
    ["async function*", async function* () {}],
    ["async function", async () => {}],
    ["a function returning an async generator", () => (async function* () {})()],
    ["a function returning a promise", () => Promise.resolve()],
  ];
  for (const [what, body] of bodies) {
    await t.step(what, () => {
      const { percpu, worker, sum } = counterSystem();
      const machine = new Machine({ percpu, cpus: 1 });
      machine.spawn(worker(3));
      assert.throws(
        () => machine.spawn(body as never),
        (e) => e instanceof TypeError && /sync generator/.test(e.message),
      );
      assert.equal(machine.taskNames.length, 1, "nothing was added");
      assert.equal(machine.run().stopReason, "completed");
      assert.equal(sum(1), 3n);
    });
  }
});

/** A Proxy every trap of which throws. */
function hostile(): object {
  const boom = () => {
    throw new Error("trap");
  };
  return new Proxy({}, {
    get: boom,
    has: boom,
    ownKeys: boom,
    getPrototypeOf: boom,
    getOwnPropertyDescriptor: boom,
    apply: boom,
  });
}

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

Deno.test("a task's failure stays that task's", async (t) => {
  const cases: [string, (ctx: TaskContext, machine: Machine) => Generator<unknown, void>][] = [
    ["throws a null-prototype object", function* () {
      yield;
      throw Object.create(null);
    }],
    ["throws an object whose toString throws", function* () {
      yield;
      throw {
        toString() {
          throw new Error("no");
        },
      };
    }],
    ["throws a hostile Proxy", function* () {
      yield;
      throw hostile();
    }],
    ["throws a revoked Proxy", function* () {
      yield;
      throw revoked();
    }],
    ["throws an Error whose message getter throws", function* () {
      yield;
      const error = new Error("x");
      Object.defineProperty(error, "message", {
        get() {
          throw new Error("no");
        },
      });
      throw error;
    }],
    ["yields a number", function* () {
      yield 42 as never;
    }],
    ["yields a hostile Proxy", function* () {
      yield hostile() as never;
    }],
    ["yields a look-alike request", function* () {
      yield { kind: "access", program: { instructions: [] } } as never;
    }],
    ["yields an operation of another machine", function* () {
      const other = createPercpu({ arch: "riscv64" });
      const x = other.defPercpu("X", u64, 0n);
      const machine = new Machine({ percpu: other, cpus: 1 });
      let op: unknown;
      machine.spawn(function* (ctx) {
        op = ctx.read(x);
        yield;
      });
      machine.run();
      yield op as never;
    }],
    ["catches the refusal and yields garbage again", function* () {
      try {
        yield 1 as never;
      } catch {
        yield 2 as never;
      }
    }],
    ["calls run() from inside itself", function* (_ctx, machine) {
      yield;
      machine.run();
      yield;
    }],
  ];
  for (const [what, body] of cases) {
    await t.step(what, () => {
      const { percpu, worker, sum } = counterSystem();
      const machine = new Machine({ percpu, cpus: 2, seed: 5, quantum: 3 });
      machine.spawn(worker(20), { name: "before" });
      machine.spawn((ctx) => body(ctx, machine), { name: "hostile\u001b[31m" });
      machine.spawn(worker(20), { name: "after" });
      const stats = machine.run();
      assert.equal(stats.stopReason, "completed");
      assert.equal(stats.failures.length, 1);
      const failure = stats.failures[0];
      assert.equal(failure.task, "hostile\u001b[31m");
      assert.equal(typeof failure.message, "string");
      assert.ok(failure.error instanceof SimulationError, "the failure is a SimulationError");
      assert.ok(failure.message.includes("hostile"), `names the task: ${failure.message}`);
      assert.equal(sum(2), 40n, "the other tasks' increments all landed");
      assert.deepEqual(stats.misuses, []);
      const report = formatSimReport({
        ...simulate({ iters: 1 }),
        failures: stats.failures.map(({ task, cpu, message }) => ({ task, cpu, message })),
      });
      assert.ok(!report.includes("\u001b"), "no raw control characters in reports");
      assert.ok(report.includes("hostile\\x1b[31m"));
    });
  }
});

Deno.test("simulated adds are exact for every safe-integer delta", async (t) => {
  const deltas = [1, -1, 255, 256, 2 ** 31, -(2 ** 31), 2 ** 32 + 7, 2 ** 53 - 1, -(2 ** 53 - 1)];
  const kinds = [
    ["u8", u8, 8, false],
    ["u16", u16, 16, false],
    ["u32", u32, 32, false],
    ["i8", i8, 8, true],
    ["i16", i16, 16, true],
    ["i32", i32, 32, true],
  ] as const;
  for (const arch of ["x86_64", "riscv64", "arm"] as const) {
    await t.step(arch, () => {
      for (const [name, type, bits, signed] of kinds) {
        for (const delta of deltas) {
          const exact = (start: number) => {
            const sum = BigInt(start) + BigInt(delta);
            return Number(signed ? BigInt.asIntN(bits, sum) : BigInt.asUintN(bits, sum));
          };
          const percpu = createPercpu({ arch });
          const v = percpu.defPercpu("V", type as typeof u8, 2);
          const machine = new Machine({ percpu, cpus: 1 });
          machine.spawn(function* (ctx) {
            yield* ctx.add(v, delta);
          });
          assert.equal(machine.run().failures.length, 0);
          assert.equal(v.remoteRefRaw(0).value, exact(2), `${name} 2 + ${delta}`);
        }
      }
    });
  }
});

Deno.test("library messages name options, with the right error class", async (t) => {
  const percpu = createPercpu();
  const cases: [() => unknown, ErrorConstructor, RegExp][] = [
    [() => new Machine({} as never), TypeError, /^Machine: percpu must be a per-CPU system/],
    [() => new Machine(null as never), TypeError, /Machine options must be an object/],
    [
      () => new Machine({ percpu, cpus: "2" as never }),
      TypeError,
      /^Machine: cpus must be a number/,
    ],
    [
      () => new Machine({ percpu, cpus: 0 }),
      RangeError,
      /^Machine: cpus must be an integer from 1 to 64/,
    ],
    [() => new Machine({ percpu, quantum: 0.5 }), RangeError, /^Machine: quantum/],
    [
      () => new Machine({ percpu, record: 1 as never }),
      TypeError,
      /^Machine: record must be a boolean/,
    ],
    [
      () => new Machine({ percpu, decisions: {} as never }),
      TypeError,
      /decisions.tick must be a function/,
    ],
    [() => new Machine({ percpu, cpu: 2 } as never), TypeError, /unknown Machine option "cpu"/],
    [
      () => new Machine({ percpu: createPercpu({ features: ["sp-naive"] }), cpus: 2 }),
      RangeError,
      /cpus must be an integer from 1 to 1 \(this system has at most 1 CPU\)/,
    ],
    [
      () => simulate({ cpus: 3, features: ["sp-naive"] }),
      RangeError,
      /^cpus must be an integer from 1 to 1/,
    ],
    [() => simulate({ arch: "mips" as never }), RangeError, /^arch must be one of/],
    [() => simulate({ tasks: "4" as never }), TypeError, /^tasks must be a number/],
    [
      () => simulate({ scenario: "el2-guest" }),
      RangeError,
      /^scenario el2-guest needs arch aarch64/,
    ],
    [() => simulate({ iter: 3 } as never), TypeError, /unknown simulation option "iter"/],
  ];
  for (const [call, type, message] of cases) {
    await t.step(message.source, () => {
      assert.throws(call, (e) => {
        assert.ok(e instanceof type, `${(e as Error).name}: ${(e as Error).message}`);
        assert.match((e as Error).message, message);
        assert.doesNotMatch((e as Error).message, /--|reading '/);
        return true;
      });
    });
  }
});

Deno.test("control characters in task names never reach an SVG unescaped", () => {
  const percpu = createPercpu({ arch: "aarch64" });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  const machine = new Machine({ percpu, cpus: 2, quantum: 3, record: true });
  const names = ["nul\u0000", "esc\u001b[2J", "rtl\u202e", "surrogate\ud800", "ok"];
  for (const name of names) {
    machine.spawn(function* (ctx) {
      for (let i = 0; i < 5; i++) yield* ctx.withCurrent(counter, increment);
    }, { name });
  }
  machine.run();
  const svg = renderTimelineSvg({
    events: machine.events!,
    taskNames: machine.taskNames,
    cpus: 2,
    title: "title\u0007",
  });
  assert.equal(XMLValidator.validate(svg), true);
  for (const raw of ["\u0000", "\u0007", "\u001b", "\u202e", "\ud800"]) {
    assert.ok(!svg.includes(raw), `no raw U+${raw.charCodeAt(0).toString(16)}`);
  }
  for (
    const escaped of ["nul\\x00", "esc\\x1b[2J", "rtl\\u202e", "surrogate\\ud800", "title\\x07"]
  ) {
    assert.ok(svg.includes(escaped), escaped);
  }
});

Deno.test("load: events are kept only on request, and long runs render bounded timelines", async (t) => {
  await t.step("a default machine keeps no events", () => {
    const { percpu, worker } = counterSystem();
    const machine = new Machine({ percpu });
    machine.spawn(worker(10));
    machine.run();
    assert.equal(machine.events, null);
  });
  await t.step("200k events: no stack overflow, columns, under 2 MB, valid XML", () => {
    const run = simulate({ arch: "aarch64", tasks: 3, iters: 12_000, record: true });
    assert.ok(run.events!.length > 150_000, `${run.events!.length} events`);
    const svg = renderTimelineSvg({
      events: run.events!,
      taskNames: run.taskNames,
      cpus: run.cpus,
      title: "long",
    });
    assert.ok(svg.length < 2_000_000, `${svg.length} bytes`);
    assert.equal(XMLValidator.validate(svg), true);
    assert.match(svg, /cycles drawn in \d+ columns of \d+ cycles each/);
    assert.match(svg, /first wrong-CPU access: cycle \d+/);
  });
  await t.step("bad input is refused with the right class", () => {
    const base = { events: [], taskNames: [], cpus: 1, title: "t" };
    assert.throws(() => renderTimelineSvg({ ...base, events: null as never }), TypeError);
    assert.throws(() => renderTimelineSvg({ ...base, cpus: 0 }), RangeError);
    assert.throws(() => renderTimelineSvg({ ...base, title: 1 as never }), TypeError);
    assert.throws(
      () =>
        renderTimelineSvg({ ...base, events: [{ kind: "dispatch", cycle: 0, cpu: 3, task: 0 }] }),
      RangeError,
    );
  });
});

Deno.test("a machine never leaves its system half-set-up when its options are bad", () => {
  const percpu: Percpu = createPercpu();
  percpu.defPercpu("X", u8, 0);
  const before = portOf(percpu).epoch;
  assert.throws(() => new Machine({ percpu, quantum: -1 }), RangeError);
  assert.throws(() => new Machine({ percpu, policy: "fifo" as never }), RangeError);
  assert.equal(portOf(percpu).epoch, before, "init() was not called");
});

Deno.test("a first task yielding null fails alone (nothing was made yet to match it)", () => {
  const percpu = createPercpu({ arch: "riscv64" });
  percpu.defPercpu("X", u8, 0);
  const machine = new Machine({ percpu, cpus: 1 });
  machine.spawn(function* () {
    yield null as never;
  }, { name: "nothing" });
  const stats = machine.run();
  assert.equal(stats.stopReason, "completed");
  assert.match(stats.failures[0]?.message ?? "", /^nothing yielded null/);
});

Deno.test("the explorer's report escapes task names in its messages", () => {
  const percpu = createPercpu({ arch: "riscv64" });
  percpu.defPercpu("X", u8, 0);
  const test: ExploreTest = {
    name: "escape",
    percpu,
    cpus: 1,
    spawn(machine) {
      machine.spawn(function* () {
        yield;
        throw new Error("boom\u001b[2J");
      }, { name: "bad\u001b]0;title\u0007" });
    },
  };
  const text = formatExploreReport(checkDfs(test));
  for (const raw of ["\u0007", "\u001b"]) assert.ok(!text.includes(raw), text);
  assert.match(text, /bad\\x1b\]0;title\\x07 failed on CPU 0: boom\\x1b\[2J/);
});

Deno.test("sp-naive: every explored run starts from the globals as the machine booted", () => {
  // The crate's naive init() leaves the globals alone; the machine loads
  // them again at each reset, as a boot loads `.data`. Without that, the
  // counts of earlier runs piled up into a false lost update.
  const guarded = checkDfs(counterTest({ features: ["sp-naive", "preempt"], tasks: 1, iters: 1 }));
  assert.equal(guarded.violation, null);
  assert.equal(guarded.stopReason, "complete");
  const test = counterTest({ features: ["sp-naive"], cpus: 1, tasks: 2, iters: 1 });
  const racy = checkDfs(test, { exhaustive: true });
  assert.deepEqual(racy.violations.map((v) => v.kind), ["lost-update"]);
  const again = replay(
    counterTest({ features: ["sp-naive"], cpus: 1, tasks: 2, iters: 1 }),
    racy.violation!.schedule,
  );
  assert.deepEqual(again.violation?.messages, racy.violation!.messages);
});
