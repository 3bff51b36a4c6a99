/**
 * Reading, writing, validating and adding scalar values in simulated memory,
 * one codec per scalar kind and pointer width. Memory is little-endian (the
 * typed arrays of every platform Deno runs on are).
 *
 * @module
 */

import { describe } from "./describe.ts";
import type { Views } from "./memory.ts";
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
   * Checks a value before it is written.
   *
   * @param value The candidate.
   * @param what Who is writing, for the message, e.g. `X.writeCurrent`.
   * @throws {TypeError} On a wrong JavaScript type.
   * @throws {RangeError} On a value the type cannot hold.
   */
  check(value: unknown, what: string): void;
  /**
   * Checks a delta for {@linkcode ScalarCodec.add}.
   *
   * @throws {TypeError} When the type cannot be added to, or on a wrong
   *   JavaScript type.
   * @throws {RangeError} On a non-integer delta for an integer type.
   */
  checkDelta(delta: unknown, what: string): void;
  /**
   * `value + delta` as the type's arithmetic does it: fixed-width integers
   * wrap (as Linux `this_cpu_add`), floats round.
   *
   * @throws {RangeError} When a pointer-sized result leaves the safe integers.
   */
  add(value: unknown, delta: unknown, what: string): unknown;
}

const TWO_32 = 4294967296;

function typeError(what: string, kind: string, expected: string, value: unknown): TypeError {
  return new TypeError(`${what}: a ${kind} value must be ${expected}, got ${describe(value)}`);
}

function intRange(what: string, kind: string, min: number, max: number, value: unknown) {
  return new RangeError(
    `${what}: a ${kind} value must be an integer from ${min} to ${max}, got ${describe(value)}`,
  );
}

function checkNumber(what: string, kind: string, value: unknown): asserts value is number {
  if (typeof value !== "number") throw typeError(what, kind, "a number", value);
}

function checkInt(what: string, kind: string, min: number, max: number, value: unknown): void {
  checkNumber(what, kind, value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw intRange(what, kind, min, max, value);
  }
}

function checkIntDelta(what: string, kind: string, delta: unknown): void {
  checkNumber(what, kind, delta);
  if (!Number.isSafeInteger(delta)) {
    throw new RangeError(`${what}: a ${kind} delta must be a safe integer, got ${describe(delta)}`);
  }
}

function checkBigIntDelta(what: string, kind: string, delta: unknown): void {
  if (typeof delta !== "bigint") throw typeError(what, kind, "a bigint delta", delta);
}

/** Fixed-width integers held in one typed-array element of their own width. */
function smallInt(
  kind: ScalarKind,
  view: "u8" | "u16" | "u32" | "i8" | "i16" | "i32",
  size: number,
  min: number,
  max: number,
  wrap: (value: number) => number,
): ScalarCodec {
  const shift = Math.log2(size);
  return {
    kind,
    size,
    read: (v, byte) => v[view][byte >>> shift],
    write: (v, byte, value) => {
      v[view][byte >>> shift] = value as number;
    },
    check: (value, what) => checkInt(what, kind, min, max, value),
    checkDelta: (delta, what) => checkIntDelta(what, kind, delta),
    add: (value, delta) => wrap((value as number) + (delta as number)),
  };
}

function wrapUnsigned(bits: number): (value: number) => number {
  const modulus = 2 ** bits;
  return (value) => ((value % modulus) + modulus) % modulus;
}

function wrapSigned(bits: number): (value: number) => number {
  const unsigned = wrapUnsigned(bits);
  const half = 2 ** (bits - 1);
  return (value) => {
    const u = unsigned(value);
    return u >= half ? u - 2 * half : u;
  };
}

