// The playground's logic without a browser: links and pasted commands, the
// player's run (undo is a replay of the prefix), and the challenge that
// recognises the race and the guard's deferred ticks.

import assert from "node:assert/strict";
import fc from "fast-check";
import { ARCHES } from "../mod.ts";
import { Prng } from "../sched/runtime/prng.ts";
import { Driver } from "../playground/app/driver.ts";
import {
  DEFAULT_SETTINGS,
  formatLink,
  LIMITS,
  parseLink,
  parsePasted,
  replayCommand,
  type Settings,
  SIM_DEFAULTS,
} from "../playground/app/settings.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The race by hand on the default settings (aarch64, 2 CPUs, 3 tasks × 1). */
function playRace(driver: Driver): void {
  driver.step(0); // task0: the first instruction of its access
  driver.step(0, { tick: true }); // preempted; task2 runs on CPU 0
  driver.step(1); // task1 starts on CPU 1
  const offers = driver.session.offers(1);
  driver.step(1, { tick: true, ...(offers.balance > 0 ? { balance: 0 } : {}) });
  for (let i = 0; i < 2; i++) driver.step(1);
  for (let i = 0; i < 5; i++) driver.step(0);
  for (let i = 0; i < 2; i++) driver.step(1);
}

Deno.test("the race by hand: the challenge sees every milestone and the lost update", () => {
  const driver = new Driver(DEFAULT_SETTINGS);
  playRace(driver);
  const ch = driver.challenge;
  assert.deepEqual(ch.milestones().map((m) => m.step), [1, 2, 4, 6, 13]);
  assert.equal(ch.win?.step, 13);
  assert.match(ch.win!.explanation, /task0 sampled TPIDR_EL1 with `mrs x0, TPIDR_EL1` on CPU 0/);
  assert.match(ch.win!.explanation, /CPU 1 pulled it from CPU 0/);
  assert.match(ch.win!.explanation, /overwrote task2's increment/);
  assert.deepEqual(ch.deferrals, []);
  driver.runWhile(() => driver.nextPlainMove(), 10_000);
  assert.equal(driver.session.done, true);
  assert.deepEqual(driver.session.verdict()!.map((v) => v.kind).sort(), [
    "lost-update",
    "wrong-cpu",
  ]);
});

Deno.test("with preempt the same moves defer the ticks and nothing is lost", () => {
  const driver = new Driver({ ...DEFAULT_SETTINGS, features: ["preempt"] });
  playRace(driver);
  const ch = driver.challenge;
  assert.equal(ch.win, null);
  assert.ok(ch.deferrals.length >= 1);
  assert.ok(ch.deferrals.every((d) => d.outcome === "deferred-guard"));
  assert.ok(driver.log.some((line) => /tick on CPU 0 DEFERRED/.test(line)));
  driver.runWhile(() => driver.nextPlainMove(), 10_000);
  assert.deepEqual(driver.session.verdict(), []);
});

Deno.test("random runs with preempt never win; without it some do", () => {
  let wins = 0;
  for (let seed = 1; seed <= 40; seed++) {
    for (const preempt of [true, false]) {
      const driver = new Driver({ ...DEFAULT_SETTINGS, features: preempt ? ["preempt"] : [] });
      const prng = new Prng(seed);
      driver.runWhile(() => driver.randomMove(prng, 0.4), 10_000);
      assert.equal(driver.session.done, true);
      if (preempt) {
        assert.equal(driver.challenge.win, null, `seed ${seed}`);
        assert.deepEqual(driver.session.verdict(), [], `seed ${seed}`);
      } else if (driver.challenge.win !== null) {
        wins++;
        // The page's win is a real lost update: the run's verdict agrees.
        assert.ok(driver.session.verdict()!.some((v) => v.kind === "lost-update"));
      }
    }
  }
  assert.ok(wins > 0, "random play finds the race sometimes");
});

Deno.test("every lost update the verdict reports, the challenge recognised: every arch and access", () => {
  for (const arch of ARCHES) {
    for (const access of ["with-current", "read-write", "add"] as const) {
      for (const naive of [false, true]) {
        const settings: Settings = {
          ...DEFAULT_SETTINGS,
          arch,
          access,
          features: naive ? ["sp-naive"] : [],
          cpus: naive ? 1 : 2,
          iters: 2,
        };
        const story = new Driver(settings).challenge;
        // A single gs-relative add cannot be split: the page says so.
        assert.equal(story.atomic !== null, arch === "x86_64" && access === "add");
        for (let seed = 1; seed <= 8; seed++) {
          const driver = new Driver(settings);
          const prng = new Prng(seed);
          driver.runWhile(() => driver.randomMove(prng, 0.4), 100_000);
          const lost = driver.session.verdict()!.some((v) => v.kind === "lost-update");
          const what = `${arch} ${access}${naive ? " sp-naive" : ""} seed ${seed}`;
          if (lost) assert.ok(driver.challenge.win !== null, what);
          if (driver.challenge.win !== null) {
            assert.match(
              driver.challenge.win.explanation,
              /overwrote .* (is lost|are overwritten)\./,
              what,
            );
          }
        }
      }
    }
  }
});

Deno.test("where every memory instruction reads the register, the load is what is held", () => {
  const driver = new Driver({ ...DEFAULT_SETTINGS, arch: "x86_64", access: "read-write" });
  assert.equal(driver.challenge.story, "relative");
  const prng = new Prng(3);
  for (let seed = 0; driver.challenge.win === null && seed < 50; seed++) {
    driver.rewind(0);
    driver.runWhile(() => driver.randomMove(prng, 0.4), 10_000);
  }
  assert.match(
    driver.challenge.win!.explanation,
    /loaded the counter with `mov rax, qword ptr gs:\[offset __PERCPU_COUNTER\]` on CPU \d at step \d+ \(through GS_BASE: CPU \d's copy\)/,
  );
});

Deno.test("sp-naive and el2-guest tell their own stories", () => {
  const naive = new Driver({ ...DEFAULT_SETTINGS, features: ["sp-naive"], cpus: 1, tasks: 2 });
  assert.equal(naive.challenge.story, "naive");
  // task0 loads, is preempted before its store, task1 increments, task0 stores.
  while (!naive.last?.instruction.startsWith("ldr")) naive.step(0);
  naive.step(0, { tick: true });
  while (naive.challenge.win === null && !naive.session.done) naive.step(0);
  assert.ok(naive.challenge.win !== null, naive.log.join("\n"));
  assert.match(naive.challenge.win!.explanation, /loaded the counter/);

  const guest = new Driver({ ...DEFAULT_SETTINGS, scenario: "el2-guest", tasks: 1, cpus: 1 });
  assert.equal(guest.challenge.story, "guest");
  guest.runWhile(() => guest.nextPlainMove(), 10_000);
  const prng = new Prng(7);
  for (let seed = 0; guest.challenge.win === null && seed < 50; seed++) {
    guest.rewind(0);
    guest.runWhile(() => guest.randomMove(prng, 0.5), 10_000);
  }
  assert.ok(guest.challenge.win !== null, "a guest's TPIDR_EL1 reaches a hypervisor access");
  assert.match(guest.challenge.win!.explanation, /guest memory/);
  // The win is the first such access, and the checklist agrees.
  const last = guest.challenge.milestones().at(-1)!;
  assert.equal(guest.challenge.win!.step, last.step);
  assert.match(guest.challenge.win!.explanation, new RegExp(`\\(step ${last.step}\\)`));
});

Deno.test("undo and rewind are replays of the prefix: same hash, same challenge", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1000 }), fc.nat(60), (seed, cut) => {
      const driver = new Driver(DEFAULT_SETTINGS);
      const prng = new Prng(seed);
      driver.runWhile(() => driver.randomMove(prng, 0.3), 60);
      const n = Math.min(cut, driver.steps);
      const fresh = new Driver(DEFAULT_SETTINGS);
      for (const move of driver.moves.slice(0, n)) fresh.step(move.cpu, move.answers);
      driver.rewind(n);
      assert.equal(driver.steps, n);
      assert.equal(driver.session.traceHash(), fresh.session.traceHash());
      assert.deepEqual(driver.challenge.milestones(), fresh.challenge.milestones());
      assert.deepEqual(driver.log, fresh.log);
      if (n > 0) {
        const before = fresh.moves.length;
        fresh.undo();
        assert.equal(fresh.moves.length, before - 1);
      }
    }),
    { numRuns: 40 },
  );
});

