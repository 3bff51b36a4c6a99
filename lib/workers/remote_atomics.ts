/**
 * Atomic access to another CPU's copy of a scalar variable, and exact sums
 * over all CPUs: what a thread needs to read per-CPU data that Workers are
 * updating in a `SharedArrayBuffer` without ever seeing a torn value.
 *
 * Every access goes through `Atomics` on a view of the variable's own
 * width, which the JavaScript memory model makes indivisible:
 *
 * | kind | how |
 * |---|---|
 * | `u8`…`u32`, `i8`…`i32`, `bool` | `Atomics` on the matching 8/16/32-bit view |
 * | `u64`, `i64` | `Atomics` on `BigUint64Array` / `BigInt64Array` |
 * | `usize`, `isize` (8 bytes) | `Atomics` on the whole 64-bit word (¹) |
 * | `usize`, `isize` (4 bytes, `arm`) | as `u32` / `i32` |
 * | `f32`, `f64` | `Atomics` on the bit pattern; `add` is a compare-and-swap loop |
 *
 * (¹) Not on its two 32-bit halves, which the plain accessors use: one
 * 64-bit word is indivisible, two halves are not. The value is converted to
 * a safe-integer number, and `add` is a compare-and-swap loop, so that it can
 * refuse an unsafe result without writing.
 *
 * A reader never sees half of an atomic writer's value. The plain accessors
 * (`addCurrent`, `writeCurrent`, refs) are not atomic read-modify-writes, but
 * a plain store of one aligned element of up to 32 bits cannot tear either
 * (the memory model guarantees it for integer elements). Plain stores of
 * 8-byte kinds carry no such guarantee: `usize` is even written as two
 * 32-bit halves. So a value of 8 bytes that other threads read atomically
 * should be written with {@linkcode AtomicRemote.store} or
 * {@linkcode AtomicRemote.add}.
 *
 * @module
 */

import { checkAccessible } from "../_detached.ts";
import { isRevokedProxy, valueText } from "../_describe.ts";
import type { Region } from "../_memory.ts";
import type { Percpu } from "../percpu.ts";
import { portOf } from "../_port.ts";
import type { PercpuVar } from "../percpu_var.ts";
import { addF32, scalarCodec } from "../_scalar_codec.ts";
import type { ScalarKind, ScalarType, ScalarValue } from "../types.ts";

/** What {@linkcode AtomicRemote.sum} adds up to: `bigint` for 64-bit integers. */
export type SumOf<K extends ScalarKind> = K extends "u64" | "i64" ? bigint : number;

/** Atomic access to every CPU's copy of one scalar variable. */
export interface AtomicRemote<K extends ScalarKind> {
  /**
   * Reads CPU `cpu`'s copy atomically.
   *
   * @param cpu A CPU id below the number of initialised areas.
   * @returns The value.
   * @throws {RangeError} On a bad CPU id, or a `usize`/`isize` that is not a
   *   safe integer.
   * @throws {TypeError} When `cpu` is not a number.
   * @throws {FaultError} When the areas' buffer was detached or shrank.
   */
  load(cpu: number): ScalarValue<K>;
  /**
   * Writes CPU `cpu`'s copy atomically.
   *
   * @param cpu A CPU id.
   * @param value The value, checked as `writeCurrent` checks it.
   * @throws {TypeError} On a wrong JavaScript type.
   * @throws {RangeError} On a bad CPU id or a value the type cannot hold.
   *   Nothing is written.
   * @throws {FaultError} When the areas' buffer was detached or shrank.
   */
  store(cpu: number, value: ScalarValue<K>): void;
  /**
   * Adds to CPU `cpu`'s copy atomically (`fetch_add`), with `addCurrent`'s
   * exact arithmetic: fixed-width integers give the sum modulo 2^width for
   * every delta, floats the exact sum rounded once, `usize`/`isize` refuse a
   * result outside the safe integers.
   *
   * @param cpu A CPU id.
   * @param delta The amount (a `bigint` for `u64`/`i64`).
   * @returns The value before the addition.
   * @throws {TypeError} For `bool`, or a delta of the wrong JavaScript type.
   * @throws {RangeError} On a bad CPU id, a non-integer delta for an integer
   *   type, or an unsafe `usize`/`isize` result. Nothing is written.
   * @throws {FaultError} When the areas' buffer was detached or shrank.
   */
  add(cpu: number, delta: ScalarValue<K>): ScalarValue<K>;
  /**
   * The exact sum of every initialised CPU's copy, each read atomically.
   * Integers are summed exactly (`u64`/`i64` as `bigint`, without wrapping);
   * floats are summed as `f64` in CPU order.
   *
   * @returns The sum.
   * @throws {TypeError} For `bool`.
   * @throws {RangeError} When a `usize`/`isize` sum is not a safe integer.
   * @throws {FaultError} When the areas' buffer was detached or shrank.
   */
  sum(): SumOf<K>;
}

