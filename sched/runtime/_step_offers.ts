/**
 * What the next step of one CPU would meet, read without stepping: whether
 * a task runs there and how many wait, whether the timer would be asked for
 * a tick and what the tick would find, and how many tasks load balancing or
 * a newidle pull could choose from. The schedule explorer decides from it
 * which choices are worth offering; a playground shows it. The caller owns
 * one and passes it to every query, so asking allocates nothing.
 *
 * @module
 */

/** One CPU's next step, as far as it can be known before taking it. */
export class StepOffers {
  /** A task is running on the CPU. */
  running = false;
  /** Tasks waiting on the CPU's run queue. */
  queued = 0;
  /**
   * `Decisions.tick` would be asked at this boundary: a task runs, it has
   * executed an instruction since it was dispatched, the policy has a timer,
   * and no tick is already due.
   */
  tickAsked = false;
  /** Local IRQs are enabled (a tick is delivered now, else left pending). */
  irqEnabled = true;
  /** A tick is already pending, waiting for IRQs. */
  pendingTick = false;
  /** Need-resched is already set. */
  needResched = false;
  /** The running task's preempt count. */
  preemptCount = 0;
  /**
   * Tasks a load balance from a tick here would choose among (0 when the
   * tick would not balance: no timer, IRQs off, the policy does not
   * balance, or no busier CPU has a queued task).
   */
  balance = 0;
  /** Tasks a newidle pull would choose among (0 unless the CPU is idle with an empty queue). */
  newidle = 0;

  /** Runnable tasks on the CPU (`nr_running`): the running one and the queued ones. */
  get load(): number {
    return this.queued + (this.running ? 1 : 0);
  }
}
