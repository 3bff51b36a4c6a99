/**
 * Reading, writing, validating and adding scalar values in simulated memory,
 * one codec per scalar kind and pointer width. Memory is little-endian (the
 * typed arrays of every platform Deno runs on are).
 *
 * @module
 */

import { valueText } from "./_describe.ts";
import type { Views } from "./_memory.ts";
import type { ScalarKind } from "./types.ts";

/** How one scalar kind is stored, checked and added. */
export interface ScalarCodec {
  /** The scalar kind. */
  readonly kind: ScalarKind;
  /** Size and alignment in bytes. */
  readonly size: number;
  /** Reads the value at a byte index (aligned to `size`). */
  read(views: Views, byte: number): unknown;
  /** Writes an already checked value at a byte index. */
  write(views: Views, byte: number, value: unknown): void;
  /**
   * Tells whether {@linkcode ScalarCodec.check} accepts a value, without
   * throwing or allocating: the accessors' fast path.
   */
  valid(value: unknown): boolean;
  /**
   * Checks a value before it is written.
   *
   * @param value The candidate.
   * @param what Who is writing, for the message, e.g. `X.writeCurrent`.
   * @throws {TypeError} On a wrong JavaScript type.
   * @throws {RangeError} On a value the type cannot hold.
   */
  check(value: unknown, what: string): void;
  /** Tells whether {@linkcode ScalarCodec.checkDelta} accepts a delta. */
  validDelta(delta: unknown): boolean;
  /**
   * Checks a delta for {@linkcode ScalarCodec.add}.
   *
   * @throws {TypeError} When the type cannot be added to, or on a wrong
   *   JavaScript type.
   * @throws {RangeError} On a non-integer delta for an integer type.
   */
  checkDelta(delta: unknown, what: string): void;
  /**
   * `value + delta` as the type's arithmetic does it, exactly: fixed-width
   * integers give the sum modulo 2^width (as Linux `this_cpu_add`) for every
   * safe-integer (or bigint) delta, floats give the exact sum rounded once to
   * the type (ties to even).
   *
   * @throws {RangeError} When a pointer-sized result leaves the safe integers.
   */
  add(value: unknown, delta: unknown, what: string): unknown;
}

const TWO_32 = 4294967296;

function typeError(what: string, kind: string, expected: string, value: unknown): TypeError {
  return new TypeError(`${what}: a ${kind} value must be ${expected}, got ${valueText(value)}`);
}

function checkNumber(what: string, kind: string, value: unknown): asserts value is number {
  if (typeof value !== "number") throw typeError(what, kind, "a number", value);
}

type Checks = Pick<ScalarCodec, "valid" | "check" | "validDelta" | "checkDelta">;

function isIntIn(value: unknown, min: number, max: number): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

function isU32(value: unknown): boolean {
  return typeof value === "number" && value >>> 0 === value;
}

function isI32(value: unknown): boolean {
  return typeof value === "number" && (value | 0) === value;
}

function isSafeInt(delta: unknown): boolean {
  return typeof delta === "number" && Number.isSafeInteger(delta);
}

/**
 * `check` and `checkDelta` of an integer kind held in a JS number. `valid`
 * defaults to the plain range test; the kinds up to 32 bits pass an
 * equivalent one built from the operator that converts to their width
 * (`(v & 0xff) === v` holds for a number exactly when it is an integer from
 * 0 to 255, `-0` included as `Number.isInteger` includes it), which V8
 * compiles to fewer instructions and no branches.
 */
function intChecks(
  kind: ScalarKind,
  min: number,
  max: number,
  valid: (value: unknown) => boolean = (value) => isIntIn(value, min, max),
): Checks {
  return {
    valid,
    check(value: unknown, what: string): void {
      if (valid(value)) return;
      checkNumber(what, kind, value);
      throw new RangeError(
        `${what}: a ${kind} value must be an integer from ${min} to ${max}, got ${
          valueText(value)
        }`,
      );
    },
    validDelta: isSafeInt,
    checkDelta(delta: unknown, what: string): void {
      if (isSafeInt(delta)) return;
      checkNumber(what, kind, delta);
      throw new RangeError(
        `${what}: a ${kind} delta must be a safe integer, got ${valueText(delta)}`,
      );
    },
  };
}

