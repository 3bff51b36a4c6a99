/**
 * RISC-V 64: the per-CPU register is `gp` (`tp` stays for thread-local
 * storage). A read is `lui` + `add …, gp` + a load: the register is sampled by
 * the second instruction, so a migration between it and the load makes the
 * load hit the old CPU's area.
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

const { P, T, U, V, D } = Reg;

const GPR: Record<number, string> = { [P]: "a0", [V]: "a1", [D]: "a2", [T]: "a5", [U]: "a6" };

function reg(slot: Slot, kind: ScalarKind): string {
  return isFloat(kind) ? `f${GPR[slot]}` : GPR[slot];
}

const LOAD = { 1: "lb", 2: "lh", 4: "lw", 8: "ld" } as const;
const STORE = { 1: "sb", 2: "sh", 4: "sw", 8: "sd" } as const;

function loadMnemonic(kind: ScalarKind): string {
  if (isFloat(kind)) return kind === "f32" ? "flw" : "fld";
  const width = widthOf(kind, 8);
  return LOAD[width] + (width < 8 && !isSigned(kind) ? "u" : "");
}

function storeMnemonic(kind: ScalarKind): string {
  if (isFloat(kind)) return kind === "f32" ? "fsw" : "fsd";
  return STORE[widthOf(kind, 8)];
}

function load(kind: ScalarKind, displacement: string, imm: number, d: Slot = V): Instruction {
  return insn(`${loadMnemonic(kind)} ${reg(d, kind)}, ${displacement}(a0)`, Op.Load, {
    d,
    a: P,
    imm,
    kind,
  });
}

function store(kind: ScalarKind, displacement: string, imm: number): Instruction {
  return insn(`${storeMnemonic(kind)} ${reg(V, kind)}, ${displacement}(a0)`, Op.Store, {
    a: P,
    b: V,
    imm,
    kind,
  });
}

function addValue(kind: ScalarKind): Instruction {
  const mnemonic = kind === "f32"
    ? "fadd.s"
    : kind === "f64"
    ? "fadd.d"
    : widthOf(kind, 8) === 8
    ? "add"
    : "addw";
  const v = reg(V, kind);
  return insn(`${mnemonic} ${v}, ${v}, ${reg(D, kind)}`, Op.AddValue, {
    d: V,
    a: V,
    b: D,
    kind,
  });
}

function materialize(slot: Slot, name: string, value: number): Instruction[] {
  const r = GPR[slot];
  const hi = riscvHi(value);
  return [
    insn(`lui ${r}, %hi(${name})`, Op.Li, { d: slot, imm: hi }),
    insn(`addi ${r}, ${r}, %lo(${name})`, Op.AddImm, { d: slot, a: slot, imm: value - hi }),
  ];
}

/** `a0 ← %hi(X) + gp`: the base for a `%lo(X)(a0)` access; samples `gp`. */
function gpBase(s: AccessSymbols): Instruction[] {
  return [
    insn(`lui a0, %hi(${s.symbol})`, Op.Li, { d: P, imm: riscvHi(s.vma) }),
    insn("add a0, a0, gp", Op.AddPreg, { d: P, a: P }),
  ];
}

function lo(s: AccessSymbols): [string, number] {
  return [`%lo(${s.symbol})`, s.vma - riscvHi(s.vma)];
}

const ADD_OFFSET = insn("add a0, a0, a5", Op.Add, { d: P, a: P, b: T });
const SUB_LOAD_START = insn("sub a5, a5, a6", Op.Sub, { d: T, a: T, b: U });

function ptr(s: AccessSymbols): Instruction[] {
  return registerPlusSymbol(insn("mv a0, gp", Op.MovPreg, { d: P }), materialize, ADD_OFFSET, s);
}

const PCREL_LO = "%pcrel_lo(.Lpcrel_hi0)";

function naiveBase(s: AccessSymbols): Instruction {
  return insn(`auipc a0, %pcrel_hi(${s.symbol})`, Op.Li, { d: P, imm: riscvHi(s.vma) });
}

/** Loads, add and store through `0(a0)`. */
const OPS: PointerOps = {
  result: (kind) => [load(kind, "0", 0, P)],
  load: (kind) => [load(kind, "0", 0)],
  addValue: (kind) => [addValue(kind)],
  store: (kind) => [store(kind, "0", 0)],
};

/** The RISC-V 64 access sequences. */
export const riscv64: ArchTable = {
  arch: "riscv64",
  pointerBytes: 8,
  call: "call",
  percpuReg: () => "gp",
  selfPtr: false,
  sectionLimit: null,
  symbolVma: (vma) => vma,
  offset: (s) => symbolOffset(materialize, SUB_LOAD_START, s),
  ptr,
  read: (s, kind) => [...gpBase(s), load(kind, ...lo(s), P)],
  write: (s, kind) => [...gpBase(s), store(kind, ...lo(s))],
  add: (s, kind) => [...gpBase(s), load(kind, ...lo(s)), addValue(kind), store(kind, ...lo(s))],
  load: OPS.load,
  store: OPS.store,
  addOffset: ADD_OFFSET,
  areaBase: (cpu) => [
    insn(`li a0, ${cpu}`, Op.Li, { d: P, imm: cpu }),
    insn("call percpu_area_base", Op.AreaBase, { d: P, a: P }),
  ],
  writeSysreg: (name) => [
    insn("mv gp, a1", Op.WriteSysreg, { a: V, imm: SYSREGS.indexOf(name) }),
  ],
  naive: {
    ptr: (s) => [
      naiveBase(s),
      insn(`addi a0, a0, ${PCREL_LO}`, Op.AddImm, { d: P, a: P, imm: s.vma - riscvHi(s.vma) }),
    ],
    read: (s, kind) => [naiveBase(s), load(kind, PCREL_LO, s.vma - riscvHi(s.vma), P)],
    write: (s, kind) => [naiveBase(s), store(kind, PCREL_LO, s.vma - riscvHi(s.vma))],
    add: (s, kind) => [
      naiveBase(s),
      load(kind, PCREL_LO, s.vma - riscvHi(s.vma)),
      addValue(kind),
      store(kind, PCREL_LO, s.vma - riscvHi(s.vma)),
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
    insn("mv a0, gp", Op.MovPreg, { d: P }),
    ...symbolOffset(materialize, SUB_LOAD_START, s),
    ADD_OFFSET,
  ];
}

/** `a5 ←` a dynamic object's per-CPU pointer, held in a global. */
function loadPointer(s: AccessSymbols): Instruction[] {
  const hi = riscvHi(s.vma);
  return [
    insn(`auipc a5, %pcrel_hi(${s.symbol})`, Op.Li, { d: T, imm: hi }),
    insn("ld a5, %pcrel_lo(.Lpcrel_hi1)(a5)", Op.Load, {
      d: T,
      a: T,
      imm: s.vma - hi,
      kind: "usize",
    }),
  ];
}

/** `this_cpu_ptr(p)`: the pointer plus the per-CPU register. */
function dynamicPtr(s: AccessSymbols): Instruction[] {
  return [...loadPointer(s), insn("add a0, a5, gp", Op.AddPreg, { d: P, a: T })];
}
