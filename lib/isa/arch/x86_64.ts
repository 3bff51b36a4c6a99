/**
 * x86_64: the per-CPU register is `GS_BASE`. Scalar reads, writes and adds
 * are one `gs:`-relative instruction, so they cannot be split by an
 * interrupt; `current_ptr` reads the crate's `SELF_PTR` slot through `gs:`
 * instead of the privileged MSR and then adds the offset.
 *
 * @module
 */

import {
  type AccessSymbols,
  type ArchTable,
  insn,
  type Instruction,
  isFloat,
  Op,
  Reg,
  type Slot,
  symbolOffset,
  SYSREGS,
  widthOf,
} from "../isa.ts";
import type { ScalarKind } from "../../types.ts";

const { P, T, U, V, D } = Reg;

const GPR: Record<number, readonly [string, string, string, string]> = {
  [P]: ["al", "ax", "eax", "rax"],
  [T]: ["sil", "si", "esi", "rsi"],
  [U]: ["dil", "di", "edi", "rdi"],
  [V]: ["cl", "cx", "ecx", "rcx"],
  [D]: ["dl", "dx", "edx", "rdx"],
};
const XMM: Record<number, string> = { [P]: "xmm0", [V]: "xmm1", [D]: "xmm2" };
const PTR_WORD = { 1: "byte", 2: "word", 4: "dword", 8: "qword" } as const;
const SIZE_INDEX = { 1: 0, 2: 1, 4: 2, 8: 3 } as const;

function reg(slot: Slot, kind: ScalarKind): string {
  return isFloat(kind) ? XMM[slot] : GPR[slot][SIZE_INDEX[widthOf(kind, 8)]];
}

function mem(kind: ScalarKind, address: string): string {
  return `${PTR_WORD[widthOf(kind, 8)]} ptr ${address}`;
}

function mov(kind: ScalarKind): string {
  return kind === "f32" ? "movss" : kind === "f64" ? "movsd" : "mov";
}

function gs(s: AccessSymbols): string {
  return `gs:[offset ${s.symbol}]`;
}

/** `V ← mem[addr]; V += D; mem[addr] ← V` for floats, which x86 cannot add in memory. */
function floatAdd(
  kind: ScalarKind,
  address: string,
  load: Instruction["op"],
  store: Instruction["op"],
  imm: number,
): Instruction[] {
  const add = kind === "f32" ? "addss" : "addsd";
  return [
    insn(`${mov(kind)} ${reg(V, kind)}, ${mem(kind, address)}`, load, { d: V, imm, kind }),
    insn(`${add} ${reg(V, kind)}, ${reg(D, kind)}`, Op.AddValue, { d: V, a: V, b: D, kind }),
    insn(`${mov(kind)} ${mem(kind, address)}, ${reg(V, kind)}`, store, { b: V, imm, kind }),
  ];
}

/** `symbol_vma()`: `mov r32, offset X` (the section lies below 4 GiB). */
function materialize(slot: Slot, name: string, vma: number): Instruction[] {
  return [insn(`mov ${reg(slot, "u32")}, offset ${name}`, Op.Li, { d: slot, imm: vma })];
}

const SUB_LOAD_START = insn("sub esi, edi", Op.Sub, { d: T, a: T, b: U });

