/**
 * One simulation from plain options: what `cli.ts sim` runs and reports.
 *
 * @module
 */

import { type Arch, ARCHES, type Feature, FEATURES } from "../lib/arch_names.ts";
import { describe } from "../lib/describe.ts";
import { type Decisions, POLICIES, type Policy } from "./decisions.ts";
import { Machine, type Misuse, type RunStats, type TaskFailure } from "./machine.ts";
import {
  ACCESS_MODES,
  type AccessMode,
  buildScenario,
  type Scenario,
  type ScenarioName,
  SCENARIOS,
} from "./scenario.ts";
import type { AccessEvent, SimEvent } from "./trace.ts";

/** Options of {@linkcode simulate}; every field has a default. */
export interface SimOptions {
  /** Architecture (default `x86_64`). */
  readonly arch?: Arch;
  /** Crate features (default none). */
  readonly features?: readonly Feature[];
  /** `cooperative` or `preemptive` (default). */
  readonly policy?: Policy;
  /** CPUs (default 2; 1 under `sp-naive`). */
  readonly cpus?: number;
  /** Counting tasks (default 4). */
  readonly tasks?: number;
  /** Increments per task (default 100). */
  readonly iters?: number;
  /** Mean instructions between timer ticks (default 10). */
  readonly quantum?: number;
  /** PRNG seed (default 1). */
  readonly seed?: number;
  /** How tasks increment (default `with-current`). */
  readonly access?: AccessMode;
  /** Which scenario (default `counter`). */
  readonly scenario?: ScenarioName;
  /** Keep the events for a timeline (default `false`). */
  readonly record?: boolean;
  /** Replaces the timer and PRNG (the explorer's replay uses this). */
  readonly decisions?: Decisions;
}

/** The options a simulation actually ran with. */
export interface ResolvedSimOptions {
  /** Architecture. */
  readonly arch: Arch;
  /** Features, in canonical order. */
  readonly features: readonly Feature[];
  /** Policy. */
  readonly policy: Policy;
  /** CPUs. */
  readonly cpus: number;
  /** Counting tasks. */
  readonly tasks: number;
  /** Increments per task. */
  readonly iters: number;
  /** Timer quantum. */
  readonly quantum: number;
  /** Seed. */
  readonly seed: number;
  /** Access mode. */
  readonly access: AccessMode;
  /** Scenario. */
  readonly scenario: ScenarioName;
}

/** What a simulation found: the fields `cli.ts sim --json` prints. */
export interface SimResult extends ResolvedSimOptions {
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
}

function oneOf<T extends string>(value: unknown, accepted: readonly T[], option: string): T {
  if (!accepted.includes(value as T)) {
    throw new RangeError(
      `--${option} must be one of ${accepted.join(", ")}, got ${describe(value)}`,
    );
  }
  return value as T;
}

function count(value: unknown, option: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `--${option} must be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Fills in and checks simulation options.
 *
 * @param options The options given.
 * @returns Every option with its value.
 * @throws {RangeError} Naming the first bad option and what it accepts.
 */
export function resolveSimOptions(options: SimOptions = {}): ResolvedSimOptions {
  const arch = oneOf(options.arch ?? "x86_64", ARCHES, "arch");
  const features = options.features ?? [];
  if (!Array.isArray(features)) {
    throw new RangeError(
      `--features must be a list of ${FEATURES.join(", ")}, got ${describe(features)}`,
    );
  }
  for (const feature of features) oneOf(feature, FEATURES, "features");
  const naive = features.includes("sp-naive");
  const cpus = count(options.cpus ?? (naive ? 1 : 2), "cpus", 1, 64);
  if (naive && cpus !== 1) {
    throw new RangeError(`--cpus must be 1 with sp-naive (one CPU, plain globals), got ${cpus}`);
  }
  const scenario = oneOf(options.scenario ?? "counter", SCENARIOS, "scenario");
  if (scenario === "el2-guest" && arch !== "aarch64") {
    throw new RangeError(`--scenario el2-guest needs --arch aarch64, got ${arch}`);
  }
  return {
    arch,
    features: FEATURES.filter((f) => features.includes(f)),
    policy: oneOf(options.policy ?? "preemptive", POLICIES, "policy"),
    cpus,
    tasks: count(options.tasks ?? 4, "tasks", 1, 1024),
    iters: count(options.iters ?? 100, "iters", 1, 10_000_000),
    quantum: count(options.quantum ?? 10, "quantum", 1, 1_000_000),
    seed: count(options.seed ?? 1, "seed", 0, Number.MAX_SAFE_INTEGER),
    access: oneOf(options.access ?? "with-current", ACCESS_MODES, "access"),
    scenario,
  };
}

/**
 * Builds the scenario's system and machine for resolved options.
 *
 * @param resolved The options.
 * @param record Keep events.
 * @param decisions Replaces the timer and PRNG.
 * @returns The scenario and a machine with its tasks spawned.
 */
function setUpSimulation(
  resolved: ResolvedSimOptions,
  record: boolean,
  decisions?: Decisions,
): { scenario: Scenario; machine: Machine } {
  const scenario = buildScenario(resolved);
  const machine = new Machine({
    percpu: scenario.percpu,
    cpus: resolved.cpus,
    policy: resolved.policy,
    quantum: resolved.quantum,
    seed: resolved.seed,
    record,
    decisions,
  });
  scenario.spawn(machine);
  return { scenario, machine };
}

/**
 * Runs one simulation.
 *
 * @param options Arch, features, policy, sizes, seed, access mode, scenario.
 * @returns The counts and the verdict.
 * @throws {RangeError} On a bad option.
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
  const { scenario, machine } = setUpSimulation(resolved, record, options.decisions);
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
    ...(record ? { events: machine.trace.events! } : {}),
  };
}
