/**
 * RISC-V 32: the per-CPU register is `gp`, as on RISC-V 64, but the crate has
 * no dedicated read/write sequences here: every access goes through
 * `current_ptr()` (`mv a0, gp`, `lui`/`addi` for `symbol_vma()`, `add`) and
 * then a plain load or store, like AArch64. `usize` is 4 bytes. A 64-bit
 * integer lives in a register pair and moves as two `lw`/`sw` — two
 * instructions a tick can fall between — and an add of one is `add`,
 * `sltu` (the carry), `add`, `add`.
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
  riscvHi,
  type Slot,
  symbolOffset,
  SYSREGS,
  throughPointer,
  widthOf,
} from "../isa.ts";
import type { ScalarKind } from "../../types.ts";

const { P, T, U, V, VH, D, DH } = Reg;

// `P` and `T` are a0/a1 so that a 64-bit read returns in the ABI's a0/a1 pair.
const GPR: Record<number, string> = {
  [P]: "a0",
  [T]: "a1",
  [U]: "a6",
  [V]: "a2",
  [VH]: "a3",
  [D]: "a4",
  [DH]: "a5",
};

function reg(slot: Slot, kind: ScalarKind): string {
  return isFloat(kind) ? `f${GPR[slot]}` : GPR[slot];
}

function isPair(kind: ScalarKind): boolean {
  return kind === "u64" || kind === "i64";
}

const LOAD = { 1: "lb", 2: "lh", 4: "lw" } as const;
const STORE = { 1: "sb", 2: "sh", 4: "sw" } as const;

function loadMnemonic(kind: ScalarKind): string {
  if (isFloat(kind)) return kind === "f32" ? "flw" : "fld";
  const width = widthOf(kind, 4) as 1 | 2 | 4;
  return LOAD[width] + (width < 4 && !isSigned(kind) ? "u" : "");
}

function storeMnemonic(kind: ScalarKind): string {
  if (isFloat(kind)) return kind === "f32" ? "fsw" : "fsd";
  return STORE[widthOf(kind, 4) as 1 | 2 | 4];
}

/** `d ← mem[a0 + displacement]`; a 64-bit integer as two `lw`, high word first when `d` is `a0`. */
function load(kind: ScalarKind, displacement: string, imm: number, d: Slot = V): Instruction[] {
  const one = (slot: Slot, k: ScalarKind, shown: string, at: number) =>
    insn(`${loadMnemonic(k)} ${reg(slot, k)}, ${shown}(a0)`, Op.Load, {
      d: slot,
      a: P,
      imm: at,
      kind: k,
    });
  if (!isPair(kind)) return [one(d, kind, displacement, imm)];
  const low = one(d, "u32", displacement, imm);
  const high = one(d + 1, "u32", `${imm + 4}`, imm + 4);
  // Loading into a0 first would lose the pointer the second load needs.
  return d === P ? [high, low] : [low, high];
}

/** `mem[a0 + displacement] ← V`; a 64-bit integer as two `sw`. */
function store(kind: ScalarKind, displacement: string, imm: number): Instruction[] {
  const one = (slot: Slot, k: ScalarKind, shown: string, at: number) =>
    insn(`${storeMnemonic(k)} ${reg(slot, k)}, ${shown}(a0)`, Op.Store, {
      a: P,
      b: slot,
      imm: at,
      kind: k,
    });
  if (!isPair(kind)) return [one(V, kind, displacement, imm)];
  return [one(V, "u32", displacement, imm), one(VH, "u32", `${imm + 4}`, imm + 4)];
}

function addValue(kind: ScalarKind): Instruction[] {
  if (isPair(kind)) {
    return [
      insn("add a2, a2, a4", Op.AddValue, { d: V, a: V, b: D, kind: "u32" }),
      insn("sltu a6, a2, a4", Op.SetLessThanU, { d: U, a: V, b: D }),
      insn("add a3, a3, a5", Op.AddValue, { d: VH, a: VH, b: DH, kind: "u32" }),
      insn("add a3, a3, a6", Op.AddValue, { d: VH, a: VH, b: U, kind: "u32" }),
    ];
  }
  const mnemonic = kind === "f32" ? "fadd.s" : kind === "f64" ? "fadd.d" : "add";
  const v = reg(V, kind);
  return [
    insn(`${mnemonic} ${v}, ${v}, ${reg(D, kind)}`, Op.AddValue, { d: V, a: V, b: D, kind }),
  ];
}

