/**
 * The schedule explorer: runs a test under many schedules of the simulated
 * machine to find an interleaving that breaks it, or to show that none does
 * up to a preemption bound. In the spirit of loom, shuttle and CHESS:
 *
 * - {@linkcode checkDfs}: exhaustive, with dynamic partial-order reduction
 *   (one run per class of equivalent interleavings) and iterative
 *   preemption bounding (every run with 0 preemptions, then 1, …), so the
 *   violations it reports need the fewest preemptions;
 * - {@linkcode checkRandom} and {@linkcode checkPct}: randomized search for
 *   larger tests;
 * - {@linkcode replay}: runs one schedule string again, bit for bit.
 *
 * ## What a run is
 *
 * The explorer drives the Linux-like (`preemptive`) scheduler one CPU step
 * at a time. Before each step it chooses which CPU moves (the CPUs run in
 * parallel: this is the interleaving, and it costs nothing); the step then
 * meets the kernel's choices, each explored: whether a timer tick arrives
 * (only where it would change something: another task waits on the CPU, or
 * IRQs are off and no tick is pending yet, or load balancing could pull a
 * task), which task load balancing pulls, which queued task is dispatched,
 * which task an idle CPU pulls. Tasks move between CPUs only as on Linux: by
 * load balancing from a tick and by newidle pulls, either of which may move
 * a task preempted in the middle of a per-CPU access. A tick inside a guard
 * or with IRQs off is deferred as on Linux. The clock advances one cycle per
 * step, so `sleep(n)` lasts `n` steps of the whole machine.
 *
 * ## What "complete" guarantees
 *
 * The bound counts the ticks a run takes (each tick is a preemption request;
 * ticks that would change nothing are never delivered). A complete search
 * with bound `k` has run, for every run of the model with at most `k` ticks,
 * at least one run that orders every pair of dependent steps the same way —
 * so it has reached every final state, every violation kind and every
 * violating step's causal past that some run with at most `k` ticks reaches.
 * (A tick is never tried just before a step that only moves its task along
 * privately — no memory, per-CPU register, preempt count, IRQ flag or run
 * queue touched: the same preemption one step later reaches the same memory
 * and tasks; only the CPUs' tick bookkeeping left at the end can differ.)
 * With `reduction: "none"` it ran every such run. Runs cut off by the cycle
 * limit are counted apart and make the search incomplete, never a
 * violation. Task code between two operations must touch simulated memory
 * only through its context's operations (they are the steps the reduction
 * sees), and must depend only on what they return.
 *
 * @example Find the race, then show the guard removes it
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfs, counterTest, replay } from "@percpu/percpu/sched";
 * const racy = counterTest({ arch: "aarch64" });
 * const found = checkDfs(racy);
 * assert.equal(found.violation?.kind, "wrong-cpu");
 * assert.equal(found.violation?.preemptions, 1);
 * assert.equal(replay(racy, found.violation!.schedule).violation?.kind, "wrong-cpu");
 *
 * const guarded = counterTest({ arch: "aarch64", features: ["preempt"] });
 * const proof = checkDfs(guarded, { maxPreemptions: 2 });
 * assert.equal(proof.violation, null);
 * assert.equal(proof.complete, true);
 * ```
 *
 * @module
 */

import { checkInteger, checkOptions } from "../../lib/_check.ts";
import type { Percpu } from "../../lib/percpu.ts";
import { describeSafely } from "../_safe.ts";
import type { Machine } from "../runtime/machine.ts";
import type { RunStats } from "../runtime/run_stats.ts";
import type { SimEvent } from "../trace/trace.ts";
import { PctChooser, RandomChooser, ReplayChooser, TickCounter } from "./_choices.ts";
import type { Chooser } from "./_driver.ts";
import {
  boundedPasses,
  Explorer,
  exploreSettings,
  type Firsts,
  Limited,
  noteFirsts,
  Progress,
  type Settings,
  smallestViolation,
} from "./_explorer.ts";
import { decodeSchedule } from "./schedule.ts";
import { kindBit, VIOLATION_KINDS, type ViolationKind } from "./violations.ts";

