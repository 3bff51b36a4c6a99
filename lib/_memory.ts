/**
 * The simulated address space: regions of JavaScript memory (an
 * `ArrayBuffer` or `SharedArrayBuffer`) mapped at plain-number addresses,
 * each with typed-array views built once so that accesses never allocate.
 *
 * @module
 */

import { hex } from "./_describe.ts";
import { FaultError } from "./errors.ts";

/** Typed-array views over one buffer, all starting at byte 0 of it. */
export interface Views {
  /** Bytes. */
  u8: Uint8Array;
  /** Signed bytes. */
  i8: Int8Array;
  /** 16-bit unsigned words (index = byte >>> 1). */
  u16: Uint16Array;
  /** 16-bit signed words. */
  i16: Int16Array;
  /** 32-bit unsigned words (index = byte >>> 2). */
  u32: Uint32Array;
  /** 32-bit signed words. */
  i32: Int32Array;
  /** 32-bit floats. */
  f32: Float32Array;
  /** 64-bit floats (index = byte >>> 3). */
  f64: Float64Array;
  /** 64-bit unsigned words. */
  u64: BigUint64Array;
  /** 64-bit signed words. */
  i64: BigInt64Array;
}

/** A buffer that can back per-CPU areas. */
export type Backing = ArrayBuffer | SharedArrayBuffer;

/**
 * What a released region's views become: views of a detached buffer, so a
 * holder that kept the region (a ref, a cached lookup) reads `undefined`
 * and writes nothing, instead of reading or changing memory that is no
 * longer mapped. Same classes as live views, so the fields that hold them
 * keep one type for V8.
 */
function detachedViews(): Views & { readonly buffer: ArrayBuffer } {
  const buffer = new ArrayBuffer(8);
  const views = {
    u8: new Uint8Array(buffer),
    i8: new Int8Array(buffer),
    u16: new Uint16Array(buffer),
    i16: new Int16Array(buffer),
    u32: new Uint32Array(buffer),
    i32: new Int32Array(buffer),
    f32: new Float32Array(buffer),
    f64: new Float64Array(buffer),
    u64: new BigUint64Array(buffer),
    i64: new BigInt64Array(buffer),
  };
  return { ...views, buffer: detach(buffer) };
}

/**
 * Detaches a buffer, returning its contents as a new one. Through
 * `structuredClone` rather than `ArrayBuffer.prototype.transfer`, which
 * Node.js 20 lacks.
 *
 * @param buffer The buffer to detach.
 * @returns A buffer holding what it held.
 */
export function detach(buffer: ArrayBuffer): ArrayBuffer {
  return structuredClone(buffer, { transfer: [buffer] });
}

/** One mapped stretch of the simulated address space. */
export class Region implements Views {
  /** A name for messages and timelines, e.g. `.percpu`. */
  readonly name: string;
  /** First mapped address. */
  readonly start: number;
  /** The memory (a detached buffer once the region is released). */
  buffer: Backing;
  /** Byte of `buffer` that `start` maps to. */
  readonly byteOffset: number;
  /** Adds to an address to give the byte index into `buffer`. */
  readonly bias: number;
  /** Bytes. */
  u8: Uint8Array;
  /** Signed bytes. */
  i8: Int8Array;
  /** 16-bit unsigned words. */
  u16: Uint16Array;
  /** 16-bit signed words. */
  i16: Int16Array;
  /** 32-bit unsigned words. */
  u32: Uint32Array;
  /** 32-bit signed words. */
  i32: Int32Array;
  /** 32-bit floats. */
  f32: Float32Array;
  /** 64-bit floats. */
  f64: Float64Array;
  /** 64-bit unsigned words. */
  u64: BigUint64Array;
  /** 64-bit signed words. */
  i64: BigInt64Array;
  #length: number;
  #released: string | null = null;

  /**
   * Maps `length` bytes of `buffer` from `byteOffset` at address `start`.
   *
   * @param name A name for messages.
   * @param start The first address.
   * @param buffer The memory; a resizable `ArrayBuffer` makes a growable region.
   * @param byteOffset Where in `buffer` the region starts.
   * @param length How many bytes are mapped.
   */
  constructor(name: string, start: number, buffer: Backing, byteOffset: number, length: number) {
    this.name = name;
    this.start = start;
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.bias = byteOffset - start;
    this.#length = length;
    const growable = buffer instanceof ArrayBuffer && buffer.resizable;
    const whole = (bytes: number) => growable ? undefined : Math.floor(buffer.byteLength / bytes);
    this.u8 = new Uint8Array(buffer, 0, whole(1));
    this.i8 = new Int8Array(buffer, 0, whole(1));
    this.u16 = new Uint16Array(buffer, 0, whole(2));
    this.i16 = new Int16Array(buffer, 0, whole(2));
    this.u32 = new Uint32Array(buffer, 0, whole(4));
    this.i32 = new Int32Array(buffer, 0, whole(4));
    this.f32 = new Float32Array(buffer, 0, whole(4));
    this.f64 = new Float64Array(buffer, 0, whole(8));
    this.u64 = new BigUint64Array(buffer, 0, whole(8));
    this.i64 = new BigInt64Array(buffer, 0, whole(8));
  }

