/**
 * The schedule explorer: runs a test under many schedules of the simulated
 * machine to find an interleaving that breaks it, or to show that none does
 * up to a preemption bound. In the spirit of loom, shuttle and CHESS:
 *
 * - {@linkcode checkDfs}: exhaustive, with iterative context bounding (all
 *   schedules with 0 preemptions, then 1, then 2, …) and state caching, so
 *   the first failure reported needs the fewest preemptions and, among
 *   those, the fewest instructions;
 * - {@linkcode checkRandom} and {@linkcode checkPct}: randomized search for
 *   larger tests;
 * - {@linkcode replay}: runs one schedule string again, bit for bit.
 *
 * Tests must be deterministic: task code may only communicate through
 * simulated memory, so that the same choices always give the same run.
 *
 * @example Find the race, then show the guard removes it
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfs, counterTest, replay } from "@percpu/percpu/sched";
 * const racy = counterTest({ arch: "aarch64", cpus: 2, tasks: 2, iters: 1 });
 * const found = checkDfs(racy, { maxPreemptions: 2 });
 * assert.equal(found.violation?.preemptions, 1);
 * assert.equal(replay(racy, found.violation!.schedule).violation !== null, true);
 *
 * const guarded = counterTest({ arch: "aarch64", cpus: 2, tasks: 2, iters: 1, features: ["preempt"] });
 * const proof = checkDfs(guarded, { maxPreemptions: 2 });
 * assert.equal(proof.violation, null);
 * assert.equal(proof.complete, true);
 * ```
 *
 * @module
 */

import { hex, valueText } from "../../lib/_describe.ts";
import type { Percpu } from "../../lib/percpu.ts";
import {
  ChoiceDecisions,
  type Chooser,
  DfsChooser,
  PctChooser,
  PRUNED,
  RandomChooser,
  ReplayChooser,
} from "./_choices.ts";
import { Machine } from "../runtime/machine.ts";
import type { RunStats } from "../runtime/run_stats.ts";
import { machinePort } from "../runtime/_port.ts";
import { decodeSchedule, encodeSchedule, fingerprintOf } from "./schedule.ts";
import type { SimEvent } from "../trace/trace.ts";

/** A test the explorer can run under many schedules. */
export interface ExploreTest {
  /** A name: part of the fingerprint that ties schedules to the test. */
  readonly name: string;
  /** The per-CPU system, variables defined (the explorer initialises it). */
  readonly percpu: Percpu;
  /** Simulated CPUs. */
  readonly cpus: number;
  /** Spawns the test's tasks on a fresh machine; called once per schedule. */
  spawn(machine: Machine): void;
  /**
   * The invariant, checked when every task has ended.
   *
   * @returns A message when it is violated, else `null`.
   */
  check?(machine: Machine): string | null;
  /** Numbers to report with a violation (e.g. expected and observed counts). */
  observe?(machine: Machine): Readonly<Record<string, number>>;
  /** Accept local accesses that hit another CPU's area (default: they are violations). */
  readonly allowWrongCpu?: boolean;
}

/** Options of the explorers. */
export interface ExploreOptions {
  /** At most this many preemptions per schedule (default 2). */
  readonly maxPreemptions?: number;
  /** Stop after this many schedules (default 1 000 000 for DFS, 10 000 otherwise). */
  readonly budget?: number;
  /** Seed of the randomized searches (default 1). */
  readonly seed?: number;
  /** `checkRandom`: chance to preempt at each preemptible boundary (default 0.1). */
  readonly tickProbability?: number;
  /** Called about 4 times a second once an exploration has run for a second. */
  readonly onProgress?: (progress: ExploreProgress) => void;
}

/** Progress of a long exploration. */
export interface ExploreProgress {
  /** The search mode. */
  readonly mode: ExploreMode;
  /** Schedules run so far. */
  readonly schedulesExplored: number;
  /** Milliseconds since the start. */
  readonly elapsedMs: number;
  /** DFS: the preemption bound being explored. */
  readonly bound: number;
}

/** How the explorer searches. */
export type ExploreMode = "dfs" | "random" | "pct";

/** Every {@linkcode ExploreMode}. */
export const EXPLORE_MODES: readonly ExploreMode[] = Object.freeze(["dfs", "random", "pct"]);