/** A test the explorer can run under many schedules. */
export interface ExploreTest {
  /** A name: part of the fingerprint that ties schedules to the test. */
  readonly name: string;
  /** The per-CPU system, variables defined (the explorer initialises it). */
  readonly percpu: Percpu;
  /** Simulated CPUs (1 to 30). */
  readonly cpus: number;
  /** Spawns the test's tasks on a fresh machine; called once per schedule. */
  spawn(machine: Machine): void;
  /**
   * The invariant, checked when every task has ended (a `lost-update`
   * violation when it fails).
   *
   * @returns A message when it is violated, else `null`.
   */
  check?(machine: Machine): string | null;
  /** Numbers to report with a violation (e.g. expected and observed counts). */
  observe?(machine: Machine): Readonly<Record<string, number>>;
  /** Accept local accesses that hit another CPU's area (default: they are `wrong-cpu` violations). */
  readonly allowWrongCpu?: boolean;
}

/** How {@linkcode checkDfs} reduces the interleavings it runs. */
export type Reduction = "dpor" | "none";

/**
 * Every {@linkcode Reduction}: `dpor` runs one interleaving per class of
 * equivalent ones; `none` runs every interleaving (for comparison).
 */
export const REDUCTIONS: readonly Reduction[] = Object.freeze(["dpor", "none"]);

