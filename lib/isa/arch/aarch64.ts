/**
 * AArch64: the per-CPU register is `TPIDR_EL1`, or `TPIDR_EL2` with the
 * `arm-el2` feature. The crate has no `gs:`-style addressing here: every
 * access goes through `current_ptr()` (`mrs` + `movz` + `add`) and then a
 * plain load or store, so the register is sampled by the first instruction
 * and a migration before the last one hits the old CPU's area.
 *
 * `symbol_vma()` is one `movz #:abs_g0_nc:`, which keeps the low 16 bits of
 * the symbol. Under `non-zero-vma` the crate writes the register as
 * base − `symbol_vma(_percpu_load_start)`, truncated the same way, so
 * `register + symbol_vma(X)` is still the variable's address — as long as
 * the section does not straddle a 64 KiB boundary (then the truncated
 * difference is off by 64 KiB). This port's section starts 64 KiB-aligned
 * and `defPercpu` refuses to grow it past 64 KiB on AArch64, which is
 * exactly the condition under which the crate's 16-bit form is right, so no
 * `movk` is ever needed.
 *
 * @module
 */

import {
  type AccessSymbols,
  type ArchTable,
  insn,
  type Instruction,
  isFloat,
  isSigned,
  Op,
  page,
  pointerOffset,
  type PointerOps,
  Reg,
  registerPlusSymbol,
  type Slot,
  symbolOffset,
  SYSREGS,
  throughPointer,
  widthOf,
} from "../isa.ts";
import type { ScalarKind } from "../../types.ts";

const { P, T, U, V, D } = Reg;

const NUMBER: Record<number, number> = { [P]: 0, [T]: 1, [V]: 2, [D]: 3, [U]: 9 };

function reg(slot: Slot, kind: ScalarKind): string {
  const n = NUMBER[slot];
  if (kind === "f32") return `s${n}`;
  if (kind === "f64") return `d${n}`;
  return widthOf(kind, 8) === 8 ? `x${n}` : `w${n}`;
}

function suffix(kind: ScalarKind): string {
  if (isFloat(kind)) return "";
  const width = widthOf(kind, 8);
  const size = width === 1 ? "b" : width === 2 ? "h" : "";
  return size && isSigned(kind) ? `s${size}` : size;
}

function ldr(kind: ScalarKind, address: string, a: Slot, imm: number, d: Slot = V): Instruction {
  return insn(`ldr${suffix(kind)} ${reg(d, kind)}, ${address}`, Op.Load, { d, a, imm, kind });
}

function str(kind: ScalarKind, address: string, a: Slot, imm: number): Instruction {
  const size = suffix(kind).replace("s", "");
  return insn(`str${size} ${reg(V, kind)}, ${address}`, Op.Store, { a, b: V, imm, kind });
}

function addValue(kind: ScalarKind): Instruction {
  const v = reg(V, kind);
  return insn(`${isFloat(kind) ? "fadd" : "add"} ${v}, ${v}, ${reg(D, kind)}`, Op.AddValue, {
    d: V,
    a: V,
    b: D,
    kind,
  });
}

/** `symbol_vma()`: one `movz #:abs_g0_nc:`, the symbol's low 16 bits. */
function materialize(slot: Slot, name: string, vma: number): Instruction[] {
  return [
    insn(`movz x${NUMBER[slot]}, #:abs_g0_nc:${name}`, Op.Li, { d: slot, imm: vma % 0x10000 }),
  ];
}

const ADD_OFFSET = insn("add x0, x0, x1", Op.Add, { d: P, a: P, b: T });
const SUB_LOAD_START = insn("sub x1, x1, x9", Op.Sub, { d: T, a: T, b: U });

function ptr(s: AccessSymbols): Instruction[] {
  return registerPlusSymbol(
    insn(`mrs x0, ${s.percpuReg}`, Op.MovPreg, { d: P }),
    materialize,
    ADD_OFFSET,
    s,
  );
}

function naiveAddress(s: AccessSymbols): Instruction {
  return insn(`adrp x0, ${s.symbol}`, Op.Li, { d: P, imm: page(s.vma) });
}

