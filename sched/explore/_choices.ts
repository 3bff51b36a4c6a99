/**
 * Decisions made by choosing: the explorer's side of {@linkcode Decisions}.
 * Each choice point asks a {@linkcode Chooser} for an index; the choices are
 * recorded so the run can be written as a schedule and replayed.
 *
 * Only ticks cost preemption budget (as in CHESS's context bounding); a tick
 * is offered only where it would preempt right away. Migration targets,
 * queue picks, load balancing and idle pulls are free choices; an idle CPU
 * is offered a pull only when the run queues have changed since it last
 * declined.
 *
 * @module
 */

import type { Decisions } from "../runtime/decisions.ts";
import { Prng } from "../runtime/prng.ts";

/** What a choice decides. */
export type ChoiceKind = "tick" | "migrate" | "newidle" | "balance" | "pick";

/** Picks an option at each choice point. */
export interface Chooser {
  /**
   * Chooses one of `count` options (0 is the default: no tick, stay, no
   * pull, oldest task).
   *
   * @param count The number of options, ≥ 2.
   * @param kind What the choice decides.
   * @returns An index below `count`.
   */
  choose(count: number, kind: ChoiceKind): number;
  /** Whether the next choice replays a recorded one (the explorer does not prune there). */
  readonly replaying: boolean;
}

/** Thrown out of a run to abandon it (a state already explored). */
export const PRUNED: unique symbol = Symbol("pruned");

/** Options of {@linkcode ChoiceDecisions}. */
export interface ChoiceDecisionsOptions {
  /** At most this many preemptions per run. */
  readonly maxPreemptions: number;
  /**
   * Asked at each fresh tick choice point; returning `true` abandons the run
   * by throwing {@linkcode PRUNED}.
   */
  readonly prune?: (cpu: number, preemptions: number, stealMemo: readonly number[]) => boolean;
}

/** The machine's decisions, taken by a chooser and recorded. */
export class ChoiceDecisions implements Decisions {
  /** The choice made at each choice point, in order. */
  readonly choices: number[] = [];
  /** Preemptions chosen so far. */
  preemptions = 0;
  /** The bound. */
  readonly maxPreemptions: number;
  readonly #chooser: Chooser;
  readonly #prune: ChoiceDecisionsOptions["prune"];
  readonly #stealMemo: number[] = [];

  /**
   * Creates the decisions for one run.
   *
   * @param chooser Who chooses.
   * @param options The preemption bound and the pruning hook.
   */
  constructor(chooser: Chooser, options: ChoiceDecisionsOptions) {
    this.#chooser = chooser;
    this.maxPreemptions = options.maxPreemptions;
    this.#prune = options.prune;
  }

