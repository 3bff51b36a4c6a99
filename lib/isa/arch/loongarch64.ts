/**
 * LoongArch 64: the per-CPU register is `$r21` (reserved by the ABI). Reads
 * and writes build the offset with `lu12i.w` + `ori` and then use an indexed
 * `ldx`/`stx` with `$r21`, so the register is sampled by the access itself:
 * a single read or write cannot hit the wrong area. A read-modify-write
 * samples it twice (load and store), so a migration in between moves the
 * value from one CPU's area to another's.
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

const GPR: Record<number, string> = {
  [P]: "$a0",
  [V]: "$a1",
  [D]: "$a2",
  [T]: "$t0",
  [U]: "$t1",
};

function reg(slot: Slot, kind: ScalarKind): string {
  return isFloat(kind) ? GPR[slot].replace("$", "$f") : GPR[slot];
}

const WIDTH = { 1: "b", 2: "h", 4: "w", 8: "d" } as const;

/** Mnemonic stem and size suffix, e.g. `ld` + `.wu`. */
function sized(kind: ScalarKind, stem: "ld" | "st", indexed: boolean): string {
  const x = indexed ? "x" : "";
  if (isFloat(kind)) return `f${stem}${x}.${kind === "f32" ? "s" : "d"}`;
  const width = widthOf(kind, 8);
  const unsigned = stem === "ld" && width < 8 && !isSigned(kind) ? "u" : "";
  return `${stem}${x}.${WIDTH[width]}${unsigned}`;
}

function materialize(slot: Slot, name: string, value: number): Instruction[] {
  const r = GPR[slot];
  return [
    insn(`lu12i.w ${r}, %abs_hi20(${name})`, Op.Li, { d: slot, imm: page(value) }),
    insn(`ori ${r}, ${r}, %abs_lo12(${name})`, Op.AddImm, {
      d: slot,
      a: slot,
      imm: value - page(value),
    }),
  ];
}

function loadR21(kind: ScalarKind, d: Slot = V): Instruction {
  return insn(`${sized(kind, "ld", true)} ${reg(d, kind)}, $a0, $r21`, Op.LoadPreg, {
    d,
    a: P,
    kind,
  });
}

function storeR21(kind: ScalarKind): Instruction {
  return insn(`${sized(kind, "st", true)} ${reg(V, kind)}, $a0, $r21`, Op.StorePreg, {
    a: P,
    b: V,
    kind,
  });
}

function load(kind: ScalarKind, displacement: string, imm: number, d: Slot = V): Instruction {
  return insn(`${sized(kind, "ld", false)} ${reg(d, kind)}, $a0, ${displacement}`, Op.Load, {
    d,
    a: P,
    imm,
    kind,
  });
}

function store(kind: ScalarKind, displacement: string, imm: number): Instruction {
  return insn(`${sized(kind, "st", false)} ${reg(V, kind)}, $a0, ${displacement}`, Op.Store, {
    a: P,
    b: V,
    imm,
    kind,
  });
}

function addValue(kind: ScalarKind): Instruction {
  const mnemonic = isFloat(kind)
    ? `fadd.${kind === "f32" ? "s" : "d"}`
    : `add.${widthOf(kind, 8) === 8 ? "d" : "w"}`;
  const v = reg(V, kind);
  return insn(`${mnemonic} ${v}, ${v}, ${reg(D, kind)}`, Op.AddValue, {
    d: V,
    a: V,
    b: D,
    kind,
  });
}

const ADD_OFFSET = insn("add.d $a0, $a0, $t0", Op.Add, { d: P, a: P, b: T });
const SUB_LOAD_START = insn("sub.d $t0, $t0, $t1", Op.Sub, { d: T, a: T, b: U });

function ptr(s: AccessSymbols): Instruction[] {
  return registerPlusSymbol(
    insn("move $a0, $r21", Op.MovPreg, { d: P }),
    materialize,
    ADD_OFFSET,
    s,
  );
}

function naiveBase(s: AccessSymbols): Instruction {
  return insn(`pcalau12i $a0, %pc_hi20(${s.symbol})`, Op.Li, { d: P, imm: page(s.vma) });
}

function pcLo(s: AccessSymbols): [string, number] {
  return [`%pc_lo12(${s.symbol})`, s.vma - page(s.vma)];
}

