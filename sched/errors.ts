/**
 * Errors of the simulator.
 *
 * @module
 */

import { PercpuError } from "../lib/errors.ts";

/**
 * Something the simulated kernel or machine refuses. Thrown into the
 * offending task (which fails alone unless it catches), or by `run()` when
 * the machine itself cannot run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulationError } from "@percpu/percpu/sched";
 * const e = new SimulationError("PreemptCountUnderflow", "preempt count underflow");
 * assert.equal(e.kind, "PreemptCountUnderflow");
 * ```
 */
export class SimulationError extends PercpuError {
  /**
   * What went wrong:
   * - `PreemptCountUnderflow`: `enable_preempt()` with a preempt count of 0;
   * - `OutsideTask`: a guard used while the machine runs but outside a task;
   * - `InvalidIrqState`: `local_irq_restore` with a state `local_irq_save` never returned;
   * - `InvalidRequest`: a task yielded something that is not an operation of its machine;
   * - `TaskFailed`: a task threw something that is not an `Error` (it is the `cause`);
   * - `Reentrant`: `run()` called while the machine runs (from inside a task);
   * - `StaleSystem`: the per-CPU system was initialised again after the machine was built;
   * - `TestFailed`: an explore test's own code (`spawn`, `check`, `observe`) threw or
   *   returned something it must not (the test is at fault, not a schedule).
   */
  readonly kind:
    | "PreemptCountUnderflow"
    | "OutsideTask"
    | "InvalidIrqState"
    | "InvalidRequest"
    | "TaskFailed"
    | "Reentrant"
    | "StaleSystem"
    | "TestFailed";

  /**
   * Creates the error.
   *
   * @param kind What went wrong.
   * @param message The details.
   * @param options The standard `cause`.
   */
  constructor(kind: SimulationError["kind"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
  }
}
