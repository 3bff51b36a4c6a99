/**
 * Access programs: the instruction list of one per-CPU access of one
 * variable, composed from its architecture's table. `disassemble()` prints a
 * program's text and the simulator executes its operations, so the two can
 * never disagree.
 *
 * @module
 */

import { valueText } from "../_describe.ts";
import {
  type AccessSymbols,
  type ArchTable,
  insn,
  type Instruction,
  Op,
  Reg,
  type Slot,
} from "./isa.ts";
import type { ScalarKind } from "../types.ts";

/**
 * The accesses a program can be built for. `-raw` forms never take the
 * `NoPreempt` guard; the others do when the `preempt` feature is on.
 */
export type AccessOp =
  | "offset"
  | "ptr"
  | "read"
  | "read-raw"
  | "write"
  | "write-raw"
  | "add"
  | "add-raw"
  | "with-current"
  | "with-current-raw"
  | "remote-ptr"
  | "remote-read"
  | "remote-write";

/** Every {@linkcode AccessOp}. */
export const ACCESS_OPS: readonly AccessOp[] = Object.freeze([
  "offset",
  "ptr",
  "read",
  "read-raw",
  "write",
  "write-raw",
  "add",
  "add-raw",
  "with-current",
  "with-current-raw",
  "remote-ptr",
  "remote-read",
  "remote-write",
]);

/** Ops that need a scalar variable. */
const SCALAR_ONLY = new Set<AccessOp>([
  "read",
  "read-raw",
  "write",
  "write-raw",
  "add",
  "add-raw",
  "with-current",
  "with-current-raw",
  "remote-read",
  "remote-write",
]);

/** Ops that wrap their body in a `NoPreempt` guard under `preempt`. */
const GUARDED = new Set<AccessOp>(["read", "write", "add", "with-current"]);

/** Options of {@linkcode buildProgram}. */
export interface ProgramOptions {
  /** The remote CPU for `remote-*` ops (default 0). */
  readonly cpu?: number;
  /** The closure's name for `with-current` ops (default `f`). */
  readonly fn?: string;
}

/** A built access: its instructions and where its inputs and result live. */
export interface AccessProgram {
  /** Which access. */
  readonly op: AccessOp;
  /** The instructions, one simulator step each. */
  readonly instructions: readonly Instruction[];
  /** Slot holding the value read (`read`, `remote-read`), else −1. */
  readonly result: Slot;
  /** Slot that must hold the value to write or add before the first step, else −1. */
  readonly input: Slot;
}

/**
 * Which of a table's sequences a variable's accesses use: the crate's
 * per-CPU asm (`imp`), plain globals (`sp-naive`), custom-base's Rust
 * `current_ptr()`, or a dynamically allocated object reached through its
 * run-time pointer (`dynamic`).
 */
export type AccessForms = "imp" | "sp-naive" | "custom-base" | "dynamic";

/** What a system tells the builder about a variable. */
export interface ProgramTarget {
  /** The architecture's table. */
  readonly table: ArchTable;
  /** The variable's symbols. */
  readonly symbols: AccessSymbols;
  /** The scalar kind, or `null` for structs and arrays. */
  readonly kind: ScalarKind | null;
  /** Which sequences its accesses use. */
  readonly forms: AccessForms;
  /** `preempt`: guarded ops take `NoPreempt`. */
  readonly preempt: boolean;
}

/** The current-CPU sequences of one form. */
interface Forms {
  /** `T ←` the offset (`P ←` the global's address under sp-naive). */
  offset(s: AccessSymbols): Instruction[];
  ptr(s: AccessSymbols): Instruction[];
  read(s: AccessSymbols, kind: ScalarKind): Instruction[];
  write(s: AccessSymbols, kind: ScalarKind): Instruction[];
  add(s: AccessSymbols, kind: ScalarKind): Instruction[];
}

