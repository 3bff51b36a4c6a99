/**
 * The hot paths of a scalar variable: `readCurrent`, `writeCurrent`,
 * `addCurrent` (their raw forms are the same functions) and `withCurrent`,
 * built per variable as closures that go from the current CPU's context
 * straight to one typed-array element.
 *
 * Three V8 behaviours shape this file, all measured with
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
 * - A typed-array load that has never been out of bounds compiles to a
 *   bounds check that deoptimises instead of returning `undefined`, so
 *   V8 knows the loaded value is a number and drops a following
 *   `=== undefined` test. That test is how every access here notices that
 *   the buffer under the area was detached or shrank (its views then have
 *   length 0): free on the fast path, a `FaultError` when it happens.
 *   Writes load the element first for the same test.
 *
 * `withCurrent` passes a reference that is one object per variable, bound to
 * the current CPU's copy for the duration of the call and unbound after, so
 * that the call allocates nothing. Its class is made per variable, so that a
 * closure's `ref.value` sees one map and V8 inlines the accessor down to the
 * typed-array access. (The general references of `refs.ts`, one class for
 * every kind, reach the value through the codec at a call site all kinds
 * share: about 50 ns per `withCurrent` call, against about 15 ns here. A
 * plain object given the accessors with `Object.defineProperties` would not
 * do either: V8 turns it into a dictionary for the second variable, because
 * its accessor pair differs from the one the first installed on the same map
 * transition.)
 *
 * @module
 */

import type { CpuContext } from "./_cpu_context.ts";
import { detachedFault } from "./_detached.ts";
import { valueText } from "./_describe.ts";
import type { FaultError } from "./errors.ts";
import { DENO_INSPECT, NODE_INSPECT } from "./_inspect.ts";
import type { Region, Views } from "./_memory.ts";
import { addF32, type ScalarCodec } from "./_scalar_codec.ts";
import { refLabel } from "./refs.ts";
import type { ScalarKind } from "./types.ts";

/** What the accessors need from the system that defined the variable. */
export interface AccessHost {
  /** The current CPU's registers. */
  readonly context: CpuContext;
  /** The fault for an access through a register that points nowhere. */
  fault(context: CpuContext, who: string): FaultError;
  /** The CPU whose area holds an address, or −1. */
  cpuOfAddress(address: number): number;
}

/** Where a variable's accessors find the current CPU's copy. */
export interface AccessPlace {
  /** The defining system. */
  readonly host: AccessHost;
  /** The variable's name, for messages. */
  readonly name: string;
  /** The variable's offset from an area base. */
  readonly offset: number;
  /**
   * The offset of x86_64's `SELF_PTR` slot, which `current_ptr()` reads the
   * area base from there, or −1 where `current_ptr()` adds the register
   * itself (or, under `sp-naive`, nothing). Asked once, on the first
   * `withCurrent` call, when every variable is defined.
   */
  selfPtrOffset(): number;
  /**
   * The variable's lasting mutable reference to the current CPU's copy
   * (`currentRefMutRaw()`): what `withCurrent` passes when its own reference
   * is in use or the copy is not the one the register's area holds.
   */
  currentRef(): unknown;
}

/** The unguarded accessors of one scalar variable. */
export interface ScalarAccessors {
  /** Reads the current CPU's value. */
  read(): unknown;
  /** Checks and writes the current CPU's value. */
  write(value: unknown): void;
  /** Checks a delta and adds it to the current CPU's value. */
  add(delta: unknown): void;
  /** Runs `f` on a mutable reference to the current CPU's copy. */
  with(f: (ref: never) => unknown): unknown;
}

/**
 * What a variable's accessors share that is not specific to its kind: its
 * names, its place, and the binding of its `withCurrent` reference.
 */
class Site {
  readonly place: AccessPlace;
  readonly host: AccessHost;
  readonly offset: number;
  readonly size: number;
  readonly read: string;
  readonly write: string;
  readonly add: string;
  readonly with: string;
  /** The region `withCurrent`'s reference is bound into while `busy`. */
  region: Region | null = null;
  /** The bound copy's byte index into `region`'s buffer. */
  byte = 0;
  /** A `withCurrent` call is using the reference. */
  busy = false;
  /** {@linkcode AccessPlace.selfPtrOffset}, once asked (−2 before). */
  #selfPtr = -2;