// Reads and writes are written out per kind rather than made by one factory:
// closures made by one factory share V8's type feedback, so a factory would
// make every typed-array access polymorphic across kinds. Additions reduce the
// delta to the width first, with the operator that converts to it (`d >>> 0`
// and `d & 0xff` are exactly `d mod 2^32` and `d mod 2^8` for any safe
// integer), so the sum stays below 2^33 and is exact before it wraps: adding
// a delta of 2^53 − 1 unreduced would round the sum to a multiple of 2.

const u8: ScalarCodec = {
  kind: "u8",
  size: 1,
  read: (v, byte) => v.u8[byte],
  write: (v, byte, value) => {
    v.u8[byte] = value as number;
  },
  ...intChecks("u8", 0, 0xff, (v) => typeof v === "number" && (v & 0xff) === v),
  add: (value, delta) => ((value as number) + ((delta as number) & 0xff)) & 0xff,
};

const u16: ScalarCodec = {
  kind: "u16",
  size: 2,
  read: (v, byte) => v.u16[byte >>> 1],
  write: (v, byte, value) => {
    v.u16[byte >>> 1] = value as number;
  },
  ...intChecks("u16", 0, 0xffff, (v) => typeof v === "number" && (v & 0xffff) === v),
  add: (value, delta) => ((value as number) + ((delta as number) & 0xffff)) & 0xffff,
};

const u32: ScalarCodec = {
  kind: "u32",
  size: 4,
  read: (v, byte) => v.u32[byte >>> 2],
  write: (v, byte, value) => {
    v.u32[byte >>> 2] = value as number;
  },
  ...intChecks("u32", 0, 0xffffffff, isU32),
  add: (value, delta) => ((value as number) + ((delta as number) >>> 0)) >>> 0,
};

const i8: ScalarCodec = {
  kind: "i8",
  size: 1,
  read: (v, byte) => v.i8[byte],
  write: (v, byte, value) => {
    v.i8[byte] = value as number;
  },
  ...intChecks("i8", -0x80, 0x7f, (v) => typeof v === "number" && (v << 24) >> 24 === v),
  add: (value, delta) => (((value as number) + ((delta as number) & 0xff)) << 24) >> 24,
};

const i16: ScalarCodec = {
  kind: "i16",
  size: 2,
  read: (v, byte) => v.i16[byte >>> 1],
  write: (v, byte, value) => {
    v.i16[byte >>> 1] = value as number;
  },
  ...intChecks("i16", -0x8000, 0x7fff, (v) => typeof v === "number" && (v << 16) >> 16 === v),
  add: (value, delta) => (((value as number) + ((delta as number) & 0xffff)) << 16) >> 16,
};

const i32: ScalarCodec = {
  kind: "i32",
  size: 4,
  read: (v, byte) => v.i32[byte >>> 2],
  write: (v, byte, value) => {
    v.i32[byte >>> 2] = value as number;
  },
  ...intChecks("i32", -0x80000000, 0x7fffffff, isI32),
  add: (value, delta) => ((value as number) + ((delta as number) | 0)) | 0,
};

/**
 * `check` and `checkDelta` of a 64-bit integer kind held in a bigint. `valid`
 * is `BigInt.asUintN(64, v) === v` (or `asIntN`) rather than two comparisons
 * with the bounds: V8 compiles it to a 64-bit truncation and one compare,
 * about 2 ns against 12 ns.
 */
