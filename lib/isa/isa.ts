/**
 * The instruction model shared by `disassemble()` and the SMP simulator.
 *
 * Each architecture table (`lib/arch/*.ts`) turns a per-CPU access into a
 * list of {@linkcode Instruction}s: the assembly text the crate's macro
 * emits, plus a register-transfer meaning ({@linkcode Op}) that the
 * simulator executes one instruction per step. Because both readers use the
 * same list, what a user reads in a listing is exactly what the simulated
 * CPU does, including *which* instruction samples the per-CPU register.
 *
 * @module
 */

import type { Arch, PercpuRegName } from "../arch.ts";
import type { ScalarKind } from "../types.ts";

/**
 * Register-transfer operations. `preg` is the per-CPU register of the CPU
 * that executes the instruction; `mem[x]` is simulated memory; `d`, `a`, `b`
 * are register slots of the executing task; `imm` is a constant.
 */
export const Op = {
  /** `d ← preg` (samples the per-CPU register). */
  MovPreg: 0,
  /** `d ← imm`. */
  Li: 1,
  /** `d ← a + imm`. */
  AddImm: 2,
  /** `d ← a + b` (address arithmetic). */
  Add: 3,
  /** `d ← a − b` (address arithmetic). */
  Sub: 4,
  /** `d ← a + preg` (samples the per-CPU register). */
  AddPreg: 5,
  /** `d ← mem[a + imm]`; `a < 0` means the absolute address `imm`. */
  Load: 6,
  /** `mem[a + imm] ← b`; `a < 0` means the absolute address `imm`. */
  Store: 7,
  /** `d ← mem[preg + a + imm]`; `a < 0` adds nothing (samples the register). */
  LoadPreg: 8,
  /** `mem[preg + a + imm] ← b` (samples the register). */
  StorePreg: 9,
  /** `mem[preg + a + imm] += b` in one instruction (x86 `add gs:[…], reg`); `a < 0` adds nothing. */
  AddMemPreg: 10,
  /** `mem[a + imm] += b` in one instruction; `a < 0`: absolute `imm`. */
  AddMem: 11,
  /** `d ← a + b` in the variable's own arithmetic (wrapping, float). */
  AddValue: 12,
  /** `d ← f(d)`: the closure passed to a `withCurrent`-style access. */
  CallFn: 13,
  /** `d ← percpu_area_base(a)`: the area base of CPU number `a`. */
  AreaBase: 14,
  /** `kernel_guard` `disable_preempt()`. */
  PreemptOff: 15,
  /** `kernel_guard` `enable_preempt()`. */
  PreemptOn: 16,
  /** `d, d+1 ← mem[a]` as two 32-bit halves (ARM `ldrd`). */
  LoadPair: 17,
  /** `mem[a] ← b, b+1` as two 32-bit halves (ARM `strd`). */
  StorePair: 18,
  /** `d ← (a + b) mod 2^32`, setting the carry (ARM `adds`). */
  AddCarry: 19,
  /** `d ← (a + b + carry) mod 2^32` (ARM `adc`). */
  AddWithCarry: 20,
  /** `sysreg[SYSREGS[imm]] ← a`: writes a named system register (`msr`). */
  WriteSysreg: 21,
  /** Does nothing: a task's own work between per-CPU accesses. */
  Nop: 22,
  /** `d ← a < b` as unsigned 32-bit words (RISC-V `sltu`: the carry of a 64-bit add on RV32). */
  SetLessThanU: 23,
} as const;

/** System registers a `WriteSysreg` can name, by `imm`. */
export const SYSREGS: readonly PercpuRegName[] = Object.freeze([
  "GS_BASE",
  "TPIDR_EL1",
  "TPIDR_EL2",
  "gp",
  "$r21",
  "TPIDRPRW",
]);

/** One of the {@linkcode Op} codes. */
export type OpCode = typeof Op[keyof typeof Op];

/**
 * Register slots of a task's saved context. Tables give them per-arch names
 * (e.g. `P` is `rax` on x86_64, `x0` on AArch64).
 */
export const Reg = {
  /** The pointer being built. */
  P: 0,
  /** Temporary: the variable's offset. */
  T: 1,
  /** Temporary: `_percpu_load_start` or a CPU number. */
  U: 2,
  /** The value read, or to be written. */
  V: 3,
  /** High half of `V` where a 64-bit value needs two registers. */
  VH: 4,
  /** The delta of an `add`. */
  D: 5,
  /** High half of `D`. */
  DH: 6,
} as const;

/** Number of register slots in a task context. */
export const REG_COUNT = 7;

