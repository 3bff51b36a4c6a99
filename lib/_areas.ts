/**
 * The per-CPU areas of a system with areas (every implementation but
 * `sp-naive`): the simulated address space they live in, the `.percpu`
 * section and its template, where each CPU's area is, setting them up
 * (`init`, `initInPlace`, `attach`), releasing the memory the previous set-up
 * used, and which CPU's area holds an address.
 *
 * @module
 */

import { hex, valueText } from "./_describe.ts";
import { InitError } from "./errors.ts";
import { ADDRESS_MAP, AREA_ALIGN, MAX_AREA_SIZE, SectionLayout } from "./layout.ts";
import { AddressSpace, type Backing, Region } from "./_memory.ts";
import type { InitMemory } from "./percpu.ts";
import { isDetached } from "./_detached.ts";

/** Where simulated memory ends: addresses stay below 2^30 (see `ADDRESS_MAP`). */
const HEAP_END = 0x4000_0000;

/** Checked memory: a live buffer and a 64-byte aligned offset into it. */
export interface Placement {
  /** The buffer. */
  readonly buffer: Backing;
  /** Where the memory starts in it. */
  readonly byteOffset: number;
}

/** How {@linkcode Areas.setUp} places the areas. */
export type AreaSource =
  /** In memory the system allocates (and reuses while it is large enough). */
  | { readonly kind: "own" }
  /** Contiguously in the caller's memory. */
  | { readonly kind: "memory"; readonly at: Placement }
  /** In the section the linker script reserves; CPU 0's area is the template itself. */
  | { readonly kind: "section" }
  /** custom-base: each CPU's area where the platform put it. */
  | { readonly kind: "bases"; readonly at: readonly Placement[] };

/**
 * Checks memory given to `init()`/`attach()` without changing anything.
 *
 * @param memory What the caller passed.
 * @param size Bytes needed from `byteOffset`.
 * @param what The caller and what the memory is for, for messages.
 * @returns The buffer and offset.
 * @throws {InitError} `InvalidBase` without a buffer, `UnalignedBase` when
 *   `byteOffset` is not a multiple of 64, `InsufficientMemory` when too small.
 * @throws {TypeError} On a wrong type, or a detached or zero-length buffer.
 * @throws {RangeError} On a negative or fractional `byteOffset`.
 */
export function checkMemory(memory: unknown, size: number, what: string): Placement {
  if (memory === null || memory === undefined) {
    throw new InitError(
      "InvalidBase",
      `${what}: no memory given (${valueText(memory)}); pass { buffer, byteOffset }`,
    );
  }
  if (typeof memory !== "object") {
    throw new TypeError(`${what}: memory must be { buffer, byteOffset }, got ${valueText(memory)}`);
  }
  const { buffer, byteOffset: offset } = memory as InitMemory;
  if (buffer === null || buffer === undefined) {
    throw new InitError(
      "InvalidBase",
      `${what}: no memory given (buffer is ${valueText(buffer)}); pass { buffer, byteOffset }`,
    );
  }
  const shared = typeof SharedArrayBuffer === "function" && buffer instanceof SharedArrayBuffer;
  if (!(buffer instanceof ArrayBuffer) && !shared) {
    throw new TypeError(
      `${what}: memory.buffer must be an ArrayBuffer or SharedArrayBuffer, got ${
        valueText(buffer)
      }`,
    );
  }
  if (buffer.byteLength === 0) {
    throw new TypeError(
      `${what}: memory.buffer is ${
        isDetached(buffer) ? "detached" : "empty (0 bytes)"
      }; per-CPU areas need live memory`,
    );
  }
  const byteOffset = offset ?? 0;
  if (typeof byteOffset !== "number") {
    throw new TypeError(
      `${what}: memory.byteOffset must be a number, got ${valueText(byteOffset)}`,
    );
  }
  if (!Number.isSafeInteger(byteOffset) || byteOffset < 0) {
    throw new RangeError(
      `${what}: memory.byteOffset must be a non-negative integer, got ${valueText(byteOffset)}`,
    );
  }
  if (byteOffset % AREA_ALIGN !== 0) {
    throw new InitError(
      "UnalignedBase",
      `${what}: byteOffset ${byteOffset} is not a multiple of ${AREA_ALIGN}; per-CPU areas must start on a cache line`,
    );
  }
  const length = buffer.byteLength;
  if (length - byteOffset < size) {
    throw new InitError(
      "InsufficientMemory",
      `${what}: need ${size} bytes from byteOffset ${byteOffset}, but the buffer has ${
        Math.max(0, length - byteOffset)
      } (byteLength ${length})`,
    );
  }
  return { buffer: buffer as Backing, byteOffset };
}

