/**
 * What a schedule can break, by kind. The explorer reports the minimal
 * schedule of each kind it finds; which kinds count is an option.
 *
 * @module
 */

import { valueText } from "../../lib/_describe.ts";

/**
 * A kind of violation:
 * - `lost-update`: the test's invariant (`check()`) failed when every task
 *   had ended — for the counter test, increments were lost;
 * - `wrong-cpu`: a local per-CPU access hit another CPU's area (or none);
 * - `scheduling-while-atomic`: a task yielded or slept with a non-zero
 *   preempt count;
 * - `preempt-underflow`: `enable_preempt()` with a preempt count of 0;
 * - `exit-preempt-count`: a task ended holding a preempt count (Linux's
 *   `note: … exited with preempt_count N`: a guard leaked);
 * - `irqs-disabled`: a task gave up its CPU or ended with local IRQs disabled;
 * - `task-error`: a task failed (threw, or yielded something that is not an
 *   operation).
 */
export type ViolationKind =
  | "lost-update"
  | "wrong-cpu"
  | "scheduling-while-atomic"
  | "preempt-underflow"
  | "exit-preempt-count"
  | "irqs-disabled"
  | "task-error";

/**
 * Every {@linkcode ViolationKind}, in the order reports list them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VIOLATION_KINDS } from "@percpu/percpu/sched";
 * assert.equal(VIOLATION_KINDS[0], "lost-update");
 * assert.ok(VIOLATION_KINDS.includes("wrong-cpu"));
 * ```
 */
export const VIOLATION_KINDS: readonly ViolationKind[] = Object.freeze([
  "lost-update",
  "wrong-cpu",
  "scheduling-while-atomic",
  "preempt-underflow",
  "exit-preempt-count",
  "irqs-disabled",
  "task-error",
]);

/** Every kind's bit: a set of kinds is a number. */
export const ALL_KINDS: number = (1 << VIOLATION_KINDS.length) - 1;

/**
 * The bit of a kind.
 *
 * @param kind A kind.
 * @returns Its bit.
 */
export function kindBit(kind: ViolationKind): number {
  return 1 << VIOLATION_KINDS.indexOf(kind);
}

/**
 * Checks the `violations` option: a list of kinds (default all).
 *
 * @param value The option.
 * @returns The kinds, as bits.
 * @throws {TypeError} When it is not an array of strings.
 * @throws {RangeError} On an unknown kind or an empty list.
 */
export function kindsOption(value: unknown): number {
  if (value === undefined) return ALL_KINDS;
  if (!Array.isArray(value)) {
    throw new TypeError(
      `violations must be a list of ${VIOLATION_KINDS.join(", ")}, got ${valueText(value)}`,
    );
  }
  let bits = 0;
  for (const kind of value) {
    if (typeof kind !== "string") {
      throw new TypeError(
        `violations must be a list of ${VIOLATION_KINDS.join(", ")}, got an item ${
          valueText(kind)
        }`,
      );
    }
    if (!VIOLATION_KINDS.includes(kind as ViolationKind)) {
      throw new RangeError(
        `violations must be a list of ${VIOLATION_KINDS.join(", ")}, got ${valueText(kind)}`,
      );
    }
    bits |= kindBit(kind as ViolationKind);
  }
  if (bits === 0) {
    throw new RangeError(
      `violations must name at least one of ${VIOLATION_KINDS.join(", ")}, got an empty list`,
    );
  }
  return bits;
}