/** A register slot number, or −1 for none. */
export type Slot = number;

/** One instruction: its text and its meaning. */
export interface Instruction {
  /** The assembly as the crate's macro would emit it. */
  readonly text: string;
  /** What it does. */
  readonly op: OpCode;
  /** Destination slot, or −1. */
  readonly d: Slot;
  /** First source slot, or −1. */
  readonly a: Slot;
  /** Second source slot, or −1. */
  readonly b: Slot;
  /** Constant operand (offset, address, CPU number, system register index). */
  readonly imm: number;
  /** Width and kind of the memory access or arithmetic, if any. */
  readonly kind: ScalarKind | null;
  /** Whether this instruction reads the per-CPU register. */
  readonly samplesPercpuReg: boolean;
  /** Whether this instruction reads or writes memory. */
  readonly accessesMemory: boolean;
}

const SAMPLES = new Set<OpCode>([
  Op.MovPreg,
  Op.AddPreg,
  Op.LoadPreg,
  Op.StorePreg,
  Op.AddMemPreg,
]);
const MEMORY = new Set<OpCode>([
  Op.Load,
  Op.Store,
  Op.LoadPreg,
  Op.StorePreg,
  Op.AddMemPreg,
  Op.AddMem,
  Op.LoadPair,
  Op.StorePair,
]);

/** Operands of {@linkcode insn}. */
export interface Operands {
  /** Destination slot. */
  d?: Slot;
  /** First source slot. */
  a?: Slot;
  /** Second source slot. */
  b?: Slot;
  /** Constant. */
  imm?: number;
  /** Access width and kind. */
  kind?: ScalarKind;
}

/**
 * Builds a frozen instruction.
 *
 * @param text The assembly text.
 * @param op What it does.
 * @param operands Its operands.
 * @returns The instruction.
 */
export function insn(text: string, op: OpCode, operands: Operands = {}): Instruction {
  return Object.freeze({
    text,
    op,
    d: operands.d ?? -1,
    a: operands.a ?? -1,
    b: operands.b ?? -1,
    imm: operands.imm ?? 0,
    kind: operands.kind ?? null,
    samplesPercpuReg: SAMPLES.has(op),
    accessesMemory: MEMORY.has(op),
  });
}

/** What a table needs to know about the variable being accessed. */
export interface AccessSymbols {
  /** The variable's symbol, e.g. `__PERCPU_X`. */
  readonly symbol: string;
  /** The symbol's address in `.percpu` (its offset when the VMA is 0). */
  readonly vma: number;
  /** `_percpu_load_start` when the `non-zero-vma` feature is on, else `null`. */
  readonly loadStart: number | null;
  /** x86_64: the VMA of `__PERCPU_SELF_PTR`. */
  readonly selfPtrVma: number;
  /** The per-CPU register in use (AArch64 depends on `arm-el2`). */
  readonly percpuReg: PercpuRegName;
}

/**
 * How an architecture materialises a symbol's address (the crate's
 * `symbol_vma()`): its instructions, leaving the value in `slot`.
 */
export type Materialize = (slot: Slot, name: string, vma: number) => Instruction[];

/** A sequence whose memory accesses are typed by the variable's kind. */
export type TypedSequence = (s: AccessSymbols, kind: ScalarKind) => Instruction[];

