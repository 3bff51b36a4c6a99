/**
 * The machine's state: its CPUs, its tasks and the run's counters, shared by
 * the scheduler, the kernel, the task lifecycle and the executor. Plain
 * classes with fixed fields, so the per-instruction paths stay monomorphic.
 *
 * @module
 */

import type { CpuContext } from "../../lib/_cpu_context.ts";
import { REG_COUNT } from "../../lib/isa/isa.ts";
import type { DecodedInsn, RegisterFile } from "./_executor.ts";
import type { AccessRequest } from "./_requests.ts";
import type { TaskContext } from "./task.ts";
import { Hasher } from "../trace/_hasher.ts";
import { type AccessEvent, Trace } from "../trace/trace.ts";
import type { Misuse, StopReason, TaskFailure } from "./run_stats.ts";

/** Where a task is in its life. */
export type TaskState = "ready" | "running" | "sleeping" | "done" | "failed";

/** Every {@linkcode TaskState}, in the order state fingerprints number them. */
export const TASK_STATES: readonly TaskState[] = Object.freeze([
  "ready",
  "running",
  "sleeping",
  "done",
  "failed",
]);

const NO_INSNS: readonly DecodedInsn[] = Object.freeze([]);

/** A task: its generator, its saved registers and its kernel state. */
export class SimTask implements RegisterFile {
  readonly regs: unknown[] = new Array(REG_COUNT).fill(0);
  carry = 0;
  state: TaskState = "ready";
  /** The access being executed, or `null` between accesses. */
  request: AccessRequest | null = null;
  /** The decoded instructions of `request`. */
  insns: readonly DecodedInsn[] = NO_INSNS;
  /** The next instruction of `insns`. */
  pc = 0;
  /** What the generator is resumed with next (an access's result). */
  resume: unknown = undefined;
  /** The task's preempt count (`preempt_count()`), carried across CPUs. */
  preemptCount = 0;
  /** The CPU it last ran on, or −1 before its first dispatch. */
  lastCpu = -1;
  /** For a sleeping task: the cycle it wakes at. */
  wakeAt = 0;
  /** Generator resumptions, and a hash of the values given (for state fingerprints). */
  resumes = 0;
  readonly resumeHash: Hasher = new Hasher();

  constructor(
    readonly id: number,
    readonly name: string,
    readonly context: TaskContext,
    readonly generator: Iterator<unknown, unknown, unknown>,
  ) {}
}

/** A CPU: its registers, its run queue and its interrupt and scheduling flags. */
export class SimCpu {
  /** Tasks waiting to run here, oldest first. */
  readonly queue: SimTask[] = [];
  /** The running task. */
  current: SimTask | null = null;
  /** The task that ran here last (a dispatch of another one is a context switch). */
  last: SimTask | null = null;
  /** Local IRQs enabled. */
  irqEnabled = true;
  /** A tick arrived while IRQs were disabled: delivered when they are re-enabled. */
  pendingTick = false;
  /** IRQs were re-enabled with a tick pending: it is delivered at the next boundary. */
  tickDue = false;
  /** `TIF_NEED_RESCHED`: switch at the next preemption point. */
  needResched = false;
  /** A preemption point (`preempt_enable()` to 0) was passed since the last boundary. */
  preemptPoint = false;
  /**
   * The running task executed an instruction since it was dispatched. Ticks
   * wait for it, so a dispatched task always makes progress before a tick
   * can take the CPU away again.
   */
  ran = false;

  constructor(readonly id: number, readonly context: CpuContext) {}

  /** Runnable tasks here (`nr_running`): the running one and the queued ones. */
  get load(): number {
    return this.queue.length + (this.current === null ? 0 : 1);
  }
}

/** The counters and lists of one run; reset in place when the machine starts over. */
export class RunState {
  trace: Trace;
  cycle = 0;
  instructions = 0;
  preemptions = 0;
  migrations = 0;
  contextSwitches = 0;
  pulls = 0;
  wrongCpuAccesses = 0;
  misuses: Misuse[] = [];
  failures: TaskFailure[] = [];
  firstViolation: AccessEvent | null = null;
  /** Changes whenever a run queue gains a task. */
  queueEpoch = 0;
  /** Tasks that have not ended. */
  live = 0;
  tasks: SimTask[] = [];
  sleepers: SimTask[] = [];
  /** Why the run stopped early, or `null`. */
  stopped: StopReason | null = null;
  /** Hash the values tasks are resumed with (only the explorer's fingerprints need them). */
  hashResumes = false;

  constructor(readonly record: boolean) {
    this.trace = new Trace(record);
  }

  /** Forgets the run: no tasks, zero counters, an empty trace. */
  reset(): void {
    this.trace = new Trace(this.record);
    this.cycle = 0;
    this.instructions = 0;
    this.preemptions = 0;
    this.migrations = 0;
    this.contextSwitches = 0;
    this.pulls = 0;
    this.wrongCpuAccesses = 0;
    this.misuses = [];
    this.failures = [];
    this.firstViolation = null;
    this.queueEpoch = 0;
    this.live = 0;
    this.tasks = [];
    this.sleepers = [];
    this.stopped = null;
  }
}