/** Loads, add and store through `$a0, 0`. */
const OPS: PointerOps = {
  result: (kind) => [load(kind, "0", 0, P)],
  load: (kind) => [load(kind, "0", 0)],
  addValue: (kind) => [addValue(kind)],
  store: (kind) => [store(kind, "0", 0)],
};

/** The LoongArch 64 access sequences. */
export const loongarch64: ArchTable = {
  arch: "loongarch64",
  pointerBytes: 8,
  call: "bl",
  percpuReg: () => "$r21",
  selfPtr: false,
  sectionLimit: null,
  symbolVma: (vma) => vma,
  offset: (s) => symbolOffset(materialize, SUB_LOAD_START, s),
  ptr,
  read: (s, kind) => [...materialize(P, s.symbol, s.vma), loadR21(kind, P)],
  write: (s, kind) => [...materialize(P, s.symbol, s.vma), storeR21(kind)],
  add: (s, kind) => [
    ...materialize(P, s.symbol, s.vma),
    loadR21(kind),
    addValue(kind),
    storeR21(kind),
  ],
  load: OPS.load,
  store: OPS.store,
  addOffset: ADD_OFFSET,
  areaBase: (cpu) => [
    insn(`ori $a0, $zero, ${cpu}`, Op.Li, { d: P, imm: cpu }),
    insn("bl percpu_area_base", Op.AreaBase, { d: P, a: P }),
  ],
  writeSysreg: (name) => [
    insn("move $r21, $a1", Op.WriteSysreg, { a: V, imm: SYSREGS.indexOf(name) }),
  ],
  naive: {
    ptr: (s) => [
      naiveBase(s),
      insn(`addi.d $a0, $a0, %pc_lo12(${s.symbol})`, Op.AddImm, {
        d: P,
        a: P,
        imm: s.vma - page(s.vma),
      }),
    ],
    read: (s, kind) => [naiveBase(s), load(kind, ...pcLo(s), P)],
    write: (s, kind) => [naiveBase(s), store(kind, ...pcLo(s))],
    add: (s, kind) => [
      naiveBase(s),
      load(kind, ...pcLo(s)),
      addValue(kind),
      store(kind, ...pcLo(s)),
    ],
  },
  customBase: { ptr: customPtr, ...throughPointer(customPtr, OPS) },
  dynamic: {
    offset: (s) => pointerOffset(loadPointer, materialize, SUB_LOAD_START, s),
    ptr: (s) => [...loadPointer(s), insn("add.d $a0, $t0, $r21", Op.AddPreg, { d: P, a: T })],
    read: (s, kind) => [
      ...loadPointer(s),
      insn(`${sized(kind, "ld", true)} ${reg(P, kind)}, $t0, $r21`, Op.LoadPreg, {
        d: P,
        a: T,
        kind,
      }),
    ],
    write: (s, kind) => [...loadPointer(s), storeR21At(kind)],
    add: (s, kind) => [
      ...loadPointer(s),
      insn(`${sized(kind, "ld", true)} ${reg(V, kind)}, $t0, $r21`, Op.LoadPreg, {
        d: V,
        a: T,
        kind,
      }),
      addValue(kind),
      storeR21At(kind),
    ],
  },
};

/** custom-base's `current_ptr()`: `read_percpu_reg()` plus the symbol's address minus the link start. */
function customPtr(s: AccessSymbols): Instruction[] {
  return [
    insn("move $a0, $r21", Op.MovPreg, { d: P }),
    ...symbolOffset(materialize, SUB_LOAD_START, s),
    ADD_OFFSET,
  ];
}

/** `$t0 ←` a dynamic object's per-CPU pointer, held in a global. */
function loadPointer(s: AccessSymbols): Instruction[] {
  return [
    insn(`pcalau12i $t0, %pc_hi20(${s.symbol})`, Op.Li, { d: T, imm: page(s.vma) }),
    insn(`ld.d $t0, $t0, %pc_lo12(${s.symbol})`, Op.Load, {
      d: T,
      a: T,
      imm: s.vma - page(s.vma),
      kind: "usize",
    }),
  ];
}

/** `mem[$r21 + $t0] ← V`: an indexed store of this CPU's copy. */
function storeR21At(kind: ScalarKind): Instruction {
  return insn(`${sized(kind, "st", true)} ${reg(V, kind)}, $t0, $r21`, Op.StorePreg, {
    a: T,
    b: V,
    kind,
  });
}
