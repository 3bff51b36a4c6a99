/**
 * The explorers' common machinery: their options, progress reports, the
 * passes of iterative bounding, and turning what a search found into
 * violations with schedule strings.
 *
 * @module
 */

import { checkInteger, checkOneOf, checkOptions } from "../../lib/_check.ts";
import { describeSafely, optionsError } from "../_safe.ts";
import type {
  ExploreMode,
  ExploreOptions,
  ExploreProgress,
  Reduction,
  Violation,
} from "./explore.ts";
import { type CheckedTest, checkTest, type ChoiceKind, type Chooser, Driver } from "./_driver.ts";
import { type Best, type PlannedStep, Search, type SearchResult, smaller } from "./_search.ts";
import { encodeSchedule } from "./schedule.ts";
import { kindBit, kindsOption, VIOLATION_KINDS, type ViolationKind } from "./violations.ts";

/** How a search orders a CPU's queued tasks. */
export type Picks = "fifo" | "any";

/** Every {@linkcode Picks}. */
export const PICKS: readonly Picks[] = Object.freeze(["fifo", "any"]);

const OPTION_KEYS = [
  "maxPreemptions",
  "reduction",
  "picks",
  "violations",
  "exhaustive",
  "budget",
  "timeLimitMs",
  "maxCycles",
  "seed",
  "tickProbability",
  "shard",
  "onProgress",
] as const;

/** The explorers' options, checked. */
export interface Settings {
  readonly maxPreemptions: number;
  readonly reduction: Reduction;
  readonly picks: Picks;
  readonly kinds: number;
  readonly exhaustive: boolean;
  readonly budget: number;
  readonly timeLimitMs: number;
  readonly maxCycles: number;
  readonly seed: number;
  readonly tickProbability: number;
  readonly shard: { readonly index: number; readonly count: number } | null;
  readonly onProgress: ((progress: ExploreProgress) => void) | undefined;
}

function countOrInfinity(value: unknown, what: string, min: number): number {
  return value === Infinity ? Infinity : checkInteger(value, what, min);
}

/**
 * Checks the explorers' options.
 *
 * @param options The options given.
 * @param what The function, for messages.
 * @param defaultBudget The budget when none is given.
 * @returns Every option with its value.
 * @throws {TypeError} On a wrong type, an unknown option, or options that
 *   cannot be read.
 * @throws {RangeError} On a value out of range.
 */
export function exploreSettings(
  options: ExploreOptions | undefined,
  what: string,
  defaultBudget: number,
): Settings {
  try {
    const given = checkOptions(options, OPTION_KEYS, what);
    const exhaustive = given.exhaustive ?? false;
    if (typeof exhaustive !== "boolean") {
      throw new TypeError(`exhaustive must be a boolean, got ${describeSafely(exhaustive)}`);
    }
    const tickProbability = given.tickProbability ?? 0.1;
    if (typeof tickProbability !== "number") {
      throw new TypeError(
        `tickProbability must be a number, got ${describeSafely(tickProbability)}`,
      );
    }
    if (!(tickProbability > 0 && tickProbability <= 1)) {
      throw new RangeError(
        `tickProbability must be in (0, 1], got ${describeSafely(tickProbability)}`,
      );
    }
    const timeLimitMs = given.timeLimitMs ?? Infinity;
    if (typeof timeLimitMs !== "number") {
      throw new TypeError(`timeLimitMs must be a number, got ${describeSafely(timeLimitMs)}`);
    }
    if (!(timeLimitMs > 0)) {
      throw new RangeError(
        `timeLimitMs must be a number of milliseconds > 0, got ${describeSafely(timeLimitMs)}`,
      );
    }
    const onProgress = given.onProgress;
    if (onProgress !== undefined && typeof onProgress !== "function") {
      throw new TypeError(`onProgress must be a function, got ${describeSafely(onProgress)}`);
    }
    return {
      maxPreemptions: countOrInfinity(given.maxPreemptions ?? 2, "maxPreemptions", 0),
      reduction: checkOneOf(given.reduction ?? "dpor", ["dpor", "none"] as const, "reduction"),
      picks: checkOneOf(given.picks ?? "fifo", PICKS, "picks"),
      kinds: kindsOption(given.violations),
      exhaustive,
      budget: countOrInfinity(given.budget ?? defaultBudget, "budget", 1),
      timeLimitMs,
      maxCycles: checkInteger(given.maxCycles ?? 1_000_000, "maxCycles", 1),
      seed: checkInteger(given.seed ?? 1, "seed", Number.MIN_SAFE_INTEGER),
      tickProbability,
      shard: shardOption(given.shard),
      onProgress,
    };
  } catch (error) {
    throw optionsError(what, error);
  }
}

function shardOption(value: unknown): Settings["shard"] {
  if (value === undefined) return null;
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`shard must be an object { index, count }, got ${describeSafely(value)}`);
  }
  const given = checkOptions(
    value as { index?: unknown; count?: unknown },
    ["index", "count"],
    "shard",
  );
  const count = checkInteger(given.count, "shard.count", 1, 1_000_000);
  const index = checkInteger(given.index, "shard.index", 0, count - 1);
  return { index, count };
}