/** The access sequences an architecture's code generator emits. */
export interface ArchTable {
  /** The architecture. */
  readonly arch: Arch;
  /** `usize` width. */
  readonly pointerBytes: 4 | 8;
  /** The call instruction's mnemonic (`call`, `bl`). */
  readonly call: string;
  /** The per-CPU register for a feature set (only AArch64 depends on `arm-el2`). */
  percpuReg(armEl2: boolean): PercpuRegName;
  /**
   * Whether `current_ptr()` and `read_percpu_reg()` read the area base from
   * the crate's per-CPU `SELF_PTR` slot (the section's first variable)
   * through the register, rather than the register itself: x86_64, whose
   * `GS_BASE` is an MSR.
   */
  readonly selfPtr: boolean;
  /**
   * The most bytes a section may span for `symbol_vma()` to give every
   * variable's right address, with why; `null` when only the core's own
   * limit applies.
   */
  readonly sectionLimit: { readonly bytes: number; readonly why: string } | null;
  /**
   * The value the arch's `symbol_vma()` sequence yields for a symbol at
   * `vma`: the VMA itself, except on AArch64, whose `movz #:abs_g0_nc:`
   * keeps the low 16 bits. Under `non-zero-vma` the register holds
   * base − `symbolVma(_percpu_load_start)`, so the two truncations cancel.
   */
  symbolVma(vma: number): number;
  /** `T ←` the variable's offset from the area base (`X.offset()`). */
  offset(s: AccessSymbols): Instruction[];
  /** `P ←` the variable's address on the current CPU (`X.current_ptr()`). */
  ptr(s: AccessSymbols): Instruction[];
  /** `P ←` the current CPU's value (`X.read_current_raw()`; `P, T` for ARM pairs). */
  read: TypedSequence;
  /** Current CPU's value `← V` (`X.write_current_raw(v)`). */
  write: TypedSequence;
  /** Current CPU's value `+= D` (as Linux `this_cpu_add`). */
  add: TypedSequence;
  /** `V ← mem[P]`. */
  load(kind: ScalarKind): Instruction[];
  /** `mem[P] ← V`. */
  store(kind: ScalarKind): Instruction[];
  /** `P ←` the area base of CPU `cpu` (a call to `percpu_area_base`). */
  areaBase(cpu: number): Instruction[];
  /** `P ← P + T`: adds an offset to a base. */
  readonly addOffset: Instruction;
  /** System register `reg ← V` (`msr`, `mv gp`, `wrgsbase`, …). */
  writeSysreg(reg: PercpuRegName): Instruction[];
  /**
   * custom-base forms: the crate writes these in Rust rather than asm.
   * `current_ptr()` is `read_percpu_reg()` plus `X.offset()` (the symbol's
   * address minus `_percpu_load_start`, `s.loadStart`); the scalar
   * accessors load or store through that pointer.
   */
  readonly customBase: {
    /** `P ←` the variable's address on the current CPU. */
    ptr(s: AccessSymbols): Instruction[];
    /** `P ←` the current CPU's value. */
    read: TypedSequence;
    /** Current CPU's value `← V`. */
    write: TypedSequence;
    /** Current CPU's value `+= D`. */
    add: TypedSequence;
  };
  /**
   * Forms for dynamically allocated per-CPU objects (`allocPercpu`, Linux
   * `alloc_percpu`): the object's per-CPU pointer is not a link-time
   * symbol but a value held at run time in the pointer variable
   * `s.symbol` at address `s.vma`, so every access first loads it. The
   * per-CPU register plus that value is this CPU's copy (`this_cpu_ptr`).
   */
  readonly dynamic: {
    /**
     * `T ←` the object's offset from an area base: the pointer's value,
     * minus `_percpu_load_start` when `s.loadStart` is set (for
     * `per_cpu_ptr(p, cpu)`).
     */
    offset(s: AccessSymbols): Instruction[];
    /** `P ←` this CPU's copy: the per-CPU register plus the pointer (`this_cpu_ptr`). */
    ptr(s: AccessSymbols): Instruction[];
    /** `P ←` this CPU's value (`this_cpu_read(*p)`). */
    read: TypedSequence;
    /** This CPU's value `← V` (`this_cpu_write(*p, v)`). */
    write: TypedSequence;
    /** This CPU's value `+= D` (`this_cpu_add(*p, d)`). */
    add: TypedSequence;
  };
  /** `sp-naive` forms: the variable is a plain global at `s.vma`. */
  readonly naive: {
    /** `P ← &X`. */
    ptr(s: AccessSymbols): Instruction[];
    /** `P ← X`. */
    read: TypedSequence;
    /** `X ← V`. */
    write: TypedSequence;
    /** `X += D`. */
    add: TypedSequence;
  };
}

/**
 * `current_ptr()` where the crate has no dedicated sequence (AArch64, ARM,
 * RISC-V and LoongArch pointers): the per-CPU register into `P`, then
 * `symbol_vma(X)` into `T`, then `P ← P + T`. The same three steps under
 * `non-zero-vma`, where the register holds base − `_percpu_load_start`.
 *
 * @param readRegister The instruction copying the per-CPU register into `P`.
 * @param materialize The arch's `symbol_vma()` sequence.
 * @param add `P ← P + T`.
 * @param s The variable.
 * @returns The sequence.
 */
export function registerPlusSymbol(
  readRegister: Instruction,
  materialize: Materialize,
  add: Instruction,
  s: AccessSymbols,
): Instruction[] {
  return [readRegister, ...materialize(Reg.T, s.symbol, s.vma), add];
}

/**
 * `X.offset()`: `symbol_vma(X)` into `T`, and under `non-zero-vma` minus
 * `symbol_vma(_percpu_load_start)` (materialised into `U`).
 *
 * @param materialize The arch's `symbol_vma()` sequence.
 * @param sub `T ← T − U`.
 * @param s The variable.
 * @returns The sequence.
 */