// Scratch words to reinterpret float bit patterns; accesses never allocate
// one (64-bit patterns still travel through a `bigint`).
const scratch = new ArrayBuffer(8);
const scratchF32 = new Float32Array(scratch);
const scratchU32 = new Uint32Array(scratch);
const scratchF64 = new Float64Array(scratch);
const scratchU64 = new BigUint64Array(scratch);

interface WordOps {
  load(views: Region, byte: number): unknown;
  store(views: Region, byte: number, value: unknown): void;
  /** `what` names the access in an error; it is called only to throw one. */
  add(views: Region, byte: number, delta: unknown, what: () => string): unknown;
}

/** `Atomics.add` for kinds whose sum is computed in JS: a CAS loop on 32 bits. */
function casAdd32(words: Uint32Array, index: number, next: (old: number) => number): number {
  for (;;) {
    const old = Atomics.load(words, index);
    if (Atomics.compareExchange(words, index, old, next(old)) === old) return old;
  }
}

/** {@linkcode casAdd32} on 64 bits. */
function casAdd64(
  words: BigUint64Array | BigInt64Array,
  index: number,
  next: (old: bigint) => bigint,
): bigint {
  for (;;) {
    const old = Atomics.load(words, index);
    if (Atomics.compareExchange(words, index, old, next(old)) === old) return old;
  }
}

function pointerSizedOps(kind: "usize" | "isize"): WordOps {
  const codec = scalarCodec(kind, 8);
  const words = (views: Region) => kind === "usize" ? views.u64 : views.i64;
  const toNumber = (raw: bigint): number => {
    const value = Number(raw);
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(
        `reading ${kind}: ${raw} is outside the safe integers that a JavaScript number holds`,
      );
    }
    return value;
  };
  return {
    load: (views, byte) => toNumber(Atomics.load(words(views), byte >>> 3)),
    store(views, byte, value) {
      Atomics.store(words(views), byte >>> 3, BigInt(value as number));
    },
    add: (views, byte, delta, what) =>
      toNumber(
        casAdd64(words(views), byte >>> 3, (old) => {
          const sum = toNumber(old) + (delta as number);
          // codec.add words the error of an unsafe result; it only runs to throw it.
          if (!codec.valid(sum)) codec.add(toNumber(old), delta, what());
          return BigInt(sum);
        }),
      ),
  };
}

const F32_OPS: WordOps = {
  load(views, byte) {
    scratchU32[0] = Atomics.load(views.u32, byte >>> 2);
    return scratchF32[0];
  },
  store(views, byte, value) {
    scratchF32[0] = value as number;
    Atomics.store(views.u32, byte >>> 2, scratchU32[0]);
  },
  add(views, byte, delta) {
    const old = casAdd32(views.u32, byte >>> 2, (bits) => {
      scratchU32[0] = bits;
      scratchF32[0] = addF32(scratchF32[0], delta as number);
      return scratchU32[0];
    });
    scratchU32[0] = old;
    return scratchF32[0];
  },
};

const F64_OPS: WordOps = {
  load(views, byte) {
    scratchU64[0] = Atomics.load(views.u64, byte >>> 3);
    return scratchF64[0];
  },
  store(views, byte, value) {
    scratchF64[0] = value as number;
    Atomics.store(views.u64, byte >>> 3, scratchU64[0]);
  },
  add(views, byte, delta) {
    const old = casAdd64(views.u64, byte >>> 3, (bits) => {
      scratchU64[0] = bits;
      scratchF64[0] = scratchF64[0] + (delta as number);
      return scratchU64[0];
    });
    scratchU64[0] = old;
    return scratchF64[0];
  },
};

