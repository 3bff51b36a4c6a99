/**
 * Checking, writing and reading whole values of any type (scalars, structs,
 * arrays) at a byte index of a region. Writers check the whole value first,
 * so a failed write leaves memory unchanged.
 *
 * @module
 */

import { isRevokedProxy, valueText } from "./_describe.ts";
import type { Views } from "./_memory.ts";
import { scalarCodec } from "./_scalar_codec.ts";
import { layoutOf, type Type, type ValueOf } from "./types.ts";

/**
 * Whether a struct value provides a field: its own property, or an inherited
 * one (a class getter) that is not just `Object.prototype`'s (`toString`, …).
 */
function hasField(value: object, field: string): boolean {
  return Object.hasOwn(value, field) || (field in value && !(field in Object.prototype));
}

/**
 * Checks that `value` fits `type`, recursively, and returns the value as it
 * was checked: a plain copy (structs as objects with their fields in
 * declaration order, arrays as arrays, scalars as they are). Each field,
 * element and `length` of `value` is read exactly once, so a getter or a
 * Proxy that answers differently on a second read cannot get an unchecked
 * value written: write the copy, not `value`.
 *
 * @param type The descriptor.
 * @param value The candidate.
 * @param what Who is writing, for the message; fields and indices are appended.
 * @param pointerBytes The architecture's pointer width.
 * @returns The checked copy.
 * @throws {TypeError} On a wrong JavaScript type, a missing or unknown field.
 * @throws {RangeError} On an out-of-range scalar or a wrong array length.
 * @throws What a getter or a Proxy trap of `value` throws.
 */
export function checkValue(
  type: Type,
  value: unknown,
  what: string,
  pointerBytes: 4 | 8,
): unknown {
  if (type.kind === "struct") {
    if (
      typeof value !== "object" || value === null || isRevokedProxy(value) || Array.isArray(value)
    ) {
      throw new TypeError(`${what}: a struct value must be an object, got ${valueText(value)}`);
    }
    const fields = Object.keys(type.fields);
    for (const key of Object.keys(value)) {
      if (!Object.hasOwn(type.fields, key)) {
        throw new TypeError(
          `${what}: unknown field ${JSON.stringify(key)}; the fields are ${fields.join(", ")}`,
        );
      }
    }
    const copy: Record<string, unknown> = {};
    for (const field of fields) {
      if (!hasField(value, field)) {
        throw new TypeError(`${what}: missing field "${field}"`);
      }
      const inner = (value as Record<string, unknown>)[field];
      copy[field] = checkValue(type.fields[field], inner, `${what}.${field}`, pointerBytes);
    }
    return copy;
  }
  if (type.kind === "array") {
    if (isRevokedProxy(value) || !Array.isArray(value)) {
      throw new TypeError(`${what}: an array value must be an array, got ${valueText(value)}`);
    }
    const length: unknown = value.length;
    if (length !== type.length) {
      throw new RangeError(
        `${what}: expected ${type.length} elements, got an array of length ${valueText(length)}`,
      );
    }
    const copy = new Array<unknown>(type.length);
    for (let i = 0; i < type.length; i++) {
      copy[i] = checkValue(type.element, value[i], `${what}[${i}]`, pointerBytes);
    }
    return copy;
  }
  scalarCodec(type.kind, pointerBytes).check(value, what);
  return value;
}

/**
 * Writes a value that {@linkcode checkValue} returned.
 *
 * @param type The descriptor.
 * @param views The memory.
 * @param byte The byte index of the value in `views`.
 * @param value The checked copy.
 * @param pointerBytes The architecture's pointer width.
 */
export function writeValue(
  type: Type,
  views: Views,
  byte: number,
  value: unknown,
  pointerBytes: 4 | 8,
): void {
  if (type.kind === "struct") {
    const offsets = layoutOf(type, pointerBytes).fieldOffsets!;
    for (const [field, fieldType] of Object.entries(type.fields)) {
      const inner = (value as Record<string, unknown>)[field];
      writeValue(fieldType, views, byte + offsets[field], inner, pointerBytes);
    }
  } else if (type.kind === "array") {
    const stride = layoutOf(type.element, pointerBytes).size;
    const items = value as unknown[];
    for (let i = 0; i < type.length; i++) {
      writeValue(type.element, views, byte + i * stride, items[i], pointerBytes);
    }
  } else {
    scalarCodec(type.kind, pointerBytes).write(views, byte, value);
  }
}

/**
 * Reads a plain copy of a value.
 *
 * @param type The descriptor.
 * @param views The memory.
 * @param byte The byte index of the value in `views`.
 * @param pointerBytes The architecture's pointer width.
 * @returns A fresh JavaScript value (objects and arrays are copies).
 */
export function readValue<T extends Type>(
  type: T,
  views: Views,
  byte: number,
  pointerBytes: 4 | 8,
): ValueOf<T> {
  if (type.kind === "struct") {
    const offsets = layoutOf(type, pointerBytes).fieldOffsets!;
    const out: Record<string, unknown> = {};
    for (const [field, fieldType] of Object.entries(type.fields)) {
      out[field] = readValue(fieldType, views, byte + offsets[field], pointerBytes);
    }
    return out as ValueOf<T>;
  }
  if (type.kind === "array") {
    const stride = layoutOf(type.element, pointerBytes).size;
    return Array.from(
      { length: type.length },
      (_, i) => readValue(type.element, views, byte + i * stride, pointerBytes),
    ) as ValueOf<T>;
  }
  return scalarCodec(type.kind, pointerBytes).read(views, byte) as ValueOf<T>;
}

/**
 * A deep-frozen copy of a checked value, kept as a variable's initial value.
 *
 * @param type The descriptor.
 * @param value A copy {@linkcode checkValue} returned.
 * @returns The frozen copy.
 */
export function frozenCopy<T extends Type>(type: T, value: unknown): ValueOf<T> {
  if (type.kind === "struct") {
    const out: Record<string, unknown> = {};
    for (const [field, fieldType] of Object.entries(type.fields)) {
      out[field] = frozenCopy(fieldType, (value as Record<string, unknown>)[field]);
    }
    return Object.freeze(out) as ValueOf<T>;
  }
  if (type.kind === "array") {
    const items = (value as unknown[]).map((item) => frozenCopy(type.element, item));
    return Object.freeze(items) as unknown as ValueOf<T>;
  }
  return value as ValueOf<T>;
}
