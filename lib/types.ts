/**
 * Type descriptors for per-CPU variables: the scalar types of the `percpu`
 * crate plus signed and float types, C-layout structs and fixed arrays.
 *
 * A descriptor says how a value is laid out in memory; the JavaScript value
 * type follows from it ({@linkcode ValueOf}). Sizes of `usize`/`isize` depend
 * on the architecture, so sizes are asked of {@linkcode sizeOf} with an arch.
 *
 * @module
 */

import { type Arch, ARCHES } from "./arch.ts";
import { type ArchTable, widthOf } from "./isa/isa.ts";
import { ARCH_TABLES } from "./isa/tables.ts";
import { checkInteger, checkOneOf } from "./_check.ts";
import { isRevokedProxy, valueText } from "./_describe.ts";

/** Names of the scalar types. */
export type ScalarKind =
  | "bool"
  | "u8"
  | "u16"
  | "u32"
  | "u64"
  | "usize"
  | "i8"
  | "i16"
  | "i32"
  | "i64"
  | "isize"
  | "f32"
  | "f64";

/** Scalar kinds whose values are JavaScript `bigint`. */
export type BigIntKind = "u64" | "i64";

/** Scalar kinds whose values are JavaScript `number`. */
export type NumberKind = Exclude<ScalarKind, BigIntKind | "bool">;

/** Descriptor of a scalar type such as {@linkcode u32}. */
export interface ScalarType<K extends ScalarKind = ScalarKind> {
  /** The scalar's name, as in Rust. */
  readonly kind: K;
}

/** Field descriptors of a struct, in declaration order. */
type StructFields = Readonly<Record<string, Type>>;

/** Descriptor of a C-layout struct made with {@linkcode struct}. */
export interface StructType<
  F extends Readonly<Record<string, Type>> = Readonly<Record<string, Type>>,
> {
  /** Always `"struct"`. */
  readonly kind: "struct";
  /** The fields in declaration order. */
  readonly fields: F;
}

/** Descriptor of a fixed-length array made with {@linkcode array}. */
export interface ArrayType<E extends Type = Type> {
  /** Always `"array"`. */
  readonly kind: "array";
  /** The element type. */
  readonly element: E;
  /** The number of elements. */
  readonly length: number;
}

/** Any type descriptor a per-CPU variable can have. */
export type Type = ScalarType | StructType | ArrayType;

/** The JavaScript value of a variable of type `T`. */
export type ValueOf<T extends Type> = T extends ScalarType<infer K> ? ScalarValue<K>
  : T extends StructType<infer F> ? { -readonly [P in keyof F]: ValueOf<F[P]> }
  : T extends ArrayType<infer E> ? ValueOf<E>[]
  : never;

/** The JavaScript value of a scalar of kind `K`. */
export type ScalarValue<K extends ScalarKind> = K extends "bool" ? boolean
  : K extends "u64" | "i64" ? bigint
  : number;

function scalar<K extends ScalarKind>(kind: K): ScalarType<K> {
  return Object.freeze({ kind });
}

/**
 * `bool`: one byte, 0 or 1; JavaScript `boolean`.
 *
 * @example Define a flag
 * ```ts
 * import assert from "node:assert/strict";
 * import { bool, createPercpu } from "@percpu/percpu";
 * const p = createPercpu();
 * const flag = p.defPercpu("FLAG", bool, true);
 * assert.equal(flag.symbol, "__PERCPU_FLAG");
 * ```
 */
export const bool: ScalarType<"bool"> = scalar("bool");
/**
 * `u8`: unsigned 8-bit integer; JavaScript `number`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sizeOf, u8 } from "@percpu/percpu";
 * assert.equal(sizeOf(u8), 1);
 * ```
 */
export const u8: ScalarType<"u8"> = scalar("u8");
/**
 * `u16`: unsigned 16-bit integer; JavaScript `number`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sizeOf, u16 } from "@percpu/percpu";
 * assert.equal(sizeOf(u16), 2);
 * ```
 */
export const u16: ScalarType<"u16"> = scalar("u16");
/**
 * `u32`: unsigned 32-bit integer; JavaScript `number`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sizeOf, u32 } from "@percpu/percpu";
 * assert.equal(sizeOf(u32), 4);
 * ```
 */
export const u32: ScalarType<"u32"> = scalar("u32");
/**
 * `u64`: unsigned 64-bit integer; JavaScript `bigint`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sizeOf, u64 } from "@percpu/percpu";
 * assert.equal(sizeOf(u64), 8);
 * ```
 */
