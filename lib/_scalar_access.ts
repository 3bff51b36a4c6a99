/**
 * The hot path of the scalar accessors (`readCurrent`, `writeCurrent`,
 * `addCurrent` and their raw forms): for each variable, three closures that
 * go from the current CPU's context straight to one typed-array element.
 *
 * Two V8 behaviours shape this file, both measured with
 * `bench/accessors_bench.ts`:
 *
 * - Functions created from one source literal share type feedback. Had one
 *   generic accessor called the variable's codec, that call site would see
 *   every scalar kind a program uses and turn megamorphic: a real call per
 *   access (about 9 ns instead of 0.4 ns once five kinds are in use). So each
 *   kind has its own factory below, and every typed-array access sits in a
 *   literal that only ever sees one kind.
 * - A branch that throws inside an accessor V8 inlines into a loop (such as
 *   `if (area === null) throw …` or a failed range check) keeps V8 from
 *   hoisting the accessor's loads out of the loop: about 3 ns per access
 *   instead of 0.4 ns. So failures are not branches here: an unmapped
 *   register, or a value or delta the codec rejects, makes the area `null`,
 *   touching it inside `try` throws, and only the `catch` works out which
 *   error to report. On the fast path that touch is a map check V8 hoists.
 *
 * @module
 */

import type { CpuContext } from "./_cpu_context.ts";
import type { FaultError } from "./errors.ts";
import type { Region } from "./_memory.ts";
import type { ScalarCodec } from "./_scalar_codec.ts";
import type { ScalarKind } from "./types.ts";

/** Where a variable's accessors find the current CPU's copy. */
export interface AccessPlace {
  /** The defining system: its current context, and the fault it reports. */
  readonly host: {
    /** The current CPU's registers. */
    readonly context: CpuContext;
    /** The fault for an access through a register that points nowhere. */
    fault(context: CpuContext, who: string): FaultError;
  };
  /** The variable's offset from an area base. */
  readonly offset: number;
  /** The reader's name in messages, e.g. `X.readCurrent`. */
  readonly read: string;
  /** The writer's name in messages, e.g. `X.writeCurrent`. */
  readonly write: string;
  /** The adder's name in messages, e.g. `X.addCurrent`. */
  readonly add: string;
}

/** The unguarded accessors of one scalar variable. */
export interface ScalarAccessors {
  /** Reads the current CPU's value. */
  read(): unknown;
  /** Checks and writes the current CPU's value. */
  write(value: unknown): void;
  /** Checks a delta and adds it to the current CPU's value. */
  add(delta: unknown): void;
}

/**
 * The current CPU's area, or the `FaultError` of a register that points at
 * no area. Reading `bias` is what throws (a `TypeError` on `null`); see the
 * module documentation for why this is not an `if`.
 */
function readable(place: AccessPlace): Region {
  const context = place.host.context;
  try {
    const region = context.area!;
    void region.bias;
    return region;
  } catch {
    throw place.host.fault(context, place.read);
  }
}

/**
 * The current CPU's area to write `value` to, given whether the codec
 * accepts it. A rejected value takes the same path as an unmapped register
 * (no area, so reading `bias` throws); the `catch` then throws the value's
 * own error first and the fault second, the order the accessors always had.
 */
function writable(place: AccessPlace, codec: ScalarCodec, value: unknown, ok: boolean): Region {
  const context = place.host.context;
  try {
    const region = (ok ? context.area : null)!;
    void region.bias;
    return region;
  } catch {
    codec.check(value, place.write);
    throw place.host.fault(context, place.write);
  }
}

/** {@linkcode writable} for a delta, checked with `checkDelta`. */
function addable(place: AccessPlace, codec: ScalarCodec, delta: unknown, ok: boolean): Region {
  const context = place.host.context;
  try {
    const region = (ok ? context.area : null)!;
    void region.bias;
    return region;
  } catch {
    codec.checkDelta(delta, place.add);
    throw place.host.fault(context, place.add);
  }
}

/** Byte index of the current CPU's copy in its area's buffer. */
function byte(place: AccessPlace): number {
  return place.host.context.byte + place.offset;
}

type Factory = (codec: ScalarCodec, place: AccessPlace) => ScalarAccessors;