/** Options of the explorers. */
export interface ExploreOptions {
  /**
   * At most this many preemptions (ticks) per schedule (default 2;
   * `Infinity`: unbounded, for tests whose every run ends).
   */
  readonly maxPreemptions?: number;
  /** `checkDfs`: `dpor` (default) or `none`. */
  readonly reduction?: Reduction;
  /**
   * Which queued task a CPU runs: `fifo` (default) the one that waited
   * longest, as Linux's CFS does for tasks of equal weight — the
   * interleavings come from ticks, balancing and pulls; `any` tries every
   * queued task, as a scheduler with arbitrary priorities could.
   */
  readonly picks?: "fifo" | "any";
  /** The violation kinds that count (default all). */
  readonly violations?: readonly ViolationKind[];
  /**
   * `checkDfs`: explore the whole bounded space even once a violation is
   * found, so that every kind reachable within the bound is reported
   * (default `false`: stop after the smallest bound that has one).
   */
  readonly exhaustive?: boolean;
  /** Stop after this many schedules (default 1 000 000 for DFS, 10 000 otherwise). */
  readonly budget?: number;
  /** Stop after this many milliseconds (default: no limit). */
  readonly timeLimitMs?: number;
  /** Cut a schedule off after this many machine cycles (steps; default 1 000 000): it is then incomplete. */
  readonly maxCycles?: number;
  /** Seed of the randomized searches (default 1). */
  readonly seed?: number;
  /** `checkRandom`: chance to tick where a tick is offered (default 0.1). */
  readonly tickProbability?: number;
  /**
   * `checkDfs`: explore only shard `index` of `count` — a deterministic
   * part of the search; the `count` shards together are the whole search
   * (combine their results with {@linkcode mergeExploreResults}).
   */
  readonly shard?: { readonly index: number; readonly count: number };
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

/**
 * Why a search stopped: it covered everything it was asked to (`complete`),
 * or ran out of schedules (`budget`) or of time (`time`); a parallel or
 * merged search also stops as `failed` when a part of it failed or is
 * missing (what the other parts found is kept).
 */
export type ExploreStopReason = "complete" | "budget" | "time" | "failed";

/** A schedule that breaks the test. */
export interface Violation {
  /** What broke. */
  readonly kind: ViolationKind;
  /** The schedule string; {@linkcode replay} runs it again. */
  readonly schedule: string;
  /** Preemptions (ticks) up to the violating step. */
  readonly preemptions: number;
  /**
   * Instructions executed up to and including the violating one (for
   * `lost-update`, judged at the end: the whole run's).
   */
  readonly steps: number;
  /** Local accesses that hit another CPU's area in the whole run. */
  readonly wrongCpuAccesses: number;
  /** What went wrong in the run, this violation's message first. */
  readonly messages: readonly string[];
  /** The test's `observe()` numbers at the end of the run. */
  readonly details: Readonly<Record<string, number>>;
  /** The run's trace hash. */
  readonly traceHash: string;
}

/** What an exploration found. */
export interface ExploreResult {
  /** The search mode. */
  readonly mode: ExploreMode;
  /** DFS: the reduction (`null` for the randomized modes). */
  readonly reduction: Reduction | null;
  /** Schedules run (including those abandoned as redundant or cut off). */
  readonly schedulesExplored: number;
  /**
   * DFS: every schedule with at most `boundReached` preemptions was covered
   * (the randomized modes are never complete).
   */
  readonly complete: boolean;
  /** Why the search stopped. */
  readonly stopReason: ExploreStopReason;
  /**
   * DFS: the largest bound fully explored (−1 when not even bound 0 was;
   * `Infinity` for a complete unbounded search).
   */
  readonly boundReached: number;
  /** The bound asked for. */
  readonly maxPreemptions: number;
  /** Wall time. */
  readonly elapsedMs: number;
  /** DFS: schedules abandoned because every CPU that could step was asleep (redundant). */
  readonly pruned: number;
  /** Schedules cut off by the cycle limit (incomplete, never violations). */
  readonly cutOff: number;
  /**
   * DFS: distinct equivalence classes among the completed schedules (of
   * the last bound explored; `null` when unknown, e.g. for merged shards).
   */
  readonly equivalenceClasses: number | null;
  /** DFS: distinct final machine states among them (`null` when unknown). */
  readonly finalStates: number | null;
  /** The smallest violation (fewest preemptions, then instructions), or `null`. */
  readonly violation: Violation | null;
  /** The smallest violation of each kind found, in {@linkcode VIOLATION_KINDS} order. */
  readonly violations: readonly Violation[];
  /** The shard explored (`null`: the whole search). */
  readonly shard: { readonly index: number; readonly count: number } | null;
  /** The test's fingerprint (results of different tests are never merged). */
  readonly test: string;
  /**
   * The options besides the bound and the reduction that decide what the
   * search covers (results whose scopes differ are never merged).
   */
  readonly scope: {
    /** The `picks` option. */
    readonly picks: "fifo" | "any";
    /** The violation kinds that counted, in {@linkcode VIOLATION_KINDS} order. */
    readonly violations: readonly ViolationKind[];
    /** The `exhaustive` option. */
    readonly exhaustive: boolean;
    /** The `maxCycles` option. */
    readonly maxCycles: number;
  };
  /**
   * What is missing from a parallel or merged search, one message per part
   * lost (a shard not given, a Worker that failed, and why); empty
   * otherwise. Not empty means `stopReason` is `failed`.
   */
  readonly failures: readonly string[];
}

/** One replayed run. */
export interface ReplayResult {
  /** The machine it ran on (its per-CPU system holds the final memory). */
  readonly machine: Machine;
  /** The run's statistics. */
  readonly stats: RunStats;
  /** Its first violation (in {@linkcode VIOLATION_KINDS} order), or `null` when it passes. */
  readonly violation: Violation | null;
  /** Every kind of violation in the run. */
  readonly violations: readonly Violation[];
  /** The events, when recorded. */
  readonly events: readonly SimEvent[] | null;
  /** Task names by id. */
  readonly taskNames: readonly string[];
}

/**
 * Exhaustive search with partial-order reduction and iterative preemption
 * bounding: every schedule with 0 preemptions, then with at most 1, … up to
 * `maxPreemptions`, each bound explored one run per class of equivalent
 * interleavings (`reduction: "dpor"`) or every interleaving (`"none"`). The
 * first bound with a violation is finished and the search stops there
 * (unless `exhaustive`); each kind's smallest violation is reported —
 * fewest preemptions, then the shortest violating prefix, with a schedule
 * that runs that prefix first.
 *
 * @param test The test.
 * @param options The bound, reduction, kinds, budget, time limit, shard, progress.
 * @returns What was found; `complete` tells whether the bounded space was covered.
 * @throws {TypeError} On a bad test or option type.
 * @throws {RangeError} On an option out of range.
 * @throws {SimulationError} `TestFailed` when the test's own code throws or
 *   `check()` returns something else than `null` or a message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfs, counterTest } from "@percpu/percpu/sched";
 * const test = counterTest({ arch: "riscv64", features: ["preempt"], tasks: 2, iters: 2 });
 * const result = checkDfs(test, { maxPreemptions: Infinity });
 * assert.equal(result.stopReason, "complete");
 * assert.equal(result.violation, null);
 * ```
 */
export function checkDfs(test: ExploreTest, options: ExploreOptions = {}): ExploreResult {
  const settings = exploreSettings(options, "checkDfs", 1_000_000);
  const explorer = new Explorer(test, settings);
  const progress = new Progress("dfs", settings.onProgress);
  const shard = settings.shard;
  const passes = boundedPasses(settings, progress, (bound, budget, deadline) => {
    const split = shard === null ? undefined : {
      depth: explorer.splitDepth(bound, 8 * shard.count),
      own: (prefix: number) => prefix % shard.count === shard.index,
    };
    return explorer.search(bound, budget, deadline, split, (runs) => progress.tick(runs));
  });
  const violations = explorer.violations(passes.result.best);
  return {
    mode: "dfs",
    reduction: settings.reduction,
    schedulesExplored: passes.runs,
    complete: passes.result.stop === "complete" && passes.cutOff === 0,
    stopReason: passes.result.stop,
    boundReached: passes.boundReached,
    maxPreemptions: settings.maxPreemptions,
    elapsedMs: progress.elapsedMs,
    pruned: passes.pruned,
    cutOff: passes.cutOff,
    equivalenceClasses: passes.result.classes.size,
    finalStates: passes.result.finalStates.size,
    violation: smallestViolation(violations),
    violations,
    shard,
    test: explorer.driver.fingerprint,
    scope: scopeOf(settings),
    failures: [],
  };
}

function randomized(
  mode: "random" | "pct",
  test: ExploreTest,
  options: ExploreOptions,
  chooserFor: (run: number, explorer: Explorer) => Chooser,
): ExploreResult {
  const settings = exploreSettings(
    options,
    mode === "random" ? "checkRandom" : "checkPct",
    10_000,
  );
  const explorer = new Explorer(test, settings);
  const driver = explorer.driver;
  const progress = new Progress(mode, settings.onProgress);
  progress.bound = settings.maxPreemptions;
  const deadline = performance.now() + settings.timeLimitMs;
  let found: Violation[] = [];
  let explored = 0;
  let cutOff = 0;
  let stopReason: ExploreStopReason = "budget";
  while (found.length === 0) {
    if (explored >= settings.budget) break;
    if (performance.now() >= deadline) {
      stopReason = "time";
      break;
    }
    driver.start(
      new Limited(chooserFor(explored, explorer), settings.maxPreemptions, settings.picks),
    );
    const firsts: Firsts = new Map();
    while (!driver.done) {
      driver.step(driver.chooseCpu());
      noteFirsts(driver, firsts);
    }
    explored++;
    if (driver.end === "cut-off") cutOff++;
    else found = explorer.violationsOfRun(firsts);
    progress.tick(explored);
  }
  return {
    mode,
    reduction: null,
    schedulesExplored: explored,
    complete: false,
    stopReason,
    boundReached: 0,
    maxPreemptions: settings.maxPreemptions,
    elapsedMs: progress.elapsedMs,
    pruned: 0,
    cutOff,
    equivalenceClasses: null,
    finalStates: null,
    violation: smallestViolation(found),
    violations: found,
    shard: null,
    test: driver.fingerprint,
    scope: scopeOf(settings),
    failures: [],
  };
}

/**
 * The scope a search's result reports.
 *
 * @param settings The search's checked options.
 * @returns Its scope.
 */
export function scopeOf(settings: Settings): ExploreResult["scope"] {
  return {
    picks: settings.picks,
    violations: VIOLATION_KINDS.filter((kind) => (settings.kinds & kindBit(kind)) !== 0),
    exhaustive: settings.exhaustive,
    maxCycles: settings.maxCycles,
  };
}

function runSeed(seed: number, run: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(run, 0xc2b2ae35)) >>> 0;
}

