// The interactive session: a person is the scheduler. Every run it makes
// is a schedule string that replays to the same trace hash, every prefix
// is a session again (undo), and the explorer's violations replay through
// it step by step.

import assert from "node:assert/strict";
import fc from "fast-check";
import { createPercpu, u8 } from "../mod.ts";
import { checkDfs, counterTest, type ExploreTest, replay } from "../sched/mod.ts";
import { createSession, scheduleSteps, type StepAnswers } from "../sched/explore/session.ts";
import { machinePort, STEP_TICK } from "../sched/runtime/_port.ts";

/** Two tasks that count under IRQ guards, and one that sleeps. */
function irqsAndSleep(): ExploreTest {
  const percpu = createPercpu({ arch: "loongarch64" });
  const counter = percpu.defPercpu("N", u8, 0);
  return {
    name: "irqs and sleep",
    percpu,
    cpus: 2,
    spawn(machine) {
      for (let t = 0; t < 2; t++) {
        machine.spawn(function* (ctx) {
          for (let i = 0; i < 2; i++) {
            using _irqs = ctx.irqSave();
            yield* ctx.withCurrent(counter, (v) => v + 1);
          }
        });
      }
      machine.spawn(function* (ctx) {
        yield* ctx.sleep(3);
        yield* ctx.withCurrent(counter, (v) => v + 1);
      });
    },
  };
}

const TESTS = [
  () => counterTest({ arch: "aarch64" }),
  () => counterTest({ arch: "riscv64", features: ["preempt"] }),
  () => counterTest({ arch: "x86_64", tasks: 2, iters: 2, access: "read-write" }),
  () => counterTest({ arch: "arm", cpus: 3 }),
  irqsAndSleep,
];

/** Answers drawn from what the step offers, sometimes out of range on purpose. */
function answersFor(
  offer: { tick: boolean; pick: number; balance: number; newidle: number },
  draw: number[],
): StepAnswers {
  const [t, p, b, n] = draw;
  return {
    tick: offer.tick && t % 3 === 0,
    ...(offer.pick > 0 ? { pick: p % offer.pick } : {}),
    ...(offer.balance > 0 ? { balance: (b % (offer.balance + 1)) - 1 } : {}),
    ...(offer.newidle > 0 ? { newidle: (n % (offer.newidle + 1)) - 1 } : {}),
  };
}

