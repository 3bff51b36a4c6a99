/**
 * 32-bit ARM: the per-CPU register is `TPIDRPRW` (CP15 c13, c0, 4, the
 * PL1-only thread ID register), read with `mrc`. As on AArch64 every access
 * goes through `current_ptr()`. `usize` is 4 bytes, and 64-bit integers live
 * in register pairs: `ldrd`/`strd` move them, `adds` + `adc` add them.
 *
 * The crate reads `c13, c0, 4` (TPIDRPRW) since 0.3.1, as this table does;
 * its 0.2.1–0.3.0 releases read `c13, c0, 3` (TPIDRURO, which user space
 * can read and Linux uses for its TLS pointer), a bug fixed upstream.
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

const { P, T, U, V, VH, D, DH } = Reg;

const GPR: Record<number, string> = {
  [P]: "r0",
  [T]: "r1",
  [U]: "ip",
  [V]: "r2",
  [VH]: "r3",
  [D]: "r4",
  [DH]: "r5",
};
const FLOAT: Record<number, readonly [string, string]> = {
  [P]: ["s0", "d0"],
  [V]: ["s2", "d1"],
  [D]: ["s4", "d2"],
};

function reg(slot: Slot, kind: ScalarKind): string {
  if (kind === "f32") return FLOAT[slot][0];
  if (kind === "f64") return FLOAT[slot][1];
  return GPR[slot];
}

function isPair(kind: ScalarKind): boolean {
  return kind === "u64" || kind === "i64";
}

function suffix(kind: ScalarKind): string {
  const width = widthOf(kind, 4);
  const size = width === 1 ? "b" : width === 2 ? "h" : "";
  return size && isSigned(kind) ? `s${size}` : size;
}

function ldr(kind: ScalarKind, address: string, a: Slot, imm: number, d: Slot = V): Instruction {
  if (isPair(kind)) {
    return insn(`ldrd ${GPR[d]}, ${GPR[d + 1]}, ${address}`, Op.LoadPair, { d, a, imm, kind });
  }
  const mnemonic = isFloat(kind) ? "vldr" : `ldr${suffix(kind)}`;
  return insn(`${mnemonic} ${reg(d, kind)}, ${address}`, Op.Load, { d, a, imm, kind });
}

function str(kind: ScalarKind, address: string, a: Slot, imm: number): Instruction {
  if (isPair(kind)) {
    return insn(`strd r2, r3, ${address}`, Op.StorePair, { a, b: V, imm, kind });
  }
  const mnemonic = isFloat(kind) ? "vstr" : `str${suffix(kind).replace("s", "")}`;
  return insn(`${mnemonic} ${reg(V, kind)}, ${address}`, Op.Store, { a, b: V, imm, kind });
}

function addValue(kind: ScalarKind): Instruction[] {
  if (isPair(kind)) {
    return [
      insn("adds r2, r2, r4", Op.AddCarry, { d: V, a: V, b: D, kind }),
      insn("adc r3, r3, r5", Op.AddWithCarry, { d: VH, a: VH, b: DH, kind }),
    ];
  }
  const mnemonic = kind === "f32" ? "vadd.f32" : kind === "f64" ? "vadd.f64" : "add";
  const v = reg(V, kind);
  return [
    insn(`${mnemonic} ${v}, ${v}, ${reg(D, kind)}`, Op.AddValue, { d: V, a: V, b: D, kind }),
  ];
}

function materialize(slot: Slot, name: string, value: number): Instruction[] {
  const r = GPR[slot];
  const low = value % 0x10000;
  return [
    insn(`movw ${r}, #:lower16:${name}`, Op.Li, { d: slot, imm: low }),
    insn(`movt ${r}, #:upper16:${name}`, Op.AddImm, { d: slot, a: slot, imm: value - low }),
  ];
}

const ADD_OFFSET = insn("add r0, r0, r1", Op.Add, { d: P, a: P, b: T });
const SUB_LOAD_START = insn("sub r1, r1, ip", Op.Sub, { d: T, a: T, b: U });

function ptr(s: AccessSymbols): Instruction[] {
  return registerPlusSymbol(
    insn("mrc p15, 0, r0, c13, c0, 4", Op.MovPreg, { d: P }),
    materialize,
    ADD_OFFSET,
    s,
  );
}

/** Loads, add and store through `[r0]` (64-bit integers as `ldrd`/`strd` pairs). */
const OPS: PointerOps = {
  result: (kind) => [ldr(kind, "[r0]", P, 0, P)],
  load: (kind) => [ldr(kind, "[r0]", P, 0)],
  addValue,
  store: (kind) => [str(kind, "[r0]", P, 0)],
};

/** `sp-naive`: the global's address, `movw`/`movt`. */
function naivePtr(s: AccessSymbols): Instruction[] {
  return materialize(P, s.symbol, s.vma);
}

/** The 32-bit ARM access sequences. */
export const arm: ArchTable = {
  arch: "arm",
  pointerBytes: 4,
  call: "bl",
  percpuReg: () => "TPIDRPRW",
  selfPtr: false,
  sectionLimit: null,
  symbolVma: (vma) => vma,
  offset: (s) => symbolOffset(materialize, SUB_LOAD_START, s),
  ptr,
  ...throughPointer(ptr, OPS),
  load: OPS.load,
  store: OPS.store,
  addOffset: ADD_OFFSET,
  areaBase: (cpu) => [
    insn(`mov r0, #${cpu}`, Op.Li, { d: P, imm: cpu }),
    insn("bl percpu_area_base", Op.AreaBase, { d: P, a: P }),
  ],
  writeSysreg: (name) => [
    insn("mcr p15, 0, r2, c13, c0, 4", Op.WriteSysreg, { a: V, imm: SYSREGS.indexOf(name) }),
  ],
  naive: { ptr: naivePtr, ...throughPointer(naivePtr, OPS) },
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
    insn("mrc p15, 0, r0, c13, c0, 4", Op.MovPreg, { d: P }),
    ...symbolOffset(materialize, SUB_LOAD_START, s),
    ADD_OFFSET,
  ];
}

/** `r1 ←` a dynamic object's per-CPU pointer, held in a global. */
function loadPointer(s: AccessSymbols): Instruction[] {
  return [
    ...materialize(T, s.symbol, s.vma),
    insn("ldr r1, [r1]", Op.Load, { d: T, a: T, kind: "usize" }),
  ];
}

/** `this_cpu_ptr(p)`: the per-CPU register plus the pointer. */
function dynamicPtr(s: AccessSymbols): Instruction[] {
  return [
    ...loadPointer(s),
    insn("mrc p15, 0, r0, c13, c0, 4", Op.MovPreg, { d: P }),
    ADD_OFFSET,
  ];
}