/**
 * Random search: the CPU that steps next and the kernel's choices are
 * uniform among those worth trying; a tick is taken with probability
 * `tickProbability` where one is offered (never beyond `maxPreemptions`).
 * Stops at the first failing schedule.
 *
 * @param test The test.
 * @param options Budget, time limit, seed, bound, probability, kinds.
 * @returns What was found (never complete).
 * @throws {TypeError} On a bad test or option type.
 * @throws {RangeError} On an option out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkRandom, counterTest } from "@percpu/percpu/sched";
 * const result = checkRandom(counterTest({ arch: "riscv64" }), { seed: 3, budget: 500 });
 * assert.equal(result.complete, false);
 * ```
 */
export function checkRandom(test: ExploreTest, options: ExploreOptions = {}): ExploreResult {
  return randomized("random", test, options, (run, explorer) =>
    new RandomChooser(
      runSeed(explorer.settings.seed, run),
      explorer.settings.tickProbability,
    ));
}

/**
 * PCT-style search: each run ticks at `maxPreemptions` tick points chosen
 * uniformly among those a run offers, and makes its other choices at
 * random. Stops at the first failing schedule.
 *
 * @param test The test.
 * @param options Budget, time limit, seed, and the bug depth as `maxPreemptions`.
 * @returns What was found (never complete).
 * @throws {TypeError} On a bad test or option type.
 * @throws {RangeError} On an option out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPct, counterTest } from "@percpu/percpu/sched";
 * const result = checkPct(counterTest({ arch: "aarch64" }), { maxPreemptions: 1, budget: 2000 });
 * assert.ok(result.violation !== null);
 * ```
 */
