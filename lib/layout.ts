/**
 * The `.percpu` section's layout: variables placed in definition (link)
 * order at their natural alignment, and the simulated addresses the
 * section, the heap and `sp-naive` globals live at.
 *
 * @module
 */

import { alignUp, layoutOf, type Type, type TypeLayout } from "./types.ts";

/** Per-CPU areas are strided by whole cache lines, as in the crate. */
export const AREA_ALIGN = 64;

/**
 * Where things live in the simulated address space. Everything sits below
 * 2^30, so V8 keeps simulated addresses as small integers rather than boxed
 * doubles, which the simulator's registers hold by the million.
 */
export const ADDRESS_MAP: Readonly<{
  /** Plain globals (`.data`), where `sp-naive` variables live (up to `percpuStart`). */
  data: number;
  /** `_percpu_start`: the section's load address (LMA). */
  percpuStart: number;
  /**
   * `_percpu_load_start` under `non-zero-vma`. The register then holds
   * base − VMA, so the VMA lies below every area to keep that non-negative
   * (the crate's own test script uses an arbitrary `PERCPU_LOAD`, too).
   */
  nonZeroVma: number;
  /** First address `init()` allocates or maps memory at. */
  heap: number;
}> = Object.freeze({
  data: 0x0010_0000,
  percpuStart: 0x0100_0000,
  nonZeroVma: 0x0008_0000,
  heap: 0x1000_0000,
});

/** Largest area size accepted, so every offset fits the arch's immediates. */
export const MAX_AREA_SIZE = 1 << 30;

/** Accumulates variables into a section, in definition order. */
export class SectionLayout {
  readonly #pointerBytes: 4 | 8;
  #size = 0;
  #align = 1;
  #stride = 0;

  /**
   * Creates an empty section.
   *
   * @param pointerBytes The architecture's pointer width.
   */
  constructor(pointerBytes: 4 | 8) {
    this.#pointerBytes = pointerBytes;
  }

  /**
   * Where the next variable of `type` would go, without placing it.
   *
   * @param type The variable's type.
   * @returns Its offset and layout.
   */
  peek(type: Type): { offset: number; layout: TypeLayout } {
    const layout = layoutOf(type, this.#pointerBytes);
    return { offset: alignUp(this.#size, layout.align), layout };
  }

  /**
   * Places a variable.
   *
   * @param type The variable's type.
   * @returns Its offset from the section start.
   */
  place(type: Type): number {
    const { offset, layout } = this.peek(type);
    this.#size = offset + layout.size;
    this.#align = Math.max(this.#align, layout.align);
    this.#stride = alignUp(this.#size, AREA_ALIGN);
    return offset;
  }

  /** Unrounded size (`_percpu_load_end − _percpu_load_start`). */
  get size(): number {
    return this.#size;
  }

  /** Largest variable alignment: area bases must be multiples of it. */
  get align(): number {
    return this.#align;
  }

  /** Distance between areas: the size rounded up to 64 bytes. */
  get stride(): number {
    return this.#stride;
  }
}
