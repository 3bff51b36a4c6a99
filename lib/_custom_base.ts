/**
 * The crate's custom-base implementation (its newer line): `.percpu` is
 * linked once, at its own address, as the template; the platform says where
 * each CPU's area is (`_percpu_base_ptr(cpu_idx)`, here the `bases` option);
 * a variable's `offset()` is its address minus `_percpu_load_start`; the
 * register holds the current CPU's plain base, and `current_ptr()` is
 * `read_percpu_reg()` + `offset()`, written in Rust rather than asm.
 *
 * Without `bases` the system places the areas itself, `stride` bytes apart
 * (in memory it allocates, or in the memory given to `init()`/`attach()`),
 * which is what shared areas for Workers need.
 *
 * @module
 */

import { checkMemory, type Placement } from "./_areas.ts";
import { ImpImplementation } from "./_imp.ts";
import { ADDRESS_MAP } from "./layout.ts";
import { linkerScriptFor } from "./linker_script.ts";
import { checkCpuCount, type ResolvedOptions } from "./_options.ts";
import type { PercpuSymbols } from "./percpu.ts";

/** The custom-base implementation. */
export class CustomBaseImplementation extends ImpImplementation {
  /**
   * Builds the implementation.
   *
   * @param options The checked options.
   */
  constructor(options: ResolvedOptions) {
    const linkStart = ADDRESS_MAP.percpuStart;
    super(options, {
      sectionCopies: 1,
      areaBias: 0,
      linkStart,
      vmaShift: linkStart,
      // current_ptr() is read_percpu_reg() + offset(), computed in Rust: nothing truncates.
      symbolVma: (vma) => vma,
      selfPtrReads: false,
      forms: "custom-base",
    });
  }

  /**
   * `init()`: every CPU's area where `bases(cpu)` says, or, without
   * `bases`, `stride` bytes apart in the system's memory or `memory`.
   */
  override init(cpuCount: unknown, memory: unknown): number {
    const bases = this.options.bases;
    if (bases === null) return super.init(cpuCount, memory);
    this.#refuseMemory(memory, "init");
    const count = checkCpuCount(cpuCount, "init: cpuCount", 0);
    const size = Math.max(this.areas.layout.size, 1);
    const at: Placement[] = [];
    for (let cpu = 0; cpu < count; cpu++) {
      at.push(checkMemory(bases(cpu), size, `init: bases(${cpu})`));
    }
    this.areas.checkDisjoint(at, "init");
    this.setUp(count, { kind: "bases", at }, true, "init");
    return count;
  }

  override attach(cpuCount: unknown, memory: unknown): number {
    if (this.options.bases !== null) {
      throw new TypeError(
        "attach: this custom-base system's areas are where its bases option puts them, so it cannot adopt another system's areas",
      );
    }
    return super.attach(cpuCount, memory);
  }

  #refuseMemory(memory: unknown, what: string): void {
    if (memory !== undefined) {
      throw new TypeError(
        `${what}: this custom-base system's areas are where its bases option puts them, so ${what}() takes no memory`,
      );
    }
  }

  /** The crate's custom-base line has no `init_in_place()`: the section holds only the template. */
  override initInPlace(): number {
    throw new TypeError(
      "initInPlace: custom-base links .percpu once, as the template, and reserves no areas in it; call init(), which places the areas at the platform's bases",
    );
  }

  /** The section holds one copy: the template. */
  override areaNum(): number {
    return 1;
  }

  override symbols(): PercpuSymbols {
    const start = ADDRESS_MAP.percpuStart;
    const end = start + this.areas.layout.size;
    return Object.freeze({
      _percpu_start: start,
      _percpu_end: end,
      _percpu_load_start: start,
      _percpu_load_end: end,
    });
  }

  override linkerScript(cpuNum: number): string {
    return linkerScriptFor({ cpuNum, variant: "custom-base", vma: ADDRESS_MAP.percpuStart });
  }
}