function bigIntChecks(
  kind: "u64" | "i64",
  min: bigint,
  max: bigint,
  valid: (value: unknown) => boolean,
): Checks {
  return {
    valid,
    check(value: unknown, what: string): void {
      if (valid(value)) return;
      if (typeof value !== "bigint") throw typeError(what, kind, "a bigint", value);
      throw new RangeError(
        `${what}: a ${kind} value must be from ${min} to ${max}, got ${valueText(value)}`,
      );
    },
    validDelta: (delta: unknown) => typeof delta === "bigint",
    checkDelta(delta: unknown, what: string): void {
      if (typeof delta !== "bigint") throw typeError(what, kind, "a bigint delta", delta);
    },
  };
}

const u64: ScalarCodec = {
  kind: "u64",
  size: 8,
  read: (v, byte) => v.u64[byte >>> 3],
  write: (v, byte, value) => {
    v.u64[byte >>> 3] = value as bigint;
  },
  ...bigIntChecks(
    "u64",
    0n,
    (1n << 64n) - 1n,
    (value) => typeof value === "bigint" && BigInt.asUintN(64, value) === value,
  ),
  add: (value, delta) => BigInt.asUintN(64, (value as bigint) + (delta as bigint)),
};

const i64: ScalarCodec = {
  kind: "i64",
  size: 8,
  read: (v, byte) => v.i64[byte >>> 3],
  write: (v, byte, value) => {
    v.i64[byte >>> 3] = value as bigint;
  },
  ...bigIntChecks(
    "i64",
    -(1n << 63n),
    (1n << 63n) - 1n,
    (value) => typeof value === "bigint" && BigInt.asIntN(64, value) === value,
  ),
  add: (value, delta) => BigInt.asIntN(64, (value as bigint) + (delta as bigint)),
};

/** `usize`/`isize` on 64-bit targets: 8 bytes, held as a safe JS number. */
function pointerSized64(kind: "usize" | "isize"): ScalarCodec {
  const signed = kind === "isize";
  const min = signed ? Number.MIN_SAFE_INTEGER : 0;
  const max = Number.MAX_SAFE_INTEGER;
  const unrepresentable = (what: string, value: number | string) =>
    new RangeError(
      `${what}: the ${kind} result ${value} is outside the safe integers ${min}..${max} that a JavaScript number holds`,
    );
  return {
    kind,
    size: 8,
    read(v, byte) {
      const i = byte >>> 2;
      const hi = signed ? v.i32[i + 1] : v.u32[i + 1];
      const value = hi * TWO_32 + v.u32[i];
      if (hi > 0x1fffff || hi < -0x200000 || !Number.isSafeInteger(value)) {
        const exact = signed ? v.i64[byte >>> 3] : v.u64[byte >>> 3];
        throw unrepresentable(`reading ${kind}`, String(exact));
      }
      return value;
    },
    write(v, byte, value) {
      const n = value as number;
      const i = byte >>> 2;
      const hi = Math.floor(n / TWO_32);
      v.u32[i] = n - hi * TWO_32;
      v.i32[i + 1] = hi;
    },
    ...intChecks(kind, min, max),
    add(value, delta, what) {
      const sum = (value as number) + (delta as number);
      if (!Number.isSafeInteger(sum) || sum < min) throw unrepresentable(what, sum);
      return sum;
    },
  };
}

const F32_MAX = Math.fround(3.4028234663852886e38);

// Scratch for addF32's bit twiddling; never exposed.
const SCRATCH = new Float64Array(1);
const SCRATCH_WORDS = new Uint32Array(SCRATCH.buffer);

/**
 * `a + b` rounded once to f32. Rounding the f64 sum to f32 would round
 * twice, which is wrong for some operands: an f64 sum that lands exactly
 * halfway between two f32 values after its own rounding was not halfway
 * before it. So the f64 sum is rounded to odd first (when inexact, the
 * neighbour with an odd last bit), which makes the second rounding exact:
 * f64 has more than 2 × 24 + 2 significand bits.
 *
 * @param a An f32 value.
 * @param b Any number.
 * @returns The f32 nearest to the exact sum (ties to even), or ±Infinity.
 */
