// The explorer's rules that its suites compare only with themselves: the
// smallest violation (fewest preemptions, then fewest instructions) and
// PCT's number of change points (exactly the preemptions asked for, when a
// run has that many tick points).

import assert from "node:assert/strict";
import { smallestViolation } from "../sched/explore/_explorer.ts";
import { PctChooser } from "../sched/explore/_choices.ts";
import type { Violation } from "../sched/mod.ts";

function violation(id: string, preemptions: number, steps: number): Violation {
  return { id, preemptions, steps } as unknown as Violation;
}

Deno.test("the smallest violation: fewest preemptions, then fewest instructions", () => {
  const a = violation("a", 2, 3);
  const b = violation("b", 1, 9);
  const c = violation("c", 1, 4);
  const d = violation("d", 1, 6);
  const e = violation("e", 1, 4);
  for (const order of [[a, b, c, d, e], [e, d, c, b, a], [c, a, e, b, d]]) {
    const best = smallestViolation(order) as unknown as { preemptions: number; steps: number };
    assert.deepEqual([best.preemptions, best.steps], [1, 4]);
  }
  // Ties keep the first met.
  assert.equal((smallestViolation([a, b, c, d, e]) as unknown as { id: string }).id, "c");
  assert.equal(smallestViolation([]), null);
});

Deno.test("PCT ticks at exactly as many tick points as preemptions asked for", () => {
  for (const depth of [0, 1, 2, 3]) {
    for (const points of [1, 2, 5, 20]) {
      for (let seed = 0; seed < 10; seed++) {
        const chooser = new PctChooser(seed, depth, points);
        let ticks = 0;
        for (let i = 0; i < points; i++) ticks += chooser.choose(2, "tick", 0);
        assert.equal(ticks, Math.min(depth, points), `depth ${depth}, ${points} points`);
        // Past the estimate, no more ticks.
        for (let i = 0; i < 10; i++) assert.equal(chooser.choose(2, "tick", 0), 0);
      }
    }
  }
});
