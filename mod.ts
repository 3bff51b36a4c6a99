/**
 * Per-CPU data for Deno, after the Rust `percpu` crate: variables laid out
 * like the `.percpu` section, copied into one 64-byte-strided area per CPU,
 * and reached through each architecture's per-CPU register (x86_64
 * `GS_BASE`, AArch64 `TPIDR_EL1`/`TPIDR_EL2`, RISC-V `gp`, LoongArch `$r21`,
 * ARM `TPIDRPRW`). Includes the crate's features (`sp-naive`, `preempt`,
 * `arm-el2`, `non-zero-vma`), `kernel_guard`-style guards for `using`, and
 * the exact instruction sequences each access compiles to.
 *
 * @example Quick start
 * ```ts
 * import assert from "node:assert/strict";
 * import { defPercpu, init, initPercpuReg, usize } from "@percpu/percpu";
 *
 * const CPU_ID = defPercpu("CPU_ID", usize, 0);
 * init(4); // four per-CPU areas
 * initPercpuReg(0); // this CPU uses area 0
 * CPU_ID.writeCurrent(1);
 * assert.equal(CPU_ID.readCurrent(), 1);
 * assert.equal(CPU_ID.remoteRefRaw(3).value, 0); // CPU 3 has its own copy
 * ```
 *
 * @example What an access compiles to
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u64 } from "@percpu/percpu";
 * const p = createPercpu({ arch: "aarch64" });
 * assert.deepEqual(p.defPercpu("X", u64, 0n).disassemble("read"), [
 *   "mrs x0, TPIDR_EL1",
 *   "movz x1, #:abs_g0_nc:__PERCPU_X",
 *   "add x0, x0, x1",
 *   "ldr x0, [x0]",
 * ]);
 * ```
 *
 * @module
 */

export * from "./lib/types.ts";
export * from "./lib/arch_names.ts";
export * from "./lib/errors.ts";
export * from "./lib/guards.ts";
export * from "./lib/percpu.ts";
export * from "./lib/default_percpu.ts";
export type { PercpuVar, ScalarPercpuVar } from "./lib/percpu_var.ts";
export type { PercpuMutRef, PercpuRef } from "./lib/refs.ts";
export { CpuContext } from "./lib/cpu_context.ts";
export {
  ACCESS_OPS,
  type AccessOp,
  type AccessProgram,
  type ProgramOptions,
} from "./lib/access_program.ts";
export {
  type AccessSymbols,
  type ArchTable,
  type Instruction,
  Op,
  type OpCode,
  Reg,
  REG_COUNT,
  type Slot,
  type TypedSequence,
} from "./lib/isa.ts";
export { ARCH_TABLES } from "./lib/arch_tables.ts";
export { AddressSpace, type Backing, Region, type Views } from "./lib/memory.ts";
export * from "./lib/layout_fingerprint.ts";
export * from "./lib/shared_areas.ts";
export * from "./lib/remote_atomics.ts";
export * from "./lib/percpu_counter.ts";
export * from "./lib/run_on_cpus.ts";
