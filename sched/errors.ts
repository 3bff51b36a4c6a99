/**
 * Errors of the simulator.
 *
 * @module
 */

import { PercpuError } from "../lib/errors.ts";

/**
 * A misuse the simulated kernel refuses, thrown into the offending task
 * (e.g. `enable_preempt()` with a preempt count of 0).
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
  /** What went wrong. */
  readonly kind: "PreemptCountUnderflow" | "OutsideTask" | "InvalidIrqState";

  /**
   * Creates the error.
   *
   * @param kind What went wrong.
   * @param message The details.
   */
  constructor(kind: SimulationError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}