  constructor(place: AccessPlace, size: number) {
    this.place = place;
    this.host = place.host;
    this.offset = place.offset;
    this.size = size;
    this.read = `${place.name}.readCurrent`;
    this.write = `${place.name}.writeCurrent`;
    this.add = `${place.name}.addCurrent`;
    this.with = `${place.name}.withCurrent`;
  }

  /**
   * Binds the reference to the current CPU's copy for a `withCurrent(f)`
   * call and marks it busy, or returns `null` when the call must take the
   * general path: the reference is in use (a nested call), there is no area
   * (the general path reports the fault), or, on x86_64, `SELF_PTR` does not
   * hold the register's value (a re-`init()` resets it), so the copy
   * `current_ptr()` names is not the one in the register's area.
   */
  bind(f: unknown): Region | null {
    if (typeof f !== "function") {
      throw new TypeError(`${this.with} expects a function, got ${valueText(f)}`);
    }
    const context = this.host.context;
    const area = context.area;
    if (this.busy || area === null) return null;
    let self = this.#selfPtr;
    if (self === -2) self = this.#selfPtr = this.place.selfPtrOffset();
    if (self >= 0) {
      // SELF_PTR as two words. Integer compares only: a value of 2^32 or
      // more (never an area base here) just takes the general path.
      const word = (context.byte + self) >>> 2;
      if (area.u32[word + 1] !== 0 || area.u32[word] !== context.reg) return null;
    }
    this.region = area;
    this.byte = context.byte + this.offset;
    this.busy = true;
    return area;
  }

  /** The message name of the bound reference, e.g. `X@0x90000040 (CPU 1)`. */
  label(): string {
    const address = this.address();
    const cpu = this.host.cpuOfAddress(address);
    return refLabel(this.place.name, address, cpu < 0 ? null : cpu);
  }

  /** The bound copy's address. */
  address(): number {
    if (!this.busy) throw this.expired();
    return this.byte - this.region!.bias;
  }

  /** The error for a reference used after its `withCurrent` call returned. */
  expired(): TypeError {
    return new TypeError(
      `${this.with}: its reference is only valid during the call; keep currentRefMutRaw() for a lasting one`,
    );
  }

  /** Throws why the bound reference's element read as `undefined`. */
  lostBound(): never {
    if (!this.busy) throw this.expired();
    throw detachedFault(this.region!, this.address(), this.size, this.label());
  }

  /** Throws the fault of an access whose element read as `undefined`. */
  lost(context: CpuContext, who: string): never {
    const region = context.area!;
    throw detachedFault(region, context.byte + this.offset - region.bias, this.size, who);
  }
}

/** What every `withCurrent` reference has besides its kind's `value`. */
class CurrentRef {
  readonly #site: Site;

  constructor(site: Site) {
    this.#site = site;
  }

  /** The bound copy's address. */
  get address(): number {
    return this.#site.address();
  }

  /** `true`: `withCurrent` gives `&mut T`. */
  get mutable(): boolean {
    return true;
  }

