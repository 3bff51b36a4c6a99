/**
 * A per-CPU counter in the spirit of Linux `percpu_counter` and Java's
 * `LongAdder`: each CPU adds to its own `i32` delta in its per-CPU area, and
 * folds it into one shared `i64` total (with `Atomics`) once it reaches the
 * batch size. Adding touches only the current CPU's cache line except once
 * per batch; `read()` is the shared total alone (cheap, approximate), `sum()`
 * adds every CPU's delta to it (exact).
 *
 * The total is not part of the per-CPU areas: re-initialising the areas
 * resets every delta (to the template's 0) but not the total, while
 * {@linkcode shareAreas} starts every counter's shared total at 0.
 *
 * The delta is an `i32` rather than an `i64`: 32-bit arithmetic stays in
 * plain JavaScript numbers, while 64-bit values are `bigint`s, whose
 * reads, compares and checked writes made the same add loop about 2.5 times
 * slower (8 ns against 3 ns per add, measured). The batch keeps the delta
 * small; only the fold, once per batch, pays for a `bigint`.
 *
 * @module
 */

import { checkInteger, checkOptions } from "../_check.ts";
import { valueText } from "../_describe.ts";
import { portOf } from "../_port.ts";
import { preemptOff, preemptOn, releaseAfter } from "../_guard_if.ts";
import type { Percpu } from "../percpu.ts";
import type { ScalarPercpuVar } from "../percpu_var.ts";
import { atomicRemote } from "./remote_atomics.ts";
import { i32 } from "../types.ts";

/** Options of {@linkcode defPercpuCounter}. */
export interface PercpuCounterOptions {
  /**
   * How far a CPU's delta may grow (in either direction) before it is folded
   * into the shared total: an integer from 1 to 2^30 (default 1024). `read()`
   * may be off by up to `(batch − 1) ×` the number of CPUs.
   */
  readonly batch?: number;
}

const DEFAULT_BATCH = 1024;
const MAX_TOTAL = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_BATCH = 2 ** 30;

/** Counters by system, in definition order: that order is their total's slot. */
const registry = new WeakMap<Percpu, PercpuCounter[]>();

/**
 * A per-CPU counter; make one with {@linkcode defPercpuCounter}. Its value
 * is the shared total plus every CPU's delta. The total is kept a safe
 * integer: an `add` that would take it past ±(2^53 − 1) throws `RangeError`
 * and changes nothing, rather than wrapping.
 */
export class PercpuCounter {
  /** The name; the per-CPU delta is the variable `__PERCPU_<name>`. */
  readonly name: string;
  /** The fold threshold. */
  readonly batch: number;
  /** The per-CPU delta, an `i32` variable of the system. */
  readonly delta: ScalarPercpuVar<"i32">;
  readonly #percpu: Percpu;
  readonly #preempt: boolean;
  #totals: BigInt64Array = new BigInt64Array(1);
  #slot = 0;

  /**
   * Wraps a defined delta variable; use {@linkcode defPercpuCounter}.
   *
   * @param percpu The system.
   * @param delta The per-CPU delta variable.
   * @param batch The fold threshold.
   */
  constructor(percpu: Percpu, delta: ScalarPercpuVar<"i32">, batch: number) {
    this.name = delta.name;
    this.batch = batch;
    this.delta = delta;
    this.#percpu = percpu;
    this.#preempt = percpu.hasFeature("preempt");
  }

  /**
   * Adds to the counter on the current CPU (`percpu_counter_add`): the CPU's
   * delta grows, and is folded into the shared total when it reaches
   * `±batch`. Under `preempt` the update holds one `NoPreempt` guard.
   *
   * @param amount A safe integer (default 1); negative amounts subtract.
   * @throws {TypeError} When `amount` is not a number.
   * @throws {RangeError} When it is not a safe integer, or when folding it
   *   would take the shared total outside the safe integers. Nothing changes.
   * @throws {FaultError} When the per-CPU register points at no area, or
   *   its memory was detached.
   */
  add(amount = 1): void {
    if (!Number.isSafeInteger(amount)) {
      if (typeof amount !== "number") {
        throw new TypeError(
          `${this.name}.add: the amount must be a number, got ${valueText(amount)}`,
        );
      }
      throw new RangeError(
        `${this.name}.add: the amount must be a safe integer, got ${valueText(amount)}`,
      );
    }
    if (!this.#preempt) return this.#add(amount);
    const guard = preemptOff();
    try {
      this.#add(amount);
    } catch (error) {
      throw releaseAfter(() => preemptOn(guard), error, `${this.name}.add`);
    }
    preemptOn(guard);
  }

  #add(amount: number): void {
    const delta = this.delta;
    const old = delta.readCurrentRaw();
    const next = old + amount;
    if (next < this.batch && next > -this.batch) {
      delta.writeCurrentRaw(next);
      return;
    }
    // Fold: the exact amount goes to the total first, so that a concurrent
    // sum() may briefly count it twice but never misses it. A compare-and-
    // swap rather than Atomics.add, so that a total that would leave the safe
    // integers is refused before anything is written (Atomics.add would wrap
    // at 2^63, and the total would no longer be a JavaScript number anyway).
    const folded = BigInt(old) + BigInt(amount);
    const totals = this.#totals, slot = this.#slot;
    for (;;) {
      const total = Atomics.load(totals, slot);
      const next = total + folded;
      if (next > MAX_TOTAL || next < -MAX_TOTAL) {
        throw new RangeError(
          `${this.name}.add: adding ${amount} would take the shared total from ${total} to ${next}, outside the safe integers (±${MAX_TOTAL}); nothing was added`,
        );
      }
      if (Atomics.compareExchange(totals, slot, total, next) === total) break;
    }
    delta.writeCurrentRaw(0);
  }

