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

/** Where things live in the simulated address space. */
export const ADDRESS_MAP: Readonly<{
  /** Plain globals (`.data`), where `sp-naive` variables live. */
  data: number;
  /** `_percpu_start`: the section's load address (LMA). */
  percpuStart: number;
  /** `_percpu_load_start` under `non-zero-vma` (the crate's test script's `PERCPU_LOAD`). */
  nonZeroVma: number;
  /** First address `init()` allocates or maps memory at. */
  heap: number;
}> = Object.freeze({
  data: 0x8010_0000,
  percpuStart: 0x8020_0000,
  nonZeroVma: 0x0200_0000,
  heap: 0x9000_0000,
});

/** Largest area size accepted, so every offset fits the arch's immediates. */
export const MAX_AREA_SIZE = 1 << 30;

/** Accumulates variables into a section, in definition order. */
export class SectionLayout {
  readonly #pointerBytes: 4 | 8;
  #size = 0;
  #align = 1;

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
    return alignUp(this.#size, AREA_ALIGN);
  }
}
