/**
 * The built-in scenarios as explore tests: the explorer knows nothing of
 * scenarios; this file turns one into the generic {@linkcode ExploreTest}.
 *
 * @module
 */

import type { ExploreTest } from "../explore/explore.ts";
import { buildScenario, type Scenario } from "./scenario.ts";
import { checkOptions } from "../../lib/_check.ts";
import { optionsError } from "../_safe.ts";
import {
  type ResolvedSimOptions,
  resolveSimOptions,
  SIM_OPTION_KEYS,
  type SimOptions,
} from "./sim_options.ts";

/** The sizes an explore test has unless told otherwise. */
export const EXPLORE_SIZES: { readonly tasks: number; readonly iters: number } = Object.freeze({
  tasks: 3,
  iters: 1,
});

/**
 * The built-in `counter`/`el2-guest` scenario as an explore test: every task
 * adds 1 to a per-CPU `u64`; the invariant is that the sum over CPUs equals
 * the number of increments.
 *
 * @param options The `sim` options (policy, quantum and seed are not used:
 *   the explorer makes every scheduling choice), except that `tasks` and
 *   `iters` default to 3 and 1: a space the explorer covers in moments.
 *   (With 2 tasks on 2 CPUs each task runs alone on its CPU: the Linux-like
 *   scheduler never preempts or moves one in the middle of an access.)
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
  let resolved: ResolvedSimOptions;
  try {
    const given = checkOptions(options, SIM_OPTION_KEYS, "counterTest");
    resolved = resolveSimOptions({
      ...given,
      tasks: given.tasks ?? EXPLORE_SIZES.tasks,
      iters: given.iters ?? EXPLORE_SIZES.iters,
    });
  } catch (error) {
    throw optionsError("counterTest", error);
  }
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
