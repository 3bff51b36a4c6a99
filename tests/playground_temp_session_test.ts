// The playground's TEMPORARY session (playground/app/_temp_session.ts): its
// interactive mode reproduces `machine.run()` when the CPUs step in order,
// its `t1.` strings replay bit for bit, and what `offers()` announces is
// exactly what the machine asks. Delete this file with the stand-in once
// playground/app/session.ts points at sched/explore/session.ts.

import assert from "node:assert/strict";
import fc from "fast-check";
import { counterTest, type Decisions, Machine } from "../sched/mod.ts";
import { machinePort, STEP_BALANCE, STEP_NEWIDLE, STEP_TICK } from "../sched/runtime/_port.ts";
import { createSession, type StepAnswers } from "../playground/app/_temp_session.ts";

const never: Decisions = {
  tick: () => false,
  pick: () => 0,
  balance: () => -1,
  newidle: () => -1,
  migrate: (cpu) => cpu,
};

Deno.test("stepping every CPU in turn with no answers is machine.run()", () => {
  for (const options of [{ arch: "aarch64" as const, tasks: 3, iters: 2 }, { cpus: 3, tasks: 5 }]) {
    const session = createSession({ test: counterTest({ ...options, iters: 3 }) });
    for (let cpu = 0; !session.done; cpu = (cpu + 1) % session.machine.cpus) {
      if (session.steppable().includes(cpu)) session.step(cpu);
      else session.step(session.steppable()[0]);
    }
    const test = counterTest({ ...options, iters: 3 });
    const machine = new Machine({ percpu: test.percpu, cpus: test.cpus, decisions: never });
    test.spawn(machine);
    assert.equal(session.traceHash(), machine.run().traceHash);
  }
});

/** A random valid move: a steppable CPU and answers within what it offers. */
function randomMove(
  session: ReturnType<typeof createSession>,
  pick: (n: number) => number,
): { cpu: number; answers: StepAnswers } {
  const steppable = session.steppable();
  const cpu = steppable[pick(steppable.length)];
  const offers = session.offers(cpu);
  const tick = offers.tick && pick(3) === 0;
  return {
    cpu,
    answers: {
      ...(tick ? { tick } : {}),
      ...(tick && offers.balance > 0 ? { balance: pick(offers.balance + 1) - 1 } : {}),
      ...(offers.newidle > 0 ? { newidle: pick(offers.newidle + 1) - 1 } : {}),
      ...(!tick && offers.newidle === 0 && offers.pick >= 2 ? { pick: pick(offers.pick) } : {}),
    },
  };
}

Deno.test("offers are exact and t1 schedules replay bit for bit", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("aarch64", "riscv32", "x86_64"),
      fc.boolean(),
      fc.integer({ min: 1, max: 3 }),
      fc.array(fc.nat(1000), { minLength: 1, maxLength: 400 }),
      (arch, preempt, cpus, draws) => {
        const options = {
          arch,
          cpus,
          tasks: 4,
          iters: 2,
          features: preempt ? ["preempt" as const] : [],
        };
        const session = createSession({ test: counterTest(options) });
        const busy = () => {
          const cpus = machinePort(session.machine).snapshot().cpus;
          return session.steppable().find((c) => cpus[c].task >= 0 || cpus[c].queue.length > 0)!;
        };
        let i = 0;
        const pick = (n: number) => draws[i++ % draws.length] % n;
        for (let n = 0; !session.done; n++) {
          // An idle CPU declining every pull makes no progress: after a while, plain steps.
          const { cpu, answers } = n < 2000
            ? randomMove(session, pick)
            : { cpu: busy(), answers: {} };
          const events = session.machine.events!.length;
          const record = session.step(cpu, answers);
          const ticks = session.machine.events!.slice(events).filter((e) => e.kind === "tick");
          assert.equal(ticks.length > 0, answers.tick === true, "an offered tick is taken");
          assert.equal(
            (record.events & STEP_TICK) !== 0 || ticks.length > 0,
            answers.tick === true,
          );
          if ((answers.balance ?? -1) >= 0) assert.ok(record.events & STEP_BALANCE);
          if ((answers.newidle ?? -1) >= 0) assert.ok(record.events & STEP_NEWIDLE);
        }
        const replayed = createSession({
          test: counterTest(options),
          schedule: session.schedule(),
        });
        while (!replayed.done) replayed.step(replayed.steppable()[0]);
        assert.equal(replayed.traceHash(), session.traceHash());
        assert.equal(replayed.schedule(), session.schedule());
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("the stand-in refuses broken t1 strings without stepping", () => {
  const test = () => counterTest({ arch: "aarch64", tasks: 2, iters: 1 });
  const session = createSession({ test: test() });
  session.step(0);
  const text = session.schedule();
  assert.match(text, /^t1\.[0-9a-z]+\.x\.0$/);
  for (const bad of ["t1.", "t1.abc", `${text}~`, `${text}~zz`, text.replace(".x.", ".-1.")]) {
    assert.throws(() => createSession({ test: test(), schedule: bad }), SyntaxError, bad);
  }
  assert.throws(
    () => createSession({ test: counterTest({ tasks: 2, iters: 1 }), schedule: text }),
    RangeError,
  );
  assert.throws(() => createSession({ test: test(), maxPreemptions: -1 }), RangeError);
});