export function checkPct(test: ExploreTest, options: ExploreOptions = {}): ExploreResult {
  let tickPoints = -1;
  return randomized("pct", test, options, (run, explorer) => {
    const settings = explorer.settings;
    if (tickPoints < 0) {
      const counter = new TickCounter();
      const driver = explorer.driver;
      driver.start(new Limited(counter, Infinity, settings.picks));
      while (!driver.done) driver.step(driver.chooseCpu());
      tickPoints = Math.max(1, counter.tickPoints);
    }
    const depth = settings.maxPreemptions === Infinity ? 1 : settings.maxPreemptions;
    return new PctChooser(runSeed(settings.seed, run), depth, tickPoints);
  });
}

/**
 * Runs one schedule again. The run is identical to the one that produced the
 * schedule: same trace hash, same events.
 *
 * @param test The test the schedule was recorded for.
 * @param schedule A schedule string from a {@linkcode Violation} (or a
 *   finished session).
 * @param options `record` keeps the events (default `true`); `maxCycles`
 *   limits the run (default 10 000 000).
 * @returns The run and its verdict.
 * @throws {SyntaxError} On a malformed or corrupted schedule string.
 * @throws {RangeError} When the schedule was recorded for another test, does
 *   not fit it, is only a prefix of a run, or is an `s1.` string from an
 *   earlier version.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfs, counterTest, replay } from "@percpu/percpu/sched";
 * const test = counterTest({ arch: "riscv64" });
 * const { violation } = checkDfs(test);
 * assert.equal(replay(test, violation!.schedule).stats.traceHash, violation!.traceHash);
 * ```
 */
export function replay(
  test: ExploreTest,
  schedule: string,
  options: { record?: boolean; maxCycles?: number } = {},
): ReplayResult {
  const given = checkOptions(options, ["record", "maxCycles"], "replay");
  const record = given.record ?? true;
  if (typeof record !== "boolean") {
    throw new TypeError(`replay: record must be a boolean, got ${describeSafely(record)}`);
  }
  const maxCycles = checkInteger(given.maxCycles ?? 10_000_000, "replay: maxCycles", 1);
  const decoded = decodeSchedule(schedule);
  const explorer = new Explorer(
    test,
    { ...exploreSettings({}, "replay", 1), maxPreemptions: decoded.maxPreemptions, maxCycles },
    record,
  );
  const driver = explorer.driver;
  if (decoded.fingerprint !== driver.fingerprint) {
    throw new RangeError(
      `the schedule was recorded for another test (fingerprint ${decoded.fingerprint}, this test is ${driver.fingerprint}); use the same options as the exploration`,
    );
  }
  const chooser = new ReplayChooser(decoded);
  driver.start(chooser);
  const firsts: Firsts = new Map();
  while (!driver.done && driver.steps < decoded.steps) {
    driver.step(driver.chooseCpu());
    noteFirsts(driver, firsts);
  }
  const cutOff = driver.done && driver.end === "cut-off" && driver.steps < decoded.steps;
  if (!cutOff) {
    if (!driver.done) {
      throw new RangeError(
        `the schedule is a prefix of a run (${decoded.steps} steps, and the run goes on): continue it in a session (createSession({ test, schedule })) to finish it`,
      );
    }
    if (driver.steps !== decoded.steps || chooser.consumed !== decoded.length) {
      throw new RangeError(
        `the schedule does not fit this test: it has ${decoded.steps} steps and ${decoded.length} choice points, the run had ${driver.steps} and ${chooser.consumed}`,
      );
    }
    if (driver.ticks > decoded.maxPreemptions) {
      throw new RangeError(
        `the schedule takes ${driver.ticks} preemptions, more than its bound ${decoded.maxPreemptions}`,
      );
    }
  }
  const violations = cutOff ? [] : explorer.violationsOfRun(firsts);
  return {
    machine: driver.machine,
    stats: driver.stats(),
    violation: violations[0] ?? null,
    violations,
    events: driver.machine.events,
    taskNames: driver.machine.taskNames,
  };
}