/** The x86_64 access sequences. */
export const x86_64: ArchTable = {
  arch: "x86_64",
  pointerBytes: 8,
  call: "call",
  percpuReg: () => "GS_BASE",
  selfPtr: true,
  sectionLimit: null,
  symbolVma: (vma) => vma,
  offset: (s) => symbolOffset(materialize, SUB_LOAD_START, s),
  ptr: (s) => [
    insn("mov rax, qword ptr gs:[offset __PERCPU_SELF_PTR]", Op.LoadPreg, {
      d: P,
      imm: s.selfPtrVma,
      kind: "usize",
    }),
    insn(`add rax, offset ${s.symbol}`, Op.AddImm, { d: P, a: P, imm: s.vma }),
  ],
  read: (s, kind) => [
    insn(`${mov(kind)} ${reg(P, kind)}, ${mem(kind, gs(s))}`, Op.LoadPreg, {
      d: P,
      imm: s.vma,
      kind,
    }),
  ],
  write: (s, kind) => [
    insn(`${mov(kind)} ${mem(kind, gs(s))}, ${reg(V, kind)}`, Op.StorePreg, {
      b: V,
      imm: s.vma,
      kind,
    }),
  ],
  add: (s, kind) =>
    isFloat(kind) ? floatAdd(kind, gs(s), Op.LoadPreg, Op.StorePreg, s.vma) : [
      insn(`add ${mem(kind, gs(s))}, ${reg(D, kind)}`, Op.AddMemPreg, {
        b: D,
        imm: s.vma,
        kind,
      }),
    ],
  load: (kind) => [
    insn(`${mov(kind)} ${reg(V, kind)}, ${mem(kind, "[rax]")}`, Op.Load, { d: V, a: P, kind }),
  ],
  store: (kind) => [
    insn(`${mov(kind)} ${mem(kind, "[rax]")}, ${reg(V, kind)}`, Op.Store, { a: P, b: V, kind }),
  ],
  addOffset: insn("add rax, rsi", Op.Add, { d: P, a: P, b: T }),
  areaBase: (cpu) => [
    insn(`mov edi, ${cpu}`, Op.Li, { d: U, imm: cpu }),
    insn("call percpu_area_base", Op.AreaBase, { d: P, a: U }),
  ],
  writeSysreg: (name) => [
    insn("wrgsbase rcx", Op.WriteSysreg, { a: V, imm: SYSREGS.indexOf(name) }),
  ],
  naive: {
    ptr: (s) => [insn(`lea rax, [rip + ${s.symbol}]`, Op.Li, { d: P, imm: s.vma })],
    read: (s, kind) => [
      insn(`${mov(kind)} ${reg(P, kind)}, ${mem(kind, `[rip + ${s.symbol}]`)}`, Op.Load, {
        d: P,
        imm: s.vma,
        kind,
      }),
    ],
    write: (s, kind) => [
      insn(`${mov(kind)} ${mem(kind, `[rip + ${s.symbol}]`)}, ${reg(V, kind)}`, Op.Store, {
        b: V,
        imm: s.vma,
        kind,
      }),
    ],
    add: (s, kind) =>
      isFloat(kind) ? floatAdd(kind, `[rip + ${s.symbol}]`, Op.Load, Op.Store, s.vma) : [
        insn(`add ${mem(kind, `[rip + ${s.symbol}]`)}, ${reg(D, kind)}`, Op.AddMem, {
          b: D,
          imm: s.vma,
          kind,
        }),
      ],
  },
  customBase: {
    ptr: customPtr,
    read: (s, kind) => [
      ...customPtr(s),
      insn(`${mov(kind)} ${reg(P, kind)}, ${mem(kind, "[rax]")}`, Op.Load, { d: P, a: P, kind }),
    ],
    write: (s, kind) => [...customPtr(s), ...x86_64.store(kind)],
    add: (s, kind) => [
      ...customPtr(s),
      ...(isFloat(kind) ? floatAddAt(kind, "[rax]", Op.Load, Op.Store, P) : [
        insn(`add ${mem(kind, "[rax]")}, ${reg(D, kind)}`, Op.AddMem, { a: P, b: D, kind }),
      ]),
    ],
  },
  dynamic: {
    offset: (s) => [
      loadPointer(s),
      ...(s.loadStart === null ? [] : [
        insn("sub rsi, offset _percpu_load_start", Op.AddImm, { d: T, a: T, imm: -s.loadStart }),
      ]),
    ],
    ptr: (s) => [
      loadPointer(s),
      insn("mov rax, qword ptr gs:[offset __PERCPU_SELF_PTR]", Op.LoadPreg, {
        d: P,
        imm: s.selfPtrVma,
        kind: "usize",
      }),
      insn("add rax, rsi", Op.Add, { d: P, a: P, b: T }),
    ],
    read: (s, kind) => [
      loadPointer(s),
      insn(`${mov(kind)} ${reg(P, kind)}, ${mem(kind, "gs:[rsi]")}`, Op.LoadPreg, {
        d: P,
        a: T,
        kind,
      }),
    ],
    write: (s, kind) => [
      loadPointer(s),
      insn(`${mov(kind)} ${mem(kind, "gs:[rsi]")}, ${reg(V, kind)}`, Op.StorePreg, {
        a: T,
        b: V,
        kind,
      }),
    ],
    add: (s, kind) => [
      loadPointer(s),
      ...(isFloat(kind) ? floatAddAt(kind, "gs:[rsi]", Op.LoadPreg, Op.StorePreg, T) : [
        insn(`add ${mem(kind, "gs:[rsi]")}, ${reg(D, kind)}`, Op.AddMemPreg, {
          a: T,
          b: D,
          kind,
        }),
      ]),
    ],
  },
};

/**
 * custom-base's `current_ptr()`: `read_percpu_reg()` (the crate reads the
 * `GS_BASE` MSR; `rdgsbase` reads the same register in one instruction and
 * leaves `rcx`/`rdx` alone), plus the symbol's address minus the link start.
 */
function customPtr(s: AccessSymbols): Instruction[] {
  return [
    insn("rdgsbase rax", Op.MovPreg, { d: P }),
    ...x86_64.offset(s),
    x86_64.addOffset,
  ];
}

/** `rsi ←` a dynamic object's per-CPU pointer, held in a global. */
function loadPointer(s: AccessSymbols): Instruction {
  return insn(`mov rsi, qword ptr [rip + ${s.symbol}]`, Op.Load, {
    d: T,
    imm: s.vma,
    kind: "usize",
  });
}

/** {@linkcode floatAdd} at an address in register slot `a`. */
function floatAddAt(
  kind: ScalarKind,
  address: string,
  load: Instruction["op"],
  store: Instruction["op"],
  a: Slot,
): Instruction[] {
  const add = kind === "f32" ? "addss" : "addsd";
  return [
    insn(`${mov(kind)} ${reg(V, kind)}, ${mem(kind, address)}`, load, { d: V, a, kind }),
    insn(`${add} ${reg(V, kind)}, ${reg(D, kind)}`, Op.AddValue, { d: V, a: V, b: D, kind }),
    insn(`${mov(kind)} ${mem(kind, address)}, ${reg(V, kind)}`, store, { a, b: V, kind }),
  ];
}
