/**
 * Per-CPU run queues: FIFO queues of runnable tasks, and the candidates a
 * CPU may pull from the others.
 *
 * Linux pulls from the *busiest* CPU: periodic load balancing (from the
 * tick) when the busiest CPU runs more tasks than this one, and newidle
 * balancing when this one is about to go idle. Only queued tasks move —
 * never a running one — and a queued task may be one preempted in the
 * middle of a per-CPU access. The candidates are the queued tasks of every
 * CPU tied for busiest, in CPU order and then oldest first.
 *
 * @module
 */

import type { RunState, SimCpu, SimTask } from "./_state.ts";
import type { StepRecord } from "./_step_record.ts";

/**
 * Removes and returns `queue[index]`, keeping the order of the rest. Run
 * queues are short: moving the tail down by hand and popping the last slot
 * beats `shift()`, `splice()` and shrinking `length`, which are builtin calls.
 */
function removeAt<T>(queue: T[], index: number): T {
  const item = queue[index];
  const last = queue.length - 1;
  for (let i = index; i < last; i++) queue[i] = queue[i + 1];
  queue.pop();
  return item;
}

/** The machine's run queues. */
export class RunQueues {
  readonly #state: RunState;
  readonly #cpus: readonly SimCpu[];
  /** Load of the CPUs the last {@linkcode RunQueues.candidates} call counted from (−1: any). */
  #fromLoad = -1;
  /** Load of the busiest CPU at the last {@linkcode RunQueues.candidates} call. */
  busiestLoad = 0;

  /**
   * Creates the queues' operations over a machine's CPUs.
   *
   * @param state The run (its queue epoch).
   * @param cpus The CPUs, each holding its queue.
   */
  constructor(state: RunState, cpus: readonly SimCpu[]) {
    this.#state = state;
    this.#cpus = cpus;
  }

  /**
   * Queues a task at the back of a CPU's run queue.
   *
   * @param cpu The CPU.
   * @param task The task.
   * @param record Where the step is described, or `null`.
   */
  enqueue(cpu: SimCpu, task: SimTask, record: StepRecord | null): void {
    cpu.queue.push(task);
    this.#state.queueEpoch++;
    if (record !== null) record.queuesWritten[cpu.id] = 1;
  }

  /**
   * Takes the task at `index` off a CPU's run queue.
   *
   * @param cpu The CPU.
   * @param index A position in its queue.
   * @param record Where the step is described, or `null`.
   * @returns The task.
   */
  take(cpu: SimCpu, index: number, record: StepRecord | null): SimTask {
    if (record !== null) record.queuesWritten[cpu.id] = 1;
    return removeAt(cpu.queue, index);
  }

  /**
   * Counts the tasks `to` may pull: the queued tasks of the busiest other
   * CPUs (`busiest`), or of every other CPU (`any`, the stress policy).
   * Reads every run queue.
   *
   * @param to The pulling CPU.
   * @param scope `busiest` or `any`.
   * @param record Where the step is described, or `null`.
   * @returns How many candidates; {@linkcode RunQueues.busiestLoad} holds the
   *   busiest CPU's load.
   */
  candidates(to: SimCpu, scope: "busiest" | "any", record: StepRecord | null): number {
    const cpus = this.#cpus;
    let busiest = 0;
    let count = 0;
    for (let i = 0; i < cpus.length; i++) {
      const cpu = cpus[i];
      const queued = cpu.queue.length;
      if (cpu === to || queued === 0) continue;
      const load = cpu.current === null ? queued : queued + 1;
      if (scope === "any") {
        count += queued;
        if (load > busiest) busiest = load;
      } else if (load > busiest) {
        busiest = load;
        count = queued;
      } else if (load === busiest) {
        count += queued;
      }
    }
    if (record !== null) record.queuesRead.fill(1);
    this.busiestLoad = busiest;
    this.#fromLoad = scope === "any" ? -1 : busiest;
    return count;
  }

  /**
   * Moves the `k`-th candidate of the last {@linkcode RunQueues.candidates}
   * call to the back of `to`'s queue.
   *
   * @param to The pulling CPU.
   * @param k An index below the candidate count.
   * @param record Where the step is described, or `null`.
   * @returns The task and the CPU it was queued on.
   */
  pull(to: SimCpu, k: number, record: StepRecord | null): { task: SimTask; from: SimCpu } {
    for (const from of this.#cpus) {
      if (from === to || from.queue.length === 0) continue;
      if (this.#fromLoad >= 0 && from.load !== this.#fromLoad) continue;
      if (k < from.queue.length) {
        const task = this.take(from, k, record);
        this.enqueue(to, task, record);
        return { task, from };
      }
      k -= from.queue.length;
    }
    throw new RangeError(`no pull candidate ${k}`);
  }
}