  /**
   * The shared total without the CPUs' pending deltas
   * (`percpu_counter_read`): one atomic load, off by at most
   * `(batch − 1) ×` the number of CPUs.
   *
   * @returns The approximate value.
   */
  read(): number {
    return Number(Atomics.load(this.#totals, this.#slot));
  }

  /**
   * The shared total plus every initialised CPU's delta, each read
   * atomically (`percpu_counter_sum`). Exact once no CPU is adding; while
   * CPUs add concurrently it is a value close to the truth, as in Linux.
   *
   * @returns The value.
   * @throws {RangeError} When the value is not a safe integer.
   */
  sum(): number {
    const total = Atomics.load(this.#totals, this.#slot) +
      BigInt(atomicRemote(this.#percpu, this.delta).sum());
    const value = Number(total);
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(
        `${this.name}.sum: ${total} is outside the safe integers that a JavaScript number holds`,
      );
    }
    return value;
  }

  /**
   * Keeps the total in slot `slot` of `totals` from now on: what
   * {@linkcode shareAreas} and {@linkcode attachShared} do so that every
   * thread adds to the same total. The old total is not carried over.
   *
   * @param totals The shared totals of the system's counters.
   * @param slot This counter's index in definition order.
   */
  bindTotal(totals: BigInt64Array, slot: number): void {
    this.#totals = totals;
    this.#slot = slot;
  }
}

/**
 * Defines a per-CPU counter: an `i32` per-CPU variable named `name` holding
 * each CPU's delta, and a shared `i64` total. Define counters with the other
 * variables, before `init()`; Workers sharing the areas (see
 * {@linkcode shareAreas}) share the totals too.
 *
 * @param percpu The system.
 * @param name The counter's name, an identifier (the variable's name).
 * @param options The batch size.
 * @returns The counter.
 * @throws {TypeError} When `percpu` is not a system, `options` is not an
 *   object or has an unknown key, or `batch` is not a number.
 * @throws {RangeError} When `batch` is not an integer from 1 to 2^30.
 * @throws {DefinitionError} As `defPercpu` does (bad or duplicate name,
 *   definition after `init()`).
 *
 * @example Two CPUs counting, one exact sum
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu } from "@percpu/percpu";
 * import { defPercpuCounter } from "@percpu/percpu/workers";
 *
 * const p = createPercpu();
 * const packets = defPercpuCounter(p, "PACKETS", { batch: 8 });
 * p.init(2);
 * p.initPercpuReg(0);
 * for (let i = 0; i < 10; i++) packets.add();
 * p.initPercpuReg(1);
 * packets.add(3);
 * // CPU 0 folded 8 into the total when its delta reached the batch.
 * assert.equal(packets.read(), 8);
 * assert.equal(packets.sum(), 13); // 8 + CPU 0's 2 + CPU 1's 3
 * assert.equal(packets.delta.remoteRefRaw(1).value, 3);
 * ```
 */
export function defPercpuCounter(
  percpu: Percpu,
  name: string,
  options: PercpuCounterOptions = {},
): PercpuCounter {
  try {
    portOf(percpu);
  } catch {
    throw new TypeError(
      `defPercpuCounter: expected a per-CPU system made by createPercpu(), got ${
        valueText(percpu)
      }`,
    );
  }
  const { batch = DEFAULT_BATCH } = checkOptions(options, ["batch"], "defPercpuCounter");
  checkInteger(batch, "defPercpuCounter: batch", 1, MAX_BATCH);
  const counter = new PercpuCounter(percpu, percpu.defPercpu(name, i32, 0), batch);
  const counters = registry.get(percpu);
  if (counters) counters.push(counter);
  else registry.set(percpu, [counter]);
  return counter;
}

/**
 * The counters defined in a system, in definition order.
 *
 * @param percpu The system.
 * @returns The counters (empty when there are none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu } from "@percpu/percpu";
 * import { defPercpuCounter } from "@percpu/percpu/workers";
 * import { percpuCounters } from "./percpu_counter.ts";
 *
 * const p = createPercpu();
 * assert.deepEqual(percpuCounters(p), []);
 * const rx = defPercpuCounter(p, "RX");
 * assert.deepEqual(percpuCounters(p), [rx]);
 * ```
 */
export function percpuCounters(percpu: Percpu): readonly PercpuCounter[] {
  return registry.get(percpu) ?? [];
}