function formsOf(table: ArchTable, forms: AccessForms): Forms {
  switch (forms) {
    case "imp":
      return table;
    case "sp-naive":
      return { ...table.naive, offset: table.naive.ptr };
    case "custom-base":
      return { ...table.customBase, offset: table.offset };
    case "dynamic":
      return table.dynamic;
  }
}

/**
 * The ops a variable supports.
 *
 * @param scalar Whether the variable has a scalar type.
 * @returns The ops, in {@linkcode ACCESS_OPS} order.
 */
function opsFor(scalar: boolean): readonly AccessOp[] {
  return scalar ? ACCESS_OPS : ACCESS_OPS.filter((op) => !SCALAR_ONLY.has(op));
}

/**
 * Builds the program of one access.
 *
 * @param target The variable and system.
 * @param op The access.
 * @param options Remote CPU and closure name.
 * @returns The program.
 * @throws {RangeError} When `op` is unknown or needs a scalar variable.
 */
export function buildProgram(
  target: ProgramTarget,
  op: AccessOp,
  options: ProgramOptions = {},
): AccessProgram {
  if (!(ACCESS_OPS as readonly string[]).includes(op)) {
    throw new RangeError(
      `unknown access ${valueText(op)}; accepted: ${opsFor(target.kind !== null).join(", ")}`,
    );
  }
  const kind = target.kind;
  if (kind === null && SCALAR_ONLY.has(op)) {
    throw new RangeError(
      `${target.symbols.symbol} is not a scalar, so it has no "${op}" access; accepted: ${
        opsFor(false).join(", ")
      }`,
    );
  }
  const { table, symbols: s } = target;
  const forms = formsOf(table, target.forms);
  const cpu = options.cpu ?? 0;
  if (!Number.isInteger(cpu) || cpu < 0) {
    throw new RangeError(`the remote CPU must be a non-negative integer, got ${valueText(cpu)}`);
  }
  const k = kind as ScalarKind;
  const base = op.replace("-raw", "") as AccessOp;
  let body: Instruction[];
  let result: Slot = -1;
  let input: Slot = -1;
  switch (base) {
    case "offset":
      body = forms.offset(s);
      break;
    case "ptr":
      body = forms.ptr(s);
      break;
    case "read":
      body = forms.read(s, k);
      result = Reg.P;
      break;
    case "write":
      body = forms.write(s, k);
      input = Reg.V;
      break;
    case "add":
      body = forms.add(s, k);
      input = Reg.D;
      break;
    case "with-current":
      body = [
        ...forms.ptr(s),
        ...table.load(k),
        insn(`${table.call} ${options.fn ?? "f"}`, Op.CallFn, { d: Reg.V, a: Reg.V, kind: k }),
        ...table.store(k),
      ];
      break;
    case "remote-ptr":
      body = remotePtr(target, forms, cpu);
      break;
    case "remote-read":
      body = [...remotePtr(target, forms, cpu), ...table.load(k)];
      result = Reg.V;
      break;
    default:
      body = [...remotePtr(target, forms, cpu), ...table.store(k)];
      input = Reg.V;
      break;
  }
  const guarded = target.preempt && GUARDED.has(op);
  const instructions = guarded
    ? [
      insn(`${table.call} __KernelGuardIf_disable_preempt`, Op.PreemptOff),
      ...body,
      insn(`${table.call} __KernelGuardIf_enable_preempt`, Op.PreemptOn),
    ]
    : body;
  return Object.freeze({ op, instructions: Object.freeze(instructions), result, input });
}

/** `P ←` CPU `cpu`'s copy: `percpu_area_base(cpu)` plus the offset (the global under sp-naive). */
function remotePtr(target: ProgramTarget, forms: Forms, cpu: number): Instruction[] {
  const { table, symbols: s } = target;
  if (target.forms === "sp-naive") return forms.ptr(s);
  return [...table.areaBase(cpu), ...forms.offset(s), table.addOffset];
}