export function addF32(a: number, b: number): number {
  const s = a + b;
  // Knuth's TwoSum: `error` is exactly (a + b) − s.
  const bv = s - a;
  const error = (a - (s - bv)) + (b - bv);
  if (error === 0 || !Number.isFinite(s)) return Math.fround(s);
  SCRATCH[0] = s;
  if ((SCRATCH_WORDS[0] & 1) === 0) {
    // Step one ulp towards the exact sum: up in magnitude when the error
    // has the sum's sign. The low word is even, so only a step down borrows.
    if ((error > 0) === (s > 0)) {
      SCRATCH_WORDS[0] += 1;
    } else if (SCRATCH_WORDS[0] === 0) {
      SCRATCH_WORDS[0] = 0xffffffff;
      SCRATCH_WORDS[1] -= 1;
    } else {
      SCRATCH_WORDS[0] -= 1;
    }
  }
  return Math.fround(SCRATCH[0]);
}

/** A number that does not overflow to ±Infinity when rounded to f32. */
function fitsF32(value: unknown): boolean {
  return typeof value === "number" &&
    !(Number.isFinite(value) && !Number.isFinite(Math.fround(value)));
}

const f32: ScalarCodec = {
  kind: "f32",
  size: 4,
  read: (v, byte) => v.f32[byte >>> 2],
  write: (v, byte, value) => {
    v.f32[byte >>> 2] = value as number;
  },
  valid: fitsF32,
  check(value, what) {
    if (fitsF32(value)) return;
    checkNumber(what, "f32", value);
    throw new RangeError(
      `${what}: ${valueText(value)} overflows f32 (largest finite value ${F32_MAX})`,
    );
  },
  validDelta: (delta) => typeof delta === "number",
  checkDelta: (delta, what) => checkNumber(what, "f32", delta),
  add: (value, delta) => addF32(value as number, delta as number),
};

const f64: ScalarCodec = {
  kind: "f64",
  size: 8,
  read: (v, byte) => v.f64[byte >>> 3],
  write: (v, byte, value) => {
    v.f64[byte >>> 3] = value as number;
  },
  valid: (value) => typeof value === "number",
  check: (value, what) => checkNumber(what, "f64", value),
  validDelta: (delta) => typeof delta === "number",
  checkDelta: (delta, what) => checkNumber(what, "f64", delta),
  add: (value, delta) => (value as number) + (delta as number),
};

const bool: ScalarCodec = {
  kind: "bool",
  size: 1,
  read: (v, byte) => v.u8[byte] !== 0,
  write: (v, byte, value) => {
    v.u8[byte] = value ? 1 : 0;
  },
  valid: (value) => typeof value === "boolean",
  check(value, what) {
    if (typeof value !== "boolean") throw typeError(what, "bool", "a boolean", value);
  },
  validDelta: () => false,
  checkDelta(_delta, what) {
    throw new TypeError(`${what}: bool values cannot be added to; use writeCurrent`);
  },
  add() {
    throw new TypeError("bool values cannot be added to");
  },
};

const COMMON = { bool, u8, u16, u32, u64, i8, i16, i32, i64, f32, f64 } as const;

const CODECS_64: Readonly<Record<ScalarKind, ScalarCodec>> = {
  ...COMMON,
  usize: pointerSized64("usize"),
  isize: pointerSized64("isize"),
};

// On 32-bit targets `usize`/`isize` are one u32/i32 word.
const CODECS_32: Readonly<Record<ScalarKind, ScalarCodec>> = {
  ...COMMON,
  usize: { ...u32, kind: "usize", ...intChecks("usize", 0, 0xffffffff, isU32) },
  isize: { ...i32, kind: "isize", ...intChecks("isize", -0x80000000, 0x7fffffff, isI32) },
};

/**
 * The codec of a scalar kind for a pointer width.
 *
 * @param kind The scalar kind.
 * @param pointerBytes 8, or 4 on `arm`.
 * @returns The codec.
 */
export function scalarCodec(kind: ScalarKind, pointerBytes: 4 | 8): ScalarCodec {
  return (pointerBytes === 8 ? CODECS_64 : CODECS_32)[kind];
}