/**
 * Allocates zeroed memory, turning the engine's bare "Array buffer
 * allocation failed" into an error that says what was being allocated.
 *
 * @param size Bytes.
 * @param what What for, for the message.
 * @returns The buffer.
 * @throws {RangeError} When the engine cannot allocate it.
 */
export function allocateBuffer(size: number, what: string): ArrayBuffer {
  try {
    return new ArrayBuffer(Math.max(size, 8));
  } catch (cause) {
    throw new RangeError(`${what}: cannot allocate ${size} bytes`, { cause });
  }
}

/** The areas of one system. */
export class Areas {
  /** The simulated address space. */
  readonly memory: AddressSpace = new AddressSpace(ADDRESS_MAP.heap, HEAP_END);
  /** The `.percpu` section's layout. */
  readonly layout: SectionLayout;
  /** How many areas the section holds (`CPU_NUM`, or 1 when it is only the template). */
  readonly sectionCopies: number;
  #section: Region | null = null;
  #template: Uint8Array | null = null;
  /** Area base of each CPU, in CPU order (frozen). */
  #bases: readonly number[] = Object.freeze([]);
  /** Whether `#bases` are `stride` apart from `#bases[0]`. */
  #contiguous = true;
  /** Regions mapped for the current areas (not the section): released on the next set-up. */
  #mapped: readonly Region[] = [];
  /** The system's own memory, reused while large enough. */
  #own: Region | null = null;
  #epoch = 0;

  /**
   * Creates the areas of a system.
   *
   * @param pointerBytes The architecture's `usize` width.
   * @param sectionCopies Areas the linker script reserves in the section.
   */
  constructor(pointerBytes: 4 | 8, sectionCopies: number) {
    this.layout = new SectionLayout(pointerBytes);
    this.sectionCopies = sectionCopies;
  }

  /** Whether the layout is fixed (the section is materialised). */
  get frozen(): boolean {
    return this.#section !== null;
  }

  /** The section, once frozen. */
  get section(): Region | null {
    return this.#section;
  }

  /** Number of areas the last set-up made (0 before any). */
  get count(): number {
    return this.#bases.length;
  }

  /** Whether any set-up happened. */
  get ready(): boolean {
    return this.#epoch > 0;
  }

  /** Counts set-ups: changes whenever the areas may have moved or been reset. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Area bases of the current areas, in CPU order. */
  get bases(): readonly number[] {
    return this.#bases;
  }

  /**
   * Area base of a CPU of the current areas (unchecked).
   *
   * @param cpu A CPU id below {@linkcode Areas.count}.
   * @returns The base address.
   */
  baseOf(cpu: number): number {
    return this.#bases[cpu];
  }

  /**
   * Fixes the layout: materialises the section at `_percpu_start` with the
   * template. Allocates before changing anything, so a failure leaves the
   * system as it was.
   *
   * @param writeTemplate Writes every variable's initial value into the section.
   * @param what The caller, for messages.
   * @throws {RangeError} When the section cannot be allocated.
   */
  freeze(writeTemplate: (section: Region) => void, what: string): void {
    if (this.#section !== null) return;
    this.#commitFreeze(this.#prepareSection(what), writeTemplate);
  }

  #prepareSection(what: string): Region {
    const stride = this.layout.stride;
    const bytes = stride * this.sectionCopies;
    const buffer = allocateBuffer(
      bytes,
      `${what}: the .percpu section (${this.sectionCopies} areas of ${stride} bytes)`,
    );
    return new Region(".percpu", ADDRESS_MAP.percpuStart, buffer, 0, bytes);
  }

