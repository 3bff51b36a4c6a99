/**
 * Names of the supported architectures, features and per-CPU registers.
 *
 * @module
 */

/** A supported target architecture. */
export type Arch = "x86_64" | "aarch64" | "riscv64" | "riscv32" | "loongarch64" | "arm";

/**
 * A cargo feature of the `percpu` crate. `custom-base` comes from the
 * crate's newer line: areas at bases the platform chooses.
 */
export type Feature = "sp-naive" | "preempt" | "arm-el2" | "non-zero-vma" | "custom-base";

/** The register that holds the current CPU's area base. */
export type PercpuRegName = "GS_BASE" | "TPIDR_EL1" | "TPIDR_EL2" | "gp" | "$r21" | "TPIDRPRW";

/**
 * Every supported architecture, in the order tables and reports list them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ARCHES } from "@percpu/percpu";
 * assert.equal(ARCHES.length, 6);
 * ```
 */
export const ARCHES: readonly Arch[] = Object.freeze([
  "x86_64",
  "aarch64",
  "riscv64",
  "riscv32",
  "loongarch64",
  "arm",
]);

/**
 * Every supported feature.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FEATURES } from "@percpu/percpu";
 * assert.ok(FEATURES.includes("preempt"));
 * ```
 */
export const FEATURES: readonly Feature[] = Object.freeze([
  "sp-naive",
  "preempt",
  "arm-el2",
  "non-zero-vma",
  "custom-base",
]);