  /** Number of mapped bytes. */
  get length(): number {
    return this.#length;
  }

  /** One past the last mapped address. */
  get end(): number {
    return this.start + this.#length;
  }

  /**
   * Grows a region backed by a resizable `ArrayBuffer`.
   *
   * @param length The new mapped length, at least the current one.
   */
  grow(length: number): void {
    const buffer = this.buffer as ArrayBuffer;
    const needed = this.byteOffset + length;
    if (needed > buffer.byteLength) buffer.resize(needed);
    this.#length = length;
  }

  /**
   * Why the region was unmapped (e.g. `init() was called again`), or `null`
   * while it is mapped.
   */
  get released(): string | null {
    return this.#released;
  }

  /**
   * Unmaps the region: it then contains no address, its views and buffer
   * are detached ones, and reading its `bias` throws a `FaultError`, so
   * whoever still holds it (a register context, a ref) can neither read the
   * old bytes nor write them. The memory itself is left alone (it may be
   * the caller's).
   *
   * @param reason Why, for the faults of later accesses.
   */
  release(reason: string): void {
    if (this.#released !== null) return;
    this.#released = reason;
    this.#length = 0;
    // The scalar accessors touch `bias` of the current area before using it
    // (to fault on a register that points nowhere); making it throw here
    // costs the live regions nothing, as they keep their shape.
    const fault = new FaultError(
      this.start,
      `the memory at ${hex(this.start)} (${this.name}) is no longer mapped: ${reason}`,
    );
    Object.defineProperty(this, "bias", {
      get: () => {
        throw fault;
      },
    });
    const gone = detachedViews();
    this.buffer = gone.buffer;
    this.u8 = gone.u8;
    this.i8 = gone.i8;
    this.u16 = gone.u16;
    this.i16 = gone.i16;
    this.u32 = gone.u32;
    this.i32 = gone.i32;
    this.f32 = gone.f32;
    this.f64 = gone.f64;
    this.u64 = gone.u64;
    this.i64 = gone.i64;
  }

  /**
   * Tells whether `[address, address + size)` lies inside the region.
   *
   * @param address The first address.
   * @param size The number of bytes.
   * @returns `true` when the whole range is mapped here.
   */
  contains(address: number, size: number): boolean {
    return address >= this.start && address + size <= this.start + this.#length;
  }
}

const PAGE = 4096;

function pageAfter(address: number): number {
  return Math.ceil((address + PAGE) / PAGE) * PAGE;
}

/**
 * A flat simulated address space. Regions never overlap. A region stays
 * mapped until it is unmapped; new regions are placed after the last one
 * placed (next fit, wrapping around at the heap's end), so an address that
 * was just unmapped is not handed out again at once and a stale pointer
 * faults instead of reaching fresh memory.
 */
export class AddressSpace {
  readonly #regions: Region[] = [];
  readonly #byBuffer = new Map<Backing, Region>();
  readonly #heapStart: number;
  readonly #heapEnd: number;
  #next: number;
  #unmaps = 0;

  /**
   * Creates an empty space.
   *
   * @param heapStart Where {@linkcode AddressSpace.allocate} begins placing regions.
   * @param heapEnd Where placement wraps around to `heapStart` (a region
   *   too large for the heap is placed past it).
   */
  constructor(heapStart: number, heapEnd: number = Number.MAX_SAFE_INTEGER) {
    this.#heapStart = heapStart;
    this.#heapEnd = heapEnd;
    this.#next = heapStart;
  }

  /**
   * Maps a region at a fixed address.
   *
   * @param region The region; it must not overlap an existing one.
   * @returns The region.
   * @throws {RangeError} When it overlaps a mapped region.
   */
  mapFixed(region: Region): Region {
    const other = this.#overlap(region.start, region.length);
    if (other !== null) {
      throw new RangeError(
        `cannot map ${region.name} at ${hex(region.start)}: overlaps ${other.name} at ${
          hex(other.start)
        }`,
      );
    }
    this.#regions.push(region);
    return region;
  }

