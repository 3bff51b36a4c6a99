/**
 * The simulated kernel's per-CPU state changes: preempt counts, local IRQs
 * and the misuse Linux reports. While the machine runs it is the installed
 * `KernelGuardIf`, so `NoPreempt`, `IrqSave` and friends act on the CPU
 * whose task is executing.
 *
 * Preemption points follow Linux: `enable_preempt()` bringing the count to 0
 * marks one (the switch happens at the next instruction boundary, since the
 * task's code between two `yield`s runs at once); re-enabling IRQs with a
 * tick pending delivers that tick at the next boundary, and the return from
 * it is one. `local_irq_restore()` by itself is not a preemption point: a
 * need-resched left pending waits for the next one.
 *
 * @module
 */

import { describeSafely } from "../_safe.ts";
import type { KernelGuardIf } from "../../lib/guards.ts";
import { SimulationError } from "../errors.ts";
import type { PreemptHooks } from "./_executor.ts";
import type { RunState, SimCpu, SimTask } from "./_state.ts";
import type { Misuse } from "./run_stats.ts";

/** Preempt counts, IRQ flags and misuse reports of the simulated CPUs. */
export class Kernel implements KernelGuardIf, PreemptHooks {
  readonly #state: RunState;
  /** The CPU whose task's code or instruction is executing, or `null`. */
  running: SimCpu | null = null;

  /**
   * Creates the kernel of a run.
   *
   * @param state The run (for the trace and the misuse list).
   */
  constructor(state: RunState) {
    this.#state = state;
  }

  #current(what: string): SimCpu {
    const cpu = this.running;
    if (cpu === null || cpu.current === null) {
      throw new SimulationError(
        "OutsideTask",
        `${what} called outside a simulated task while the machine is running`,
      );
    }
    return cpu;
  }

  /** `kernel_guard`'s `disable_preempt()`, from task code. */
  disablePreempt(): void {
    this.preemptOff(this.#current("disable_preempt"));
  }

  /** `kernel_guard`'s `enable_preempt()`, from task code. */
  enablePreempt(): void {
    this.preemptOn(this.#current("enable_preempt"));
  }

  /**
   * Increments the running task's preempt count.
   *
   * @param cpu The CPU running it.
   */
  preemptOff(cpu: SimCpu): void {
    const task = cpu.current!;
    task.preemptCount++;
    this.#state.trace.guard(this.#state.cycle, cpu.id, task.id, task.preemptCount);
  }

  /**
   * Decrements the running task's preempt count; at 0 a preemption point.
   *
   * @param cpu The CPU running it.
   * @throws {SimulationError} On underflow (reported as misuse too).
   */
  preemptOn(cpu: SimCpu): void {
    const task = cpu.current!;
    if (task.preemptCount === 0) {
      const message = `BUG: preempt count underflow in ${task.name} on CPU ${cpu.id}`;
      this.misuse(cpu, task, "preempt-underflow", message);
      throw new SimulationError("PreemptCountUnderflow", message);
    }
    if (--task.preemptCount === 0) cpu.preemptPoint = true;
    this.#state.trace.guard(this.#state.cycle, cpu.id, task.id, task.preemptCount);
  }

  /**
   * `local_irq_save()`: disables IRQs on the running task's CPU.
   *
   * @returns The previous state (1 enabled, 0 disabled).
   */
  localIrqSaveAndDisable(): number {
    const cpu = this.#current("local_irq_save");
    const state = cpu.irqEnabled ? 1 : 0;
    cpu.irqEnabled = false;
    this.#state.trace.irq(this.#state.cycle, cpu.id, cpu.current!.id, false);
    return state;
  }

  /**
   * `local_irq_restore()`. Not a preemption point; a tick that arrived while
   * IRQs were off is delivered at the next boundary.
   *
   * @param state What `localIrqSaveAndDisable` returned.
   * @throws {SimulationError} When `state` is not 0 or 1.
   */
  localIrqRestore(state: number): void {
    const cpu = this.#current("local_irq_restore");
    if (state !== 0 && state !== 1) {
      throw new SimulationError(
        "InvalidIrqState",
        `local_irq_restore expects a state from local_irq_save (0 or 1), got ${
          describeSafely(state)
        }`,
      );
    }
    cpu.irqEnabled = state === 1;
    this.#state.trace.irq(this.#state.cycle, cpu.id, cpu.current!.id, cpu.irqEnabled);
    if (cpu.irqEnabled && cpu.pendingTick) {
      cpu.pendingTick = false;
      cpu.tickDue = true;
    }
  }

  /**
   * Reports misuse, as the kernel's log would.
   *
   * @param cpu The CPU.
   * @param task The offending task.
   * @param kind Which rule.
   * @param message The log line.
   */
  misuse(cpu: SimCpu, task: SimTask, kind: Misuse["kind"], message: string): void {
    const state = this.#state;
    state.misuses.push({ kind, cycle: state.cycle, cpu: cpu.id, task: task.name, message });
    state.trace.misuse(state.cycle, cpu.id, task.id, message);
  }

  /**
   * A task gives up its CPU (`sched_yield`, sleep) or ends: reports a held
   * preempt count or disabled IRQs, and leaves the CPU as `schedule()` does,
   * with IRQs enabled and nothing pending.
   *
   * @param cpu The CPU.
   * @param task The task.
   * @param how `yield`, `sleep` or `exit`.
   */
  switchOut(cpu: SimCpu, task: SimTask, how: "yield" | "sleep" | "exit"): void {
    const count = task.preemptCount;
    if (count !== 0) {
      if (how === "exit") {
        this.misuse(
          cpu,
          task,
          "exit-preempt-count",
          `note: ${task.name} exited with preempt_count ${count}`,
        );
        task.preemptCount = 0;
      } else {
        this.misuse(
          cpu,
          task,
          "scheduling-while-atomic",
          `BUG: scheduling while atomic: ${task.name} called ${
            how === "yield" ? "sched_yield" : "sleep"
          } with preempt_count ${count}`,
        );
      }
    }
    if (!cpu.irqEnabled) {
      this.misuse(
        cpu,
        task,
        "irqs-disabled",
        how === "exit"
          ? `BUG: ${task.name} exited with IRQs disabled on CPU ${cpu.id}`
          : `BUG: ${task.name} gave up CPU ${cpu.id} with IRQs disabled`,
      );
    }
    cpu.irqEnabled = true;
    cpu.pendingTick = false;
    cpu.tickDue = false;
    cpu.preemptPoint = false;
    cpu.needResched = false;
    cpu.current = null;
  }
}
