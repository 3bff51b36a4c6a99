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

/** What a system tells the builder about a variable. */
export interface ProgramTarget {
  /** The architecture's table. */
  readonly table: ArchTable;
  /** The variable's symbols. */
  readonly symbols: AccessSymbols;
  /** The scalar kind, or `null` for structs and arrays. */
  readonly kind: ScalarKind | null;
  /** `sp-naive`: the variable is a plain global. */
  readonly naive: boolean;
  /** `preempt`: guarded ops take `NoPreempt`. */
  readonly preempt: boolean;
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
  const { table, symbols: s, naive } = target;
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
      body = naive ? table.naive.ptr(s) : table.offset(s);
      break;
    case "ptr":
      body = naive ? table.naive.ptr(s) : table.ptr(s);
      break;
    case "read":
      body = naive ? table.naive.read(s, k) : table.read(s, k);
      result = Reg.P;
      break;
    case "write":
      body = naive ? table.naive.write(s, k) : table.write(s, k);
      input = Reg.V;
      break;
    case "add":
      body = naive ? table.naive.add(s, k) : table.add(s, k);
      input = Reg.D;
      break;
    case "with-current":
      body = [
        ...(naive ? table.naive.ptr(s) : table.ptr(s)),
        ...table.load(k),
        insn(`${table.call} ${options.fn ?? "f"}`, Op.CallFn, { d: Reg.V, a: Reg.V, kind: k }),
        ...table.store(k),
      ];
      break;
    case "remote-ptr":
      body = remotePtr(target, cpu);
      break;
    case "remote-read":
      body = [...remotePtr(target, cpu), ...table.load(k)];
      result = Reg.V;
      break;
    default:
      body = [...remotePtr(target, cpu), ...table.store(k)];
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

function remotePtr(target: ProgramTarget, cpu: number): Instruction[] {
  const { table, symbols: s } = target;
  if (target.naive) return table.naive.ptr(s);
  return [...table.areaBase(cpu), ...table.offset(s), table.addOffset];
}
