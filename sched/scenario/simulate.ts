/**
 * One simulation from plain options: what `cli.ts sim` runs and reports.
 *
 * @module
 */

import { type ResolvedSimOptions, resolveSimOptions, type SimOptions } from "./sim_options.ts";
import { replay } from "../explore/explore.ts";
import { scenarioTest } from "./counter_test.ts";
import { Machine, type Misuse, type RunStats, type TaskFailure } from "../runtime/machine.ts";
import { buildScenario, type Scenario } from "./scenario.ts";
import type { AccessEvent, SimEvent } from "../trace/trace.ts";

/** What a simulation found: the fields `cli.ts sim --json` prints. */
export interface SimResult extends Required<Omit<SimOptions, "record" | "schedule">> {
  /** Increments performed: tasks × iters. */
  readonly expected: number;
  /** The counter summed over all CPUs' areas. */
  readonly observed: number;
  /** `expected − observed` (negative when stale values were written over newer ones). */
  readonly lostUpdates: number;
  /** Local accesses that hit another CPU's area (or none). */
  readonly wrongCpuAccesses: number;
  /** Timer preemptions. */
  readonly preemptions: number;
  /** Dispatches on a different CPU than last time. */
  readonly migrations: number;
  /** Task switches. */
  readonly contextSwitches: number;
  /** Instructions executed. */
  readonly instructions: number;
  /** Machine cycles. */
  readonly cycles: number;
  /** `observed !== expected || wrongCpuAccesses > 0`. */
  readonly corrupted: boolean;
  /** Hash of the whole event trace: same options and seed, same hash. */
  readonly traceHash: string;
  /** The first wrong-CPU access, or `null`. */
  readonly firstViolation: AccessEvent | null;
  /** Reported misuse. */
  readonly misuses: readonly Misuse[];
  /** Tasks that threw. */
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
 * Builds the scenario's system and machine for resolved options.
 *
 * @param resolved The options.
 * @param record Keep events.
 * @returns The scenario and a machine with its tasks spawned.
 */
function setUpSimulation(
  resolved: ResolvedSimOptions,
  record: boolean,
): { scenario: Scenario; machine: Machine } {
  const scenario = buildScenario(resolved);
  const machine = new Machine({
    percpu: scenario.percpu,
    cpus: resolved.cpus,
    policy: resolved.policy,
    quantum: resolved.quantum,
    seed: resolved.seed,
    record,
  });
  scenario.spawn(machine);
  return { scenario, machine };
}

/**
 * Runs one simulation.
 *
 * @param options Arch, features, policy, sizes, seed, access mode,
 *   scenario, or a schedule to replay.
 * @returns The counts and the verdict.
 * @throws {RangeError} On a bad option, or a schedule recorded for other options.
 * @throws {SyntaxError} On a malformed schedule string.
 *
 * @example Preemption corrupts with-current without the `preempt` feature
 * ```ts
 * import assert from "node:assert/strict";
 * import { simulate } from "@percpu/percpu/sched";
 * const unsafe = simulate({ arch: "aarch64", seed: 3 });
 * const safe = simulate({ arch: "aarch64", seed: 3, features: ["preempt"] });
 * assert.equal(safe.corrupted, false);
 * assert.equal(safe.observed, safe.expected);
 * assert.ok(unsafe.preemptions > 0);
 * ```
 */
export function simulate(options: SimOptions = {}): SimResult {
  const resolved = resolveSimOptions(options);
  const record = options.record ?? false;
  if (options.schedule !== undefined) {
    const scenario = buildScenario(resolved);
    const run = replay(scenarioTest(resolved, scenario), options.schedule, { record });
    return {
      ...simResult(resolved, scenario, run.machine, run.stats, record),
      schedule: options.schedule,
    };
  }
  const { scenario, machine } = setUpSimulation(resolved, record);
  const stats = machine.run();
  return simResult(resolved, scenario, machine, stats, record);
}

/**
 * The report of a finished run of a scenario.
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
  return {
    ...resolved,
    expected: scenario.expected,
    observed,
    lostUpdates: scenario.expected - observed,
    wrongCpuAccesses: stats.wrongCpuAccesses,
    preemptions: stats.preemptions,
    migrations: stats.migrations,
    contextSwitches: stats.contextSwitches,
    instructions: stats.instructions,
    cycles: stats.cycles,
    corrupted: observed !== scenario.expected || stats.wrongCpuAccesses > 0,
    traceHash: stats.traceHash,
    firstViolation: stats.firstViolation,
    misuses: stats.misuses,
    failures: stats.failures.map(({ task, cpu, message }) => ({ task, cpu, message })),
    taskNames: machine.taskNames,
    ...(record ? { events: machine.events! } : {}),
  };
}
