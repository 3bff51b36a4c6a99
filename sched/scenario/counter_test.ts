/**
 * The built-in scenarios as explore tests: the explorer knows nothing of
 * scenarios; this file turns one into the generic {@linkcode ExploreTest}.
 *
 * @module
 */

import type { ExploreTest } from "../explore/explore.ts";
import { buildScenario, type Scenario } from "./scenario.ts";
import { type ResolvedSimOptions, resolveSimOptions, type SimOptions } from "./sim_options.ts";

/**
 * The built-in `counter`/`el2-guest` scenario as an explore test: every task
 * adds 1 to a per-CPU `u64`; the invariant is that the sum over CPUs equals
 * the number of increments.
 *
 * @param options The `sim` options (policy, quantum and seed are not used:
 *   the explorer makes every scheduling choice).
 * @returns The test.
 * @throws {RangeError} On a bad option, naming it and what it accepts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfs, counterTest } from "@percpu/percpu/sched";
 * const test = counterTest({ arch: "x86_64", access: "add", tasks: 2, iters: 1 });
 * assert.equal(checkDfs(test).violation, null); // one gs:-relative add: never split
 * ```
 */
export function counterTest(options: SimOptions = {}): ExploreTest {
  const resolved = resolveSimOptions(options);
  return scenarioTest(resolved, buildScenario(resolved));
}

/**
 * A built scenario as an explore test.
 *
 * @param resolved The options it was built with (they name the test).
 * @param scenario The scenario.
 * @returns The test.
 */
export function scenarioTest(resolved: ResolvedSimOptions, scenario: Scenario): ExploreTest {
  const { arch, features, cpus, tasks, iters, access } = resolved;
  return {
    name: `${resolved.scenario}:${tasks}x${iters}:${access}:${arch}:${features.join("+")}:${cpus}`,
    percpu: scenario.percpu,
    cpus,
    spawn: (machine) => scenario.spawn(machine),
    check(machine) {
      const observed = scenario.observe(machine);
      return observed === scenario.expected
        ? null
        : `lost updates: ${scenario.expected} ${
          scenario.expected === 1 ? "increment" : "increments"
        }, the per-CPU counters sum to ${observed}`;
    },
    observe(machine) {
      const observed = scenario.observe(machine);
      return { expected: scenario.expected, observed, lostUpdates: scenario.expected - observed };
    },
  };
}
