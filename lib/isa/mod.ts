/**
 * The instruction model, for tool authors: every per-CPU access as the list
 * of {@linkcode Instruction}s its architecture's code generator emits, each
 * with its assembly text and a register-transfer meaning ({@linkcode Op})
 * that the simulator executes one instruction per step. `disassemble()`
 * prints the same lists, so a listing, the simulator and anything built on
 * this entry point can never disagree.
 *
 * One table per architecture ({@linkcode archTable}) holds all of its
 * sequences; {@linkcode accessProgram} composes one access of one variable
 * from it.
 *
 * @example Which instruction samples the per-CPU register
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u64 } from "@percpu/percpu";
 * import { accessProgram } from "@percpu/percpu/isa";
 *
 * const p = createPercpu({ arch: "riscv64" });
 * const X = p.defPercpu("X", u64, 0n);
 * const read = accessProgram(X, "read").instructions;
 * assert.deepEqual(read.map((i) => i.text), [
 *   "lui a0, %hi(__PERCPU_X)",
 *   "add a0, a0, gp",
 *   "ld a0, %lo(__PERCPU_X)(a0)",
 * ]);
 * assert.equal(read.findIndex((i) => i.samplesPercpuReg), 1);
 * ```
 *
 * @module
 */

import type { AccessOp, AccessProgram, ProgramOptions } from "./access_program.ts";
import type { PercpuVar } from "../percpu_var.ts";
import type { Arch } from "../arch.ts";
import type { ArchTable } from "./isa.ts";
import { programOf } from "../_port.ts";
import { ARCH_TABLES } from "./tables.ts";
import { ARCHES } from "../arch.ts";
import { valueText } from "../_describe.ts";

export { Op, Reg, REG_COUNT, SYSREGS } from "./isa.ts";
export type { AccessSymbols, ArchTable, Instruction, OpCode, Slot, TypedSequence } from "./isa.ts";
export { ACCESS_OPS } from "./access_program.ts";
export type { AccessOp, AccessProgram, ProgramOptions } from "./access_program.ts";

/**
 * The instructions of one access to a variable, as the simulator executes
 * them and `disassemble()` prints them.
 *
 * @param variable A variable made by `defPercpu`.
 * @param op Which access (`read`, `write`, `with-current`, `remote-read`, …).
 * @param options The remote CPU for `remote-*`, the closure name for `with-current`.
 * @returns The program, cached per op and options.
 * @throws {TypeError} When `variable` is not a per-CPU variable.
 * @throws {RangeError} On an op the variable does not have.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u32 } from "@percpu/percpu";
 * import { accessProgram, Op } from "@percpu/percpu/isa";
 * const X = createPercpu().defPercpu("X", u32, 0);
 * const [add] = accessProgram(X, "add").instructions;
 * assert.equal(add.op, Op.AddMemPreg); // x86_64: one gs:-relative instruction
 * ```
 */
export function accessProgram(
  variable: PercpuVar,
  op: AccessOp,
  options?: ProgramOptions,
): AccessProgram {
  return programOf(variable, op, options);
}

/**
 * An architecture's table: every access sequence its code generator emits.
 *
 * @param arch The architecture.
 * @returns The table.
 * @throws {RangeError} On an unknown architecture.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { archTable } from "@percpu/percpu/isa";
 * assert.equal(archTable("arm").pointerBytes, 4);
 * ```
 */
export function archTable(arch: Arch): ArchTable {
  if (!(ARCHES as readonly unknown[]).includes(arch)) {
    throw new RangeError(`unknown arch ${valueText(arch)}; accepted: ${ARCHES.join(", ")}`);
  }
  return ARCH_TABLES[arch];
}