/** Reports progress at most 4 times a second, after the first second. */
export class Progress {
  readonly #start = performance.now();
  readonly #report: Settings["onProgress"];
  readonly #mode: ExploreMode;
  #last = 0;
  /** The bound being explored. */
  bound = 0;
  /** Schedules run in earlier passes. */
  before = 0;

  constructor(mode: ExploreMode, report: Settings["onProgress"]) {
    this.#mode = mode;
    this.#report = report;
  }

  get elapsedMs(): number {
    return performance.now() - this.#start;
  }

  tick(runs: number): void {
    if (this.#report === undefined || (runs & 63) !== 0) return;
    const elapsedMs = this.elapsedMs;
    if (elapsedMs < 1000 || elapsedMs - this.#last < 250) return;
    this.#last = elapsedMs;
    this.#report({
      mode: this.#mode,
      schedulesExplored: this.before + runs,
      elapsedMs,
      bound: this.bound,
    });
  }
}

/** Answers a plan's kernel choices, step by step. */
class PlanChooser implements Chooser {
  #step: PlannedStep | null = null;
  #position = 0;

  next(step: PlannedStep): void {
    this.#step = step;
    this.#position = 0;
  }

  choose(count: number, kind: ChoiceKind): number {
    const step = this.#step!;
    // Whether a deferred tick is offered may depend on the order of the
    // run (nothing the search takes depends on it); one is never taken.
    if (kind !== "deferred-tick" && step.kinds[this.#position] === "deferred-tick") {
      this.#position++;
    }
    if (kind === "deferred-tick") {
      if (step.kinds[this.#position] === kind) this.#position++;
      return 0;
    }
    if (step.kinds[this.#position] !== kind || step.values[this.#position] >= count) {
      throw new Error(`internal error: a planned ${kind} choice does not fit its run`);
    }
    return step.values[this.#position++];
  }
}

/** A chooser that never ticks beyond a bound, and keeps queues FIFO if asked. */
export class Limited implements Chooser {
  readonly #inner: Chooser;
  readonly #bound: number;
  readonly #fifo: boolean;
  #ticks = 0;

  constructor(inner: Chooser, bound: number, picks: Picks) {
    this.#inner = inner;
    this.#bound = bound;
    this.#fifo = picks === "fifo";
  }

  choose(count: number, kind: ChoiceKind, from: number): number {
    if (kind === "pick" && this.#fifo) return 0;
    if (kind !== "tick") return this.#inner.choose(count, kind, from);
    if (this.#ticks >= this.#bound) return 0;
    const value = this.#inner.choose(count, kind, from);
    this.#ticks += value;
    return value;
  }
}

/** Where each kind of violation appeared first in a run. */
export type Firsts = Map<ViolationKind, { preemptions: number; steps: number }>;

/**
 * Notes the kinds that appeared in the driver's last step.
 *
 * @param driver The driver.
 * @param firsts Where each kind appeared first so far.
 */
export function noteFirsts(driver: Driver, firsts: Firsts): void {
  if (driver.newKinds === 0) return;
  const at = { preemptions: driver.ticks, steps: driver.stats().instructions };
  for (const kind of VIOLATION_KINDS) {
    if ((driver.newKinds & kindBit(kind)) !== 0 && !firsts.has(kind)) firsts.set(kind, at);
  }
}

/** The explorer's machinery for one test. */
export class Explorer {
  readonly test: CheckedTest;
  readonly driver: Driver;
  readonly settings: Settings;

  /**
   * @param test The test given (checked here).
   * @param settings The checked options.
   * @param record Keep the events of each run.
   */
  constructor(test: unknown, settings: Settings, record = false) {
    this.test = checkTest(test);
    this.settings = settings;
    this.driver = new Driver(this.test, record, settings.maxCycles);
  }

  /**
   * Runs a plan and describes its violation of `kind`.
   *
   * @param kind What broke.
   * @param best Where and how.
   * @returns The violation.
   */
  violationOf(kind: ViolationKind, best: Best): Violation {
    const driver = this.driver;
    const chooser = new PlanChooser();
    driver.logChoices = true;
    driver.start(chooser);
    for (const step of best.plan) {
      chooser.next(step);
      driver.step(step.cpu);
    }
    if (!driver.done || driver.end !== "completed") {
      throw new Error("internal error: a violation's plan did not complete its run");
    }
    return this.describe(kind, best.preemptions, best.steps);
  }

  /**
   * The violation of `kind` in the run the driver just finished.
   *
   * @param kind What broke.
   * @param preemptions Ticks up to where it broke.
   * @param steps Instructions up to where it broke.
   * @returns The violation.
   */
  describe(kind: ViolationKind, preemptions: number, steps: number): Violation {
    const driver = this.driver;
    const stats = driver.stats();
    const messages = driver.messages(this.settings.kinds);
    const first = messages.get(kind)!;
    return {
      kind,
      schedule: encodeSchedule(
        driver.fingerprint,
        Math.max(this.settings.maxPreemptions, driver.ticks),
        driver.steps,
        driver.choices,
      ),
      preemptions,
      steps,
      wrongCpuAccesses: stats.wrongCpuAccesses,
      messages: [first, ...[...messages.values()].filter((m) => m !== first)],
      details: driver.observe(),
      traceHash: stats.traceHash,
    };
  }

  /**
   * Every violation of the run the driver just finished, with where each
   * appeared first.
   *
   * @param firsts Where kinds appeared first (a `lost-update` is judged at the end).
   * @returns The violations, in kind order.
   */
  violationsOfRun(firsts: Firsts): Violation[] {
    const out: Violation[] = [];
    for (const kind of this.driver.messages(this.settings.kinds).keys()) {
      const at = firsts.get(kind) ??
        { preemptions: this.driver.ticks, steps: this.driver.stats().instructions };
      out.push(this.describe(kind, at.preemptions, at.steps));
    }
    return sortViolations(out);
  }

  /**
   * The violations a search found.
   *
   * @param best The smallest of each kind.
   * @returns The violations, in kind order.
   */
  violations(best: ReadonlyMap<ViolationKind, Best>): Violation[] {
    return sortViolations([...best].map(([kind, b]) => this.violationOf(kind, b)));
  }

  /**
   * One search of one bound.
   *
   * @param bound The bound.
   * @param budget Runs left.
   * @param deadline When to stop.
   * @param split Explore only some subtrees.
   * @param onRun Called after each run.
   * @returns What it found.
   */
  search(
    bound: number,
    budget: number,
    deadline: number,
    split?: { readonly depth: number; readonly own: (prefix: number) => boolean },
    onRun?: (runs: number) => void,
  ): SearchResult {
    return new Search(this.driver, {
      bound,
      reduction: this.settings.reduction,
      picks: this.settings.picks,
      kinds: this.settings.kinds,
      budget,
      deadline,
      split,
      onRun,
    }).run();
  }

  /**
   * How deep the search of a bound is split so that there are at least
   * `target` prefixes (or as many as there are).
   *
   * @param bound The bound.
   * @param target How many prefixes are wanted.
   * @returns The depth.
   */
  splitDepth(bound: number, target: number): number {
    let previous = -1;
    for (let depth = 1; depth <= 64; depth++) {
      const count = this.search(bound, Infinity, Infinity, { depth, own: () => false }).prefixes;
      if (count >= target || count === previous) return depth;
      previous = count;
    }
    return 64;
  }
}

/**
 * Sorts violations by kind.
 *
 * @param violations Some violations.
 * @returns The same array, sorted.
 */
export function sortViolations(violations: Violation[]): Violation[] {
  return violations.sort((a, b) =>
    VIOLATION_KINDS.indexOf(a.kind) - VIOLATION_KINDS.indexOf(b.kind)
  );
}

/**
 * The smallest of some violations: fewest preemptions, then instructions.
 *
 * @param violations Some violations.
 * @returns The smallest, or `null`.
 */
export function smallestViolation(violations: readonly Violation[]): Violation | null {
  let best: Violation | null = null;
  for (const v of violations) if (smaller(v, best ?? undefined)) best = v;
  return best;
}

/** What iterative bounding found over its passes. */
export interface Passes {
  /** The last pass's result. */
  readonly result: SearchResult;
  /** The largest bound fully explored. */
  readonly boundReached: number;
  /** Runs over all passes. */
  readonly runs: number;
  /** Redundant runs over all passes. */
  readonly pruned: number;
  /** Cut-off runs over all passes. */
  readonly cutOff: number;
}

/**
 * Iterative bounding: bound 0, 1, … up to the bound asked for, stopping
 * after the first bound that has a violation (unless exhaustive); or one
 * pass at the bound when exhaustive or unbounded.
 *
 * @param settings The options.
 * @param progress Where progress goes.
 * @param pass Runs one pass.
 * @returns What the passes found.
 */
export function boundedPasses(
  settings: Settings,
  progress: Progress,
  pass: (bound: number, budget: number, deadline: number) => SearchResult,
): Passes {
  const max = settings.maxPreemptions;
  const single = settings.exhaustive || max === Infinity;
  const deadline = performance.now() + settings.timeLimitMs;
  let runs = 0;
  let pruned = 0;
  let cutOff = 0;
  let boundReached = -1;
  let result: SearchResult | null = null;
  for (let bound = single ? max : 0; bound <= max; bound++) {
    progress.bound = bound;
    progress.before = runs;
    result = pass(bound, settings.budget - runs, deadline);
    runs += result.runs;
    pruned += result.blocked;
    cutOff += result.cutOff;
    if (result.stop !== "complete") break;
    boundReached = bound;
    if (result.best.size > 0 || single) break;
  }
  return { result: result!, boundReached, runs, pruned, cutOff };
}
