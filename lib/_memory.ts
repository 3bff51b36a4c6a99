/**
 * The simulated address space: regions of JavaScript memory (an
 * `ArrayBuffer` or `SharedArrayBuffer`) mapped at plain-number addresses,
 * each with typed-array views built once so that accesses never allocate.
 *
 * @module
 */

import { hex } from "./_describe.ts";

/** Typed-array views over one buffer, all starting at byte 0 of it. */
export interface Views {
  /** Bytes. */
  readonly u8: Uint8Array;
  /** Signed bytes. */
  readonly i8: Int8Array;
  /** 16-bit unsigned words (index = byte >>> 1). */
  readonly u16: Uint16Array;
  /** 16-bit signed words. */
  readonly i16: Int16Array;
  /** 32-bit unsigned words (index = byte >>> 2). */
  readonly u32: Uint32Array;
  /** 32-bit signed words. */
  readonly i32: Int32Array;
  /** 32-bit floats. */
  readonly f32: Float32Array;
  /** 64-bit floats (index = byte >>> 3). */
  readonly f64: Float64Array;
  /** 64-bit unsigned words. */
  readonly u64: BigUint64Array;
  /** 64-bit signed words. */
  readonly i64: BigInt64Array;
}

/** A buffer that can back per-CPU areas. */
export type Backing = ArrayBuffer | SharedArrayBuffer;

/** One mapped stretch of the simulated address space. */
export class Region implements Views {
  /** A name for messages and timelines, e.g. `.percpu`. */
  readonly name: string;
  /** First mapped address. */
  readonly start: number;
  /** The memory. */
  readonly buffer: Backing;
  /** Byte of `buffer` that `start` maps to. */
  readonly byteOffset: number;
  /** Adds to an address to give the byte index into `buffer`. */
  readonly bias: number;
  /** Bytes. */
  readonly u8: Uint8Array;
  /** Signed bytes. */
  readonly i8: Int8Array;
  /** 16-bit unsigned words. */
  readonly u16: Uint16Array;
  /** 16-bit signed words. */
  readonly i16: Int16Array;
  /** 32-bit unsigned words. */
  readonly u32: Uint32Array;
  /** 32-bit signed words. */
  readonly i32: Int32Array;
  /** 32-bit floats. */
  readonly f32: Float32Array;
  /** 64-bit floats. */
  readonly f64: Float64Array;
  /** 64-bit unsigned words. */
  readonly u64: BigUint64Array;
  /** 64-bit signed words. */
  readonly i64: BigInt64Array;
  #length: number;

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

/**
 * A flat simulated address space. Regions never overlap and are never
 * unmapped, so a pointer stays valid for as long as the space lives.
 */
export class AddressSpace {
  readonly #regions: Region[] = [];
  readonly #byBuffer = new Map<Backing, Region>();
  #next: number;

  /**
   * Creates an empty space.
   *
   * @param heapStart Where {@linkcode AddressSpace.allocate} begins placing regions.
   */
  constructor(heapStart: number) {
    this.#next = heapStart;
  }

  /**
   * Maps a region at a fixed address.
   *
   * @param region The region; it must not overlap an existing one.
   * @returns The region.
   */
  mapFixed(region: Region): Region {
    for (const other of this.#regions) {
      if (region.start < other.end && other.start < region.end) {
        throw new RangeError(
          `cannot map ${region.name} at ${hex(region.start)}: overlaps ${other.name} at ${
            hex(other.start)
          }`,
        );
      }
    }
    this.#regions.push(region);
    return region;
  }

  /**
   * Maps a whole buffer at the next free page-aligned address, or returns the
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
    const start = this.#free(this.#next, buffer.byteLength);
    const region = this.mapFixed(new Region(name, start, buffer, 0, buffer.byteLength));
    this.#next = Math.ceil((region.end + PAGE) / PAGE) * PAGE;
    this.#byBuffer.set(buffer, region);
    return region;
  }

  /** The first page-aligned address from `start` where `size` bytes overlap no region. */
  #free(start: number, size: number): number {
    for (let moved = true; moved;) {
      moved = false;
      for (const region of this.#regions) {
        if (start < region.end && region.start < start + size) {
          start = Math.ceil((region.end + PAGE) / PAGE) * PAGE;
          moved = true;
        }
      }
    }
    return start;
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

  /** The mapped regions, in mapping order. */
  get regions(): readonly Region[] {
    return this.#regions;
  }
}