Deno.test("seeking back and forth along a run replays it exactly", () => {
  const driver = new Driver(DEFAULT_SETTINGS);
  const prng = new Prng(11);
  driver.runWhile(() => driver.randomMove(prng, 0.3), 10_000);
  const total = driver.steps;
  const hash = driver.session.traceHash();
  driver.seek(5);
  assert.deepEqual([driver.steps, driver.future.length], [5, total - 5]);
  driver.undo();
  assert.deepEqual([driver.steps, driver.future.length], [4, total - 4]);
  assert.equal(driver.redo(), true);
  driver.seek(total);
  assert.equal(driver.steps, total);
  assert.equal(driver.session.traceHash(), hash);
  assert.equal(driver.redo(), false);
  // A different move from the middle forgets the moves taken back.
  driver.seek(3);
  const other = driver.session.steppable().find((cpu) => cpu !== driver.future.at(-1)!.cpu);
  if (other !== undefined) {
    driver.step(other);
    assert.deepEqual(driver.future, []);
  }
});

Deno.test("a refused step changes nothing", () => {
  // At the start CPU 0 dispatches one of its two queued tasks; CPU 1 has one.
  const driver = new Driver(DEFAULT_SETTINGS);
  const hash = driver.session.traceHash();
  const log = [...driver.log];
  const hostile: [() => void, ErrorConstructor][] = [
    [() => driver.step(5), RangeError],
    [() => driver.step(-1), RangeError],
    [() => driver.step(1.5), RangeError],
    [() => driver.step("0" as unknown as number), TypeError],
    [() => driver.step(0, { pick: 7 }), RangeError],
    [() => driver.step(0, { pick: 2 }), RangeError],
    [() => driver.step(0, { balance: -2 }), RangeError],
    [() => driver.step(0, { newidle: 0.5 }), RangeError],
    [() => driver.step(0, { pick: "0" } as never), TypeError],
    [() => driver.step(0, { tick: "yes" } as never), TypeError],
    [() => driver.step(0, { bogus: 1 } as never), TypeError],
    [() => driver.step(0, null as never), TypeError],
    [() =>
      driver.step(
        0,
        new Proxy({}, {
          ownKeys() {
            throw new Error("trap");
          },
        }),
      ), TypeError],
  ];
  for (const [attempt, type] of hostile) {
    assert.throws(attempt, type);
    assert.equal(driver.session.traceHash(), hash);
    assert.deepEqual(driver.log, log);
    assert.equal(driver.steps, 0);
  }
});

