// The schedule explorer: minimal violations, exhaustive proofs,
// replay, randomized search, user-written tests and timelines.

import assert from "node:assert/strict";
import { XMLValidator } from "fast-xml-parser";
import { ARCHES, createPercpu, u64 } from "../mod.ts";
import {
  checkDfs,
  checkPct,
  checkRandom,
  counterTest,
  type ExploreTest,
  renderTimelineSvg,
  replay,
  simulate,
} from "../sched/mod.ts";
import { decodeSchedule, encodeSchedule } from "../sched/explore/schedule.ts";

const SMALL = { cpus: 2, tasks: 2, iters: 1 } as const;

Deno.test("dfs finds a minimal violation on every arch and proves the guarded version safe", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const racy = counterTest({ ...SMALL, arch });
      const found = checkDfs(racy, { maxPreemptions: 2 });
      const v = found.violation!;
      assert.ok(v, `${arch}: no violation found`);
      assert.equal(v.preemptions, 1, "one preemption suffices, and none does not");
      assert.equal(found.complete, true);
      assert.equal(found.boundReached, 1);
      const again = replay(racy, v.schedule);
      assert.equal(again.stats.traceHash, v.traceHash, "replay is bit for bit");
      assert.notEqual(again.violation, null);
      const corrupted = simulate({ ...SMALL, arch, schedule: v.schedule });
      assert.equal(corrupted.corrupted, true);

      const guardedTest = counterTest({ ...SMALL, arch, features: ["preempt"] });
      const guarded = checkDfs(guardedTest, { maxPreemptions: 2 });
      assert.equal(guarded.violation, null);
      assert.equal(guarded.complete, true);
      assert.equal(guarded.boundReached, 2);
      const bound1 = checkDfs(guardedTest, { maxPreemptions: 1 }).schedulesExplored;
      assert.ok(guarded.schedulesExplored > bound1, "bound 2 covers more schedules than bound 1");
    });
  }
});

Deno.test("the reported violation is the shortest among those with the fewest preemptions", () => {
  const test = counterTest({ ...SMALL, arch: "riscv64" });
  const best = checkDfs(test, { maxPreemptions: 1 }).violation!;
  // No schedule with 0 preemptions fails, and every failing 1-preemption
  // schedule that random search finds is at least as long.
  assert.equal(checkDfs(test, { maxPreemptions: 0 }).violation, null);
  for (let seed = 1; seed <= 30; seed++) {
    const other = checkRandom(test, { maxPreemptions: 1, seed, budget: 200 }).violation;
    if (other && other.preemptions === 1) assert.ok(other.steps >= best.steps);
  }
});

Deno.test("x86_64 add (one gs-relative instruction) has no failing schedule", () => {
  const result = checkDfs(counterTest({ ...SMALL, arch: "x86_64", access: "add" }), {
    maxPreemptions: 2,
  });
  assert.equal(result.violation, null);
  assert.equal(result.complete, true);
});

Deno.test("state caching cuts schedules short without changing the verdict", () => {
  const result = checkDfs(
    counterTest({ cpus: 2, tasks: 2, iters: 2, arch: "aarch64", features: ["preempt"] }),
    { maxPreemptions: 2 },
  );
  assert.equal(result.violation, null);
  assert.equal(result.complete, true);
  assert.ok(result.pruned > 0, "some schedules reached known states");
  assert.ok(result.statesCached > 0);
});

Deno.test("a budget too small to finish is reported as incomplete", () => {
  const result = checkDfs(counterTest({ ...SMALL, arch: "aarch64", features: ["preempt"] }), {
    budget: 10,
  });
  assert.equal(result.schedulesExplored, 10);
  assert.equal(result.complete, false);
  assert.equal(
    result.boundReached,
    0,
    "bound 0 (2 schedules) fits in the budget, bound 1 does not",
  );
  const tiny = checkDfs(counterTest({ ...SMALL, arch: "aarch64" }), { budget: 1 });
  assert.equal(tiny.boundReached, -1, "not even bound 0 was finished");
  assert.equal(result.violation, null);
});