type SmallView = "u8" | "u16" | "u32" | "i8" | "i16" | "i32";

/**
 * `Atomics` on an integer view of up to 32 bits. The view is typed as
 * `Int32Array` only to pick `Atomics`' number overloads; at run time it is
 * the kind's own view, so `add` wraps at the kind's width.
 */
function smallOps(view: SmallView, shift: number): WordOps {
  const words = (views: Region) => views[view] as unknown as Int32Array;
  return {
    load: (views, byte) => Atomics.load(words(views), byte >>> shift),
    store(views, byte, value) {
      Atomics.store(words(views), byte >>> shift, value as number);
    },
    add: (views, byte, delta) => Atomics.add(words(views), byte >>> shift, delta as number),
  };
}

function bigOps(view: "u64" | "i64"): WordOps {
  return {
    load: (views, byte) => Atomics.load(views[view], byte >>> 3),
    store(views, byte, value) {
      Atomics.store(views[view], byte >>> 3, value as bigint);
    },
    add: (views, byte, delta) => Atomics.add(views[view], byte >>> 3, delta as bigint),
  };
}

const BOOL_OPS: WordOps = {
  load: (views, byte) => Atomics.load(views.u8, byte) !== 0,
  store(views, byte, value) {
    Atomics.store(views.u8, byte, value ? 1 : 0);
  },
  // Unreachable: `checkDelta` refuses every delta for bool first.
  add: () => undefined,
};

function wordOps(kind: ScalarKind, pointerBytes: 4 | 8): WordOps {
  switch (kind) {
    case "bool":
      return BOOL_OPS;
    case "u8":
    case "i8":
      return smallOps(kind, 0);
    case "u16":
    case "i16":
      return smallOps(kind, 1);
    case "u32":
    case "i32":
      return smallOps(kind, 2);
    case "u64":
    case "i64":
      return bigOps(kind);
    case "usize":
      return pointerBytes === 8 ? pointerSizedOps(kind) : smallOps("u32", 2);
    case "isize":
      return pointerBytes === 8 ? pointerSizedOps(kind) : smallOps("i32", 2);
    case "f32":
      return F32_OPS;
    case "f64":
      return F64_OPS;
  }
}

function sumOf(kind: ScalarKind, values: readonly unknown[]): unknown {
  if (kind === "u64" || kind === "i64") {
    let total = 0n;
    for (const value of values) total += value as bigint;
    return total;
  }
  if (kind === "usize" || kind === "isize") {
    // Each value is safe; a running total past 2^53 would round, so check it.
    let total = 0n;
    for (const value of values) total += BigInt(value as number);
    const result = Number(total);
    if (!Number.isSafeInteger(result)) {
      throw new RangeError(
        `sum: the ${kind} sum ${total} is outside the safe integers that a JavaScript number holds`,
      );
    }
    return result;
  }
  let total = 0;
  for (const value of values) total += value as number;
  return total;
}

/**
 * Atomic access to every CPU's copy of a scalar variable of `percpu`.
 *
 * @param percpu The system that defined the variable (its areas must be
 *   initialised or attached before the first access).
 * @param variable A scalar variable of `percpu`.
 * @returns The accessors, bound to the variable.
 * @throws {TypeError} When `percpu` is not a system, or `variable` not a
 *   scalar variable it defined.
 *
 * @example Counting on two CPUs, reading without tearing
 * ```ts
 * import assert from "node:assert/strict";
 * import { atomicRemote } from "@percpu/percpu/workers";
 * import { createPercpu, u64 } from "@percpu/percpu";
 *
 * const p = createPercpu();
 * const BYTES = p.defPercpu("BYTES", u64, 0n);
 * p.init(2, { buffer: new SharedArrayBuffer(p.percpuAreaLayoutExpected(2).size) });
 * const bytes = atomicRemote(p, BYTES);
 * assert.equal(bytes.add(1, 1500n), 0n);
 * bytes.store(0, 40n);
 * assert.equal(bytes.load(1), 1500n);
 * assert.equal(bytes.sum(), 1540n);
 * assert.throws(() => bytes.load(2), RangeError);
 * ```
 */