/** `symbol_vma()`: `lui %hi` + `addi %lo`. */
function materialize(slot: Slot, name: string, vma: number): Instruction[] {
  const r = GPR[slot];
  const hi = riscvHi(vma);
  return [
    insn(`lui ${r}, %hi(${name})`, Op.Li, { d: slot, imm: hi }),
    insn(`addi ${r}, ${r}, %lo(${name})`, Op.AddImm, { d: slot, a: slot, imm: vma - hi }),
  ];
}

const ADD_OFFSET = insn("add a0, a0, a1", Op.Add, { d: P, a: P, b: T });
const SUB_LOAD_START = insn("sub a1, a1, a6", Op.Sub, { d: T, a: T, b: U });

function ptr(s: AccessSymbols): Instruction[] {
  return registerPlusSymbol(insn("mv a0, gp", Op.MovPreg, { d: P }), materialize, ADD_OFFSET, s);
}

/** `sp-naive`: the global's address, pc-relative. */
function naivePtr(s: AccessSymbols): Instruction[] {
  return [
    insn(`auipc a0, %pcrel_hi(${s.symbol})`, Op.Li, { d: P, imm: riscvHi(s.vma) }),
    insn("addi a0, a0, %pcrel_lo(.Lpcrel_hi0)", Op.AddImm, {
      d: P,
      a: P,
      imm: s.vma - riscvHi(s.vma),
    }),
  ];
}

/** custom-base's `current_ptr()`: `read_percpu_reg()` plus the symbol's address minus the link start. */
function customPtr(s: AccessSymbols): Instruction[] {
  return [
    insn("mv a0, gp", Op.MovPreg, { d: P }),
    ...symbolOffset(materialize, SUB_LOAD_START, s),
    ADD_OFFSET,
  ];
}

/** `a1 ←` a dynamic object's per-CPU pointer, held in a global (a 4-byte `lw`). */
function loadPointer(s: AccessSymbols): Instruction[] {
  const hi = riscvHi(s.vma);
  return [
    insn(`auipc a1, %pcrel_hi(${s.symbol})`, Op.Li, { d: T, imm: hi }),
    insn("lw a1, %pcrel_lo(.Lpcrel_hi1)(a1)", Op.Load, {
      d: T,
      a: T,
      imm: s.vma - hi,
      kind: "usize",
    }),
  ];
}

/** `this_cpu_ptr(p)`: the pointer plus the per-CPU register. */
function dynamicPtr(s: AccessSymbols): Instruction[] {
  return [...loadPointer(s), insn("add a0, a1, gp", Op.AddPreg, { d: P, a: T })];
}

/** Loads, add and store through `0(a0)` (64-bit integers as two words). */
const OPS: PointerOps = {
  result: (kind) => load(kind, "0", 0, P),
  load: (kind) => load(kind, "0", 0),
  addValue,
  store: (kind) => store(kind, "0", 0),
};

/** The RISC-V 32 access sequences. */
export const riscv32: ArchTable = {
  arch: "riscv32",
  pointerBytes: 4,
  call: "call",
  percpuReg: () => "gp",
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
    insn(`li a0, ${cpu}`, Op.Li, { d: P, imm: cpu }),
    insn("call percpu_area_base", Op.AreaBase, { d: P, a: P }),
  ],
  writeSysreg: (name) => [
    insn("mv gp, a2", Op.WriteSysreg, { a: V, imm: SYSREGS.indexOf(name) }),
  ],
  customBase: { ptr: customPtr, ...throughPointer(customPtr, OPS) },
  dynamic: {
    offset: (s) => pointerOffset(loadPointer, materialize, SUB_LOAD_START, s),
    ptr: dynamicPtr,
    ...throughPointer(dynamicPtr, OPS),
  },
  naive: { ptr: naivePtr, ...throughPointer(naivePtr, OPS) },
};
