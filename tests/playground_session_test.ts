// The session the playground drives (through playground/app/session.ts,
// whichever implementation it points at): the explorer's counterexamples
// replay through it one step at a time to the very trace hash that
// `cli.ts sim --replay … --json` prints.

import assert from "node:assert/strict";
import { checkDfs, counterTest, type SimOptions, simulate } from "../sched/mod.ts";
import { createSession } from "../playground/app/session.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Steps a session to its end, CPU by CPU as it allows. */
function stepToEnd(options: SimOptions, schedule: string): ReturnType<typeof createSession> {
  const session = createSession({ test: counterTest(options), schedule });
  for (let n = 0; !session.done; n++) {
    assert.ok(n < 1_000_000, "the replay ends");
    const steppable = session.steppable();
    assert.ok(steppable.length > 0, "a CPU can step until the run is done");
    session.step(steppable[0]);
  }
  return session;
}

const CASES: SimOptions[] = [
  { arch: "aarch64", tasks: 2, iters: 1 },
  { arch: "aarch64", tasks: 3, iters: 1 },
  { arch: "riscv64", tasks: 2, iters: 1, access: "read-write" },
  { arch: "loongarch64", tasks: 2, iters: 2, features: ["non-zero-vma"] },
];

Deno.test("explorer counterexamples replay through the session to the same trace hash", async (t) => {
  for (const options of CASES) {
    await t.step(JSON.stringify(options), () => {
      const found = checkDfs(counterTest(options));
      const violation = found.violation;
      assert.ok(violation !== null, "the explorer finds a violation");
      const session = stepToEnd(options, violation.schedule);
      assert.equal(session.traceHash(), violation.traceHash);
      assert.equal(
        session.traceHash(),
        simulate({ ...options, schedule: violation.schedule }).traceHash,
      );
      assert.ok(session.verdict()!.length > 0, "the session's verdict names the violation");
    });
  }
});

Deno.test("the session's trace hash is the one `cli.ts sim --replay … --json` prints", async () => {
  const options = { arch: "aarch64" as const, tasks: 3, iters: 1 };
  const { schedule } = checkDfs(counterTest(options)).violation!;
  const session = stepToEnd(options, schedule);
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `${ROOT}cli.ts`,
      "sim",
      "--replay",
      schedule,
      "--arch",
      "aarch64",
      "--tasks",
      "3",
      "--iters",
      "1",
      "--json",
    ],
    stdin: "null",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const json = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.equal(json.traceHash, session.traceHash());
  assert.equal(json.corrupted, true);
});

Deno.test("a session refuses bad options and schedules of other tests", () => {
  const test = counterTest({ arch: "aarch64", tasks: 2, iters: 1 });
  const other = checkDfs(counterTest({ arch: "riscv64", tasks: 2, iters: 1 })).violation!.schedule;
  assert.throws(() => createSession({ test, schedule: other }), RangeError);
  assert.throws(() => createSession({ test, schedule: "not a schedule" }), SyntaxError);
  assert.throws(() => createSession({ test, schedule: 42 as never }), TypeError);
  assert.throws(() => createSession({ test: {} as never }), TypeError);
  assert.throws(() => createSession(null as never), TypeError);
});