function bigInt(kind: "u64" | "i64"): ScalarCodec {
  const signed = kind === "i64";
  const min = signed ? -(1n << 63n) : 0n;
  const max = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
  const wrap = signed ? BigInt.asIntN : BigInt.asUintN;
  return {
    kind,
    size: 8,
    read: (v, byte) => v[kind][byte >>> 3],
    write: (v, byte, value) => {
      v[kind][byte >>> 3] = value as bigint;
    },
    check(value, what) {
      if (typeof value !== "bigint") throw typeError(what, kind, "a bigint", value);
      if (value < min || value > max) {
        throw new RangeError(
          `${what}: a ${kind} value must be from ${min} to ${max}, got ${describe(value)}`,
        );
      }
    },
    checkDelta: (delta, what) => checkBigIntDelta(what, kind, delta),
    add: (value, delta) => wrap(64, (value as bigint) + (delta as bigint)),
  };
}

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
    check: (value, what) => checkInt(what, kind, min, max, value),
    checkDelta: (delta, what) => checkIntDelta(what, kind, delta),
    add(value, delta, what) {
      const sum = (value as number) + (delta as number);
      if (!Number.isSafeInteger(sum) || sum < min) throw unrepresentable(what, sum);
      return sum;
    },
  };
}

function float(kind: "f32" | "f64"): ScalarCodec {
  const shift = kind === "f32" ? 2 : 3;
  const round = kind === "f32" ? Math.fround : (x: number) => x;
  const check = (value: unknown, what: string) => {
    checkNumber(what, kind, value);
    if (Number.isFinite(value) && !Number.isFinite(round(value))) {
      throw new RangeError(
        `${what}: ${describe(value)} overflows ${kind} (largest finite value ${
          Math.fround(3.4028234663852886e38)
        })`,
      );
    }
  };
  return {
    kind,
    size: 1 << shift,
    read: (v, byte) => v[kind][byte >>> shift],
    write: (v, byte, value) => {
      v[kind][byte >>> shift] = value as number;
    },
    check,
    checkDelta: (delta, what) => checkNumber(what, kind, delta),
    add: (value, delta) => round((value as number) + (delta as number)),
  };
}

const bool: ScalarCodec = {
  kind: "bool",
  size: 1,
  read: (v, byte) => v.u8[byte] !== 0,
  write: (v, byte, value) => {
    v.u8[byte] = value ? 1 : 0;
  },
  check(value, what) {
    if (typeof value !== "boolean") throw typeError(what, "bool", "a boolean", value);
  },
  checkDelta(_delta, what) {
    throw new TypeError(`${what}: bool values cannot be added to; use writeCurrent`);
  },
  add() {
    throw new TypeError("bool values cannot be added to");
  },
};

const u8 = smallInt("u8", "u8", 1, 0, 0xff, wrapUnsigned(8));
const u16 = smallInt("u16", "u16", 2, 0, 0xffff, wrapUnsigned(16));
const u32 = smallInt("u32", "u32", 4, 0, 0xffffffff, wrapUnsigned(32));
const i8 = smallInt("i8", "i8", 1, -0x80, 0x7f, wrapSigned(8));
const i16 = smallInt("i16", "i16", 2, -0x8000, 0x7fff, wrapSigned(16));
const i32 = smallInt("i32", "i32", 4, -0x80000000, 0x7fffffff, wrapSigned(32));

const COMMON = {
  bool,
  u8,
  u16,
  u32,
  u64: bigInt("u64"),
  i8,
  i16,
  i32,
  i64: bigInt("i64"),
  f32: float("f32"),
  f64: float("f64"),
} as const;

const CODECS_64: Readonly<Record<ScalarKind, ScalarCodec>> = {
  ...COMMON,
  usize: pointerSized64("usize"),
  isize: pointerSized64("isize"),
};

const CODECS_32: Readonly<Record<ScalarKind, ScalarCodec>> = {
  ...COMMON,
  usize: smallInt("usize", "u32", 4, 0, 0xffffffff, wrapUnsigned(32)),
  isize: smallInt("isize", "i32", 4, -0x80000000, 0x7fffffff, wrapSigned(32)),
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
