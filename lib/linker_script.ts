/**
 * The linker script snippet that reserves the `.percpu` section, as the
 * crate's README gives it, for each feature set.
 *
 * @module
 */

import { hex } from "./_describe.ts";
import type { Variant } from "./_options.ts";

/** What the snippet depends on. */
export interface LinkerScriptOptions {
  /** Areas to reserve (`CPU_NUM`). */
  readonly cpuNum: number;
  /** The implementation: sp-naive needs no section, custom-base links one copy. */
  readonly variant: Variant;
  /** The section VMA: 0, or `_percpu_load_start` under `non-zero-vma`. */
  readonly vma: number;
}

/**
 * Renders the snippet.
 *
 * @param options CPU count, implementation, section VMA.
 * @returns The text to paste into a kernel's linker script.
 */
export function linkerScriptFor(options: LinkerScriptOptions): string {
  if (options.variant === "sp-naive") {
    return [
      "/* sp-naive: per-CPU variables are plain globals in .data/.bss;",
      "   no .percpu section is needed. */",
      "",
    ].join("\n");
  }
  if (options.variant === "custom-base") {
    return [
      "/* custom-base: .percpu is linked once, at its own address, as the",
      "   template; the platform's _percpu_base_ptr(cpu) places the areas. */",
      "SECTIONS",
      "{",
      "    . = ALIGN(4K);",
      "    .percpu : {",
      "        _percpu_load_start = .;",
      "        *(.percpu .percpu.*)",
      "        _percpu_load_end = .;",
      "    }",
      "}",
      "INSERT AFTER .data;",
      "",
    ].join("\n");
  }
  if (options.vma === 0) {
    return [
      ". = ALIGN(4K);",
      "_percpu_start = .;",
      "_percpu_end = _percpu_start + SIZEOF(.percpu);",
      ".percpu 0x0 (NOLOAD) : AT(_percpu_start) {",
      "    _percpu_load_start = .;",
      "    *(.percpu .percpu.*)",
      "    _percpu_load_end = .;",
      `    . = _percpu_load_start + ALIGN(64) * ${options.cpuNum};`,
      "}",
      ". = _percpu_end;",
      "",
    ].join("\n");
  }
  return [
    "/* non-zero-vma: the section is linked at a non-zero VMA, so ALIGN(64)",
    "   is an absolute address and the area size is computed explicitly. */",
    ". = ALIGN(4K);",
    "_percpu_start = .;",
    "_percpu_end = _percpu_start + SIZEOF(.percpu);",
    `.percpu ${hex(options.vma)} (NOLOAD) : AT(_percpu_start) {`,
    "    _percpu_load_start = .;",
    "    *(.percpu .percpu.*)",
    "    _percpu_load_end = .;",
    "    _percpu_load_end_aligned = ALIGN(64);",
    `    . = _percpu_load_start + (_percpu_load_end_aligned - _percpu_load_start) * ${options.cpuNum};`,
    "}",
    ". = _percpu_end;",
    "",
  ].join("\n");
}
