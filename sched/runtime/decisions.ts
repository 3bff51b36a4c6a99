/**
 * Where the simulated machine's nondeterminism is decided. Every choice the
 * scheduler makes — does a timer tick fire at this instruction boundary,
 * which queued task runs, does load balancing or an idle CPU pull a task
 * from another CPU, where does the stress policy send a preempted task — is
 * asked of a {@linkcode Decisions} object. {@linkcode SeededPolicy} makes
 * them with a timer and a seeded PRNG (`sim`); the schedule explorer makes
 * them to enumerate schedules.
 *
 * @module
 */

import { checkInteger, checkOneOf } from "../../lib/_check.ts";
import { describeSafely } from "../_safe.ts";
import { Prng } from "./prng.ts";

/**
 * The machine's choice points. The machine asks only where a choice exists
 * (e.g. `pick` with two or more queued tasks, `newidle` with at least one
 * candidate) and checks every answer: a wrong type is a `TypeError`, an
 * out-of-range index a `RangeError`, thrown out of `run()`. An exception a
 * method throws also propagates out of `run()` (the explorer abandons a
 * schedule that way).
 *
 * @example Run two tasks on one CPU without ever ticking
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u8 } from "@percpu/percpu";
 * import { type Decisions, Machine } from "@percpu/percpu/sched";
 * const percpu = createPercpu({ arch: "riscv64" });
 * percpu.defPercpu("X", u8, 0);
 * const never: Decisions = {
 *   tick: () => false,
 *   pick: () => 0,
 *   balance: () => -1,
 *   newidle: () => -1,
 *   migrate: (cpu) => cpu,
 * };
 * const machine = new Machine({ percpu, cpus: 1, decisions: never });
 * machine.spawn(function* () { yield; });
 * machine.spawn(function* () { yield; });
 * assert.equal(machine.run().preemptions, 0);
 * ```
 */
export interface Decisions {
  /**
   * At an instruction boundary of a running task that has executed at
   * least one instruction since it was dispatched: does a timer tick fire
   * now? Never asked under `cooperative`. What the tick does is the
   * machine's business: with IRQs disabled it stays pending; otherwise the
   * tick sets need-resched when another task is runnable on the CPU (always,
   * under `stress`), may balance load, and the return from it switches
   * tasks when need-resched is set and the preempt count is 0.
   *
   * @param cpu The CPU.
   * @param preemptible Whether the task could be switched out right now:
   *   preempt count 0 and IRQs enabled.
   * @returns `true` to tick.
   */
  tick(cpu: number, preemptible: boolean): boolean;
  /**
   * Which of the `n` tasks queued on `cpu` runs next (0 is the oldest).
   *
   * @param cpu The CPU.
   * @param n The queue length (≥ 2).
   * @returns An index below `n`.
   */
  pick(cpu: number, n: number): number;
  /**
   * Periodic load balancing, from a tick on `cpu` (`preemptive` only): pull
   * the `k`-th queued task of the busiest CPUs (in CPU order, oldest first)
   * to `cpu`'s queue, or −1 to leave the queues alone.
   *
   * @param cpu The CPU whose tick balances.
   * @param candidates Queued tasks on the busiest CPUs (≥ 1).
   * @param imbalance How many more runnable tasks the busiest CPU has than
   *   `cpu` (≥ 1; Linux moves a task at 2 or more, and at 1 only after
   *   earlier attempts failed).
   * @returns An index below `candidates`, or −1.
   */
  balance(cpu: number, candidates: number, imbalance: number): number;
  /**
   * Newidle balancing: `cpu` has nothing to run. Pull the `k`-th candidate
   * (the queued tasks of the busiest CPUs; of every other CPU under
   * `stress`), or −1 to stay idle for this step.
   *
   * @param cpu The idle CPU.
   * @param candidates How many tasks may be pulled (≥ 1).
   * @param epoch Changes whenever any run queue gains a task, so a decision
   *   to stay idle can be kept until there is something new to pull.
   * @returns An index below `candidates`, or −1.
   */
  newidle(cpu: number, candidates: number, epoch: number): number;
  /**
   * `stress` only: a task was preempted on `cpu`; which CPU's run queue
   * does it join?
   *
   * @param cpu The CPU it ran on.
   * @param cpus The number of CPUs (≥ 2).
   * @returns A CPU id.
   */
  migrate(cpu: number, cpus: number): number;
}

/**
 * How the CPUs switch tasks on their own:
 * - `preemptive` (Linux-like): a timer tick preempts a task only when
 *   another task is runnable on its CPU; a preempted task stays on its CPU's
 *   queue; tasks move between CPUs only by load balancing (from the tick) and
 *   by newidle pulls;
 * - `cooperative`: no timer; tasks switch only at `sched_yield`, sleep and
 *   exit; idle CPUs still pull queued tasks;
 * - `stress`: every tick preempts, even a lone task, and a preempted task is
 *   queued on a random CPU (probability `migration`); idle CPUs steal any
 *   queued task. Far more migrations than Linux would make: for shaking out
 *   races, not for realistic numbers.
 */