export const u64: ScalarType<"u64"> = scalar("u64");
/**
 * `usize`: pointer-sized unsigned integer (8 bytes; 4 on `arm`); a safe
 * JavaScript `number`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sizeOf, usize } from "@percpu/percpu";
 * assert.equal(sizeOf(usize), 8);
 * assert.equal(sizeOf(usize, "arm"), 4);
 * ```
 */
export const usize: ScalarType<"usize"> = scalar("usize");
/**
 * `i8`: signed 8-bit integer; JavaScript `number`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { i8, sizeOf } from "@percpu/percpu";
 * assert.equal(sizeOf(i8), 1);
 * ```
 */
export const i8: ScalarType<"i8"> = scalar("i8");
/**
 * `i16`: signed 16-bit integer; JavaScript `number`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { i16, sizeOf } from "@percpu/percpu";
 * assert.equal(sizeOf(i16), 2);
 * ```
 */
export const i16: ScalarType<"i16"> = scalar("i16");
/**
 * `i32`: signed 32-bit integer; JavaScript `number`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { i32, sizeOf } from "@percpu/percpu";
 * assert.equal(sizeOf(i32), 4);
 * ```
 */
export const i32: ScalarType<"i32"> = scalar("i32");
/**
 * `i64`: signed 64-bit integer; JavaScript `bigint`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { i64, sizeOf } from "@percpu/percpu";
 * assert.equal(sizeOf(i64), 8);
 * ```
 */
export const i64: ScalarType<"i64"> = scalar("i64");
/**
 * `isize`: pointer-sized signed integer (8 bytes; 4 on `arm`); a safe
 * JavaScript `number`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isize, sizeOf } from "@percpu/percpu";
 * assert.equal(sizeOf(isize, "arm"), 4);
 * ```
 */
export const isize: ScalarType<"isize"> = scalar("isize");
/**
 * `f32`: IEEE-754 single precision; JavaScript `number` (rounded on write).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f32, sizeOf } from "@percpu/percpu";
 * assert.equal(sizeOf(f32), 4);
 * ```
 */
export const f32: ScalarType<"f32"> = scalar("f32");
/**
 * `f64`: IEEE-754 double precision; JavaScript `number`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f64, sizeOf } from "@percpu/percpu";
 * assert.equal(sizeOf(f64), 8);
 * ```
 */
export const f64: ScalarType<"f64"> = scalar("f64");

/** Every scalar descriptor by name. */
export const SCALAR_TYPES: Readonly<{ [K in ScalarKind]: ScalarType<K> }> = Object.freeze({
  bool,
  u8,
  u16,
  u32,
  u64,
  usize,
  i8,
  i16,
  i32,
  i64,
  isize,
  f32,
  f64,
});

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Tells whether a string is a valid identifier for a variable or field name
 * (ASCII letters, digits and `_`, not starting with a digit), as a Rust
 * static or a C symbol must be.
 *
 * @param name The candidate name.
 * @returns `true` when `name` can be used.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isIdentifier } from "./types.ts";
 * assert.equal(isIdentifier("CPU_ID"), true);
 * assert.equal(isIdentifier("2x"), false);
 * ```
 */
export function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(name);
}

/**
 * Tells whether a value is a type descriptor made by this module.
 *
 * @param value Anything.
 * @returns `true` for scalar, struct and array descriptors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isType } from "./types.ts";
 * import { u8 } from "@percpu/percpu";
 * assert.equal(isType(u8), true);
 * assert.equal(isType({ kind: "u128" }), false);
 * ```
 */
export function isType(value: unknown): value is Type {
  // By identity only: no property of `value` is read, so a Proxy or a
  // getter cannot pass for a descriptor or throw from here.
  return typeof value === "object" && value !== null &&
    (DESCRIPTORS.has(value) || SCALARS.has(value));
}

/** Composite descriptors made by {@linkcode struct} and {@linkcode array}. */
const DESCRIPTORS = new WeakSet<object>();
/** The scalar descriptors. */
const SCALARS = new Set<object>(Object.values(SCALAR_TYPES));

/**
 * Field names `struct()` refuses: `__proto__` cannot be a plain property
 * (an object literal or an assignment sets the prototype instead), so a
 * value could never provide it and a copy of one would lose it.
 */
const RESERVED_FIELD_NAMES: readonly string[] = Object.freeze(["__proto__"]);

