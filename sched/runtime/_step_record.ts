/**
 * What one step of one CPU did, for the schedule explorer's partial-order
 * reduction and for a playground: the CPU and task, the instruction, the
 * simulated bytes it read and wrote, the run queues the step's scheduling
 * read or changed, and what the scheduler did at the boundary. The caller
 * owns one record and passes it to every step it wants described; the
 * machine only writes into it, so describing steps allocates nothing.
 *
 * Two steps are dependent when they touch the same bytes with at least one
 * write, or the same CPU's state (every step touches its own CPU's per-CPU
 * register, preempt count, IRQ flag and need-resched), or the same run
 * queue with at least one change.
 *
 * @module
 */

/** A tick was delivered at the boundary (by the timer, or when IRQs came back on). */
export const STEP_TICK = 1 << 0;
/** A tick arrived while IRQs were disabled and was left pending. */
export const STEP_TICK_DEFERRED = 1 << 1;
/** The running task was preempted. */
export const STEP_PREEMPT = 1 << 2;
/** A task was dispatched (picked from the CPU's queue). */
export const STEP_DISPATCH = 1 << 3;
/** Periodic load balancing pulled a queued task to this CPU. */
export const STEP_BALANCE = 1 << 4;
/** The CPU, about to go idle, pulled a queued task (newidle balancing). */
export const STEP_NEWIDLE = 1 << 5;
/** The task's code ran up to its next request (the generator was resumed). */
export const STEP_RESUME = 1 << 6;
/** The task gave up the CPU (`sched_yield`). */
export const STEP_YIELD = 1 << 7;
/** The task went to sleep. */
export const STEP_SLEEP = 1 << 8;
/** The task ended (returned or failed). */
export const STEP_EXIT = 1 << 9;
/** Nothing to run: the CPU stayed idle. */
export const STEP_IDLE = 1 << 10;

/** One step's description, reused from step to step. */
export class StepRecord {
  /** The CPU stepped. */
  cpu = -1;
  /** The task that ran on it during the step, or −1 (idle). */
  task = -1;
  /** The instruction executed, or `""` when the step executed none. */
  instruction = "";
  /** Whether an instruction was executed. */
  executed = false;
  /** Address of the bytes the instruction read, or −1. */
  readAddress = -1;
  /** How many bytes it read (0 for none). */
  readSize = 0;
  /** Address of the bytes it wrote, or −1. */
  writeAddress = -1;
  /** How many bytes it wrote (0 for none). */
  writeSize = 0;
  /** The instruction wrote a system register (a per-CPU register of this CPU). */
  wroteSysreg = false;
  /**
   * The instruction copied this CPU's per-CPU register into a task register
   * (`mrs`, `mv a0, gp`, …): what it got depends on the CPU it ran on.
   */
  readPercpuReg = false;
  /** `queuesRead[c]` is 1 when the step's scheduling read CPU `c`'s run queue. */
  readonly queuesRead: Uint8Array;
  /** `queuesWritten[c]` is 1 when the step changed CPU `c`'s run queue. */
  readonly queuesWritten: Uint8Array;
  /** What the scheduler did: a union of the `STEP_*` flags. */
  events = 0;

  /**
   * Creates a record for a machine's CPUs.
   *
   * @param cpus The machine's CPU count.
   */
  constructor(cpus: number) {
    this.queuesRead = new Uint8Array(cpus);
    this.queuesWritten = new Uint8Array(cpus);
  }

  /**
   * Clears the record for a new step.
   *
   * @param cpu The CPU about to step.
   */
  begin(cpu: number): void {
    this.cpu = cpu;
    this.task = -1;
    this.instruction = "";
    this.executed = false;
    this.readAddress = -1;
    this.readSize = 0;
    this.writeAddress = -1;
    this.writeSize = 0;
    this.wroteSysreg = false;
    this.readPercpuReg = false;
    this.queuesRead.fill(0);
    this.queuesWritten.fill(0);
    this.events = 0;
  }
}
