// Hostile input to every entry point of the runtime: Machine options, spawn,
// task bodies, what tasks throw and yield, TaskContext operations, custom
// decisions and simulate(). Each case asserts the error class and that
// nothing else changed.

import assert from "node:assert/strict";
import fc from "fast-check";
import { createPercpu, PercpuError, struct, u32, u64 } from "../mod.ts";
import { portOf } from "../lib/_port.ts";
import {
  type Decisions,
  Machine,
  type MachineOptions,
  simulate,
  SimulationError,
  type TaskContext,
} from "../sched/mod.ts";

const RUNS = { numRuns: 150 };

/**
 * Hostile values, made inside the property: fast-check inspects the values
 * it generates (to clone or print them), and a Proxy whose traps throw would
 * break fast-check itself, so the arbitrary yields makers.
 */
const HOSTILE_MAKERS: (() => unknown)[] = [
  () => Object.create(null),
  () => ({
    toString() {
      throw new Error("toString");
    },
  }),
  () =>
    new Proxy({}, {
      get() {
        throw new Error("get trap");
      },
      has() {
        throw new Error("has trap");
      },
      ownKeys() {
        throw new Error("ownKeys trap");
      },
      getPrototypeOf() {
        throw new Error("getPrototypeOf trap");
      },
    }),
  () =>
    new Proxy(function () {}, {
      get() {
        throw new Error("get trap");
      },
      apply() {
        throw new Error("apply trap");
      },
    }),
  () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  },
  () => Symbol("s"),
  () => 10n ** 30n,
  () => Number.NaN,
  () => -0,
  () => 2 ** 53,
];

/** Anything, hostile objects included: a maker to call inside the property. */
function hostileValue(): fc.Arbitrary<() => unknown> {
  return fc.oneof(
    fc.anything().map((value) => () => value),
    fc.constantFrom(...HOSTILE_MAKERS),
  );
}

/** A class check that never throws (for values that may be Proxies). */
function isOneOf(error: unknown, ...types: (abstract new (...a: never[]) => unknown)[]): boolean {
  return types.some((type) => {
    try {
      return error instanceof type;
    } catch {
      return false;
    }
  });
}

function system() {
  const percpu = createPercpu({ arch: "riscv64", features: ["preempt"] });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  const small = percpu.defPercpu("SMALL", u32, 0);
  const record = percpu.defPercpu("RECORD", struct({ a: u32 }), { a: 0 });
  const sum = (cpus: number) => {
    let total = 0n;
    for (let cpu = 0; cpu < cpus; cpu++) total += counter.remoteRefRaw(cpu).value;
    return total;
  };
  return { percpu, counter, small, record, sum };
}

function increment(value: bigint): bigint {
  return value + 1n;
}

function* bystander(counter: ReturnType<typeof system>["counter"], ctx: TaskContext) {
  for (let i = 0; i < 10; i++) yield* ctx.withCurrent(counter, increment);
}

Deno.test("Machine options: TypeError or RangeError, and the system is left alone", () => {
  const { percpu } = system();
  const keys = [
    "cpus",
    "policy",
    "quantum",
    "seed",
    "migration",
    "steal",
    "record",
    "maxCycles",
    "decisions",
  ];
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom(...keys, "bogus"), hostileValue(), { maxKeys: 3 }),
      (makers) => {
        const extra = Object.fromEntries(Object.entries(makers).map(([k, make]) => [k, make()]));
        const before = portOf(percpu).epoch;
        let machine: Machine | undefined;
        try {
          machine = new Machine({ percpu, ...extra } as MachineOptions);
        } catch (error) {
          assert.ok(isOneOf(error, TypeError, RangeError), String(error));
          assert.equal(portOf(percpu).epoch, before, "no init() for refused options");
          return;
        }
        assert.ok(machine.cpus >= 1);
      },
    ),
    RUNS,
  );
  fc.assert(
    fc.property(hostileValue(), (options) => {
      assert.throws(
        () => new Machine(options() as never),
        (e) => isOneOf(e, TypeError, RangeError),
      );
    }),
    RUNS,
  );
});

