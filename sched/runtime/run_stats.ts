/**
 * What a run of the machine did: its counters, the misuse the simulated
 * kernel reported, the tasks that failed, and whether it finished.
 *
 * @module
 */

import type { AccessEvent } from "../trace/trace.ts";
import type { Trace } from "../trace/trace.ts";

/**
 * Why a run stopped:
 * - `completed`: every task ended;
 * - `cycle-limit`: the machine reached `maxCycles` first;
 * - `system-reinitialized`: the per-CPU system was initialised again during
 *   the run (its areas were copied over or moved), so nothing after that
 *   point can be trusted;
 * - `stopped`: whoever was stepping the machine (the schedule explorer) stopped
 *   before the tasks ended.
 *
 * Only a `completed` run has a verdict; the others are incomplete.
 */
export type StopReason = "completed" | "cycle-limit" | "system-reinitialized" | "stopped";

/** A misuse the simulated kernel reported, as Linux would print it. */
export interface Misuse {
  /**
   * Which rule was broken:
   * - `scheduling-while-atomic`: `sched_yield`/sleep with a non-zero preempt count;
   * - `exit-preempt-count`: a task ended with a non-zero preempt count;
   * - `preempt-underflow`: `enable_preempt()` with a preempt count of 0;
   * - `irqs-disabled`: a task gave up its CPU or ended with local IRQs disabled.
   */
  readonly kind:
    | "scheduling-while-atomic"
    | "exit-preempt-count"
    | "preempt-underflow"
    | "irqs-disabled";
  /** Machine cycle. */
  readonly cycle: number;
  /** The CPU. */
  readonly cpu: number;
  /** The task's name. */
  readonly task: string;
  /** The kernel's message. */
  readonly message: string;
}

/** A task that failed; the others ran on. */
export interface TaskFailure {
  /** The task's name. */
  readonly task: string;
  /** The CPU it was running on. */
  readonly cpu: number;
  /** What went wrong. */
  readonly message: string;
  /**
   * The error: what the task threw when it was an `Error`, else a
   * `SimulationError` naming the task (with what it threw as `cause`).
   */
  readonly error: unknown;
}

/** What a run did. */
export interface RunStats {
  /** Machine cycles (each CPU executes at most one instruction per cycle). */
  readonly cycles: number;
  /** Instructions executed over all CPUs. */
  readonly instructions: number;
  /** Involuntary switches at a preemption point after a tick. */
  readonly preemptions: number;
  /** Dispatches of a task on a different CPU than it last ran on. */
  readonly migrations: number;
  /** Dispatches of a different task than the CPU ran before. */
  readonly contextSwitches: number;
  /** Queued tasks moved to another CPU's run queue by load balancing or an idle pull. */
  readonly pulls: number;
  /** Local per-CPU accesses that hit another CPU's area or none. */
  readonly wrongCpuAccesses: number;
  /** Reported misuse (scheduling while atomic, underflow, …). */
  readonly misuses: readonly Misuse[];
  /** Tasks that failed. */
  readonly failures: readonly TaskFailure[];
  /** Every task ended (`stopReason` is `completed`). */
  readonly completed: boolean;
  /** Why the run stopped. */
  readonly stopReason: StopReason;
  /** Hash of the whole trace. */
  readonly traceHash: string;
  /** The first wrong-CPU access, or `null`. */
  readonly firstViolation: AccessEvent | null;
}

/** A run's statistics; the trace hash is formatted only when asked for. */
export class Stats implements RunStats {
  readonly completed: boolean;
  readonly #trace: Trace;

  constructor(
    readonly cycles: number,
    readonly instructions: number,
    readonly preemptions: number,
    readonly migrations: number,
    readonly contextSwitches: number,
    readonly pulls: number,
    readonly wrongCpuAccesses: number,
    readonly misuses: readonly Misuse[],
    readonly failures: readonly TaskFailure[],
    readonly stopReason: StopReason,
    trace: Trace,
    readonly firstViolation: AccessEvent | null,
  ) {
    this.completed = stopReason === "completed";
    this.#trace = trace;
  }

  get traceHash(): string {
    return this.#trace.hash;
  }
}