export type Policy = "cooperative" | "preemptive" | "stress";

/**
 * Every {@linkcode Policy}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { POLICIES } from "@percpu/percpu/sched";
 * assert.deepEqual(POLICIES, ["cooperative", "preemptive", "stress"]);
 * ```
 */
export const POLICIES: readonly Policy[] = Object.freeze(["cooperative", "preemptive", "stress"]);

/** Options of {@linkcode SeededPolicy}. */
export interface SeededPolicyOptions {
  /** The policy: whether and how the timer ticks. */
  readonly policy: Policy;
  /** Mean instructions between ticks on a CPU (jittered ±50%). */
  readonly quantum: number;
  /** The PRNG seed. */
  readonly seed: number;
  /** `stress`: probability that a preempted task is queued on another CPU. */
  readonly migration: number;
  /** Probability that an idle CPU pulls a waiting task at a given step. */
  readonly steal: number;
  /** Number of CPUs. */
  readonly cpus: number;
}

/**
 * Ticks between two periodic load-balancing attempts on a busy CPU. Linux
 * balances a busy CPU's lowest domain every few milliseconds scaled by a
 * busy factor: several ticks apart, never at every tick.
 */
export const BALANCE_TICKS = 4;

/**
 * The `sim` decisions: a per-CPU timer counting instructions with seeded
 * jitter, FIFO run queues, load balancing every {@linkcode BALANCE_TICKS}
 * ticks of a CPU (an imbalance of 1 is acted on only at the second attempt,
 * as Linux's `nr_balance_failed` does), and seeded idle pulls and stress
 * migrations.
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
  readonly #timer: boolean;
  readonly #quantum: number;
  readonly #migration: number;
  readonly #steal: number;
  readonly #countdown: number[];
  readonly #sinceBalance: number[];
  readonly #balanceFailed: boolean[];

  /**
   * Creates the policy.
   *
   * @param options Policy, quantum, seed, probabilities, CPU count.
   * @throws {TypeError} On an option of the wrong type.
   * @throws {RangeError} On a quantum below 1 or a probability outside [0, 1].
   */
  constructor(options: SeededPolicyOptions) {
    const policy = checkOneOf(options.policy, POLICIES, "policy");
    this.#quantum = checkInteger(options.quantum, "quantum", 1, 1_000_000);
    this.#migration = probability(options.migration, "migration");
    this.#steal = probability(options.steal, "steal");
    this.#prng = new Prng(options.seed);
    this.#timer = policy !== "cooperative";
    this.#countdown = Array.from({ length: options.cpus }, () => this.#interval());
    this.#sinceBalance = new Array(options.cpus).fill(0);
    this.#balanceFailed = new Array(options.cpus).fill(false);
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
    if (!this.#timer || --this.#countdown[cpu] > 0) return false;
    this.#countdown[cpu] = this.#interval();
    this.#sinceBalance[cpu]++;
    return true;
  }

  /**
   * FIFO: the oldest queued task.
   *
   * @returns 0.
   */
  pick(): number {
    return 0;
  }

  /**
   * Balances every {@linkcode BALANCE_TICKS} ticks of the CPU: pulls a
   * uniformly chosen candidate when the imbalance is 2 or more, or when it
   * is 1 and the previous attempt found it too.
   *
   * @param cpu The balancing CPU.
   * @param candidates Queued tasks on the busiest CPUs.
   * @param imbalance The busiest CPU's load minus this one's.
   * @returns An index, or −1.
   */
  balance(cpu: number, candidates: number, imbalance: number): number {
    if (this.#sinceBalance[cpu] < BALANCE_TICKS) return -1;
    this.#sinceBalance[cpu] = 0;
    if (imbalance < 2 && !this.#balanceFailed[cpu]) {
      this.#balanceFailed[cpu] = true;
      return -1;
    }
    this.#balanceFailed[cpu] = false;
    return this.#prng.below(candidates);
  }

  /**
   * With probability `steal`, pulls a uniformly chosen candidate.
   *
   * @param _cpu The idle CPU.
   * @param candidates How many tasks may be pulled.
   * @returns An index, or −1.
   */
  newidle(_cpu: number, candidates: number): number {
    return this.#prng.chance(this.#steal) ? this.#prng.below(candidates) : -1;
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
    if (!this.#prng.chance(this.#migration)) return cpu;
    const other = this.#prng.below(cpus - 1);
    return other >= cpu ? other + 1 : other;
  }
}

function probability(value: unknown, what: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`${what} must be a number from 0 to 1, got ${describeSafely(value)}`);
  }
  if (!(value >= 0 && value <= 1)) {
    throw new RangeError(`${what} must be a probability from 0 to 1, got ${describeSafely(value)}`);
  }
  return value;
}
