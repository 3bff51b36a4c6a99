/**
 * Choosers that make a whole run's choices on their own: replaying a
 * schedule, at random, or PCT-style. The exhaustive search chooses itself
 * (`_search.ts`).
 *
 * @module
 */

import { Prng } from "../runtime/prng.ts";
import type { ChoiceKind, Chooser } from "./_driver.ts";
import type { Schedule } from "./schedule.ts";

/** Replays the choices of a schedule string. */
export class ReplayChooser implements Chooser {
  readonly #schedule: Schedule;
  /** The next pair of `positions`/`values`. */
  #pair = 0;
  #position = 0;

  /**
   * Creates the chooser.
   *
   * @param schedule The decoded schedule.
   */
  constructor(schedule: Schedule) {
    this.#schedule = schedule;
  }

  /** How many choices were consumed. */
  get consumed(): number {
    return this.#position;
  }

  /**
   * The recorded choice.
   *
   * @param count The number of options.
   * @param kind What it decides.
   * @returns The choice.
   * @throws {RangeError} When the recording does not fit this run.
   */
  choose(count: number, kind: ChoiceKind): number {
    const schedule = this.#schedule;
    const position = this.#position++;
    if (position >= schedule.length) {
      throw new RangeError(
        `the schedule does not fit this test: the run meets a ${kind} choice at choice point ${position}, the schedule has ${schedule.length}`,
      );
    }
    let value = 0;
    if (schedule.positions[this.#pair] === position) value = schedule.values[this.#pair++];
    if (value >= count) {
      throw new RangeError(
        `the schedule does not fit this test: ${kind} choice point ${position} has ${count} options, the schedule says ${value}`,
      );
    }
    return value;
  }
}

/** Uniformly random choices among those worth trying; a tick is taken with a fixed probability. */
export class RandomChooser implements Chooser {
  readonly #prng: Prng;
  readonly #tickProbability: number;

  /**
   * Creates the chooser.
   *
   * @param seed PRNG seed.
   * @param tickProbability Chance to tick where a tick is offered.
   */
  constructor(seed: number, tickProbability: number) {
    this.#prng = new Prng(seed);
    this.#tickProbability = tickProbability;
  }

  /**
   * A random option.
   *
   * @param count The number of options.
   * @param kind What it decides.
   * @param from The first option worth trying.
   * @returns The choice.
   */
  choose(count: number, kind: ChoiceKind, from: number): number {
    if (kind === "deferred-tick") return 0;
    if (kind === "tick") return this.#prng.chance(this.#tickProbability) ? 1 : 0;
    return from + this.#prng.below(count - from);
  }
}

/**
 * Probabilistic concurrency testing (PCT) adapted to preemptions: the run
 * ticks at a few randomly chosen tick points (the "change points") and
 * takes the other choices at random. A bug that needs `d` preemptions is
 * found with probability at least about 1 / k^d per run, k being the number
 * of tick points.
 */
export class PctChooser implements Chooser {
  readonly #prng: Prng;
  readonly #changePoints: Set<number>;
  #ticks = 0;

  /**
   * Creates the chooser for one run.
   *
   * @param seed PRNG seed (vary it per run).
   * @param depth Preemptions to place.
   * @param tickPoints How many tick points a run offers (estimated).
   */
  constructor(seed: number, depth: number, tickPoints: number) {
    this.#prng = new Prng(seed);
    this.#changePoints = new Set();
    const span = Math.max(tickPoints, 1);
    while (this.#changePoints.size < Math.min(depth, span)) {
      this.#changePoints.add(this.#prng.below(span));
    }
  }

  /**
   * Ticks at the change points; random elsewhere.
   *
   * @param count The number of options.
   * @param kind What it decides.
   * @param from The first option worth trying.
   * @returns The choice.
   */
  choose(count: number, kind: ChoiceKind, from: number): number {
    if (kind === "deferred-tick") return 0;
    if (kind === "tick") return this.#changePoints.has(this.#ticks++) ? 1 : 0;
    return from + this.#prng.below(count - from);
  }
}

/** Counts the tick points of a run that never ticks (and otherwise picks the first option worth trying). */
export class TickCounter implements Chooser {
  /** Tick points met. */
  tickPoints = 0;

  /**
   * No tick; the first option worth trying otherwise.
   *
   * @param _count The number of options.
   * @param kind What it decides.
   * @param from The first option worth trying.
   * @returns The choice.
   */
  choose(_count: number, kind: ChoiceKind, from: number): number {
    if (kind === "tick") this.tickPoints++;
    return kind === "tick" || kind === "deferred-tick" ? 0 : from;
  }
}