/**
 * Describes a C-layout struct: fields in declaration order, each at its
 * natural alignment, the size padded to the largest field alignment.
 *
 * @param fields Field names (identifiers) mapped to their types. Each is
 *   read once; the descriptor keeps its own frozen copy.
 * @returns The struct descriptor.
 * @throws {TypeError} When `fields` is not a plain object or a field type is
 *   not a descriptor.
 * @throws {RangeError} When there are no fields, or a field name is not an
 *   identifier or is reserved (`__proto__`).
 *
 * @example Rust's `struct Struct { foo: usize, bar: u8 }`
 * ```ts
 * import assert from "node:assert/strict";
 * import { offsetOf, sizeOf, struct, u8, usize } from "@percpu/percpu";
 * const S = struct({ foo: usize, bar: u8 });
 * assert.equal(sizeOf(S), 16);
 * assert.equal(offsetOf(S, "bar"), 8);
 * ```
 */
export function struct<const F extends Readonly<Record<string, Type>>>(
  fields: F,
): StructType<F> {
  if (
    typeof fields !== "object" || fields === null || isRevokedProxy(fields) ||
    Array.isArray(fields)
  ) {
    throw new TypeError(`struct() expects an object of field types, got ${valueText(fields)}`);
  }
  const names = Object.keys(fields);
  if (names.length === 0) {
    throw new RangeError(
      "struct() needs at least one field; zero-sized per-CPU data is not supported",
    );
  }
  const copy: Record<string, Type> = {};
  for (const name of names) {
    if (!isIdentifier(name)) {
      throw new RangeError(
        `struct field name ${JSON.stringify(name)} is not an identifier ([A-Za-z_][A-Za-z0-9_]*)`,
      );
    }
    if (RESERVED_FIELD_NAMES.includes(name)) {
      throw new RangeError(
        `struct field name ${JSON.stringify(name)} is reserved; reserved names: ${
          RESERVED_FIELD_NAMES.join(", ")
        }`,
      );
    }
    const type: unknown = fields[name];
    if (!isType(type)) {
      throw new TypeError(
        `struct field "${name}" has ${valueText(type)}; expected a type descriptor such as u32`,
      );
    }
    copy[name] = type;
  }
  const descriptor = Object.freeze({
    kind: "struct" as const,
    fields: Object.freeze(copy) as unknown as F,
  });
  DESCRIPTORS.add(descriptor);
  return descriptor;
}

/**
 * Describes a fixed-length array `[T; N]`.
 *
 * @param element The element type.
 * @param length The number of elements, an integer from 1 to 2^20.
 * @returns The array descriptor.
 * @throws {TypeError} When `element` is not a descriptor, or `length` not a number.
 * @throws {RangeError} When `length` is out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { array, sizeOf, u16 } from "@percpu/percpu";
 * assert.equal(sizeOf(array(u16, 3)), 6);
 * ```
 */
export function array<E extends Type>(element: E, length: number): ArrayType<E> {
  if (!isType(element)) {
    throw new TypeError(`array() element must be a type descriptor, got ${valueText(element)}`);
  }
  checkInteger(length, "array() length", 1, MAX_ARRAY_LENGTH);
  const descriptor = Object.freeze({ kind: "array" as const, element, length });
  DESCRIPTORS.add(descriptor);
  return descriptor;
}

const MAX_ARRAY_LENGTH = 1 << 20;

/** The byte layout of a type on one architecture. */
export interface TypeLayout {
  /** Size in bytes, a multiple of `align`. */
  readonly size: number;
  /** Alignment in bytes. */
  readonly align: number;
  /** For structs: each field's byte offset, in declaration order. */
  readonly fieldOffsets?: Readonly<Record<string, number>>;
}

const layoutCache = new WeakMap<object, Map<number, TypeLayout>>();

/**
 * Computes the C layout of a type for a pointer width.
 *
 * @param type The descriptor.
 * @param pointerBytes 8 on 64-bit architectures, 4 on `arm`.
 * @returns Size, alignment and, for structs, field offsets.
 */
export function layoutOf(type: Type, pointerBytes: 4 | 8): TypeLayout {
  let perWidth = layoutCache.get(type);
  const cached = perWidth?.get(pointerBytes);
  if (cached) return cached;
  let result: TypeLayout;
  if (type.kind === "struct") {
    let offset = 0;
    let align = 1;
    const fieldOffsets: Record<string, number> = {};
    for (const [name, field] of Object.entries(type.fields)) {
      const inner = layoutOf(field, pointerBytes);
      offset = alignUp(offset, inner.align);
      fieldOffsets[name] = offset;
      offset += inner.size;
      align = Math.max(align, inner.align);
    }
    result = Object.freeze({
      size: alignUp(offset, align),
      align,
      fieldOffsets: Object.freeze(fieldOffsets),
    });
  } else if (type.kind === "array") {
    const inner = layoutOf(type.element, pointerBytes);
    result = Object.freeze({ size: inner.size * type.length, align: inner.align });
  } else {
    const size = widthOf(type.kind, pointerBytes);
    result = Object.freeze({ size, align: size });
  }
  if (!perWidth) layoutCache.set(type, perWidth = new Map());
  perWidth.set(pointerBytes, result);
  return result;
}

