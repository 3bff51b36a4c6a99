/**
 * One simulation from plain options: what `cli.ts sim` runs and reports.
 *
 * @module
 */

import { type ResolvedSimOptions, resolveSimOptions, type SimOptions } from "./sim_options.ts";
import { replay } from "../explore/explore.ts";
import { scenarioTest } from "./counter_test.ts";
import { Machine } from "../runtime/machine.ts";
import type { Misuse, RunStats, StopReason, TaskFailure } from "../runtime/run_stats.ts";
import { buildScenario, type Scenario } from "./scenario.ts";
import type { AccessEvent, SimEvent } from "../trace/trace.ts";
import { optionsError } from "../_safe.ts";

/** What a simulation found: the fields `cli.ts sim --json` prints. */
export interface SimResult extends Required<Omit<SimOptions, "record" | "schedule">> {
  /** Whether every task ended: only then is there a verdict. */
  readonly completed: boolean;
  /** Why the run stopped (`completed`, or why it is incomplete). */
  readonly stopReason: StopReason;
  /** Increments the tasks were to perform: tasks × iters. */
  readonly expected: number;
  /** The counter summed over all CPUs' areas. */
  readonly observed: number;
  /**
   * `expected − observed` (negative when stale values were written over
   * newer ones); `null` for an incomplete run, whose missing increments
   * were never made rather than lost.
   */
  readonly lostUpdates: number | null;
  /** Local accesses that hit another CPU's area (or none). */
  readonly wrongCpuAccesses: number;
  /** Preemptions at a preemption point after a tick. */
  readonly preemptions: number;
  /** Dispatches on a different CPU than last time. */
  readonly migrations: number;
  /** Queued tasks moved between CPUs by load balancing or idle pulls. */
  readonly pulls: number;
  /** Task switches. */
  readonly contextSwitches: number;
  /** Instructions executed. */
  readonly instructions: number;
  /** Machine cycles. */
  readonly cycles: number;
  /**
   * The verdict of a completed run: `observed !== expected ||
   * wrongCpuAccesses > 0`. Always `false` for an incomplete run (see
   * `completed`): it is neither corrupted nor correct.
   */
  readonly corrupted: boolean;
  /** Hash of the whole event trace: same options and seed, same hash. */
  readonly traceHash: string;
  /** The first wrong-CPU access, or `null`. */
  readonly firstViolation: AccessEvent | null;
  /** Reported misuse. */
  readonly misuses: readonly Misuse[];
  /** Tasks that failed. */
  readonly failures: readonly Omit<TaskFailure, "error">[];
  /** The events, when `record` was set. */
  readonly events?: readonly SimEvent[];
  /** Task names by id, for reports and timelines. */
  readonly taskNames: readonly string[];
  /**
   * The schedule replayed, when `schedule` was given: it made every
   * scheduling choice, so `policy`, `quantum` and `seed` played no part.
   */
  readonly schedule?: string;
}

/**
 * Runs one simulation.
 *
 * @param options Arch, features, policy, sizes, seed, access mode,
 *   scenario, cycle limit, or a schedule to replay.
 * @returns The counts and the verdict; a run stopped by the cycle limit is
 *   incomplete (`completed: false`), never corrupted.
 * @throws {TypeError} On an option of the wrong type, or an unknown option.
 * @throws {RangeError} On a bad value, or a schedule recorded for other options.
 * @throws {SyntaxError} On a malformed schedule string.
 *
 * @example Preemption corrupts with-current without the `preempt` feature
 * ```ts
 * import assert from "node:assert/strict";
 * import { simulate } from "@percpu/percpu/sched";
 * const unsafe = simulate({ arch: "aarch64", tasks: 3, seed: 3 });
 * const safe = simulate({ arch: "aarch64", tasks: 3, seed: 3, features: ["preempt"] });
 * assert.equal(safe.completed, true);
 * assert.equal(safe.corrupted, false);
 * assert.equal(safe.observed, safe.expected);
 * assert.ok(unsafe.preemptions > 0);
 * ```
 */
export function simulate(options: SimOptions = {}): SimResult {
  let resolved: ResolvedSimOptions;
  let record: boolean;
  let schedule: string | undefined;
  try {
    resolved = resolveSimOptions(options);
    record = options.record ?? false;
    schedule = options.schedule;
  } catch (error) {
    throw optionsError("simulate", error);
  }
  const scenario = buildScenario(resolved);
  if (schedule !== undefined) {
    const run = replay(scenarioTest(resolved, scenario), schedule, {
      record,
      maxCycles: resolved.maxCycles,
    });
    return { ...simResult(resolved, scenario, run.machine, run.stats, record), schedule };
  }
  const machine = new Machine({
    percpu: scenario.percpu,
    cpus: resolved.cpus,
    policy: resolved.policy,
    quantum: resolved.quantum,
    seed: resolved.seed,
    maxCycles: resolved.maxCycles,
    record,
  });
  scenario.spawn(machine);
  return simResult(resolved, scenario, machine, machine.run(), record);
}

/**
 * The report of a run of a scenario.
 *
 * @param resolved The options it ran with.
 * @param scenario The scenario (for the expected and observed counts).
 * @param machine The machine it ran on.
 * @param stats What `machine.run()` returned.
 * @param record Include the machine's events.
 * @returns The result.
 */
export function simResult(
  resolved: ResolvedSimOptions,
  scenario: Pick<Scenario, "expected" | "observe">,
  machine: Machine,
  stats: RunStats,
  record: boolean,
): SimResult {
  const observed = scenario.observe(machine);
  const completed = stats.completed;
  return {
    ...resolved,
    completed,
    stopReason: stats.stopReason,
    expected: scenario.expected,
    observed,
    lostUpdates: completed ? scenario.expected - observed : null,
    wrongCpuAccesses: stats.wrongCpuAccesses,
    preemptions: stats.preemptions,
    migrations: stats.migrations,
    pulls: stats.pulls,
    contextSwitches: stats.contextSwitches,
    instructions: stats.instructions,
    cycles: stats.cycles,
    corrupted: completed && (observed !== scenario.expected || stats.wrongCpuAccesses > 0),
    traceHash: stats.traceHash,
    firstViolation: stats.firstViolation,
    misuses: stats.misuses,
    failures: stats.failures.map(({ task, cpu, message }) => ({ task, cpu, message })),
    taskNames: machine.taskNames,
    ...(record ? { events: machine.events! } : {}),
  };
}