export function symbolOffset(
  materialize: Materialize,
  sub: Instruction,
  s: AccessSymbols,
): Instruction[] {
  const symbol = materialize(Reg.T, s.symbol, s.vma);
  if (s.loadStart === null) return symbol;
  return [...symbol, ...materialize(Reg.U, "_percpu_load_start", s.loadStart), sub];
}

/**
 * How an architecture loads, adds and stores a scalar through the pointer
 * in `P` (`[x0]`, `0(a0)`, `[r0]`, …): its own instructions, in one place.
 */
export interface PointerOps {
  /** `P ← mem[P]`: what a read returns. */
  readonly result: (kind: ScalarKind) => Instruction[];
  /** `V ← mem[P]`. */
  readonly load: (kind: ScalarKind) => Instruction[];
  /** `V ← V + D` in the kind's arithmetic. */
  readonly addValue: (kind: ScalarKind) => Instruction[];
  /** `mem[P] ← V`. */
  readonly store: (kind: ScalarKind) => Instruction[];
}

/**
 * A scalar's read, write and add through the pointer a `ptr` sequence
 * leaves in `P`: the shape of every access without a dedicated sequence
 * (AArch64, ARM, RISC-V 32, custom-base, dynamic objects).
 *
 * @param ptr The sequence leaving the variable's address in `P`.
 * @param ops The arch's loads, add and store through `P`.
 * @returns `read`, `write` and `add`.
 */
export function throughPointer(
  ptr: (s: AccessSymbols) => Instruction[],
  ops: PointerOps,
): { read: TypedSequence; write: TypedSequence; add: TypedSequence } {
  return {
    read: (s, kind) => [...ptr(s), ...ops.result(kind)],
    write: (s, kind) => [...ptr(s), ...ops.store(kind)],
    add: (s, kind) => [...ptr(s), ...ops.load(kind), ...ops.addValue(kind), ...ops.store(kind)],
  };
}

/**
 * A dynamic object's `offset()`: its pointer (loaded into `T`), minus
 * `symbol_vma(_percpu_load_start)` (materialised into `U`) when the register
 * is biased by it.
 *
 * @param loadPointer The arch's load of the pointer into `T`.
 * @param materialize The arch's `symbol_vma()` sequence.
 * @param sub `T ← T − U`.
 * @param s The object's pointer variable.
 * @returns The sequence.
 */
export function pointerOffset(
  loadPointer: (s: AccessSymbols) => Instruction[],
  materialize: Materialize,
  sub: Instruction,
  s: AccessSymbols,
): Instruction[] {
  const pointer = loadPointer(s);
  if (s.loadStart === null) return pointer;
  return [...pointer, ...materialize(Reg.U, "_percpu_load_start", s.loadStart), sub];
}

/**
 * Tells whether a kind is held in a floating-point register.
 *
 * @param kind A scalar kind.
 * @returns `true` for `f32` and `f64`.
 */
export function isFloat(kind: ScalarKind): boolean {
  return kind === "f32" || kind === "f64";
}

/**
 * Byte width of a scalar kind for a pointer width (`bool` is one byte).
 *
 * @param kind A scalar kind.
 * @param pointerBytes 4 or 8.
 * @returns 1, 2, 4 or 8.
 */
export function widthOf(kind: ScalarKind, pointerBytes: 4 | 8): 1 | 2 | 4 | 8 {
  switch (kind) {
    case "bool":
    case "u8":
    case "i8":
      return 1;
    case "u16":
    case "i16":
      return 2;
    case "u32":
    case "i32":
    case "f32":
      return 4;
    case "u64":
    case "i64":
    case "f64":
      return 8;
    case "usize":
    case "isize":
      return pointerBytes;
  }
}

/**
 * Tells whether loads of a kind sign-extend.
 *
 * @param kind A scalar kind.
 * @returns `true` for the signed integer kinds.
 */
export function isSigned(kind: ScalarKind): boolean {
  return kind === "i8" || kind === "i16" || kind === "i32" || kind === "i64" || kind === "isize";
}

/**
 * RISC-V `%hi()`: the upper 20 bits, rounded so `%lo()` is a signed 12-bit
 * remainder.
 *
 * @param value A 32-bit address.
 * @returns The part `lui` loads.
 */
export function riscvHi(value: number): number {
  return Math.floor((value + 0x800) / 4096) * 4096;
}

/**
 * 4 KiB page of an address (`adrp`, `%abs_hi20`, `pcalau12i`).
 *
 * @param value An address.
 * @returns `value` with its low 12 bits cleared.
 */
export function page(value: number): number {
  return Math.floor(value / 4096) * 4096;
}