  /**
   * Maps a whole buffer at a free page-aligned address, or returns the
   * region it is already mapped as (so re-initialising with the same memory
   * keeps its addresses).
   *
   * @param name A name for messages.
   * @param buffer The memory.
   * @returns The region covering all of `buffer`.
   */
  mapBuffer(name: string, buffer: Backing): Region {
    const known = this.#byBuffer.get(buffer);
    if (known) return known;
    const size = buffer.byteLength;
    let start = this.free(this.#next, size);
    if (start + size > this.#heapEnd) {
      const wrapped = this.free(this.#heapStart, size);
      if (wrapped + size <= this.#heapEnd) start = wrapped;
    }
    const region = this.mapFixed(new Region(name, start, buffer, 0, size));
    this.#next = pageAfter(region.end);
    this.#byBuffer.set(buffer, region);
    return region;
  }

  /**
   * The region a buffer is mapped as.
   *
   * @param buffer A buffer.
   * @returns Its region, or `null` when it is not mapped.
   */
  mapped(buffer: Backing): Region | null {
    return this.#byBuffer.get(buffer) ?? null;
  }

  /**
   * Unmaps a region and releases it (see {@linkcode Region.release}); its
   * addresses may be handed out again later.
   *
   * @param region A mapped region (unmapping one twice does nothing).
   * @param reason Why, for the faults of later accesses through it.
   */
  unmap(region: Region, reason: string): void {
    const index = this.#regions.indexOf(region);
    if (index < 0) return;
    this.#unmaps++;
    this.#regions.splice(index, 1);
    if (this.#byBuffer.get(region.buffer) === region) this.#byBuffer.delete(region.buffer);
    region.release(reason);
  }

  /**
   * The first page-aligned address from `start` where `size` bytes overlap
   * no region.
   *
   * @param start Where to start looking.
   * @param size The number of bytes needed.
   * @returns The address.
   */
  free(start: number, size: number): number {
    start = Math.ceil(start / PAGE) * PAGE;
    for (let other = this.#overlap(start, size); other !== null;) {
      start = pageAfter(other.end);
      other = this.#overlap(start, size);
    }
    return start;
  }

  /**
   * A mapped region that `[start, start + size)` overlaps.
   *
   * @param start The first address.
   * @param size The number of bytes (an empty range is treated as one byte).
   * @returns The region, or `null` when the range is free.
   */
  overlapping(start: number, size: number): Region | null {
    return this.#overlap(start, size);
  }

  #overlap(start: number, size: number): Region | null {
    for (const region of this.#regions) {
      if (start < region.end && region.start < start + Math.max(size, 1)) return region;
    }
    return null;
  }

  /**
   * Allocates fresh zeroed memory and maps it.
   *
   * @param name A name for messages.
   * @param size The number of bytes.
   * @returns The new region.
   */
  allocate(name: string, size: number): Region {
    return this.mapBuffer(name, new ArrayBuffer(Math.max(size, 8)));
  }

  /**
   * Finds the region holding `[address, address + size)`.
   *
   * @param address The first address.
   * @param size The number of bytes.
   * @returns The region, or `null` when the range is not wholly mapped.
   */
  resolve(address: number, size: number): Region | null {
    for (const region of this.#regions) {
      if (region.contains(address, size)) return region;
    }
    return null;
  }

  /**
   * Counts unmappings: while it stays the same, a region found for an
   * address is still the region at that address.
   */
  get unmaps(): number {
    return this.#unmaps;
  }

  /** The mapped regions, in mapping order. */
  get regions(): readonly Region[] {
    return this.#regions;
  }
}

/**
 * The region holding an aligned object, as a load or store would find it.
 *
 * @param memory The address space.
 * @param address The object's address.
 * @param size Its size.
 * @param align Its alignment.
 * @param who The access, for the message.
 * @returns The region.
 * @throws {FaultError} When the object is misaligned or not wholly mapped.
 */
export function resolveOrFault(
  memory: AddressSpace,
  address: number,
  size: number,
  align: number,
  who: string,
): Region {
  const region = address % align === 0 ? memory.resolve(address, size) : null;
  if (region === null) {
    throw new FaultError(
      address,
      `${who}: ${size} bytes at ${hex(address)} are ${
        address % align === 0 ? "not mapped" : `not aligned to ${align}`
      }`,
    );
  }
  return region;
}

/**
 * Refuses an access through a region that was unmapped (its memory was
 * released when the areas were set up again).
 *
 * @param region The region the access goes through.
 * @param who The access, for the message.
 * @throws {FaultError} When the region is released.
 */
export function checkMapped(region: Region, who: string): void {
  if (region.released !== null) {
    throw new FaultError(
      region.start,
      `${who}: the memory at ${
        hex(region.start)
      } (${region.name}) is no longer mapped: ${region.released}`,
    );
  }
}
