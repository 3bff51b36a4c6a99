/**
 * The scheduler's one primitive: step one CPU. A step is whatever
 * scheduling happens at the CPU's next instruction boundary, then at most
 * one instruction:
 *
 * 1. **Tick.** If the running task has executed an instruction since it was
 *    dispatched, a tick pending since IRQs came back on is delivered, or the
 *    timer may fire ({@linkcode Decisions.tick}). With IRQs disabled the tick
 *    stays pending. Otherwise the handler sets need-resched when another
 *    task is runnable on the CPU (always under `stress`), and under
 *    `preemptive` balances load ({@linkcode Decisions.balance}); the return
 *    from the tick is a preemption point: with need-resched set and a
 *    preempt count of 0 the task is preempted (back on its CPU's queue; on
 *    the queue {@linkcode Decisions.migrate} names under `stress`), else the
 *    tick is deferred to the next preemption point.
 * 2. **Dispatch.** A CPU with no running task picks the next queued task
 *    ({@linkcode Decisions.pick}); with an empty queue it may pull one from
 *    another CPU ({@linkcode Decisions.newidle}), or stays idle.
 * 3. **Run.** A task between accesses runs its code up to its next request
 *    (a `yield`, sleep or exit ends the step there); then the task executes
 *    one instruction. A preemption point passed on the way — a guard
 *    released to a preempt count of 0, a tick delivered when IRQs came back
 *    on — switches tasks at once when need-resched is set.
 *
 * A dispatched task therefore always executes an instruction (or gives up
 * the CPU) before a tick can take the CPU away again: no schedule can
 * preempt forever without progress.
 *
 * @module
 */

import { describeSafely } from "../_safe.ts";
import type { Decisions, Policy } from "./decisions.ts";
import type { Executor } from "./_executor.ts";
import type { Kernel } from "./_kernel.ts";
import type { Lifecycle } from "./_lifecycle.ts";
import type { RunQueues } from "./_run_queues.ts";
import type { RunState, SimCpu, SimTask } from "./_state.ts";
import type { StepOffers } from "./_step_offers.ts";
import {
  STEP_BALANCE,
  STEP_DISPATCH,
  STEP_IDLE,
  STEP_NEWIDLE,
  STEP_PREEMPT,
  STEP_TICK,
  STEP_TICK_DEFERRED,
  type StepRecord,
} from "./_step_record.ts";