/** A schedule that breaks the test. */
export interface Violation {
  /** The schedule string; {@linkcode replay} runs it again. */
  readonly schedule: string;
  /** Preemptions it takes. */
  readonly preemptions: number;
  /** Instructions the run executes. */
  readonly steps: number;
  /** Local accesses that hit another CPU's area. */
  readonly wrongCpuAccesses: number;
  /** What went wrong. */
  readonly messages: readonly string[];
  /** The test's `observe()` numbers. */
  readonly details: Readonly<Record<string, number>>;
  /** The run's trace hash. */
  readonly traceHash: string;
}

/** What an exploration found. */
export interface ExploreResult {
  /** The search mode. */
  readonly mode: ExploreMode;
  /** Schedules run (including those cut short by state caching). */
  readonly schedulesExplored: number;
  /**
   * DFS: every schedule with at most `boundReached` preemptions was covered
   * (the randomized modes are never complete).
   */
  readonly complete: boolean;
  /**
   * DFS: the largest bound fully explored (−1 when the budget ran out within
   * bound 0), or the violation's preemptions.
   */
  readonly boundReached: number;
  /** The bound asked for. */
  readonly maxPreemptions: number;
  /** Wall time. */
  readonly elapsedMs: number;
  /** Schedules abandoned at a state already explored. */
  readonly pruned: number;
  /** Distinct states remembered. */
  readonly statesCached: number;
  /** The (minimal, for DFS) failing schedule, or `null`. */
  readonly violation: Violation | null;
}

/** One replayed run. */
export interface ReplayResult {
  /** The machine it ran on (its per-CPU system holds the final memory). */
  readonly machine: Machine;
  /** The run's statistics. */
  readonly stats: RunStats;
  /** The violation, or `null` when this schedule passes. */
  readonly violation: Violation | null;
  /** The events, when recorded. */
  readonly events: readonly SimEvent[] | null;
  /** Task names by id. */
  readonly taskNames: readonly string[];
}

interface Outcome {
  readonly stats: RunStats;
  readonly messages: string[];
  readonly details: Readonly<Record<string, number>>;
  readonly preemptions: number;
  readonly maxPreemptions: number;
  readonly choices: readonly number[];
}

function checkCount(value: unknown, option: string, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${option} must be an integer ≥ ${min}, got ${valueText(value)}`);
  }
  return value;
}

/** The identity a schedule is tied to. */
function testFingerprint(test: ExploreTest): string {
  const p = test.percpu;
  return fingerprintOf({
    name: test.name,
    arch: p.arch,
    features: p.features,
    cpus: test.cpus,
    vars: p.variables().map((v) => [v.name, v.offset(), v.size]),
  });
}

/** Runs a test under given decisions on one reusable machine. */
class Runner {
  readonly machine: Machine;
  readonly fingerprint: string;
  readonly #test: ExploreTest;

  constructor(test: ExploreTest, record: boolean, maxCycles?: number) {
    if (typeof test?.spawn !== "function") {
      throw new TypeError(
        `an explore test needs a spawn(machine) function, got ${valueText(test)}`,
      );
    }
    this.#test = test;
    this.fingerprint = testFingerprint(test);
    // The stress policy: every tick may preempt and a preempted task may go
    // to any CPU, a superset of the Linux-like scheduler's moves.
    this.machine = new Machine({
      percpu: test.percpu,
      cpus: test.cpus,
      policy: "stress",
      record,
      maxCycles,
      decisions: new ChoiceDecisions(new ReplayChooser([]), { maxPreemptions: 0 }),
    });
  }

  run(decisions: ChoiceDecisions): Outcome | null {
    const machine = this.machine;
    machinePort(machine).reset(decisions);
    this.#test.spawn(machine);
    let stats: RunStats;
    try {
      stats = machine.run();
    } catch (error) {
      if (error === PRUNED) return null;
      throw error;
    }
    // A run cut off by the cycle limit did not finish: it has no verdict.
    const messages = stats.completed ? this.#judge(stats) : [];
    return {
      stats,
      messages,
      details: messages.length > 0 ? this.#test.observe?.(machine) ?? {} : {},
      preemptions: decisions.preemptions,
      maxPreemptions: decisions.maxPreemptions,
      choices: decisions.choices,
    };
  }

  #judge(stats: RunStats): string[] {
    const messages: string[] = [];
    const first = stats.firstViolation;
    if (!this.#test.allowWrongCpu && first) {
      const where = first.hitCpu < 0 ? "no CPU's area" : `CPU ${first.hitCpu}'s area`;
      messages.push(
        `${stats.wrongCpuAccesses} local ${
          stats.wrongCpuAccesses === 1 ? "access" : "accesses"
        } hit another CPU's area; first: \`${first.text}\` on CPU ${first.cpu} at ${
          hex(first.address)
        } in ${where}`,
      );
    }
    for (const failure of stats.failures) {
      messages.push(`${failure.task} failed on CPU ${failure.cpu}: ${failure.message}`);
    }
    for (const misuse of stats.misuses) messages.push(`kernel: ${misuse.message}`);
    const broken = this.#test.check?.(this.machine);
    if (broken) messages.push(broken);
    return messages;
  }

  violation(outcome: Outcome): Violation {
    return {
      schedule: encodeSchedule(this.fingerprint, outcome.maxPreemptions, outcome.choices),
      preemptions: outcome.preemptions,
      steps: outcome.stats.instructions,
      wrongCpuAccesses: outcome.stats.wrongCpuAccesses,
      messages: outcome.messages,
      details: outcome.details,
      traceHash: outcome.stats.traceHash,
    };
  }
}