// Additions store the plain sum: a typed-array store converts it modulo the
// element width (ToUint32, ToInt8, ToBigUint64, …) or rounds it to f32, the
// same wrapping and rounding `ScalarCodec.add` computes. Each factory is the
// same three lines for another view; they stay separate literals on purpose.
const FACTORIES: Readonly<Record<Exclude<ScalarKind, "usize" | "isize">, Factory>> & {
  readonly pointerSized: Factory;
} = {
  bool: (codec, p) => ({
    read: () => readable(p).u8[byte(p)] !== 0,
    write(value) {
      writable(p, codec, value, codec.valid(value)).u8[byte(p)] = value ? 1 : 0;
    },
    add(delta) {
      addable(p, codec, delta, false);
    },
  }),
  u8: (codec, p) => ({
    read: () => readable(p).u8[byte(p)],
    write(value) {
      writable(p, codec, value, codec.valid(value)).u8[byte(p)] = value as number;
    },
    add(delta) {
      const view = addable(p, codec, delta, codec.validDelta(delta)).u8, i = byte(p);
      view[i] = view[i] + (delta as number);
    },
  }),
  u16: (codec, p) => ({
    read: () => readable(p).u16[byte(p) >>> 1],
    write(value) {
      writable(p, codec, value, codec.valid(value)).u16[byte(p) >>> 1] = value as number;
    },
    add(delta) {
      const view = addable(p, codec, delta, codec.validDelta(delta)).u16, i = byte(p) >>> 1;
      view[i] = view[i] + (delta as number);
    },
  }),
  u32: (codec, p) => ({
    read: () => readable(p).u32[byte(p) >>> 2],
    write(value) {
      writable(p, codec, value, codec.valid(value)).u32[byte(p) >>> 2] = value as number;
    },
    add(delta) {
      const view = addable(p, codec, delta, codec.validDelta(delta)).u32, i = byte(p) >>> 2;
      view[i] = view[i] + (delta as number);
    },
  }),
  u64: (codec, p) => ({
    read: () => readable(p).u64[byte(p) >>> 3],
    write(value) {
      writable(p, codec, value, codec.valid(value)).u64[byte(p) >>> 3] = value as bigint;
    },
    add(delta) {
      const view = addable(p, codec, delta, codec.validDelta(delta)).u64, i = byte(p) >>> 3;
      view[i] = view[i] + (delta as bigint);
    },
  }),
  i8: (codec, p) => ({
    read: () => readable(p).i8[byte(p)],
    write(value) {
      writable(p, codec, value, codec.valid(value)).i8[byte(p)] = value as number;
    },
    add(delta) {
      const view = addable(p, codec, delta, codec.validDelta(delta)).i8, i = byte(p);
      view[i] = view[i] + (delta as number);
    },
  }),
  i16: (codec, p) => ({
    read: () => readable(p).i16[byte(p) >>> 1],
    write(value) {
      writable(p, codec, value, codec.valid(value)).i16[byte(p) >>> 1] = value as number;
    },
    add(delta) {
      const view = addable(p, codec, delta, codec.validDelta(delta)).i16, i = byte(p) >>> 1;
      view[i] = view[i] + (delta as number);
    },
  }),
  i32: (codec, p) => ({
    read: () => readable(p).i32[byte(p) >>> 2],
    write(value) {
      writable(p, codec, value, codec.valid(value)).i32[byte(p) >>> 2] = value as number;
    },
    add(delta) {
      const view = addable(p, codec, delta, codec.validDelta(delta)).i32, i = byte(p) >>> 2;
      view[i] = view[i] + (delta as number);
    },
  }),
  i64: (codec, p) => ({
    read: () => readable(p).i64[byte(p) >>> 3],
    write(value) {
      writable(p, codec, value, codec.valid(value)).i64[byte(p) >>> 3] = value as bigint;
    },
    add(delta) {
      const view = addable(p, codec, delta, codec.validDelta(delta)).i64, i = byte(p) >>> 3;
      view[i] = view[i] + (delta as bigint);
    },
  }),
  f32: (codec, p) => ({
    read: () => readable(p).f32[byte(p) >>> 2],
    write(value) {
      writable(p, codec, value, codec.valid(value)).f32[byte(p) >>> 2] = value as number;
    },
    add(delta) {
      const view = addable(p, codec, delta, codec.validDelta(delta)).f32, i = byte(p) >>> 2;
      view[i] = view[i] + (delta as number);
    },
  }),
  f64: (codec, p) => ({
    read: () => readable(p).f64[byte(p) >>> 3],
    write(value) {
      writable(p, codec, value, codec.valid(value)).f64[byte(p) >>> 3] = value as number;
    },
    add(delta) {
      const view = addable(p, codec, delta, codec.validDelta(delta)).f64, i = byte(p) >>> 3;
      view[i] = view[i] + (delta as number);
    },
  }),
  // `usize`/`isize` on 64-bit targets span two 32-bit words and must stay
  // safe integers: the codec's own read, add and write do that.
  pointerSized: (codec, p) => ({
    read: () => codec.read(readable(p), byte(p)),
    write(value) {
      codec.write(writable(p, codec, value, codec.valid(value)), byte(p), value);
    },
    add(delta) {
      const views = addable(p, codec, delta, codec.validDelta(delta)), i = byte(p);
      codec.write(views, i, codec.add(codec.read(views, i), delta, p.add));
    },
  }),
};

/**
 * Builds the unguarded accessors of one scalar variable.
 *
 * @param codec The variable's codec (its kind and pointer width).
 * @param place Where the variable lives and how its accessors are named.
 * @returns `read`, `write` and `add`, specialised for the codec's kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, FaultError, u32 } from "@percpu/percpu";
 * import { scalarAccessors } from "./_scalar_access.ts";
 * import { scalarCodec } from "./_scalar_codec.ts";
 * import { portOf } from "./_port.ts";
 *
 * const p = createPercpu({ arch: "riscv64" });
 * const hits = p.defPercpu("HITS", u32, 0);
 * p.init(2);
 * p.initPercpuReg(1);
 * const host = { context: portOf(p).context, fault: (_: unknown, who: string) => new FaultError(0, who) };
 * const access = scalarAccessors(scalarCodec("u32", 8), {
 *   host,
 *   offset: hits.offset(),
 *   read: "HITS.read",
 *   write: "HITS.write",
 *   add: "HITS.add",
 * });
 * access.write(0xffffffff);
 * access.add(2);
 * assert.equal(access.read(), 1);
 * assert.equal(hits.remoteRefRaw(1).value, 1);
 * ```
 */
export function scalarAccessors(codec: ScalarCodec, place: AccessPlace): ScalarAccessors {
  const kind = codec.kind;
  if (kind === "usize" || kind === "isize") {
    // On 32-bit targets they are one u32/i32 word.
    const factory = codec.size === 8
      ? FACTORIES.pointerSized
      : FACTORIES[kind === "usize" ? "u32" : "i32"];
    return factory(codec, place);
  }
  return FACTORIES[kind](codec, place);
}