/** An index a {@linkcode Decisions} method returned, checked. */
function checkChoice(value: unknown, method: string, min: number, below: number): number {
  if (typeof value !== "number") {
    throw new TypeError(`decisions.${method} must return a number, got ${describeSafely(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value >= below) {
    throw new RangeError(
      `decisions.${method} must return an integer from ${min} to ${below - 1}, got ${
        describeSafely(value)
      }`,
    );
  }
  return value;
}

/** Steps CPUs: ticks, preemption, dispatch, load balancing, instructions. */
export class Scheduler {
  readonly #state: RunState;
  readonly #cpus: readonly SimCpu[];
  readonly #kernel: Kernel;
  readonly #queues: RunQueues;
  readonly #lifecycle: Lifecycle;
  readonly #executor: Executor;
  readonly #timer: boolean;
  readonly #stress: boolean;
  readonly #balancing: boolean;
  /** Who makes the choices; replaced when the machine starts over. */
  decisions: Decisions;

  constructor(
    state: RunState,
    cpus: readonly SimCpu[],
    kernel: Kernel,
    queues: RunQueues,
    lifecycle: Lifecycle,
    executor: Executor,
    policy: Policy,
    decisions: Decisions,
  ) {
    this.#state = state;
    this.#cpus = cpus;
    this.#kernel = kernel;
    this.#queues = queues;
    this.#lifecycle = lifecycle;
    this.#executor = executor;
    this.#timer = policy !== "cooperative";
    this.#stress = policy === "stress";
    this.#balancing = policy === "preemptive" && cpus.length > 1;
    this.decisions = decisions;
  }

  /**
   * Steps one CPU: the scheduling at its next boundary, then at most one
   * instruction.
   *
   * @param cpu The CPU.
   * @param record Where the step is described, or `null`.
   */
  step(cpu: SimCpu, record: StepRecord | null): void {
    if (record !== null) record.begin(cpu.id);
    let task = cpu.current;
    if (task !== null && cpu.ran) {
      if (cpu.tickDue) {
        cpu.tickDue = false;
        this.#tick(cpu, task, record);
        task = cpu.current;
      } else if (this.#timer && this.#askTick(cpu, task)) {
        this.#tick(cpu, task, record);
        task = cpu.current;
      }
    }
    if (task === null) {
      task = this.#dispatch(cpu, record);
      if (task === null) return;
    }
    if (record !== null) record.task = task.id;
    const kernel = this.#kernel;
    kernel.running = cpu;
    if (task.request === null) {
      if (!this.#lifecycle.fetch(cpu, task, record)) {
        kernel.running = null;
        return;
      }
      if (cpu.tickDue) {
        // IRQs came back on in the task's code with a tick pending: it is
        // delivered now, before the access's first instruction.
        cpu.tickDue = false;
        this.#tick(cpu, task, record);
        if (cpu.current !== task) {
          kernel.running = null;
          return;
        }
      }
      if (cpu.preemptPoint && this.#preemptionPoint(cpu, task, record)) {
        kernel.running = null;
        return;
      }
    }
    this.#execute(cpu, task, record);
    kernel.running = null;
  }

  /**
   * What the next step of `cpu` would meet, without taking it: the same
   * conditions `step` tests, read only.
   *
   * @param cpu The CPU.
   * @param out Where to write.
   */
  offers(cpu: SimCpu, out: StepOffers): void {
    const task = cpu.current;
    out.running = task !== null;
    out.queued = cpu.queue.length;
    out.tickAsked = task !== null && cpu.ran && this.#timer && !cpu.tickDue;
    out.irqEnabled = cpu.irqEnabled;
    out.pendingTick = cpu.pendingTick;
    out.needResched = cpu.needResched;
    out.preemptCount = task?.preemptCount ?? 0;
    out.balance = 0;
    out.newidle = 0;
    if (out.tickAsked && cpu.irqEnabled && this.#balancing) {
      const candidates = this.#queues.candidates(cpu, "busiest", null);
      if (this.#queues.busiestLoad - cpu.load >= 1) out.balance = candidates;
    } else if (task === null && cpu.queue.length === 0 && this.#cpus.length > 1) {
      out.newidle = this.#queues.candidates(cpu, this.#stress ? "any" : "busiest", null);
    }
  }

  #askTick(cpu: SimCpu, task: SimTask): boolean {
    const answer = this.decisions.tick(cpu.id, task.preemptCount === 0 && cpu.irqEnabled);
    if (typeof answer !== "boolean") {
      throw new TypeError(`decisions.tick must return a boolean, got ${describeSafely(answer)}`);
    }
    return answer;
  }

  #execute(cpu: SimCpu, task: SimTask, record: StepRecord | null): void {
    const state = this.#state;
    const executor = this.#executor;
    if (record !== null) {
      executor.record = record;
      record.instruction = task.insns[task.pc].insn.text;
      record.executed = true;
    }
    try {
      executor.execute(task, cpu);
    } catch (error) {
      // A faulting instruction did not execute, but the task made progress:
      // its code is told about the fault.
      if (record !== null) executor.record = null;
      cpu.ran = true;
      this.#lifecycle.fault(cpu, task, error, record);
      if (cpu.current === task && cpu.preemptPoint) this.#preemptionPoint(cpu, task, record);
      return;
    }
    if (record !== null) executor.record = null;
    state.instructions++;
    cpu.ran = true;
    if (++task.pc === task.insns.length) this.#lifecycle.complete(task);
    if (cpu.preemptPoint) this.#preemptionPoint(cpu, task, record);
  }

  /**
   * A preemption point was passed: switch when need-resched is set and the
   * task is preemptible.
   *
   * @returns Whether the task was switched out.
   */
  #preemptionPoint(cpu: SimCpu, task: SimTask, record: StepRecord | null): boolean {
    cpu.preemptPoint = false;
    if (!cpu.needResched || task.preemptCount !== 0 || !cpu.irqEnabled) return false;
    return this.#preempt(cpu, task, record);
  }

  /** A tick arrives at a boundary of the running task. */
  #tick(cpu: SimCpu, task: SimTask, record: StepRecord | null): void {
    const state = this.#state;
    if (!cpu.irqEnabled) {
      cpu.pendingTick = true;
      state.trace.tick(state.cycle, cpu.id, task.id, "deferred-irq");
      if (record !== null) record.events |= STEP_TICK_DEFERRED;
      return;
    }
    if (record !== null) {
      record.events |= STEP_TICK;
      record.queuesRead[cpu.id] = 1;
    }
    if (this.#stress || cpu.queue.length > 0) cpu.needResched = true;
    if (this.#balancing) this.#balance(cpu, record);
    if (cpu.needResched && task.preemptCount !== 0) {
      state.trace.tick(state.cycle, cpu.id, task.id, "deferred-guard");
    } else if (cpu.needResched && (this.#stress || cpu.queue.length > 0)) {
      state.trace.tick(state.cycle, cpu.id, task.id, "preempt");
      this.#preempt(cpu, task, record);
    } else {
      // Nothing else to run here (a need-resched left from earlier finds
      // the queue empty again): `schedule()` would pick this task again.
      cpu.needResched = false;
      state.trace.tick(state.cycle, cpu.id, task.id, "alone");
    }
  }

  /** Periodic load balancing from a tick on `cpu`. */
  #balance(cpu: SimCpu, record: StepRecord | null): void {
    const queues = this.#queues;
    const candidates = queues.candidates(cpu, "busiest", record);
    const imbalance = queues.busiestLoad - cpu.load;
    if (candidates === 0 || imbalance < 1) return;
    const k = checkChoice(
      this.decisions.balance(cpu.id, candidates, imbalance),
      "balance",
      -1,
      candidates,
    );
    if (k < 0) return;
    this.#pull(cpu, k, "balance", record);
    cpu.needResched = true;
  }

  #pull(cpu: SimCpu, k: number, reason: "balance" | "newidle", record: StepRecord | null): void {
    const state = this.#state;
    const { task, from } = this.#queues.pull(cpu, k, record);
    state.pulls++;
    state.trace.pull(state.cycle, cpu.id, task.id, from.id, reason);
    if (record !== null) record.events |= reason === "balance" ? STEP_BALANCE : STEP_NEWIDLE;
  }

  /**
   * Switches the running task out at a preemption point. Under `preemptive`
   * and `cooperative` a lone task keeps its CPU (`schedule()` picks it
   * again): that is not a preemption.
   *
   * @returns Whether the task was switched out.
   */
  #preempt(cpu: SimCpu, task: SimTask, record: StepRecord | null): boolean {
    const state = this.#state;
    cpu.needResched = false;
    let target = cpu;
    if (this.#stress) {
      const cpus = this.#cpus;
      if (cpus.length > 1) {
        const to = checkChoice(
          this.decisions.migrate(cpu.id, cpus.length),
          "migrate",
          0,
          cpus.length,
        );
        target = cpus[to];
      }
    } else if (cpu.queue.length === 0) {
      return false;
    }
    cpu.current = null;
    cpu.preemptPoint = false;
    task.state = "ready";
    this.#queues.enqueue(target, task, record);
    state.preemptions++;
    state.trace.preempt(state.cycle, cpu.id, task.id, target.id);
    if (record !== null) record.events |= STEP_PREEMPT;
    return true;
  }

  /** Puts the next task on an idle CPU, pulling one from another CPU if need be. */
  #dispatch(cpu: SimCpu, record: StepRecord | null): SimTask | null {
    const state = this.#state;
    const queue = cpu.queue;
    if (record !== null) record.queuesRead[cpu.id] = 1;
    if (queue.length === 0 && this.#cpus.length > 1) {
      const candidates = this.#queues.candidates(cpu, this.#stress ? "any" : "busiest", record);
      if (candidates > 0) {
        const k = checkChoice(
          this.decisions.newidle(cpu.id, candidates, state.queueEpoch),
          "newidle",
          -1,
          candidates,
        );
        if (k >= 0) this.#pull(cpu, k, "newidle", record);
      }
    }
    if (queue.length === 0) {
      if (record !== null) record.events |= STEP_IDLE;
      return null;
    }
    const index = queue.length === 1
      ? 0
      : checkChoice(this.decisions.pick(cpu.id, queue.length), "pick", 0, queue.length);
    const task = this.#queues.take(cpu, index, record);
    if (task.lastCpu >= 0 && task.lastCpu !== cpu.id) {
      state.migrations++;
      state.trace.migrate(state.cycle, cpu.id, task.id, task.lastCpu);
    }
    if (cpu.last !== task) state.contextSwitches++;
    cpu.current = task;
    cpu.last = task;
    cpu.ran = false;
    cpu.needResched = false;
    cpu.preemptPoint = false;
    task.lastCpu = cpu.id;
    task.state = "running";
    state.trace.dispatch(state.cycle, cpu.id, task.id);
    if (record !== null) record.events |= STEP_DISPATCH;
    return task;
  }

  /**
   * Ends a machine cycle: the clock advances and sleepers whose time has
   * come join the queue of the CPU they last ran on.
   *
   * @param record Where the queues it changes are noted, or `null`.
   */
  endCycle(record: StepRecord | null): void {
    const state = this.#state;
    state.cycle++;
    const sleepers = state.sleepers;
    if (sleepers.length === 0) return;
    for (let i = 0; i < sleepers.length;) {
      const task = sleepers[i];
      if (task.wakeAt > state.cycle) {
        i++;
        continue;
      }
      sleepers.splice(i, 1);
      task.state = "ready";
      this.#queues.enqueue(this.#cpus[task.lastCpu], task, record);
    }
  }
}