/** Reports progress at most 4 times a second, after the first second. */
class Progress {
  readonly #start = performance.now();
  readonly #report: ExploreOptions["onProgress"];
  readonly #mode: ExploreMode;
  #last = 0;

  constructor(mode: ExploreMode, report: ExploreOptions["onProgress"]) {
    this.#mode = mode;
    this.#report = report;
  }

  get elapsedMs(): number {
    return performance.now() - this.#start;
  }

  tick(schedulesExplored: number, bound: number): void {
    if (this.#report === undefined || (schedulesExplored & 255) !== 0) return;
    const elapsedMs = this.elapsedMs;
    if (elapsedMs < 1000 || elapsedMs - this.#last < 250) return;
    this.#last = elapsedMs;
    this.#report({ mode: this.#mode, schedulesExplored, elapsedMs, bound });
  }
}

function better(candidate: Outcome, best: Outcome | null): boolean {
  return best === null || candidate.preemptions < best.preemptions ||
    (candidate.preemptions === best.preemptions &&
      candidate.stats.instructions < best.stats.instructions);
}

function maxPreemptionsOf(options: ExploreOptions): number {
  return checkCount(options.maxPreemptions ?? 2, "maxPreemptions", 0);
}

/**
 * Exhaustive search with iterative context bounding: every schedule with 0
 * preemptions, then with at most 1, … up to `maxPreemptions`. Schedules that
 * reach a machine state already explored with no more preemptions and no
 * more instructions are cut short. The first bound with a failure is
 * finished, and its shortest failing schedule is reported.
 *
 * @param test The test.
 * @param options The bound, the budget and a progress callback.
 * @returns What was found; `complete` tells whether the bounded space was covered.
 */
export function checkDfs(test: ExploreTest, options: ExploreOptions = {}): ExploreResult {
  const maxPreemptions = maxPreemptionsOf(options);
  const budget = checkCount(options.budget ?? 1_000_000, "budget", 1);
  const runner = new Runner(test, false);
  const machine = runner.machine;
  const port = machinePort(machine);
  const progress = new Progress("dfs", options.onProgress);
  let explored = 0;
  let pruned = 0;
  let statesCached = 0;
  let best: Outcome | null = null;
  let complete = true;
  let bound = 0;
  for (; bound <= maxPreemptions && complete && best === null; bound++) {
    const visited = new Map<number, { preemptions: number; steps: number }>();
    const prune = (cpu: number, preemptions: number, stealMemo: readonly number[]) => {
      let memo = 0;
      for (let c = 0; c < test.cpus; c++) {
        if (stealMemo[c] === port.queueEpoch) memo |= 1 << c;
      }
      const key = port.stateHash(cpu * 0x1_0000_0000 + memo);
      const steps = machine.instructions;
      const seen = visited.get(key);
      if (seen && seen.preemptions <= preemptions && seen.steps <= steps) return true;
      visited.set(key, { preemptions, steps });
      return false;
    };
    const chooser = new DfsChooser();
    do {
      if (explored >= budget) {
        complete = false;
        break;
      }
      const decisions = new ChoiceDecisions(chooser, { maxPreemptions: bound, prune });
      const outcome = runner.run(decisions);
      explored++;
      if (outcome === null) pruned++;
      else if (!outcome.stats.completed) complete = false;
      else if (outcome.messages.length > 0 && better(outcome, best)) best = outcome;
      progress.tick(explored, bound);
    } while (chooser.advance());
    statesCached += visited.size;
  }
  const finished = bound - 1;
  return {
    mode: "dfs",
    schedulesExplored: explored,
    complete,
    boundReached: best ? best.preemptions : complete ? maxPreemptions : finished - 1,
    maxPreemptions,
    elapsedMs: progress.elapsedMs,
    pruned,
    statesCached,
    violation: best && runner.violation(best),
  };
}

function randomized(
  mode: "random" | "pct",
  test: ExploreTest,
  options: ExploreOptions,
  chooserFor: (run: number, runner: Runner) => Chooser,
): ExploreResult {
  const maxPreemptions = maxPreemptionsOf(options);
  const budget = checkCount(options.budget ?? 10_000, "budget", 1);
  const runner = new Runner(test, false);
  const progress = new Progress(mode, options.onProgress);
  let found: Outcome | null = null;
  let explored = 0;
  while (explored < budget && found === null) {
    const chooser = chooserFor(explored, runner);
    const outcome = runner.run(new ChoiceDecisions(chooser, { maxPreemptions }))!;
    explored++;
    if (outcome.messages.length > 0) found = outcome;
    progress.tick(explored, maxPreemptions);
  }
  return {
    mode,
    schedulesExplored: explored,
    complete: false,
    boundReached: 0,
    maxPreemptions,
    elapsedMs: progress.elapsedMs,
    pruned: 0,
    statesCached: 0,
    violation: found && runner.violation(found),
  };
}

function runSeed(seed: number, run: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(run, 0xc2b2ae35)) >>> 0;
}

/**
 * Random search: at each preemptible boundary, preempt with probability
 * `tickProbability`; other choices uniform. Stops at the first failure.
 *
 * @param test The test.
 * @param options Budget, seed, bound, probability.
 * @returns What was found.
 */
export function checkRandom(test: ExploreTest, options: ExploreOptions = {}): ExploreResult {
  const p = options.tickProbability ?? 0.1;
  if (typeof p !== "number" || !(p > 0 && p <= 1)) {
    throw new RangeError(`tickProbability must be in (0, 1], got ${valueText(p)}`);
  }
  const seed = options.seed ?? 1;
  return randomized("random", test, options, (run) => new RandomChooser(runSeed(seed, run), p));
}

/**
 * PCT-style search: each run preempts at `maxPreemptions` tick points chosen
 * uniformly among those a run offers, other choices random. Stops at the
 * first failure.
 *
 * @param test The test.
 * @param options Budget, seed, and the bug depth as `maxPreemptions`.
 * @returns What was found.
 */
export function checkPct(test: ExploreTest, options: ExploreOptions = {}): ExploreResult {
  const seed = options.seed ?? 1;
  const depth = maxPreemptionsOf(options);
  let tickPoints = -1;
  return randomized("pct", test, options, (run, runner) => {
    if (tickPoints < 0) {
      const counter = new ChoiceDecisions(new RandomChooser(1, 1e-9), {
        maxPreemptions: Number.MAX_SAFE_INTEGER,
      });
      const baseline = runner.run(counter)!;
      tickPoints = Math.max(1, baseline.choices.length);
    }
    return new PctChooser(runSeed(seed, run), depth, tickPoints);
  });
}

/**
 * Runs one schedule again. The run is identical to the one that produced the
 * schedule: same trace hash, same events.
 *
 * @param test The test the schedule was recorded for.
 * @param schedule A schedule string from a {@linkcode Violation}.
 * @param options `record` keeps the events (default `true`); `maxCycles`
 *   limits the run (default 10 000 000).
 * @returns The run and its verdict.
 * @throws {SyntaxError} On a malformed schedule.
 * @throws {RangeError} When the schedule was recorded for another test.
 */
export function replay(
  test: ExploreTest,
  schedule: string,
  options: { record?: boolean; maxCycles?: number } = {},
): ReplayResult {
  const decoded = decodeSchedule(schedule);
  const runner = new Runner(test, options.record ?? true, options.maxCycles);
  if (decoded.fingerprint !== runner.fingerprint) {
    throw new RangeError(
      `the schedule was recorded for another test (fingerprint ${decoded.fingerprint}, this test is ${runner.fingerprint}); use the same options as the exploration`,
    );
  }
  const chooser = new ReplayChooser(decoded.choices);
  const decisions = new ChoiceDecisions(chooser, { maxPreemptions: decoded.maxPreemptions });
  const outcome = runner.run(decisions)!;
  if (chooser.consumed !== decoded.length) {
    throw new RangeError(
      `the schedule does not fit this test: it has ${decoded.length} choice points, the run had ${chooser.consumed}`,
    );
  }
  return {
    machine: runner.machine,
    stats: outcome.stats,
    violation: outcome.messages.length > 0 ? runner.violation(outcome) : null,
    events: runner.machine.events,
    taskNames: runner.machine.taskNames,
  };
}