  #commitFreeze(section: Region, writeTemplate: (section: Region) => void): void {
    writeTemplate(section);
    this.#section = this.memory.mapFixed(section);
    this.#template = section.u8.subarray(0, this.layout.size);
  }

  /**
   * Sets up `count` areas. Everything that can fail (allocating the section
   * and the areas) happens before anything changes; then the section is
   * fixed if it was not, the areas are mapped, the template is copied (from
   * CPU `firstCopied` on), and the memory of the previous set-up that the
   * new one does not use is unmapped.
   *
   * @param count Number of areas.
   * @param source Where they go (checked by the caller).
   * @param copy Whether to copy the template (`attach` keeps the contents).
   * @param writeTemplate Writes the section's template if it is not fixed yet.
   * @param what The caller, for messages.
   * @throws {RangeError} When memory cannot be allocated or the areas are
   *   too large. Nothing is changed.
   */
  setUp(
    count: number,
    source: AreaSource,
    copy: boolean,
    writeTemplate: (section: Region) => void,
    what: string,
  ): void {
    const stride = this.layout.stride;
    const size = this.checkSize(count, what);
    const section = this.#section === null ? this.#prepareSection(what) : null;
    const fresh = source.kind === "own" && (this.#own === null || this.#own.length < size)
      ? allocateBuffer(size, `${what}: ${count} per-CPU areas of ${stride} bytes`)
      : null;
    // Nothing has changed so far; from here on nothing throws.
    if (section !== null) this.#commitFreeze(section, writeTemplate);
    if (source.kind === "own" && fresh === null && this.#mapped[0] === this.#own) {
      // Again in the same own memory (the explorer does this per schedule).
      this.#bases = this.#strided(this.#own!.start, count);
      this.#contiguous = true;
      this.#copyTemplate(this.#bases, copy ? 0 : count);
      this.#epoch++;
      return;
    }
    const mapped: Region[] = [];
    let bases: readonly number[];
    let firstCopied = copy ? 0 : count;
    switch (source.kind) {
      case "own": {
        if (fresh !== null) this.#own = this.memory.mapBuffer("per-CPU areas", fresh);
        mapped.push(this.#own!);
        bases = this.#strided(this.#own!.start, count);
        break;
      }
      case "memory": {
        const region = this.memory.mapBuffer(`${what}(memory)`, source.at.buffer);
        mapped.push(region);
        bases = this.#strided(region.start + source.at.byteOffset, count);
        break;
      }
      case "section":
        bases = this.#strided(this.#section!.start, count);
        firstCopied = copy ? 1 : count;
        break;
      case "bases":
        bases = Object.freeze(source.at.map((at, cpu) => {
          const region = this.memory.mapBuffer(`${what}: the area of CPU ${cpu}`, at.buffer);
          if (!mapped.includes(region)) mapped.push(region);
          return region.start + at.byteOffset;
        }));
        break;
    }
    for (const region of this.#mapped) {
      if (!mapped.includes(region)) {
        this.memory.unmap(region, `${what} set the per-CPU areas up again elsewhere`);
        if (region === this.#own) this.#own = null;
      }
    }
    this.#mapped = mapped;
    if (bases !== this.#bases) {
      this.#bases = bases;
      this.#contiguous = bases.every((base, cpu) => base === bases[0] + cpu * stride);
    }
    this.#copyTemplate(bases, firstCopied);
    this.#epoch++;
  }

  /**
   * `count` bases `stride` apart from `base`: the current array when it is
   * the same (re-initialising in place, as the explorer does per schedule).
   */
  #strided(base: number, count: number): readonly number[] {
    const current = this.#bases;
    if (current.length === count && this.#contiguous && current[0] === base) return current;
    return Object.freeze(strided(base, this.layout.stride, count));
  }

  /** Copies the template into the areas from CPU `first` on. */
  #copyTemplate(bases: readonly number[], first: number): void {
    const template = this.#template!;
    const size = template.length;
    const stride = this.layout.stride;
    const count = bases.length;
    // Contiguous areas in one region: one lookup for all of them.
    const whole = this.#contiguous && count > 0
      ? this.memory.resolve(bases[0], count * stride)
      : null;
    for (let cpu = first; cpu < count; cpu++) {
      const region = whole ?? this.memory.resolve(bases[cpu], size)!;
      region.u8.set(template, bases[cpu] + region.bias);
    }
  }

  /**
   * Checks that `count` contiguous areas fit the size limit.
   *
   * @param count Number of areas.
   * @param what The caller, for messages.
   * @returns Their size in bytes.
   * @throws {RangeError} When they are too large.
   */
  checkSize(count: number, what: string): number {
    const stride = this.layout.stride;
    const size = count * stride;
    if (size > MAX_AREA_SIZE) {
      throw new RangeError(
        `${what}: ${count} areas of ${stride} bytes need ${size} bytes; the limit is ${MAX_AREA_SIZE}`,
      );
    }
    return size;
  }

  /**
   * The area bases a set-up would give, when they can be known before it
   * maps anything (memory already mapped, the section, own memory that is
   * large enough).
   *
   * @param count Number of areas.
   * @param source Where they would go.
   * @returns The bases, or `null` when they will be new addresses.
   */
  predict(count: number, source: AreaSource): readonly number[] | null {
    const stride = this.layout.stride;
    switch (source.kind) {
      case "own":
        return this.#own !== null && this.#own.length >= count * stride
          ? strided(this.#own.start, stride, count)
          : null;
      case "memory": {
        const region = this.memory.mapped(source.at.buffer);
        return region === null ? null : strided(region.start + source.at.byteOffset, stride, count);
      }
      case "section":
        return strided(ADDRESS_MAP.percpuStart, stride, count);
      case "bases": {
        const bases = source.at.map((at) => {
          const region = this.memory.mapped(at.buffer);
          return region === null ? null : region.start + at.byteOffset;
        });
        return bases.every((base) => base !== null) ? bases as number[] : null;
      }
    }
  }

  /**
   * The mapped memory at an area base: a region holding `size` bytes from
   * `base`, which must be aligned like the section's most aligned variable.
   *
   * @param base An address.
   * @returns The region, or `null`.
   */
  areaAt(base: number): Region | null {
    const layout = this.layout;
    return this.#section !== null && base % layout.align === 0
      ? this.memory.resolve(base, layout.size)
      : null;
  }

  /**
   * The CPU whose current area holds an address.
   *
   * @param address An address.
   * @returns The CPU id, or −1.
   */
  cpuOfAddress(address: number): number {
    const bases = this.#bases;
    const size = this.layout.size;
    if (bases.length === 0 || size === 0) return -1;
    if (this.#contiguous) {
      const offset = address - bases[0];
      if (offset < 0) return -1;
      const cpu = Math.floor(offset / this.layout.stride);
      return cpu < bases.length && offset - cpu * this.layout.stride < size ? cpu : -1;
    }
    for (let cpu = 0; cpu < bases.length; cpu++) {
      if (address >= bases[cpu] && address < bases[cpu] + size) return cpu;
    }
    return -1;
  }

  /**
   * Names the areas, for messages: e.g. `2 areas are initialised (ids 0 to 1)`.
   *
   * @returns The text.
   */
  idsText(): string {
    const count = this.#bases.length;
    return count === 0
      ? "no areas are initialised (init() was given 0 CPUs)"
      : `${count} areas are initialised (ids 0 to ${count - 1})`;
  }

  /**
   * Checks that `count` areas, each of the section's size, at `bases` do not
   * overlap one another.
   *
   * @param bases Placements (custom-base).
   * @param what The caller, for messages.
   * @throws {InitError} `InvalidBase` when two overlap.
   */
  checkDisjoint(bases: readonly Placement[], what: string): void {
    const size = Math.max(this.layout.size, 1);
    for (let a = 0; a < bases.length; a++) {
      for (let b = a + 1; b < bases.length; b++) {
        const x = bases[a], y = bases[b];
        if (
          x.buffer === y.buffer && x.byteOffset < y.byteOffset + size &&
          y.byteOffset < x.byteOffset + size
        ) {
          throw new InitError(
            "InvalidBase",
            `${what}: the areas of CPU ${a} and CPU ${b} overlap (byteOffset ${x.byteOffset} and ${y.byteOffset} of one buffer; each area needs ${
              hex(size)
            } bytes)`,
          );
        }
      }
    }
  }
}

function strided(base: number, stride: number, count: number): number[] {
  return Array.from({ length: count }, (_, cpu) => base + cpu * stride);
}
