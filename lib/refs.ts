/**
 * References to one CPU's copy of a per-CPU variable, the TypeScript form of
 * Rust's `&T` / `&mut T`. A ref is bound to an address; its `value` reads and
 * writes simulated memory on every access. Struct and array values are live
 * views whose fields and elements write through.
 *
 * @module
 */

import { hex } from "./_describe.ts";
import { checkMapped, type Region } from "./_memory.ts";
import { type ScalarCodec, scalarCodec } from "./_scalar_codec.ts";
import { type ArrayType, layoutOf, type Type, type ValueOf } from "./types.ts";
import { checkValue, readValue, writeValue } from "./_value_codec.ts";

/** A read-only reference (`&T`): writes throw `TypeError`. */
export interface PercpuRef<T extends Type> {
  /** The simulated address the reference points at. */
  readonly address: number;
  /** `false`. */
  readonly mutable: boolean;
  /**
   * The value; for structs and arrays a live view whose fields refuse writes
   * with `TypeError` (typed as `ValueOf<T>` so it can be assigned through a
   * mutable ref).
   */
  readonly value: ValueOf<T>;
}

/** A mutable reference (`&mut T`). */
export interface PercpuMutRef<T extends Type> {
  /** The simulated address the reference points at. */
  readonly address: number;
  /** `true`. */
  readonly mutable: boolean;
  /**
   * The value. Reading a struct or array gives a live view whose fields write
   * through; assigning a whole value (another ref's view included) checks all
   * of it before writing any.
   */
  value: ValueOf<T>;
}

/** Where a ref points and how to name it in messages. */
export interface RefTarget {
  /** The variable's type. */
  readonly type: Type;
  /** The region holding the address. */
  readonly region: Region;
  /** The simulated address. */
  readonly address: number;
  /** The architecture's pointer width. */
  readonly pointerBytes: 4 | 8;
  /** e.g. `CPU_ID on CPU 1`, for messages. */
  readonly label: string;
}

function readOnly(label: string): TypeError {
  return new TypeError(
    `${label} is a read-only reference; use currentRefMutRaw(), remoteRefMutRaw() or withCurrent() to write`,
  );
}

class ScalarRef {
  readonly address: number;
  readonly mutable: boolean;
  readonly #codec: ScalarCodec;
  readonly #region: Region;
  readonly #byte: number;
  readonly #label: string;

  constructor(target: RefTarget, mutable: boolean) {
    this.address = target.address;
    this.mutable = mutable;
    this.#codec = scalarCodec((target.type as { kind: never }).kind, target.pointerBytes);
    this.#region = target.region;
    this.#byte = target.address + target.region.bias;
    this.#label = target.label;
  }