Deno.test("spawn: bad bodies and options are refused and add nothing", () => {
  const { percpu, counter, sum } = system();
  const machine = new Machine({ percpu, cpus: 2 });
  machine.spawn((ctx) => bystander(counter, ctx));
  fc.assert(
    fc.property(hostileValue(), hostileValue(), (body, options) => {
      const tasks = machine.taskNames.length;
      assert.throws(
        () => machine.spawn(body() as never, options() as never),
        (e) => isOneOf(e, TypeError, RangeError),
      );
      assert.equal(machine.taskNames.length, tasks);
    }),
    RUNS,
  );
  fc.assert(
    fc.property(hostileValue(), (options) => {
      const tasks = machine.taskNames.length;
      try {
        machine.spawn(function* () {}, options() as never);
        assert.equal(machine.taskNames.length, tasks + 1);
      } catch (error) {
        assert.ok(isOneOf(error, TypeError, RangeError), String(error));
        assert.equal(machine.taskNames.length, tasks);
      }
    }),
    RUNS,
  );
  assert.equal(machine.run().stopReason, "completed");
  assert.equal(sum(2), 10n);
});

Deno.test("whatever a task throws, it fails alone with a message", () => {
  fc.assert(
    fc.property(hostileValue(), (thrown) => {
      const { percpu, counter, sum } = system();
      const machine = new Machine({ percpu, cpus: 2, quantum: 3 });
      machine.spawn((ctx) => bystander(counter, ctx));
      const value = thrown();
      machine.spawn(function* () {
        yield;
        throw value;
      }, { name: "thrower" });
      machine.spawn((ctx) => bystander(counter, ctx));
      const stats = machine.run();
      assert.equal(stats.stopReason, "completed");
      assert.equal(stats.failures.length, 1);
      assert.equal(stats.failures[0].task, "thrower");
      assert.equal(typeof stats.failures[0].message, "string");
      if (!isOneOf(value, Error)) {
        assert.ok(stats.failures[0].error instanceof SimulationError);
        assert.match(stats.failures[0].message, /^thrower threw /);
      }
      assert.equal(sum(2), 20n);
    }),
    { numRuns: 60 },
  );
});

Deno.test("whatever a task yields, a non-operation fails it alone", () => {
  fc.assert(
    fc.property(hostileValue().filter((make) => make() !== undefined), (yielded) => {
      const { percpu, counter, sum } = system();
      const machine = new Machine({ percpu, cpus: 2, quantum: 3 });
      machine.spawn((ctx) => bystander(counter, ctx));
      machine.spawn(function* () {
        yield yielded() as never;
      }, { name: "yielder" });
      const stats = machine.run();
      assert.equal(stats.failures.length, 1);
      const error = stats.failures[0].error;
      assert.ok(error instanceof SimulationError && error.kind === "InvalidRequest");
      assert.match(stats.failures[0].message, /^yielder yielded /);
      assert.equal(sum(2), 10n);
    }),
    { numRuns: 60 },
  );
});