Deno.test("random and PCT search find the race and their schedules replay", () => {
  const test = counterTest({ cpus: 2, tasks: 3, iters: 2, arch: "aarch64" });
  for (const search of [checkRandom, checkPct]) {
    const result = search(test, { maxPreemptions: 2, seed: 5, budget: 2000 });
    assert.ok(result.violation, `${result.mode} found nothing`);
    assert.equal(result.complete, false);
    const again = replay(test, result.violation.schedule);
    assert.equal(again.stats.traceHash, result.violation.traceHash);
  }
});

Deno.test("user-written tests: own tasks, own invariant", async (t) => {
  const build = (guarded: boolean): ExploreTest => {
    const percpu = createPercpu({ arch: "riscv64" });
    const counter = percpu.defPercpu("EVENTS", u64, 0n);
    return {
      name: `read-modify-write ${guarded}`,
      percpu,
      cpus: 2,
      spawn(machine) {
        for (let i = 0; i < 2; i++) {
          machine.spawn(function* (ctx) {
            using _guard = guarded ? ctx.noPreempt() : undefined;
            const value = yield* ctx.read(counter, { raw: true });
            yield* ctx.write(counter, value + 1n, { raw: true });
          });
        }
      },
      check: () => {
        const sum = counter.remoteRefRaw(0).value + counter.remoteRefRaw(1).value;
        return sum === 2n ? null : `sum is ${sum}, expected 2`;
      },
      allowWrongCpu: true,
    };
  };
  await t.step("an unguarded read-then-write loses an update", () => {
    const v = checkDfs(build(false)).violation;
    assert.ok(v);
    assert.ok(v.messages.some((m) => /sum is 1, expected 2/.test(m)), v.messages.join("; "));
  });
  await t.step("one guard around both is safe", () => {
    const result = checkDfs(build(true));
    assert.equal(result.violation, null);
    assert.equal(result.complete, true);
  });
});

Deno.test("schedules are checked against the test they were made for", () => {
  const test = counterTest({ ...SMALL, arch: "aarch64" });
  const schedule = checkDfs(test).violation!.schedule;
  assert.throws(
    () => replay(counterTest({ ...SMALL, arch: "riscv64" }), schedule),
    /recorded for another test/,
  );
  assert.throws(() => replay(test, "nonsense"), SyntaxError);
  assert.throws(() => decodeSchedule("s1.abc.2.3.9=1"), /position 9 beyond 3 choice points/);
  const decoded = decodeSchedule(schedule);
  assert.equal(
    encodeSchedule(decoded.fingerprint, decoded.maxPreemptions, decoded.choices),
    schedule,
  );
});

Deno.test("the violation's timeline is a well-formed standalone SVG showing what happened", () => {
  const test = counterTest({ ...SMALL, arch: "aarch64" });
  const v = checkDfs(test).violation!;
  const run = replay(test, v.schedule);
  const svg = renderTimelineSvg({
    events: run.events!,
    taskNames: run.taskNames,
    cpus: 2,
    title: "aarch64 <with-current> & friends",
    subtitle: v.schedule,
  });
  assert.equal(XMLValidator.validate(svg), true);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /&lt;with-current&gt; &amp; friends/, "text is escaped");
  for (const lane of ["CPU 0", "CPU 1"]) assert.ok(svg.includes(`>${lane}</text>`));
  assert.ok(svg.includes('fill="#e3001b"'), "the violating access is marked");
  assert.ok(svg.includes("str x2, [x0]"), "with the instruction that made it");
  assert.ok(svg.includes("migrated CPU"), "the migration is marked");
  assert.ok(svg.includes("preempted, queued on CPU"), "the preemption is marked");
});

Deno.test("guarded regions are shaded in the timeline; a safe run has no violation mark", () => {
  const run = simulate({ arch: "aarch64", features: ["preempt"], iters: 3, record: true });
  const svg = renderTimelineSvg({
    events: run.events!,
    taskNames: run.taskNames,
    cpus: run.cpus,
    title: "guarded",
  });
  assert.equal(XMLValidator.validate(svg), true);
  assert.ok(svg.includes('fill="url(#guard)"><title>preemption disabled'));
  assert.ok(!svg.includes("<circle cx") || !svg.includes("hit CPU"), "no violating access");
});
