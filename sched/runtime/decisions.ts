/**
 * Where the simulated machine's nondeterminism is decided. Every choice the
 * machine makes — does a timer tick fire at this instruction boundary, where
 * does a preempted task go, which queued task runs, does an idle CPU steal —
 * is asked of a {@linkcode Decisions} object. {@linkcode SeededPolicy} makes
 * them with a timer and a seeded PRNG (`sim`); the explorer makes them to
 * enumerate schedules.
 *
 * @module
 */

import { valueText } from "../../lib/_describe.ts";
import { Prng } from "./prng.ts";

/** The machine's choice points. */
export interface Decisions {
  /**
   * Called at every instruction boundary of a running task: does a timer
   * tick fire now? (The machine defers it when the task is not preemptible.)
   *
   * @param cpu The CPU.
   * @param preemptible Whether a tick would preempt right now.
   * @returns `true` to tick.
   */
  tick(cpu: number, preemptible: boolean): boolean;
  /**
   * A task was preempted on `cpu`: which CPU's run queue does it join?
   *
   * @param cpu The CPU it ran on.
   * @param cpus The number of CPUs.
   * @returns A CPU id.
   */
  migrate(cpu: number, cpus: number): number;
  /**
   * An idle CPU with an empty queue: steal the `k`-th task queued elsewhere
   * (in CPU order), or return −1 to stay idle this cycle.
   *
   * @param cpu The idle CPU.
   * @param candidates How many tasks wait on other CPUs (≥ 1).
   * @param epoch Changes whenever any run queue gains a task, so a decision
   *   to stay idle can be kept until there is something new to steal.
   * @returns An index below `candidates`, or −1.
   */
  steal(cpu: number, candidates: number, epoch: number): number;
  /**
   * Which of the `n` tasks queued on `cpu` runs next (0 is the oldest).
   *
   * @param cpu The CPU.
   * @param n The queue length (≥ 2).
   * @returns An index below `n`.
   */
  pick(cpu: number, n: number): number;
}

/** When a CPU switches tasks on its own. */
export type Policy = "cooperative" | "preemptive";

/** Every {@linkcode Policy}. */
export const POLICIES: readonly Policy[] = Object.freeze(["cooperative", "preemptive"]);

/** Options of {@linkcode SeededPolicy}. */
export interface SeededPolicyOptions {
  /** `cooperative`: no timer; `preemptive`: a tick every `quantum` instructions. */
  readonly policy: Policy;
  /** Mean instructions between ticks on a CPU (jittered ±50%). */
  readonly quantum: number;
  /** The PRNG seed. */
  readonly seed: number;
  /** Probability that a preempted task is queued on another CPU. */
  readonly migration: number;
  /** Probability that an idle CPU steals a queued task in a given cycle. */
  readonly steal: number;
  /** Number of CPUs. */
  readonly cpus: number;
}

/**
 * The `sim` decisions: a per-CPU timer counting instructions, with seeded
 * jitter, and seeded migration and stealing. FIFO run queues.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SeededPolicy } from "./decisions.ts";
 * const policy = new SeededPolicy({
 *   policy: "preemptive", quantum: 4, seed: 1, migration: 0.5, steal: 0.5, cpus: 2,
 * });
 * let ticks = 0;
 * for (let i = 0; i < 400; i++) if (policy.tick(0)) ticks++;
 * assert.ok(ticks > 50 && ticks < 200); // about one per 4 instructions
 * ```
 */
export class SeededPolicy implements Decisions {
  readonly #prng: Prng;
  readonly #preemptive: boolean;
  readonly #quantum: number;
  readonly #migration: number;
  readonly #steal: number;
  readonly #countdown: number[];

  /**
   * Creates the policy.
   *
   * @param options Policy, quantum, seed, probabilities, CPU count.
   * @throws {RangeError} On a quantum below 1 or a probability outside [0, 1].
   */
  constructor(options: SeededPolicyOptions) {
    if (!Number.isSafeInteger(options.quantum) || options.quantum < 1) {
      throw new RangeError(`quantum must be a positive integer, got ${valueText(options.quantum)}`);
    }
    for (const key of ["migration", "steal"] as const) {
      const p = options[key];
      if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
        throw new RangeError(`${key} must be a probability from 0 to 1, got ${valueText(p)}`);
      }
    }
    this.#prng = new Prng(options.seed);
    this.#preemptive = options.policy === "preemptive";
    this.#quantum = options.quantum;
    this.#migration = options.migration;
    this.#steal = options.steal;
    this.#countdown = Array.from({ length: options.cpus }, () => this.#interval());
  }

  #interval(): number {
    const half = this.#quantum >> 1;
    return this.#quantum - half + this.#prng.below(2 * half + 1);
  }

  /**
   * Counts down the CPU's timer; ticks when it reaches zero (never under
   * `cooperative`).
   *
   * @param cpu The CPU.
   * @returns `true` when the timer fires.
   */
  tick(cpu: number): boolean {
    if (!this.#preemptive || --this.#countdown[cpu] > 0) return false;
    this.#countdown[cpu] = this.#interval();
    return true;
  }

  /**
   * Keeps the task on its CPU, or with probability `migration` moves it to
   * another CPU chosen uniformly.
   *
   * @param cpu The CPU it ran on.
   * @param cpus The number of CPUs.
   * @returns The CPU whose queue it joins.
   */
  migrate(cpu: number, cpus: number): number {
    if (cpus === 1 || !this.#prng.chance(this.#migration)) return cpu;
    const other = this.#prng.below(cpus - 1);
    return other >= cpu ? other + 1 : other;
  }

  /**
   * With probability `steal`, takes a uniformly chosen waiting task.
   *
   * @param _cpu The idle CPU.
   * @param candidates How many tasks wait elsewhere.
   * @returns An index, or −1.
   */
  steal(_cpu: number, candidates: number): number {
    return this.#prng.chance(this.#steal) ? this.#prng.below(candidates) : -1;
  }

  /**
   * FIFO: the oldest queued task.
   *
   * @returns 0.
   */
  pick(): number {
    return 0;
  }
}
