/**
 * Per-CPU data for Deno, after the Rust `percpu` crate: variables laid out
 * like the `.percpu` section, copied into one 64-byte-strided area per CPU,
 * and reached through each architecture's per-CPU register (x86_64
 * `GS_BASE`, AArch64 `TPIDR_EL1`/`TPIDR_EL2`, RISC-V `gp`, LoongArch `$r21`,
 * ARM `TPIDRPRW`), with the crate's features (`sp-naive`, `preempt`,
 * `arm-el2`, `non-zero-vma`, and the newer `custom-base`), Linux-style
 * dynamic per-CPU allocation (`allocPercpu`), and the exact instruction
 * sequences each access compiles to.
 *
 * The other entry points: `@percpu/percpu/guards` (the `kernel_guard`
 * guards `preempt` uses), `@percpu/percpu/workers` (per-CPU areas shared by
 * Workers), `@percpu/percpu/sched` (the SMP simulator and schedule explorer),
 * `@percpu/percpu/isa` (the instruction tables, for tool authors) and
 * `@percpu/percpu/cli`.
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

export { createPercpu, Percpu } from "./lib/percpu.ts";
export type { AreaLayout, InitMemory, PercpuOptions, PercpuSymbols } from "./lib/percpu.ts";
export { ARCHES, FEATURES } from "./lib/arch.ts";
export type { Arch, Feature, PercpuRegName } from "./lib/arch.ts";
export {
  alignOf,
  array,
  bool,
  f32,
  f64,
  i16,
  i32,
  i64,
  i8,
  isize,
  offsetOf,
  sizeOf,
  struct,
  u16,
  u32,
  u64,
  u8,
  usize,
} from "./lib/types.ts";
export type {
  ArrayType,
  ScalarKind,
  ScalarType,
  ScalarValue,
  StructType,
  Type,
  ValueOf,
} from "./lib/types.ts";
export type { DynamicPercpuVar, PercpuVar, ScalarPercpuVar } from "./lib/percpu_var.ts";
export type { PercpuMutRef, PercpuRef } from "./lib/refs.ts";
export type { AccessOp, ProgramOptions } from "./lib/isa/access_program.ts";
export {
  allocPercpu,
  defaultPercpu,
  defPercpu,
  init,
  initInPlace,
  initPercpuReg,
  percpuAreaBase,
  percpuAreaLayoutExpected,
  percpuAreaNum,
  percpuAreaSize,
  readPercpuReg,
  writePercpuReg,
} from "./lib/default_percpu.ts";
export {
  DefinitionError,
  FaultError,
  InitError,
  NotInitializedError,
  PercpuError,
} from "./lib/errors.ts";