Deno.test("any run a person makes replays to the same trace hash; prefixes are sessions again", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: TESTS.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat(), fc.nat()), { maxLength: 400 }),
      fc.nat({ max: 60 }),
      (which, draws, undoAt) => {
        const test = TESTS[which]();
        let session = createSession({ test });
        let i = 0;
        while (!session.done) {
          const [c, t, p, b, n] = draws[i % Math.max(draws.length, 1)] ?? [0, 1, 0, 0, 1];
          const cpus = session.steppable();
          // Periodic draws can starve a CPU for ever (step only an idle
          // one) or migrate tasks back and forth (livelocks the cycle limit
          // would end only after millions of steps): past 1500 steps the
          // person takes the CPUs in turn and stops ticking and pulling.
          const late = i >= 1500;
          const cpu = cpus[(late ? i : c + i) % cpus.length];
          const answers = late ? {} : answersFor(session.offers(cpu), [t + i, p, b, n + i]);
          session.step(cpu, answers);
          if (++i === undoAt) {
            const hash = session.traceHash();
            session = createSession({ test, schedule: session.schedule() });
            assert.equal(session.traceHash(), hash, "a prefix replays to where it was");
          }
        }
        assert.ok(session.verdict() !== null);
        assert.equal(replay(test, session.schedule()).stats.traceHash, session.traceHash());
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("the explorer's violations replay through a session step by step", () => {
  for (const arch of ["aarch64", "riscv64", "arm"] as const) {
    const test = counterTest({ arch });
    const found = checkDfs(test);
    for (const v of found.violations) {
      const steps = scheduleSteps(test, v.schedule);
      // The string records its bound: the session is made with the search's.
      const session = createSession({ test, maxPreemptions: found.maxPreemptions });
      for (const { cpu, answers } of steps) {
        assert.ok(session.steppable().includes(cpu));
        session.step(cpu, answers);
      }
      assert.equal(session.done, true);
      assert.equal(session.traceHash(), v.traceHash);
      assert.equal(session.schedule(), v.schedule, "the same choices make the same string");
      assert.ok(session.verdict()!.some((w) => w.kind === v.kind));
    }
  }
});

Deno.test("a step a person takes: what it offers, what it did", () => {
  const test = counterTest({ arch: "aarch64", features: ["preempt"] });
  const session = createSession({ test, maxPreemptions: 1 });
  assert.deepEqual(session.steppable(), [0, 1]);
  assert.deepEqual(session.offers(0), { tick: false, pick: 2, balance: 0, newidle: 0 });
  const first = session.step(0, { pick: 1 });
  assert.equal(first.cpu, 0);
  assert.equal(first.task, 2, "pick 1 ran the second queued task");
  assert.equal(first.executed, true);
  session.step(1);
  // Inside task2's guard a tick is deferred (offered, but the switch waits).
  assert.equal(session.offers(0).tick, true);
  const deferred = session.step(0, { tick: true });
  assert.ok((deferred.events & STEP_TICK) !== 0);
  assert.equal(machinePort(session.machine).snapshot().cpus[0].needResched, true);
  assert.equal(session.offers(0).tick, false, "the bound of 1 is used up");
  assert.equal(session.verdict(), null, "no verdict before the end");
});

Deno.test("bad steps are refused and change nothing", () => {
  const test = counterTest({ arch: "riscv64" });
  const session = createSession({ test });
  session.step(0);
  session.step(1);
  const before = [session.schedule(), session.traceHash()];
  const same = () => assert.deepEqual([session.schedule(), session.traceHash()], before);
  const cases: [() => unknown, typeof TypeError | typeof RangeError][] = [
    [() => session.step(2), RangeError],
    [() => session.step(-1), RangeError],
    [() => session.step("0" as never), TypeError],
    [() => session.step(0, { tick: "yes" as never }), TypeError],
    [() => session.step(0, { pick: -1 }), RangeError],
    [() => session.step(0, { balance: -2 }), RangeError],
    [() => session.step(0, { newidle: 1.5 }), RangeError],
    [() => session.step(0, { steal: 1 } as never), TypeError],
    [() => session.step(0, null as never), TypeError],
    [() => session.offers(5), RangeError],
  ];
  for (const [call, type] of cases) {
    assert.throws(call, type);
    same();
  }
  // An answer out of the step's range is found half-way through the step:
  // the session goes back to where it was.
  const session2 = createSession({ test });
  const seen = [session2.schedule(), session2.traceHash()];
  assert.throws(
    () => session2.step(0, { pick: 7 }),
    /answers.pick is 7, but this step's pick offers 0 to 1/,
  );
  assert.deepEqual([session2.schedule(), session2.traceHash()], seen);
  session2.step(0, { pick: 1 });
  assert.throws(() => createSession({ test, schedule: "s2.nonsense" }), SyntaxError);
  assert.throws(
    () => createSession({ test: counterTest({ arch: "x86_64" }), schedule: session2.schedule() }),
    /recorded for another test/,
  );
  assert.throws(() => createSession({ test, maxPreemptions: -1 }), RangeError);
  assert.throws(() => createSession({ test: {} as ExploreTest }), TypeError);
});

Deno.test("a run that ends: a verdict, and no CPU steps any more", () => {
  const percpu = createPercpu({ arch: "riscv64" });
  percpu.defPercpu("X", u8, 0);
  const test: ExploreTest = {
    name: "one yield",
    percpu,
    cpus: 1,
    spawn(machine) {
      machine.spawn(function* () {
        yield;
      });
    },
  };
  const session = createSession({ test });
  while (!session.done) session.step(0);
  assert.deepEqual(session.verdict(), []);
  assert.deepEqual(session.steppable(), []);
  assert.throws(() => session.step(0), /the run is over/);
  assert.equal(replay(test, session.schedule()).stats.traceHash, session.traceHash());
});