  get value(): unknown {
    checkMapped(this.#region, this.#label);
    return this.#codec.read(this.#region, this.#byte);
  }

  set value(value: unknown) {
    if (!this.mutable) throw readOnly(this.#label);
    this.#codec.check(value, this.#label);
    checkMapped(this.#region, this.#label);
    this.#codec.write(this.#region, this.#byte, value);
  }
}

class CompositeRef {
  readonly address: number;
  readonly mutable: boolean;
  readonly #target: RefTarget;
  #view: object | null = null;

  constructor(target: RefTarget, mutable: boolean) {
    this.address = target.address;
    this.mutable = mutable;
    this.#target = target;
  }

  get value(): unknown {
    const t = this.#target;
    checkMapped(t.region, t.label);
    return this.#view ??= liveView(t.type, t.region, t.address + t.region.bias, this.mutable, {
      pointerBytes: t.pointerBytes,
      label: t.label,
    });
  }

  set value(value: unknown) {
    const t = this.#target;
    if (!this.mutable) throw readOnly(t.label);
    checkValue(t.type, value, t.label, t.pointerBytes);
    checkMapped(t.region, t.label);
    writeValue(t.type, t.region, t.address + t.region.bias, value, t.pointerBytes);
  }
}

/**
 * Makes a reference.
 *
 * @param target Where it points.
 * @param mutable Whether `value` may be assigned.
 * @returns The reference.
 */
export function makeRef<T extends Type>(
  target: RefTarget,
  mutable: boolean,
): PercpuMutRef<T> {
  const scalar = target.type.kind !== "struct" && target.type.kind !== "array";
  return (scalar ? new ScalarRef(target, mutable) : new CompositeRef(target, mutable)) as
    & PercpuMutRef<T>
    & object;
}

interface ViewContext {
  readonly pointerBytes: 4 | 8;
  readonly label: string;
}

const INSPECT = Symbol.for("Deno.customInspect");

/** Defines one live slot (a field or an element) on a view; `path` names it in messages. */
function defineSlot(
  view: object,
  key: string,
  path: string,
  type: Type,
  region: Region,
  byte: number,
  mutable: boolean,
  ctx: ViewContext,
): void {
  if (type.kind === "struct" || type.kind === "array") {
    let nested: object | null = null;
    Object.defineProperty(view, key, {
      enumerable: true,
      get: () => nested ??= liveView(type, region, byte, mutable, { ...ctx, label: path }),
      set: (value: unknown) => {
        if (!mutable) throw readOnly(ctx.label);
        checkValue(type, value, path, ctx.pointerBytes);
        checkMapped(region, path);
        writeValue(type, region, byte, value, ctx.pointerBytes);
      },
    });
    return;
  }
  const codec = scalarCodec(type.kind, ctx.pointerBytes);
  Object.defineProperty(view, key, {
    enumerable: true,
    get: () => {
      checkMapped(region, path);
      return codec.read(region, byte);
    },
    set: (value: unknown) => {
      if (!mutable) throw readOnly(ctx.label);
      codec.check(value, path);
      checkMapped(region, path);
      codec.write(region, byte, value);
    },
  });
}

/**
 * Builds a live view of a struct (an object) or an array (a real `Array`,
 * so a view can be assigned wherever an array value is accepted). Views are
 * plain non-extensible objects, so `structuredClone` and `postMessage` copy
 * their current values, and assigning a field or index they lack throws
 * V8's `TypeError` naming it. (A Proxy could list the accepted fields, but
 * proxies cannot be cloned.)
 */
function liveView(
  type: Type,
  region: Region,
  byte: number,
  mutable: boolean,
  ctx: ViewContext,
): object {
  const snapshot = () => readValue(type, region, byte, ctx.pointerBytes);
  let view: Record<string | symbol, unknown>;
  if (type.kind === "struct") {
    view = {};
    const offsets = layoutOf(type, ctx.pointerBytes).fieldOffsets!;
    for (const [field, fieldType] of Object.entries(type.fields)) {
      const path = `${ctx.label}.${field}`;
      defineSlot(view, field, path, fieldType, region, byte + offsets[field], mutable, ctx);
    }
  } else {
    const array = type as ArrayType;
    view = new Array(array.length) as unknown as Record<string, unknown>;
    const stride = layoutOf(array.element, ctx.pointerBytes).size;
    for (let i = 0; i < array.length; i++) {
      const path = `${ctx.label}[${i}]`;
      defineSlot(view, String(i), path, array.element, region, byte + i * stride, mutable, ctx);
    }
  }
  Object.defineProperty(view, "toJSON", { value: snapshot });
  Object.defineProperty(view, INSPECT, {
    value: (inspect: (value: unknown, options: unknown) => string, options: unknown) =>
      inspect(snapshot(), options),
  });
  return Object.preventExtensions(view);
}

/**
 * A label for messages: the variable and where its copy is.
 *
 * @param name The variable's name.
 * @param address The copy's address.
 * @param cpu The CPU owning the copy, if known.
 * @returns e.g. `CPU_ID@0x90000040 (CPU 1)`.
 */
export function refLabel(name: string, address: number, cpu: number | null): string {
  return cpu === null ? `${name}@${hex(address)}` : `${name}@${hex(address)} (CPU ${cpu})`;
}
