/**
 * References to one CPU's copy of a per-CPU variable, the TypeScript form of
 * Rust's `&T` / `&mut T`. A ref is bound to an address; its `value` reads and
 * writes simulated memory on every access. Struct and array values are live
 * views whose fields and elements write through.
 *
 * Views come in two forms, chosen by size. A view of at most
 * {@linkcode PLAIN_VIEW_SLOTS} fields or elements is a plain non-extensible
 * object (an `Array` for arrays) with one accessor per slot, so
 * `structuredClone` and `postMessage` copy its current values. A larger one
 * would cost that many accessors on its first read (a 2^20-element array
 * took 1.5 s and 419 MiB), so it is a Proxy over an `Array` (or an object):
 * created in constant time and memory, live and checked the same way, still
 * `Array.isArray`, iterable, JSON-serialisable and shown by its values, but
 * `structuredClone` and `postMessage` refuse it (`DataCloneError`), as they
 * refuse every Proxy, and a view that contains one. Copy such a value first
 * (`[...view]`, `Array.from(view)`). A Proxy view also makes a fresh nested
 * view on each read of a struct or array slot rather than keeping one per
 * slot, so its memory stays constant however many slots are visited.
 *
 * Every read and write checks that the memory is still there: a buffer that
 * was detached or shrank makes the access throw a `FaultError`.
 *
 * @module
 */

import { checkAccessible } from "./_detached.ts";
import { hex } from "./_describe.ts";
import { DENO_INSPECT, NODE_INSPECT, showAs } from "./_inspect.ts";
import type { Region } from "./_memory.ts";
import { type ScalarCodec, scalarCodec } from "./_scalar_codec.ts";
import { layoutOf, type Type, type ValueOf } from "./types.ts";
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
   * mutable ref). A view of more than 256 fields or elements is a Proxy,
   * which `structuredClone` and `postMessage` refuse: copy it first.
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
   * of it before writing any. A view of more than 256 fields or elements is a
   * Proxy, which `structuredClone` and `postMessage` refuse: copy it first.
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

/**
 * The most fields or elements a view has and still be a plain object that
 * `structuredClone` copies; larger views are Proxies (see the module
 * documentation). A plain view's first read costs about 0.5 µs per slot.
 */
export const PLAIN_VIEW_SLOTS = 256;

function readOnly(label: string): TypeError {
  return new TypeError(
    `${label} is a read-only reference; use currentRefMutRaw(), remoteRefMutRaw() or withCurrent() to write`,
  );
}