  #take(count: number, kind: ChoiceKind): number {
    const choice = this.#chooser.choose(count, kind);
    this.choices.push(choice);
    return choice;
  }

  /**
   * Offers a preemption where the task is preemptible and budget remains.
   *
   * @param cpu The CPU.
   * @param preemptible Whether a tick would preempt now.
   * @returns Whether to tick.
   */
  tick(cpu: number, preemptible: boolean): boolean {
    if (!preemptible || this.preemptions >= this.maxPreemptions) return false;
    if (
      this.#prune && !this.#chooser.replaying &&
      this.#prune(cpu, this.preemptions, this.#stealMemo)
    ) {
      throw PRUNED;
    }
    if (this.#take(2, "tick") === 0) return false;
    this.preemptions++;
    return true;
  }

  /**
   * Chooses the queue a preempted task joins: 0 keeps it on its CPU.
   *
   * @param cpu The CPU it ran on.
   * @param cpus The number of CPUs.
   * @returns The target CPU.
   */
  migrate(cpu: number, cpus: number): number {
    return cpus === 1 ? cpu : (cpu + this.#take(cpus, "migrate")) % cpus;
  }

  /**
   * Offers an idle CPU a pull when the queues changed since it declined.
   *
   * @param cpu The idle CPU.
   * @param candidates How many tasks it may pull.
   * @param epoch The machine's queue epoch.
   * @returns An index, or −1.
   */
  newidle(cpu: number, candidates: number, epoch: number): number {
    if (this.#stealMemo[cpu] === epoch) return -1;
    const choice = this.#take(candidates + 1, "newidle");
    if (choice === 0) this.#stealMemo[cpu] = epoch;
    return choice - 1;
  }

  /**
   * Chooses whether periodic load balancing pulls a task, and which.
   *
   * @param _cpu The balancing CPU.
   * @param candidates How many tasks it may pull.
   * @returns An index, or −1.
   */
  balance(_cpu: number, candidates: number): number {
    return this.#take(candidates + 1, "balance") - 1;
  }

  /**
   * Chooses which queued task runs.
   *
   * @param _cpu The CPU.
   * @param n The queue length.
   * @returns An index below `n`.
   */
  pick(_cpu: number, n: number): number {
    return this.#take(n, "pick");
  }
}

/**
 * Depth-first enumeration of choice sequences: each run replays the recorded
 * prefix, then takes option 0 at new choice points; {@linkcode DfsChooser.advance}
 * moves to the next unexplored sequence.
 */
export class DfsChooser implements Chooser {
  readonly #stack: { value: number; count: number }[] = [];
  #position = 0;

  /** Whether the next choice is within the recorded prefix. */
  get replaying(): boolean {
    return this.#position < this.#stack.length;
  }

  /**
   * Replays or extends the current sequence.
   *
   * @param count The number of options.
   * @returns The choice.
   * @throws {Error} When a replayed point offers a different number of
   *   options: the test is not deterministic.
   */
  choose(count: number): number {
    const position = this.#position++;
    const recorded = this.#stack[position];
    if (recorded === undefined) {
      this.#stack.push({ value: 0, count });
      return 0;
    }
    if (recorded.count !== count) {
      throw new Error(
        `nondeterministic test: choice point ${position} offered ${count} options, ${recorded.count} before; tasks must depend only on simulated memory`,
      );
    }
    return recorded.value;
  }

  /**
   * Moves to the next sequence in depth-first order.
   *
   * @returns `false` when every sequence has been explored.
   */
  advance(): boolean {
    const stack = this.#stack;
    stack.length = Math.min(stack.length, this.#position);
    this.#position = 0;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.value + 1 < top.count) {
        top.value++;
        return true;
      }
      stack.pop();
    }
    return false;
  }
}

/** Uniformly random choices; a tick is taken with a fixed probability. */
export class RandomChooser implements Chooser {
  readonly #prng: Prng;
  readonly #tickProbability: number;

  /**
   * Creates the chooser.
   *
   * @param seed PRNG seed.
   * @param tickProbability Chance to preempt at each offered boundary.
   */
  constructor(seed: number, tickProbability: number) {
    this.#prng = new Prng(seed);
    this.#tickProbability = tickProbability;
  }

  /** Never replays. */
  get replaying(): boolean {
    return false;
  }

  /**
   * A random option.
   *
   * @param count The number of options.
   * @param kind What the choice decides.
   * @returns The choice.
   */
  choose(count: number, kind: ChoiceKind): number {
    if (kind === "tick") return this.#prng.chance(this.#tickProbability) ? 1 : 0;
    return this.#prng.below(count);
  }
}

/**
 * Probabilistic concurrency testing (PCT) adapted to preemptions: the run
 * preempts at a few randomly chosen tick points (the "change points"), and
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

  /** Never replays. */
  get replaying(): boolean {
    return false;
  }

  /**
   * Preempts at the change points; random elsewhere.
   *
   * @param count The number of options.
   * @param kind What the choice decides.
   * @returns The choice.
   */
  choose(count: number, kind: ChoiceKind): number {
    if (kind === "tick") return this.#changePoints.has(this.#ticks++) ? 1 : 0;
    return this.#prng.below(count);
  }
}

/** Replays recorded choices. */
export class ReplayChooser implements Chooser {
  readonly #choices: readonly number[];
  #position = 0;

  /**
   * Creates the chooser.
   *
   * @param choices The choices to replay, in order.
   */
  constructor(choices: readonly number[]) {
    this.#choices = choices;
  }

  /** Always replays (within the recording). */
  get replaying(): boolean {
    return true;
  }

  /** How many choices were consumed. */
  get consumed(): number {
    return this.#position;
  }

  /**
   * The recorded choice.
   *
   * @param count The number of options.
   * @returns The choice.
   * @throws {RangeError} When the recording does not fit this run.
   */
  choose(count: number): number {
    const position = this.#position++;
    const choice = this.#choices[position] ?? 0;
    if (choice >= count || position >= this.#choices.length) {
      throw new RangeError(
        `the schedule does not fit this scenario: choice point ${position} has ${count} options, the schedule ${
          position >= this.#choices.length ? "has ended" : `says ${choice}`
        }`,
      );
    }
    return choice;
  }
}