/**
 * `movz #:abs_g0_nc:` keeps 16 bits of the symbol and of the register's
 * bias alike, which is right only while the section stays within one 64 KiB
 * block; this port's section starts 64 KiB-aligned.
 */
const SECTION_LIMIT = Object.freeze({
  bytes: 0x10000,
  why:
    "AArch64's symbol_vma() is one movz #:abs_g0_nc:, which keeps 16 bits, so the section must stay within one 64 KiB block (offsets ≤ 0xffff)",
});

/** Loads, add and store through `[x0]`. */
const OPS: PointerOps = {
  result: (kind) => [ldr(kind, "[x0]", P, 0, P)],
  load: (kind) => [ldr(kind, "[x0]", P, 0)],
  addValue: (kind) => [addValue(kind)],
  store: (kind) => [str(kind, "[x0]", P, 0)],
};

/** The AArch64 access sequences. */
export const aarch64: ArchTable = {
  arch: "aarch64",
  pointerBytes: 8,
  call: "bl",
  percpuReg: (armEl2) => armEl2 ? "TPIDR_EL2" : "TPIDR_EL1",
  selfPtr: false,
  sectionLimit: SECTION_LIMIT,
  symbolVma: (vma) => vma % 0x10000,
  offset: (s) => symbolOffset(materialize, SUB_LOAD_START, s),
  ptr,
  ...throughPointer(ptr, OPS),
  load: OPS.load,
  store: OPS.store,
  addOffset: ADD_OFFSET,
  areaBase: (cpu) => [
    insn(`mov w0, #${cpu}`, Op.Li, { d: P, imm: cpu }),
    insn("bl percpu_area_base", Op.AreaBase, { d: P, a: P }),
  ],
  writeSysreg: (name) => [
    insn(`msr ${name}, x1`, Op.WriteSysreg, { a: V, imm: SYSREGS.indexOf(name) }),
  ],
  naive: {
    ptr: (s) => [
      naiveAddress(s),
      insn(`add x0, x0, #:lo12:${s.symbol}`, Op.AddImm, { d: P, a: P, imm: s.vma - page(s.vma) }),
    ],
    read: (s, kind) => [
      naiveAddress(s),
      ldr(kind, `[x0, #:lo12:${s.symbol}]`, P, s.vma - page(s.vma), P),
    ],
    write: (s, kind) => [
      naiveAddress(s),
      str(kind, `[x0, #:lo12:${s.symbol}]`, P, s.vma - page(s.vma)),
    ],
    add: (s, kind) => [
      naiveAddress(s),
      ldr(kind, `[x0, #:lo12:${s.symbol}]`, P, s.vma - page(s.vma)),
      addValue(kind),
      str(kind, `[x0, #:lo12:${s.symbol}]`, P, s.vma - page(s.vma)),
    ],
  },
  customBase: { ptr: customPtr, ...throughPointer(customPtr, OPS) },
  dynamic: {
    offset: (s) => pointerOffset(loadPointer, materialize, SUB_LOAD_START, s),
    ptr: dynamicPtr,
    ...throughPointer(dynamicPtr, OPS),
  },
};

/** custom-base's `current_ptr()`: `read_percpu_reg()` plus the symbol's address minus the link start. */
function customPtr(s: AccessSymbols): Instruction[] {
  return [
    insn(`mrs x0, ${s.percpuReg}`, Op.MovPreg, { d: P }),
    ...symbolOffset(materialize, SUB_LOAD_START, s),
    ADD_OFFSET,
  ];
}

/** `x1 ←` a dynamic object's per-CPU pointer, held in a global. */
function loadPointer(s: AccessSymbols): Instruction[] {
  return [
    insn(`adrp x1, ${s.symbol}`, Op.Li, { d: T, imm: page(s.vma) }),
    insn(`ldr x1, [x1, #:lo12:${s.symbol}]`, Op.Load, {
      d: T,
      a: T,
      imm: s.vma - page(s.vma),
      kind: "usize",
    }),
  ];
}

/** `this_cpu_ptr(p)`: the per-CPU register plus the pointer. */
function dynamicPtr(s: AccessSymbols): Instruction[] {
  return [...loadPointer(s), insn(`mrs x0, ${s.percpuReg}`, Op.MovPreg, { d: P }), ADD_OFFSET];
}
