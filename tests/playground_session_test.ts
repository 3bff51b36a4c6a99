// The session the playground drives (through playground/app/session.ts,
// whichever implementation it points at): the explorer's counterexamples
// replay through it one step at a time to the very trace hash that
// `cli.ts sim --replay … --json` prints.

import assert from "node:assert/strict";
import { checkDfs, counterTest, type SimOptions, simulate } from "../sched/mod.ts";
import { createSession, replayableByCli } from "../playground/app/session.ts";
import { Driver } from "../playground/app/driver.ts";
import { DEFAULT_SETTINGS, parseLink, type Settings } from "../playground/app/settings.ts";
import { Prng } from "../sched/runtime/prng.ts";

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

// Three tasks on two CPUs: under the Linux-like scheduler a task moves only
// when another is queued behind it.
const CASES: SimOptions[] = [
  { arch: "aarch64", tasks: 3, iters: 1 },
  { arch: "riscv64", tasks: 3, iters: 1, access: "read-write" },
  { arch: "loongarch64", tasks: 3, iters: 1, features: ["non-zero-vma"] },
  { arch: "x86_64", tasks: 3, iters: 1, access: "read-write" },
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

Deno.test("a loaded schedule is moves ahead: stepping through them replays the run", async (t) => {
  const settings: Settings = { ...DEFAULT_SETTINGS, tasks: 3, iters: 1 };
  await t.step("an explorer counterexample", () => {
    const found = checkDfs(counterTest(settings)).violation!;
    const driver = new Driver(settings, found.schedule);
    assert.equal(driver.steps, 0);
    assert.ok(driver.future.length > 0);
    const ahead = driver.future.length;
    driver.redo();
    driver.redo();
    assert.deepEqual([driver.steps, driver.future.length], [2, ahead - 2]);
    driver.runWhile(() => driver.nextPlainMove(), 1_000_000);
    assert.equal(driver.session.done, true);
    assert.equal(driver.session.traceHash(), found.traceHash);
    assert.ok(driver.challenge.win !== null || driver.challenge.milestones()[3].step > 0);
  });
  await t.step("a hand-made run, shared and opened again", () => {
    const played = new Driver(settings);
    const prng = new Prng(5);
    played.runWhile(() => played.randomMove(prng, 0.3), 40);
    const link = parseLink(played.link());
    const opened = new Driver(link.settings, link.schedule);
    assert.equal(opened.future.length, played.steps);
    while (opened.redo());
    assert.equal(opened.steps, played.steps);
    assert.equal(opened.session.traceHash(), played.session.traceHash());
  });
});

Deno.test("a hand-made run's schedule: what the CLI makes of it", () => {
  for (const seed of [1, 2, 3]) {
    const settings: Settings = { ...DEFAULT_SETTINGS, tasks: 3, iters: 2 };
    const driver = new Driver(settings);
    const prng = new Prng(seed);
    driver.runWhile(() => driver.randomMove(prng, 0.3), 100_000);
    const schedule = driver.session.schedule();
    if (replayableByCli(schedule)) {
      // The real session's strings: `sim --replay` runs the very same run.
      const replayed = simulate({ ...settings, schedule });
      assert.equal(replayed.traceHash, driver.session.traceHash(), `seed ${seed}`);
    } else {
      // The stand-in's page-only strings: refused, never replayed as something else.
      assert.throws(() => simulate({ ...settings, schedule }), SyntaxError);
    }
  }
});

Deno.test("a session refuses bad options and schedules of other tests", () => {
  const test = counterTest({ arch: "aarch64", tasks: 3, iters: 1 });
  const other = checkDfs(counterTest({ arch: "riscv64", tasks: 3, iters: 1 })).violation!.schedule;
  assert.throws(() => createSession({ test, schedule: other }), RangeError);
  assert.throws(() => createSession({ test, schedule: "not a schedule" }), SyntaxError);
  assert.throws(() => createSession({ test, schedule: 42 as never }), TypeError);
  assert.throws(() => createSession({ test: {} as never }), TypeError);
  assert.throws(() => createSession(null as never), TypeError);
});
