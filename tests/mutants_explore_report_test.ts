// Exploration reports, line by line, for a safe test under each way a
// search can end: complete, a shard's part, a failed part, classes not
// counted, and a randomized sample.

import assert from "node:assert/strict";
import {
  checkDfs,
  checkRandom,
  counterTest,
  type ExploreResult,
  formatExploreReport,
} from "../sched/mod.ts";

const OPTIONS = { arch: "x86_64", access: "add", tasks: 2, iters: 1 } as const;

function lines(result: ExploreResult): string[] {
  const text = formatExploreReport(result, OPTIONS);
  assert.ok(
    text.endsWith(".\n") && !text.endsWith("\n\n"),
    JSON.stringify(text),
  );
  // The rate and the time vary from run to run.
  return text.replace(/ in \d+ ms( \(\d+\/s\))?/, " in T ms").split("\n");
}

Deno.test("a complete safe search, whole and as a shard's part", () => {
  const safe = checkDfs(counterTest(OPTIONS));
  assert.equal(safe.violation, null);
  const classes = safe.equivalenceClasses!;
  assert.deepEqual(lines(safe), [
    "percpu explore (dfs, dpor, up to 2 preemptions): counter on x86_64, no features",
    "  2 CPUs, 2 tasks × 1 increment (add)",
    "",
    `  schedules  ${safe.schedulesExplored} in T ms: ${classes} equivalence classes, ${safe.pruned} redundant`,
    "  search     complete: every schedule with ≤ 2 preemptions, up to equivalence",
    "",
    "SAFE: no schedule with at most 2 preemptions violates the test.",
    "",
  ]);
  const shard = { ...safe, shard: { index: 1, count: 3 } } as ExploreResult;
  const text = lines(shard);
  assert.match(
    text[0],
    /^percpu explore \(dfs, dpor, up to 2 preemptions, shard 1\/3\)/,
  );
  assert.equal(
    text[4],
    "  search     complete: every schedule with ≤ 2 preemptions, up to equivalence (shard 1/3: its part only; merge the 3 shards for the whole search)",
  );
  assert.equal(
    text[6],
    "SAFE: no schedule with at most 2 preemptions violates the test in shard 1/3's part.",
  );
  const uncounted = lines(
    { ...safe, equivalenceClasses: null } as ExploreResult,
  );
  assert.equal(
    uncounted[3],
    `  schedules  ${safe.schedulesExplored} in T ms: ${safe.pruned} redundant`,
  );
  const failed = lines(
    { ...safe, stopReason: "failed", complete: false } as ExploreResult,
  );
  assert.equal(
    failed[4],
    "  search     incomplete: a part of the search failed or is missing; every schedule with ≤ 2 preemptions was covered",
  );
  assert.match(
    failed[6],
    /^INCOMPLETE: no violation in \d+ schedules, but the search did not cover/,
  );
});

Deno.test("a randomized sample is never a proof", () => {
  const sample = checkRandom(counterTest(OPTIONS), { budget: 5, seed: 1 });
  assert.equal(sample.violation, null);
  assert.deepEqual(lines(sample).slice(3), [
    "  schedules  5 in T ms",
    "  search     randomized: 5 schedules sampled, stopped by the budget (a sample, never complete)",
    "",
    "No violation found in 5 schedules (randomized search: a sample, never a proof).",
    "",
  ]);
});
