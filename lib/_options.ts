/**
 * `createPercpu()`'s options, checked once: the architecture, the feature
 * set and which implementation it selects (the crate's `imp.rs`, `naive.rs`
 * or its custom-base line), `CPU_NUM`, and custom-base's `bases`.
 *
 * @module
 */

import { type Arch, ARCHES, type Feature, FEATURES, type PercpuRegName } from "./arch.ts";
import { checkInteger, checkOneOf, checkOptions } from "./_check.ts";
import { valueText } from "./_describe.ts";
import type { ArchTable } from "./isa/isa.ts";
import { ARCH_TABLES } from "./isa/tables.ts";
import type { InitMemory, PercpuOptions } from "./percpu.ts";

/** The most CPUs (areas) a system can have. */
export const MAX_CPUS = 65536;

/** Which implementation a feature set selects, as the crate's `cfg_if` does. */
export type Variant = "imp" | "sp-naive" | "custom-base";

/** Options after checking, with what they imply. */
export interface ResolvedOptions {
  /** The architecture. */
  readonly arch: Arch;
  /** The features, in canonical order, frozen. */
  readonly features: readonly Feature[];
  /** The linker script's `CPU_NUM`. */
  readonly cpuNum: number;
  /** custom-base: where CPU `cpu`'s area is; `null` lets the system place them. */
  readonly bases: ((cpu: number) => InitMemory) | null;
  /** The implementation. */
  readonly variant: Variant;
  /** The architecture's table. */
  readonly table: ArchTable;
  /** `usize` width. */
  readonly pointerBytes: 4 | 8;
  /** The per-CPU register. */
  readonly percpuReg: PercpuRegName;
  /** `preempt` is on. */
  readonly preempt: boolean;
  /** `non-zero-vma` is on. */
  readonly nonZeroVma: boolean;
}

const KEYS = ["arch", "features", "cpuNum", "bases"];

/** Pairs of features that select conflicting implementations. */
const CONFLICTS: readonly [Feature, Feature, string][] = [
  [
    "sp-naive",
    "custom-base",
    "sp-naive makes variables plain globals, custom-base puts them in areas at the platform's bases",
  ],
  [
    "custom-base",
    "non-zero-vma",
    "custom-base always links .percpu at its own address and keeps the plain base in the register",
  ],
];

/**
 * Checks a CPU count.
 *
 * @param value The count given.
 * @param what Its name in messages.
 * @param min The smallest accepted count (default 1).
 * @returns The count.
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is not an integer from `min` to 65536.
 */
export function checkCpuCount(value: unknown, what: string, min = 1): number {
  return checkInteger(value, what, min, MAX_CPUS);
}

/**
 * Checks `createPercpu()`'s options. Every option is read once, so a
 * throwing getter or a proxy cannot make two checks see two values.
 *
 * @param options What the caller passed.
 * @returns The checked options.
 * @throws {TypeError} On a non-object, an unknown option, a wrong option
 *   type, or `bases` without `custom-base`.
 * @throws {RangeError} On an unknown arch or feature, conflicting features,
 *   or a bad `cpuNum`.
 */
export function resolveOptions(options: PercpuOptions | undefined): ResolvedOptions {
  const given = checkOptions(options, KEYS, "createPercpu");
  const arch = checkOneOf(given.arch ?? "x86_64", ARCHES, "createPercpu: arch");
  const features = checkFeatures(given.features ?? []);
  const cpuNum = checkCpuCount(given.cpuNum ?? 4, "createPercpu: cpuNum");
  const bases = given.bases ?? null;
  const custom = features.includes("custom-base");
  if (bases !== null && typeof bases !== "function") {
    throw new TypeError(
      `createPercpu: bases must be a function (cpu) => ({ buffer, byteOffset }), got ${
        valueText(bases)
      }`,
    );
  }
  if (bases !== null && !custom) {
    throw new TypeError(
      `createPercpu: bases applies to the custom-base feature only (features are [${
        features.join(", ")
      }])`,
    );
  }
  const table = ARCH_TABLES[arch];
  return {
    arch,
    features,
    cpuNum,
    bases,
    variant: features.includes("sp-naive") ? "sp-naive" : custom ? "custom-base" : "imp",
    table,
    pointerBytes: table.pointerBytes,
    percpuReg: table.percpuReg(features.includes("arm-el2")),
    preempt: features.includes("preempt"),
    nonZeroVma: features.includes("non-zero-vma"),
  };
}

function checkFeatures(features: unknown): readonly Feature[] {
  if (!Array.isArray(features)) {
    throw new TypeError(`createPercpu: features must be an array, got ${valueText(features)}`);
  }
  const given = new Set<Feature>();
  for (let i = 0; i < features.length; i++) {
    given.add(checkOneOf(features[i], FEATURES, `createPercpu: features[${i}]`));
  }
  for (const [a, b, why] of CONFLICTS) {
    if (given.has(a) && given.has(b)) {
      throw new RangeError(`createPercpu: features ${a} and ${b} cannot be combined: ${why}`);
    }
  }
  return Object.freeze(FEATURES.filter((f) => given.has(f)));
}