export function atomicRemote<K extends ScalarKind>(
  percpu: Percpu,
  variable: PercpuVar<ScalarType<K>>,
): AtomicRemote<K> {
  const kind = checkVariable(percpu, variable, "atomicRemote");
  const codec = scalarCodec(kind, percpu.pointerBytes);
  const ops = wordOps(kind, percpu.pointerBytes);
  // The label is built only for an error: accesses allocate nothing.
  const label = (cpu: number, op: string) => `${variable.name}@CPU ${cpu} atomic ${op}`;
  const size = variable.size;
  const regionAt = (address: number, cpu: number, op: string) => {
    const region = portOf(percpu).memory.resolve(address, size)!;
    if (address + region.bias + size > region.u8.length) {
      checkAccessible(region, address + region.bias, size, label(cpu, op));
    }
    return region;
  };
  const load = (cpu: number) => {
    const address = variable.remotePtr(cpu);
    const views = regionAt(address, cpu, "load");
    return ops.load(views, address + views.bias);
  };
  return {
    load: load as (cpu: number) => ScalarValue<K>,
    store(cpu, value) {
      const address = variable.remotePtr(cpu);
      if (!codec.valid(value)) codec.check(value, label(cpu, "store"));
      const views = regionAt(address, cpu, "store");
      ops.store(views, address + views.bias, value);
    },
    add(cpu, delta) {
      const address = variable.remotePtr(cpu);
      if (!codec.validDelta(delta)) codec.checkDelta(delta, label(cpu, "add"));
      const views = regionAt(address, cpu, "add");
      return ops.add(views, address + views.bias, delta, () => label(cpu, "add")) as ScalarValue<K>;
    },
    sum() {
      if (kind === "bool") {
        throw new TypeError(
          `${variable.name} is a bool; it has no sum (count the CPUs where it is true instead)`,
        );
      }
      const values = Array.from({ length: portOf(percpu).areaCount }, (_, cpu) => load(cpu));
      return sumOf(kind, values) as SumOf<K>;
    },
  };
}

/**
 * The exact sum of a numeric scalar variable over every initialised CPU,
 * each copy read atomically; shorthand for `atomicRemote(percpu, v).sum()`.
 *
 * @param percpu The system that defined the variable.
 * @param variable A scalar variable of `percpu` other than `bool`.
 * @returns The sum: a `bigint` for `u64`/`i64` (never wrapped), else a number.
 * @throws {TypeError} When `variable` is not a numeric scalar of `percpu`.
 * @throws {RangeError} When a `usize`/`isize` sum is not a safe integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u32 } from "@percpu/percpu";
 * import { remoteSum } from "@percpu/percpu/workers";
 *
 * const p = createPercpu({ arch: "aarch64" });
 * const HITS = p.defPercpu("HITS", u32, 0);
 * p.init(4);
 * for (let cpu = 0; cpu < 4; cpu++) HITS.remoteRefMutRaw(cpu).value = 0xffffffff;
 * assert.equal(remoteSum(p, HITS), 4 * 0xffffffff);
 * ```
 */
export function remoteSum<K extends ScalarKind>(
  percpu: Percpu,
  variable: PercpuVar<ScalarType<K>>,
): SumOf<K> {
  return atomicRemote(percpu, variable).sum();
}

function checkVariable(percpu: Percpu, variable: PercpuVar, what: string): ScalarKind {
  let owns: (variable: unknown) => boolean;
  try {
    owns = portOf(percpu).owns;
  } catch {
    throw new TypeError(
      `${what}: expected the per-CPU system made by createPercpu() that defined the variable, got ${
        valueText(percpu)
      }`,
    );
  }
  if (!owns(variable)) {
    const foreign = typeof variable === "object" && variable !== null &&
      !isRevokedProxy(variable) && Object.hasOwn(variable, "symbol");
    throw new TypeError(
      foreign
        ? `${what}: ${variable.name} is not a variable of this system (${percpu.arch}); pass the system that defined it`
        : `${what}: expected a variable defined with defPercpu(), got ${valueText(variable)}`,
    );
  }
  const kind = variable.type.kind;
  if (kind === "struct" || kind === "array") {
    throw new TypeError(
      `${what}: ${variable.name} has type ${kind}; atomic access is for scalar variables`,
    );
  }
  return kind;
}