  [DENO_INSPECT](inspect: (value: unknown, options: unknown) => string, options: unknown): string {
    return inspect(this.#shown(), options);
  }

  [NODE_INSPECT](
    _depth: number,
    options: unknown,
    inspect: (value: unknown, options: unknown) => string,
  ): string {
    return inspect(this.#shown(), options);
  }

  /** What `console.log` shows: the value, or why there is none. */
  #shown(): unknown {
    const site = this.#site;
    if (!site.busy) return `<expired ${site.with} reference>`;
    try {
      return (this as unknown as { value: unknown }).value;
    } catch (error) {
      return `<${(error as Error).name}: ${(error as Error).message}>`;
    }
  }
}

/**
 * The current CPU's area, or the `FaultError` of a register that points at
 * no area. Reading `bias` is what throws (a `TypeError` on `null`); see the
 * module documentation for why this is not an `if`.
 */
function readable(context: CpuContext, s: Site): Region {
  try {
    const region = context.area!;
    void region.bias;
    return region;
  } catch {
    throw s.host.fault(context, s.read);
  }
}

/**
 * The current CPU's area to write `value` to, given whether the codec
 * accepts it. A rejected value takes the same path as an unmapped register
 * (no area, so reading `bias` throws); the `catch` then throws the value's
 * own error first and the fault second, the order the accessors always had.
 */
function writable(
  context: CpuContext,
  s: Site,
  codec: ScalarCodec,
  value: unknown,
  ok: boolean,
): Region {
  try {
    const region = (ok ? context.area : null)!;
    void region.bias;
    return region;
  } catch {
    codec.check(value, s.write);
    throw s.host.fault(context, s.write);
  }
}

/** {@linkcode writable} for a delta, checked with `checkDelta`. */
function addable(
  context: CpuContext,
  s: Site,
  codec: ScalarCodec,
  delta: unknown,
  ok: boolean,
): Region {
  try {
    const region = (ok ? context.area : null)!;
    void region.bias;
    return region;
  } catch {
    codec.checkDelta(delta, s.add);
    throw s.host.fault(context, s.add);
  }
}

/** Unbound views of every width, so an unbound reference reads `undefined`. */
const NO_VIEWS: Views = {
  u8: new Uint8Array(0),
  i8: new Int8Array(0),
  u16: new Uint16Array(0),
  i16: new Int16Array(0),
  u32: new Uint32Array(0),
  i32: new Int32Array(0),
  f32: new Float32Array(0),
  f64: new Float64Array(0),
  u64: new BigUint64Array(0),
  i64: new BigInt64Array(0),
};

type Factory = (codec: ScalarCodec, s: Site) => ScalarAccessors;

// Each factory is the same accessors for another view; they stay separate
// literals on purpose (see the module documentation). Additions reduce the
// delta to the width before adding (`d & 0xff`, `d >>> 0`, … are exactly
// `d mod 2^width` for a safe integer), so the sum is exact before the store
// wraps it: an unreduced delta of 2^53 − 1 would round the sum first.
const FACTORIES: Readonly<Record<Exclude<ScalarKind, "usize" | "isize">, Factory>> & {
  readonly pointerSized: Factory;
} = {
  bool(codec, s) {
    const host = s.host, offset = s.offset;
    let view = NO_VIEWS.u8, at = 0;
    class Ref extends CurrentRef {
      get value(): unknown {
        const v = view[at];
        return v !== undefined ? v !== 0 : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (view[at] === undefined) s.lostBound();
        view[at] = value ? 1 : 0;
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const v = readable(c, s).u8[c.byte + offset];
        return v !== undefined ? v !== 0 : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const view = writable(c, s, codec, value, codec.valid(value)).u8, i = c.byte + offset;
        if (view[i] === undefined) s.lost(c, s.write);
        view[i] = value ? 1 : 0;
      },
      add(delta) {
        addable(host.context, s, codec, delta, false);
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        view = area.u8;
        at = s.byte;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          view = NO_VIEWS.u8;
        }
      },
    };
  },
  u8(codec, s) {
    const host = s.host, offset = s.offset;
    let view = NO_VIEWS.u8, at = 0;
    class Ref extends CurrentRef {
      get value(): unknown {
        const v = view[at];
        return v !== undefined ? v : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (view[at] === undefined) s.lostBound();
        view[at] = value as number;
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const v = readable(c, s).u8[c.byte + offset];
        return v !== undefined ? v : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const view = writable(c, s, codec, value, codec.valid(value)).u8, i = c.byte + offset;
        if (view[i] === undefined) s.lost(c, s.write);
        view[i] = value as number;
      },
      add(delta) {
        const c = host.context;
        const view = addable(c, s, codec, delta, codec.validDelta(delta)).u8, i = c.byte + offset;
        const old = view[i];
        view[i] = (old !== undefined ? old : s.lost(c, s.add)) + ((delta as number) & 0xff);
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        view = area.u8;
        at = s.byte;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          view = NO_VIEWS.u8;
        }
      },
    };
  },
  u16(codec, s) {
    const host = s.host, offset = s.offset;
    let view = NO_VIEWS.u16, at = 0;
    class Ref extends CurrentRef {
      get value(): unknown {
        const v = view[at];
        return v !== undefined ? v : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (view[at] === undefined) s.lostBound();
        view[at] = value as number;
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const v = readable(c, s).u16[(c.byte + offset) >>> 1];
        return v !== undefined ? v : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const view = writable(c, s, codec, value, codec.valid(value)).u16;
        const i = (c.byte + offset) >>> 1;
        if (view[i] === undefined) s.lost(c, s.write);
        view[i] = value as number;
      },
      add(delta) {
        const c = host.context;
        const view = addable(c, s, codec, delta, codec.validDelta(delta)).u16;
        const i = (c.byte + offset) >>> 1, old = view[i];
        view[i] = (old !== undefined ? old : s.lost(c, s.add)) + ((delta as number) & 0xffff);
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        view = area.u16;
        at = s.byte >>> 1;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          view = NO_VIEWS.u16;
        }
      },
    };
  },
  u32(codec, s) {
    const host = s.host, offset = s.offset;
    let view = NO_VIEWS.u32, at = 0;
    class Ref extends CurrentRef {
      get value(): unknown {
        const v = view[at];
        return v !== undefined ? v : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (view[at] === undefined) s.lostBound();
        view[at] = value as number;
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const v = readable(c, s).u32[(c.byte + offset) >>> 2];
        return v !== undefined ? v : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const view = writable(c, s, codec, value, codec.valid(value)).u32;
        const i = (c.byte + offset) >>> 2;
        if (view[i] === undefined) s.lost(c, s.write);
        view[i] = value as number;
      },
      add(delta) {
        const c = host.context;
        const view = addable(c, s, codec, delta, codec.validDelta(delta)).u32;
        const i = (c.byte + offset) >>> 2, old = view[i];
        view[i] = (old !== undefined ? old : s.lost(c, s.add)) + ((delta as number) >>> 0);
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        view = area.u32;
        at = s.byte >>> 2;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          view = NO_VIEWS.u32;
        }
      },
    };
  },
  u64(codec, s) {
    const host = s.host, offset = s.offset;
    let view = NO_VIEWS.u64, at = 0;
    class Ref extends CurrentRef {
      get value(): unknown {
        const v = view[at];
        return v !== undefined ? v : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (view[at] === undefined) s.lostBound();
        view[at] = value as bigint;
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const v = readable(c, s).u64[(c.byte + offset) >>> 3];
        return v !== undefined ? v : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const view = writable(c, s, codec, value, codec.valid(value)).u64;
        const i = (c.byte + offset) >>> 3;
        if (view[i] === undefined) s.lost(c, s.write);
        view[i] = value as bigint;
      },
      add(delta) {
        const c = host.context;
        const view = addable(c, s, codec, delta, codec.validDelta(delta)).u64;
        const i = (c.byte + offset) >>> 3, old = view[i];
        view[i] = (old !== undefined ? old : s.lost(c, s.add)) + (delta as bigint);
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        view = area.u64;
        at = s.byte >>> 3;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          view = NO_VIEWS.u64;
        }
      },
    };
  },
  i8(codec, s) {
    const host = s.host, offset = s.offset;
    let view = NO_VIEWS.i8, at = 0;
    class Ref extends CurrentRef {
      get value(): unknown {
        const v = view[at];
        return v !== undefined ? v : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (view[at] === undefined) s.lostBound();
        view[at] = value as number;
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const v = readable(c, s).i8[c.byte + offset];
        return v !== undefined ? v : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const view = writable(c, s, codec, value, codec.valid(value)).i8, i = c.byte + offset;
        if (view[i] === undefined) s.lost(c, s.write);
        view[i] = value as number;
      },
      add(delta) {
        const c = host.context;
        const view = addable(c, s, codec, delta, codec.validDelta(delta)).i8, i = c.byte + offset;
        const old = view[i];
        view[i] = (old !== undefined ? old : s.lost(c, s.add)) + ((delta as number) & 0xff);
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        view = area.i8;
        at = s.byte;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          view = NO_VIEWS.i8;
        }
      },
    };
  },
  i16(codec, s) {
    const host = s.host, offset = s.offset;
    let view = NO_VIEWS.i16, at = 0;
    class Ref extends CurrentRef {
      get value(): unknown {
        const v = view[at];
        return v !== undefined ? v : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (view[at] === undefined) s.lostBound();
        view[at] = value as number;
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const v = readable(c, s).i16[(c.byte + offset) >>> 1];
        return v !== undefined ? v : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const view = writable(c, s, codec, value, codec.valid(value)).i16;
        const i = (c.byte + offset) >>> 1;
        if (view[i] === undefined) s.lost(c, s.write);
        view[i] = value as number;
      },
      add(delta) {
        const c = host.context;
        const view = addable(c, s, codec, delta, codec.validDelta(delta)).i16;
        const i = (c.byte + offset) >>> 1, old = view[i];
        view[i] = (old !== undefined ? old : s.lost(c, s.add)) + ((delta as number) & 0xffff);
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        view = area.i16;
        at = s.byte >>> 1;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          view = NO_VIEWS.i16;
        }
      },
    };
  },
  i32(codec, s) {
    const host = s.host, offset = s.offset;
    let view = NO_VIEWS.i32, at = 0;
    class Ref extends CurrentRef {
      get value(): unknown {
        const v = view[at];
        return v !== undefined ? v : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (view[at] === undefined) s.lostBound();
        view[at] = value as number;
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const v = readable(c, s).i32[(c.byte + offset) >>> 2];
        return v !== undefined ? v : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const view = writable(c, s, codec, value, codec.valid(value)).i32;
        const i = (c.byte + offset) >>> 2;
        if (view[i] === undefined) s.lost(c, s.write);
        view[i] = value as number;
      },
      add(delta) {
        const c = host.context;
        const view = addable(c, s, codec, delta, codec.validDelta(delta)).i32;
        const i = (c.byte + offset) >>> 2, old = view[i];
        view[i] = (old !== undefined ? old : s.lost(c, s.add)) + ((delta as number) | 0);
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        view = area.i32;
        at = s.byte >>> 2;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          view = NO_VIEWS.i32;
        }
      },
    };
  },
  i64(codec, s) {
    const host = s.host, offset = s.offset;
    let view = NO_VIEWS.i64, at = 0;
    class Ref extends CurrentRef {
      get value(): unknown {
        const v = view[at];
        return v !== undefined ? v : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (view[at] === undefined) s.lostBound();
        view[at] = value as bigint;
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const v = readable(c, s).i64[(c.byte + offset) >>> 3];
        return v !== undefined ? v : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const view = writable(c, s, codec, value, codec.valid(value)).i64;
        const i = (c.byte + offset) >>> 3;
        if (view[i] === undefined) s.lost(c, s.write);
        view[i] = value as bigint;
      },
      add(delta) {
        const c = host.context;
        const view = addable(c, s, codec, delta, codec.validDelta(delta)).i64;
        const i = (c.byte + offset) >>> 3, old = view[i];
        view[i] = (old !== undefined ? old : s.lost(c, s.add)) + (delta as bigint);
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        view = area.i64;
        at = s.byte >>> 3;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          view = NO_VIEWS.i64;
        }
      },
    };
  },
  f32(codec, s) {
    const host = s.host, offset = s.offset;
    let view = NO_VIEWS.f32, at = 0;
    class Ref extends CurrentRef {
      get value(): unknown {
        const v = view[at];
        return v !== undefined ? v : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (view[at] === undefined) s.lostBound();
        view[at] = value as number;
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const v = readable(c, s).f32[(c.byte + offset) >>> 2];
        return v !== undefined ? v : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const view = writable(c, s, codec, value, codec.valid(value)).f32;
        const i = (c.byte + offset) >>> 2;
        if (view[i] === undefined) s.lost(c, s.write);
        view[i] = value as number;
      },
      add(delta) {
        const c = host.context;
        const view = addable(c, s, codec, delta, codec.validDelta(delta)).f32;
        const i = (c.byte + offset) >>> 2, old = view[i];
        // Storing `old + delta` would round twice (to f64, then to f32).
        view[i] = addF32(old !== undefined ? old : s.lost(c, s.add), delta as number);
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        view = area.f32;
        at = s.byte >>> 2;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          view = NO_VIEWS.f32;
        }
      },
    };
  },
  f64(codec, s) {
    const host = s.host, offset = s.offset;
    let view = NO_VIEWS.f64, at = 0;
    class Ref extends CurrentRef {
      get value(): unknown {
        const v = view[at];
        return v !== undefined ? v : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (view[at] === undefined) s.lostBound();
        view[at] = value as number;
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const v = readable(c, s).f64[(c.byte + offset) >>> 3];
        return v !== undefined ? v : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const view = writable(c, s, codec, value, codec.valid(value)).f64;
        const i = (c.byte + offset) >>> 3;
        if (view[i] === undefined) s.lost(c, s.write);
        view[i] = value as number;
      },
      add(delta) {
        const c = host.context;
        const view = addable(c, s, codec, delta, codec.validDelta(delta)).f64;
        const i = (c.byte + offset) >>> 3, old = view[i];
        view[i] = (old !== undefined ? old : s.lost(c, s.add)) + (delta as number);
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        view = area.f64;
        at = s.byte >>> 3;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          view = NO_VIEWS.f64;
        }
      },
    };
  },
  // `usize`/`isize` on 64-bit targets span two 32-bit words and must stay
  // safe integers: the codec's own read, add and write do that. Its high
  // word is the last one touched, so that is the one tested for `undefined`.
  pointerSized(codec, s) {
    const host = s.host, offset = s.offset;
    let bound: Region | null = null, at = 0;
    const there = (region: Region | null, byte: number) =>
      region !== null && region.u32[(byte >>> 2) + 1] !== undefined;
    class Ref extends CurrentRef {
      get value(): unknown {
        return there(bound, at) ? codec.read(bound!, at) : s.lostBound();
      }
      set value(value: unknown) {
        if (!codec.valid(value)) codec.check(value, s.label());
        if (!there(bound, at)) s.lostBound();
        codec.write(bound!, at, value);
      }
    }
    const ref = new Ref(s);
    return {
      read() {
        const c = host.context;
        const region = readable(c, s), i = c.byte + offset;
        return there(region, i) ? codec.read(region, i) : s.lost(c, s.read);
      },
      write(value) {
        const c = host.context;
        const region = writable(c, s, codec, value, codec.valid(value)), i = c.byte + offset;
        if (!there(region, i)) s.lost(c, s.write);
        codec.write(region, i, value);
      },
      add(delta) {
        const c = host.context;
        const region = addable(c, s, codec, delta, codec.validDelta(delta)), i = c.byte + offset;
        if (!there(region, i)) s.lost(c, s.add);
        codec.write(region, i, codec.add(codec.read(region, i), delta, s.add));
      },
      with(f) {
        const area = s.bind(f);
        if (area === null) return f(s.place.currentRef() as never);
        bound = area;
        at = s.byte;
        try {
          return f(ref as never);
        } finally {
          s.busy = false;
          bound = null;
        }
      },
    };
  },
};

