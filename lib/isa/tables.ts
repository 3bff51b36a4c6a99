/**
 * The architecture tables, by name.
 *
 * @module
 */

import type { Arch } from "../arch.ts";
import { aarch64 } from "./arch/aarch64.ts";
import { arm } from "./arch/arm.ts";
import { loongarch64 } from "./arch/loongarch64.ts";
import { riscv32 } from "./arch/riscv32.ts";
import { riscv64 } from "./arch/riscv64.ts";
import { x86_64 } from "./arch/x86_64.ts";
import type { ArchTable } from "./isa.ts";

/** Every architecture's access-sequence table. */
export const ARCH_TABLES: Readonly<Record<Arch, ArchTable>> = Object.freeze({
  x86_64,
  aarch64,
  riscv64,
  riscv32,
  loongarch64,
  arm,
});