Deno.test("TaskContext operations: bad arguments throw TypeError or RangeError in the task", () => {
  const { percpu, small, record } = system();
  // The bystander counts in its own variable, which the operations never name.
  const tally = percpu.defPercpu("TALLY", u64, 0n);
  const counter = percpu.defPercpu("TARGET", u64, 0n);
  const sum = (cpus: number) => {
    let total = 0n;
    for (let cpu = 0; cpu < cpus; cpu++) total += tally.remoteRefRaw(cpu).value;
    return total;
  };
  const other = createPercpu({ arch: "riscv64" }).defPercpu("X", u64, 0n);
  const variables = fc.constantFrom<unknown>(counter, small, record, other);
  const v = fc.oneof(variables.map((x) => () => x), hostileValue());
  const x = hostileValue();
  type Call = (ctx: TaskContext) => Iterable<unknown>;
  const ops: [string, fc.Arbitrary<Call>][] = [
    ["read", fc.tuple(v, x).map(([a, b]): Call => (ctx) => ctx.read(a() as never, b() as never))],
    ["write", fc.tuple(v, x).map(([a, b]): Call => (ctx) => ctx.write(a() as never, b() as never))],
    ["add", fc.tuple(v, x).map(([a, b]): Call => (ctx) => ctx.add(a() as never, b() as never))],
    [
      "withCurrent",
      fc.tuple(v, x, x).map(([a, b, c]): Call => (ctx) => {
        // A closure that throws is the task's own code: its error is the task's to see.
        const f = b();
        const closure = typeof f === "function"
          ? (value: never) => {
            try {
              return f(value);
            } catch {
              return "closure threw";
            }
          }
          : f;
        return ctx.withCurrent(a() as never, closure as never, c() as never);
      }),
    ],
    [
      "remoteRead",
      fc.tuple(v, x).map(([a, b]): Call => (ctx) => ctx.remoteRead(a() as never, b() as never)),
    ],
    [
      "remoteWrite",
      fc.tuple(v, x, x).map(([a, b, c]): Call => (ctx) =>
        ctx.remoteWrite(a() as never, b() as never, c() as never)
      ),
    ],
    ["ptr", v.map((a): Call => (ctx) => ctx.ptr(a() as never))],
    [
      "writeSysreg",
      fc.tuple(x, x).map(([a, b]): Call => (ctx) => ctx.writeSysreg(a() as never, b() as never)),
    ],
    ["work", x.map((a): Call => (ctx) => ctx.work(a() as never))],
    ["sleep", x.map((a): Call => (ctx) => ctx.sleep(a() as never))],
  ];
  for (const [name, op] of ops) {
    fc.assert(
      fc.property(op, (call) => {
        const machine = new Machine({ percpu, cpus: 2, quantum: 4, maxCycles: 20_000 });
        let outcome: unknown = "ok";
        machine.spawn(function* (ctx) {
          try {
            yield* call(ctx);
          } catch (error) {
            outcome = error;
          }
        }, { name });
        machine.spawn((ctx) => bystander(tally, ctx));
        const stats = machine.run();
        assert.deepEqual(stats.failures, [], `${name}: the task caught its error`);
        if (outcome !== "ok") {
          assert.ok(
            isOneOf(outcome, TypeError, RangeError, PercpuError),
            `${name}: ${(outcome as Error)?.name}: ${(outcome as Error)?.message}`,
          );
        }
        // A valid sleep or work longer than the limit leaves the run incomplete.
        if (outcome === "ok" && stats.stopReason === "cycle-limit") return;
        assert.equal(stats.stopReason, "completed");
        assert.equal(sum(2), 10n, `${name}: the bystander's increments landed`);
      }),
      { numRuns: 40 },
    );
  }
});

Deno.test("custom decisions answering nonsense: run() throws TypeError or RangeError", () => {
  const methods = ["tick", "pick", "balance", "newidle", "migrate"] as const;
  fc.assert(
    fc.property(fc.constantFrom(...methods), hostileValue(), (method, answer) => {
      const { percpu, counter } = system();
      const sane: Decisions = {
        tick: () => true,
        pick: () => 0,
        balance: () => 0,
        newidle: () => 0,
        migrate: (cpu) => cpu,
      };
      const value = answer();
      const decisions = { ...sane, [method]: () => value } as Decisions;
      const policy = method === "migrate" ? "stress" : "preemptive";
      const machine = new Machine({ percpu, cpus: 2, decisions, policy, maxCycles: 5000 });
      for (let t = 0; t < 3; t++) machine.spawn((ctx) => bystander(counter, ctx), { cpu: 0 });
      try {
        machine.run();
      } catch (error) {
        assert.ok(isOneOf(error, TypeError, RangeError), String(error));
        assert.match((error as Error).message, new RegExp(`^decisions\\.${method} must return`));
      }
    }),
    RUNS,
  );
});

Deno.test("simulate(): TypeError, RangeError or SyntaxError for any bad option, else a result", () => {
  const keys = [
    "arch",
    "features",
    "policy",
    "cpus",
    "tasks",
    "iters",
    "quantum",
    "seed",
    "access",
    "scenario",
    "maxCycles",
    "record",
    "schedule",
    "bogus",
  ];
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom(...keys), hostileValue(), { maxKeys: 2 }),
      (makers) => {
        const options = Object.fromEntries(
          Object.entries(makers).map(([k, make]) => [k, make()]),
        );
        try {
          const result = simulate({ iters: 2, tasks: 2, ...options } as never);
          assert.equal(typeof result.completed, "boolean");
          assert.ok(
            !(result.corrupted && !result.completed),
            "an incomplete run is never corrupted",
          );
        } catch (error) {
          assert.ok(isOneOf(error, TypeError, RangeError, SyntaxError), String(error));
        }
      },
    ),
    RUNS,
  );
});