/**
 * Builds the unguarded accessors of one scalar variable.
 *
 * @param codec The variable's codec (its kind and pointer width).
 * @param place Where the variable lives and how it is named.
 * @returns `read`, `write`, `add` and `with`, specialised for the codec's kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u32 } from "@percpu/percpu";
 * import { scalarAccessors } from "./_scalar_access.ts";
 * import { scalarCodec } from "./_scalar_codec.ts";
 * import { portOf } from "./_port.ts";
 *
 * const p = createPercpu({ arch: "riscv64" });
 * const hits = p.defPercpu("HITS", u32, 0);
 * p.init(2);
 * p.initPercpuReg(1);
 * const port = portOf(p);
 * const access = scalarAccessors(scalarCodec("u32", 8), {
 *   host: {
 *     context: port.context,
 *     fault: () => new Error("unmapped") as never,
 *     cpuOfAddress: (address) => port.cpuOfAddress(address),
 *   },
 *   name: "HITS",
 *   offset: hits.offset(),
 *   selfPtrOffset: () => -1,
 *   currentRef: () => hits.currentRefMutRaw(),
 * });
 * access.write(0xffffffff);
 * access.add(2);
 * assert.equal(access.read(), 1);
 * access.with((ref: { value: number }) => ref.value += 1);
 * assert.equal(hits.remoteRefRaw(1).value, 2);
 * ```
 */
export function scalarAccessors(codec: ScalarCodec, place: AccessPlace): ScalarAccessors {
  const kind = codec.kind;
  const site = new Site(place, codec.size);
  if (kind === "usize" || kind === "isize") {
    // On 32-bit targets they are one u32/i32 word.
    const factory = codec.size === 8
      ? FACTORIES.pointerSized
      : FACTORIES[kind === "usize" ? "u32" : "i32"];
    return factory(codec, site);
  }
  return FACTORIES[kind](codec, site);
}
