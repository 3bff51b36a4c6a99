/**
 * Memory that went away under a mapped region: a user's `ArrayBuffer` that
 * was detached (`transfer()`, `postMessage` with a transfer list) or a
 * resizable one that shrank. Its typed-array views then read `undefined` and
 * drop writes without a word; every access path asks here instead and throws
 * a `FaultError` that says what happened.
 *
 * @module
 */

import { hex } from "./_describe.ts";
import { FaultError } from "./errors.ts";
import type { Region } from "./_memory.ts";

/**
 * Tells whether `size` bytes from byte `byte` of a region's buffer are still
 * there. (The byte views of a region track a resizable buffer's length, and
 * a detached buffer's views have length 0.)
 *
 * @param region The region.
 * @param byte A byte index into the region's buffer.
 * @param size The number of bytes.
 * @returns `false` when the buffer was detached or shrank below them.
 */
function isAccessible(region: Region, byte: number, size: number): boolean {
  return byte + size <= region.u8.length;
}

/**
 * Tells whether a buffer was detached. `ArrayBuffer.prototype.detached` is
 * missing before Node.js 22; there, a zero-length buffer that refuses a view
 * is a detached one.
 *
 * @param buffer The buffer.
 * @returns `true` when it was detached (a `SharedArrayBuffer` never is).
 */
export function isDetached(buffer: ArrayBufferLike): boolean {
  if (!(buffer instanceof ArrayBuffer)) return false;
  const flag = (buffer as { readonly detached?: unknown }).detached;
  if (typeof flag === "boolean") return flag;
  if (buffer.byteLength !== 0) return false;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

/**
 * The error for an access to memory whose buffer was detached or shrank.
 *
 * @param region The region the access went to.
 * @param address The simulated address.
 * @param size The access size in bytes.
 * @param who The accessor, for the message (e.g. `X.readCurrent`).
 * @returns A `FaultError` naming the address and what happened to the buffer.
 */
export function detachedFault(
  region: Region,
  address: number,
  size: number,
  who: string,
): FaultError {
  const buffer = region.buffer;
  const what = isDetached(buffer)
    ? "was detached (transferred or sent with a transfer list)"
    : `shrank to ${buffer.byteLength} bytes`;
  return new FaultError(
    address,
    `${who}: ${size} bytes at ${
      hex(address)
    } are gone: the buffer behind ${region.name} ${what}; set the areas up again with init() before using them`,
  );
}

/**
 * Throws {@linkcode detachedFault} unless the bytes are still there.
 *
 * @param region The region.
 * @param byte The byte index into the region's buffer.
 * @param size The number of bytes.
 * @param who The accessor, for the message.
 * @throws {FaultError} When the buffer was detached or shrank below them.
 */
export function checkAccessible(region: Region, byte: number, size: number, who: string): void {
  if (!isAccessible(region, byte, size)) {
    throw detachedFault(region, byte - region.bias, size, who);
  }
}