/** Reads a snapshot for `console.log`, or says why it cannot. */
function shown(read: () => unknown): unknown {
  try {
    return read();
  } catch (error) {
    return `<${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}>`;
  }
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
    checkAccessible(this.#region, this.#byte, this.#codec.size, this.#label);
    return this.#codec.read(this.#region, this.#byte);
  }

  set value(value: unknown) {
    if (!this.mutable) throw readOnly(this.#label);
    this.#codec.check(value, this.#label);
    checkAccessible(this.#region, this.#byte, this.#codec.size, this.#label);
    this.#codec.write(this.#region, this.#byte, value);
  }

  [DENO_INSPECT](inspect: (value: unknown, options: unknown) => string, options: unknown): string {
    return inspect(shown(() => this.value), options);
  }

  [NODE_INSPECT](
    _depth: number,
    options: unknown,
    inspect: (value: unknown, options: unknown) => string,
  ): string {
    return inspect(shown(() => this.value), options);
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
    const label = t.label;
    return this.#view ??= liveView({
      type: t.type,
      region: t.region,
      byte: t.address + t.region.bias,
      mutable: this.mutable,
      pointerBytes: t.pointerBytes,
      label: () => label,
    });
  }

  set value(value: unknown) {
    const t = this.#target;
    if (!this.mutable) throw readOnly(t.label);
    writeWhole(t.type, t.region, t.address + t.region.bias, value, t.pointerBytes, t.label);
  }

  [DENO_INSPECT](inspect: (value: unknown, options: unknown) => string, options: unknown): string {
    return inspect(shown(() => this.#snapshot()), options);
  }

  [NODE_INSPECT](
    _depth: number,
    options: unknown,
    inspect: (value: unknown, options: unknown) => string,
  ): string {
    return inspect(shown(() => this.#snapshot()), options);
  }

  #snapshot(): unknown {
    const t = this.#target;
    return readWhole(t.type, t.region, t.address + t.region.bias, t.pointerBytes, t.label);
  }
}

/** Checks a whole value, then that the memory is there, then writes the checked copy. */
function writeWhole(
  type: Type,
  region: Region,
  byte: number,
  value: unknown,
  pointerBytes: 4 | 8,
  label: string,
): void {
  const checked = checkValue(type, value, label, pointerBytes);
  checkAccessible(region, byte, layoutOf(type, pointerBytes).size, label);
  writeValue(type, region, byte, checked, pointerBytes);
}

/** A plain copy of a whole value, once the memory is known to be there. */
function readWhole(
  type: Type,
  region: Region,
  byte: number,
  pointerBytes: 4 | 8,
  label: string,
): unknown {
  checkAccessible(region, byte, layoutOf(type, pointerBytes).size, label);
  return readValue(type, region, byte, pointerBytes);
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

/** A composite value in memory, as a view sees it. */
interface ViewSpec {
  readonly type: Type;
  readonly region: Region;
  /** Byte index of the value in `region`'s buffer. */
  readonly byte: number;
  readonly mutable: boolean;
  readonly pointerBytes: 4 | 8;
  /** Names the value in messages; built only when one is thrown. */
  readonly label: () => string;
}

/** The fields or elements of a composite type: name, type and byte offset of each. */
interface Slots {
  readonly count: number;
  readonly isArray: boolean;
  /** The slot named `key`, or −1. */
  indexOf(key: string | symbol): number;
  key(index: number): string;
  type(index: number): Type;
  /** The slot's codec, or `null` for a struct or array slot. */
  codec(index: number): ScalarCodec | null;
  offset(index: number): number;
  /** Appends the slot's name to its parent's, e.g. `X.a` or `X[3]`. */
  path(label: string, index: number): string;
  /** The accepted names, for messages. */
  accepted(): string;
}

const slotsCache = new WeakMap<Type, Map<number, Slots>>();

/** The slots of a composite type for a pointer width (cached per type). */
function slotsOf(type: Type, pointerBytes: 4 | 8): Slots {
  let byWidth = slotsCache.get(type);
  const cached = byWidth?.get(pointerBytes);
  if (cached !== undefined) return cached;
  let slots: Slots;
  if (type.kind === "array") {
    const stride = layoutOf(type.element, pointerBytes).size;
    const length = type.length;
    const element = type.element;
    const codec = codecOf(element, pointerBytes);
    slots = {
      count: length,
      isArray: true,
      indexOf(key) {
        // A canonical index ("0", "17"; not "017", "1e3" or " 1"), parsed
        // without allocating: the Proxy view asks on every access.
        if (typeof key !== "string") return -1;
        const n = key.length;
        if (n === 0 || n > 7 || (n > 1 && key.charCodeAt(0) === 48)) return -1;
        let index = 0;
        for (let i = 0; i < n; i++) {
          const digit = key.charCodeAt(i) - 48;
          if (digit < 0 || digit > 9) return -1;
          index = index * 10 + digit;
        }
        return index < length ? index : -1;
      },
      key: (index) => String(index),
      type: () => element,
      codec: () => codec,
      offset: (index) => index * stride,
      path: (label, index) => `${label}[${index}]`,
      accepted: () => `indices 0 to ${length - 1}`,
    };
  } else if (type.kind === "struct") {
    const names = Object.keys(type.fields);
    const types = Object.values(type.fields);
    const codecs = types.map((field) => codecOf(field, pointerBytes));
    const offsets = layoutOf(type, pointerBytes).fieldOffsets!;
    const index = new Map(names.map((name, i) => [name, i]));
    slots = {
      count: names.length,
      isArray: false,
      indexOf: (key) => (typeof key === "string" ? index.get(key) ?? -1 : -1),
      key: (i) => names[i],
      type: (i) => types[i],
      codec: (i) => codecs[i],
      offset: (i) => offsets[names[i]],
      path: (label, i) => `${label}.${names[i]}`,
      // Only a Proxy view asks, and it has more than PLAIN_VIEW_SLOTS fields.
      accepted: () => `the fields are ${names.slice(0, 20).join(", ")}, …`,
    };
  } else {
    throw new TypeError(`a ${type.kind} value has no fields`);
  }
  if (byWidth === undefined) slotsCache.set(type, byWidth = new Map());
  byWidth.set(pointerBytes, slots);
  return slots;
}

/** Reads slot `i` of a view: a scalar value, or a nested view. */
function readSlot(spec: ViewSpec, slots: Slots, i: number, codec: ScalarCodec | null): unknown {
  const type = slots.type(i);
  const byte = spec.byte + slots.offset(i);
  if (codec === null) {
    return liveView({
      type,
      region: spec.region,
      byte,
      mutable: spec.mutable,
      pointerBytes: spec.pointerBytes,
      label: () => slots.path(spec.label(), i),
    });
  }
  const region = spec.region;
  if (byte + codec.size > region.u8.length) {
    checkAccessible(region, byte, codec.size, slots.path(spec.label(), i));
  }
  return codec.read(region, byte);
}

/** Checks and writes slot `i` of a view. */
function writeSlot(
  spec: ViewSpec,
  slots: Slots,
  i: number,
  codec: ScalarCodec | null,
  value: unknown,
): void {
  if (!spec.mutable) throw readOnly(spec.label());
  const type = slots.type(i);
  const byte = spec.byte + slots.offset(i);
  const region = spec.region;
  if (codec === null) {
    writeWhole(type, region, byte, value, spec.pointerBytes, slots.path(spec.label(), i));
    return;
  }
  if (!codec.valid(value)) codec.check(value, slots.path(spec.label(), i));
  if (byte + codec.size > region.u8.length) {
    checkAccessible(region, byte, codec.size, slots.path(spec.label(), i));
  }
  codec.write(region, byte, value);
}

/** The codec of a scalar slot type, or `null` for a composite one. */
function codecOf(type: Type, pointerBytes: 4 | 8): ScalarCodec | null {
  return type.kind === "struct" || type.kind === "array"
    ? null
    : scalarCodec(type.kind, pointerBytes);
}

/**
 * Builds a live view of a struct (an object) or an array (an `Array`), in
 * the form its size calls for (see the module documentation).
 */
function liveView(spec: ViewSpec): object {
  const slots = slotsOf(spec.type, spec.pointerBytes);
  return slots.count <= PLAIN_VIEW_SLOTS ? plainView(spec, slots) : proxyView(spec, slots);
}

function snapshotOf(spec: ViewSpec): () => unknown {
  return () =>
    shown(() => readWhole(spec.type, spec.region, spec.byte, spec.pointerBytes, spec.label()));
}

/**
 * A plain non-extensible object with one accessor per slot, so that
 * `structuredClone` and `postMessage` copy its current values, and assigning
 * a field or index it lacks throws V8's `TypeError` naming it. Nested views
 * are made on first read and kept.
 */
function plainView(spec: ViewSpec, slots: Slots): object {
  const view: Record<string | number, unknown> = slots.isArray
    ? [] as unknown as Record<number, unknown>
    : {};
  for (let i = 0; i < slots.count; i++) {
    const codec = slots.codec(i);
    let nested: unknown = null;
    // Numeric keys for arrays: defining "0", "1", … as strings on an Array
    // is several times slower in V8.
    Object.defineProperty(view, slots.isArray ? i : slots.key(i), {
      enumerable: true,
      get: codec === null
        ? () => nested ??= readSlot(spec, slots, i, null)
        : () => readSlot(spec, slots, i, codec),
      set: (value: unknown) => writeSlot(spec, slots, i, codec, value),
    });
  }
  showAs(view, snapshotOf(spec));
  return Object.preventExtensions(view);
}

/**
 * A Proxy over an empty `Array` (or object) that answers for every slot
 * from memory: constant time and memory to make, whatever the size.
 */
function proxyView(spec: ViewSpec, slots: Slots): object {
  const target: object = slots.isArray ? [] : {};
  showAs(target, snapshotOf(spec));
  const fixed = (what: string) =>
    new TypeError(`${spec.label()}: ${what}; a view's fields are fixed (${slots.accepted()})`);
  const handler: ProxyHandler<object> = {
    get(t, key, receiver) {
      const i = slots.indexOf(key);
      if (i >= 0) return readSlot(spec, slots, i, slots.codec(i));
      if (slots.isArray && key === "length") return slots.count;
      return Reflect.get(t, key, receiver);
    },
    set(_t, key, value) {
      const i = slots.indexOf(key);
      if (i < 0) {
        if (!spec.mutable) throw readOnly(spec.label());
        throw fixed(`cannot set ${typeof key === "string" ? JSON.stringify(key) : String(key)}`);
      }
      writeSlot(spec, slots, i, slots.codec(i), value);
      return true;
    },
    has(t, key) {
      return slots.indexOf(key) >= 0 || (slots.isArray && key === "length") ||
        Reflect.has(t, key);
    },
    ownKeys(t) {
      const keys: (string | symbol)[] = [];
      for (let i = 0; i < slots.count; i++) keys.push(slots.key(i));
      // `length` is the target Array's own non-configurable property, which
      // a Proxy must list.
      if (slots.isArray) keys.push("length");
      return keys.concat(Reflect.ownKeys(t).filter((key) => typeof key === "symbol"));
    },
    getOwnPropertyDescriptor(t, key) {
      const i = slots.indexOf(key);
      if (i >= 0) {
        return {
          value: readSlot(spec, slots, i, slots.codec(i)),
          writable: spec.mutable,
          enumerable: true,
          configurable: true,
        };
      }
      if (slots.isArray && key === "length") {
        return { value: slots.count, writable: true, enumerable: false, configurable: false };
      }
      return Reflect.getOwnPropertyDescriptor(t, key);
    },
    defineProperty(_t, key) {
      throw fixed(`cannot define ${String(key)}`);
    },
    deleteProperty(_t, key) {
      throw fixed(`cannot delete ${String(key)}`);
    },
    setPrototypeOf: () => false,
    preventExtensions: () => false,
  };
  return new Proxy(target, handler);
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