/** Checks a public function's type and arch arguments; gives the pointer width. */
function checkTypeAndArch(type: unknown, arch: unknown, what: string): 4 | 8 {
  if (!isType(type)) {
    throw new TypeError(
      `${what}: expected a type descriptor such as u32 or struct({ … }), got ${valueText(type)}`,
    );
  }
  return (ARCH_TABLES[checkOneOf(arch, ARCHES, `${what}: arch`)] as ArchTable).pointerBytes;
}

/**
 * Size in bytes of a type on an architecture (C `sizeof`).
 *
 * @param type The descriptor.
 * @param arch The architecture; `usize`/`isize` are 4 bytes on `arm`.
 * @returns The size in bytes.
 * @throws {TypeError} When `type` is not a descriptor or `arch` not a string.
 * @throws {RangeError} On an unknown arch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sizeOf, struct, u8, usize } from "@percpu/percpu";
 * const S = struct({ foo: usize, bar: u8 });
 * assert.equal(sizeOf(S), 16);
 * assert.equal(sizeOf(S, "arm"), 8);
 * ```
 */
export function sizeOf(type: Type, arch: Arch = "x86_64"): number {
  return layoutOf(type, checkTypeAndArch(type, arch, "sizeOf")).size;
}

/**
 * Alignment in bytes of a type on an architecture (C `alignof`).
 *
 * @param type The descriptor.
 * @param arch The architecture.
 * @returns The alignment in bytes.
 * @throws {TypeError} When `type` is not a descriptor or `arch` not a string.
 * @throws {RangeError} On an unknown arch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { alignOf, struct, u16, u8 } from "@percpu/percpu";
 * assert.equal(alignOf(struct({ a: u8, b: u16 })), 2);
 * ```
 */
export function alignOf(type: Type, arch: Arch = "x86_64"): number {
  return layoutOf(type, checkTypeAndArch(type, arch, "alignOf")).align;
}

/**
 * Byte offset of a struct field (C `offsetof`).
 *
 * @param type The struct descriptor.
 * @param field The field name.
 * @param arch The architecture.
 * @returns The field's offset from the start of the struct.
 * @throws {TypeError} When `type` is not a struct descriptor, `field` not a
 *   string or `arch` not a string.
 * @throws {RangeError} When the struct has no such field, or on an unknown arch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { offsetOf, struct, u32, u8 } from "@percpu/percpu";
 * assert.equal(offsetOf(struct({ a: u8, b: u32 }), "b"), 4);
 * ```
 */
export function offsetOf<F extends Readonly<Record<string, Type>>>(
  type: StructType<F>,
  field: keyof F & string,
  arch: Arch = "x86_64",
): number {
  const pointerBytes = checkTypeAndArch(type, arch, "offsetOf");
  if (type.kind !== "struct") {
    throw new TypeError(`offsetOf: expected a struct descriptor, got ${typeName(type)}`);
  }
  if (typeof field !== "string") {
    throw new TypeError(`offsetOf: the field name must be a string, got ${valueText(field)}`);
  }
  const offsets = layoutOf(type, pointerBytes).fieldOffsets!;
  if (!Object.hasOwn(offsets, field)) {
    throw new RangeError(
      `offsetOf: the struct has no field ${JSON.stringify(field)}; its fields are ${
        Object.keys(offsets).join(", ")
      }`,
    );
  }
  return offsets[field];
}

/**
 * Renders a descriptor as Rust type syntax, e.g. `[u8; 4]`.
 *
 * @param type The descriptor.
 * @returns The Rust spelling (structs as `struct { a: u8, … }`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { array, u8 } from "@percpu/percpu";
 * import { typeName } from "./types.ts";
 * assert.equal(typeName(array(u8, 4)), "[u8; 4]");
 * ```
 */
export function typeName(type: Type): string {
  if (type.kind === "array") return `[${typeName(type.element)}; ${type.length}]`;
  if (type.kind === "struct") {
    const fields = Object.entries(type.fields).map(([name, t]) => `${name}: ${typeName(t)}`);
    return `struct { ${fields.join(", ")} }`;
  }
  return type.kind;
}

/**
 * Rounds `value` up to a multiple of `align` (a power of two).
 *
 * @param value A non-negative integer.
 * @param align A power of two.
 * @returns The smallest multiple of `align` that is ≥ `value`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { alignUp } from "./types.ts";
 * assert.equal(alignUp(65, 64), 128);
 * ```
 */
export function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}
