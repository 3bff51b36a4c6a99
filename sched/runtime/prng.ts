/**
 * A small seeded pseudo-random generator (SplitMix32), so that the same
 * options and seed always give the same simulation.
 *
 * @module
 */

import { valueText } from "../../lib/_describe.ts";

/**
 * Deterministic 32-bit pseudo-random numbers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "./prng.ts";
 * const a = new Prng(7), b = new Prng(7);
 * assert.equal(a.below(100), b.below(100));
 * ```
 */
export class Prng {
  #state: number;

  /**
   * Seeds the generator.
   *
   * @param seed Any safe integer; equal seeds give equal sequences.
   * @throws {RangeError} When `seed` is not a safe integer.
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`the seed must be a safe integer, got ${valueText(seed)}`);
    }
    this.#state = (seed ^ Math.floor(seed / 0x1_0000_0000) * 0x9e3779b9) >>> 0;
  }

  /**
   * The next 32-bit value.
   *
   * @returns An integer in `[0, 2^32)`.
   */
  next(): number {
    let z = (this.#state = (this.#state + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /**
   * A uniform integer below `n`.
   *
   * @param n The bound, ≥ 1.
   * @returns An integer in `[0, n)`.
   */
  below(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /**
   * `true` with probability `p`.
   *
   * @param p A probability in `[0, 1]`.
   * @returns The outcome.
   */
  chance(p: number): boolean {
    return this.next() < p * 0x1_0000_0000;
  }
}