Deno.test("links carry every setting and the schedule; bad values are named and replaced", async (t) => {
  await t.step("round trip", () => {
    fc.assert(
      fc.property(
        fc.record({
          arch: fc.constantFrom(...ARCHES),
          features: fc.subarray(["sp-naive", "preempt", "arm-el2", "non-zero-vma"] as const),
          scenario: fc.constantFrom("counter", "el2-guest") as fc.Arbitrary<Settings["scenario"]>,
          access: fc.constantFrom("with-current", "read-write", "add") as fc.Arbitrary<
            Settings["access"]
          >,
          cpus: fc.integer({ min: 1, max: LIMITS.cpus }),
          tasks: fc.integer({ min: 1, max: LIMITS.tasks }),
          iters: fc.integer({ min: 1, max: LIMITS.iters }),
        }),
        fc.option(fc.stringMatching(/^[st]1\.[0-9a-z.=,~]{1,40}$/), { nil: undefined }),
        (settings, schedule) => {
          const link = parseLink(formatLink(settings, schedule));
          assert.deepEqual(link.problems, []);
          assert.deepEqual(link.settings, { ...settings });
          assert.equal(link.schedule, schedule);
        },
      ),
    );
  });
  await t.step("hostile fragments never throw", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (hash) => {
        const link = parseLink(hash);
        assert.ok(Array.isArray(link.problems));
        assert.ok(ARCHES.includes(link.settings.arch));
      }),
    );
    const bad = parseLink("#arch=mips&cpus=99&tasks=-1&iters=1e3&features=preempt,sse&x=1");
    assert.deepEqual(bad.settings, DEFAULT_SETTINGS);
    assert.equal(bad.problems.length, 6);
    assert.match(bad.problems.join("\n"), /arch must be one of x86_64, .*got string "mips"/);
    assert.match(bad.problems.join("\n"), /cpus must be an integer from 1 to 8, got number 99/);
    assert.match(bad.problems.join("\n"), /iters must be a number, got string "1e3"/);
    assert.match(bad.problems.join("\n"), /unknown setting "x"/);
  });
});

Deno.test("a pasted replay command means what the CLI means by it", async () => {
  // sim's defaults, as the CLI prints them.
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", `${ROOT}cli.ts`, "sim", "--iters", "1", "--json"],
    stdin: "null",
  }).output();
  const json = JSON.parse(new TextDecoder().decode(output.stdout));
  for (const key of ["arch", "features", "scenario", "access", "cpus", "tasks"] as const) {
    assert.deepEqual(json[key], SIM_DEFAULTS[key], key);
  }
  const pasted = parsePasted(
    "  replay    deno run cli.ts sim --replay s1.abc.2.5.2=1 --arch aarch64 --tasks 2 --iters 1",
    DEFAULT_SETTINGS,
  );
  assert.deepEqual(pasted.problems, []);
  assert.equal(pasted.schedule, "s1.abc.2.5.2=1");
  assert.deepEqual(pasted.settings, { ...SIM_DEFAULTS, arch: "aarch64", tasks: 2, iters: 1 });
  const naive = parsePasted("sim --replay s1.x --features=sp-naive,preempt", DEFAULT_SETTINGS);
  assert.equal(naive.settings.cpus, 1);
  assert.deepEqual(naive.settings.features, ["sp-naive", "preempt"]);
  assert.deepEqual(parsePasted("s1.abc", DEFAULT_SETTINGS), {
    settings: DEFAULT_SETTINGS,
    schedule: "s1.abc",
    problems: [],
  });
  assert.equal(parsePasted("two words", DEFAULT_SETTINGS).schedule, undefined);
  assert.match(
    parsePasted("sim --replay s1.x --cpus 99 --seed 3", DEFAULT_SETTINGS).problems.join(" "),
    /--seed does not name a setting.*cpus must be an integer from 1 to 8/,
  );
  assert.equal(
    replayCommand(DEFAULT_SETTINGS, "s1.a"),
    "deno run cli.ts sim --replay s1.a --arch aarch64 --scenario counter --access with-current --cpus 2 --tasks 3 --iters 1 --json",
  );
});
