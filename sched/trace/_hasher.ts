/**
 * A small incremental 64-bit hash (two 32-bit multiplicative lanes) over
 * numbers, bigints and booleans: fingerprints of traces and machine states.
 *
 * @module
 */

const TWO_32 = 0x1_0000_0000;

/**
 * Hashes a stream of values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hasher } from "./_hasher.ts";
 * const a = new Hasher(), b = new Hasher();
 * a.number(1); a.number(2);
 * b.number(1); b.number(2);
 * assert.equal(a.hex, b.hex);
 * ```
 */
export class Hasher {
  #h1 = 0x811c9dc5;
  #h2 = 0x050c5d1f;

  /**
   * Adds a 32-bit word (the low 32 bits of `value`).
   *
   * @param value An integer.
   */
  word(value: number): void {
    const w = value | 0;
    this.#h1 = Math.imul(this.#h1 ^ w, 0x01000193);
    const h2 = Math.imul(this.#h2 ^ w, 0x5bd1e995);
    this.#h2 = h2 ^ (h2 >>> 15);
  }

  /**
   * Adds three 32-bit words (the low 32 bits of each) at once: the trace's
   * per-event path, which reads and writes the state once.
   *
   * @param a The first word.
   * @param b The second word.
   * @param c The third word.
   */
  words3(a: number, b: number, c: number): void {
    let h1 = this.#h1;
    let h2 = this.#h2;
    h1 = Math.imul(h1 ^ (a | 0), 0x01000193);
    h2 = Math.imul(h2 ^ (a | 0), 0x5bd1e995);
    h2 ^= h2 >>> 15;
    h1 = Math.imul(h1 ^ (b | 0), 0x01000193);
    h2 = Math.imul(h2 ^ (b | 0), 0x5bd1e995);
    h2 ^= h2 >>> 15;
    h1 = Math.imul(h1 ^ (c | 0), 0x01000193);
    h2 = Math.imul(h2 ^ (c | 0), 0x5bd1e995);
    h2 ^= h2 >>> 15;
    this.#h1 = h1;
    this.#h2 = h2;
  }

  /**
   * Adds a run of 32-bit words from an array, in one tight loop.
   *
   * @param words The array.
   * @param start First index.
   * @param end One past the last index.
   */
  words(words: Uint32Array, start: number, end: number): void {
    let h1 = this.#h1;
    let h2 = this.#h2;
    for (let i = start; i < end; i++) {
      const w = words[i] | 0;
      h1 = Math.imul(h1 ^ w, 0x01000193);
      h2 = Math.imul(h2 ^ w, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    this.#h1 = h1;
    this.#h2 = h2;
  }

  /**
   * Adds any number (integers beyond 32 bits and fractions included).
   *
   * @param value A number.
   */
  number(value: number): void {
    if ((value | 0) === value) {
      this.word(value);
      return;
    }
    this.word(value % TWO_32);
    this.word(Math.floor(value / TWO_32));
    if (!Number.isInteger(value)) this.word(Math.round((value % 1) * TWO_32));
  }

  /**
   * Adds a register value: a number, bigint, boolean or undefined.
   *
   * @param value The value.
   */
  value(value: unknown): void {
    switch (typeof value) {
      case "number":
        this.word(1);
        this.number(value);
        return;
      case "bigint":
        this.word(2);
        this.word(Number(BigInt.asUintN(32, value)));
        this.word(Number(BigInt.asUintN(32, value >> 32n)));
        return;
      case "boolean":
        this.word(value ? 3 : 4);
        return;
      default:
        this.word(5);
    }
  }

  /** The hash as 16 hex digits. */
  get hex(): string {
    return (this.#h1 >>> 0).toString(16).padStart(8, "0") +
      (this.#h2 >>> 0).toString(16).padStart(8, "0");
  }

  /** The hash as a number with 53 significant bits, for use as a `Map` key. */
  get key(): number {
    return (this.#h1 >>> 0) * 0x20_0000 + ((this.#h2 >>> 0) & 0x1f_ffff);
  }
}
