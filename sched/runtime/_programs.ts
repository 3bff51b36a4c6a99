/**
 * The machine's one cache of access programs: each program a task can ask
 * for — an access to a variable (per op, remote CPU or closure name), a
 * system-register write, a `nop` of the task's own work — built once,
 * decoded once for the executor and numbered once for state fingerprints.
 *
 * @module
 */

import type { AccessOp, AccessProgram } from "../../lib/isa/access_program.ts";
import type { PercpuRegName } from "../../lib/arch.ts";
import { describeSafely } from "../_safe.ts";
import { insn, Op, Reg } from "../../lib/isa/isa.ts";
import { type CorePort, programOf } from "../../lib/_port.ts";
import type { PercpuVar } from "../../lib/percpu_var.ts";
import type { ScalarKind } from "../../lib/types.ts";
import { type DecodedInsn, decodeProgram } from "./_executor.ts";

/** A program, decoded, with its number in this cache. */
export interface ProgramEntry {
  /** The program, as `disassemble()` prints it. */
  readonly program: AccessProgram;
  /** The kind of the value it reads or writes (`usize` for addresses). */
  readonly valueKind: ScalarKind;
  /** Its instructions, decoded for the executor. */
  readonly insns: readonly DecodedInsn[];
  /** A small number, stable for the machine's life (state fingerprints use it). */
  readonly id: number;
  /** The cache that made it: a request built for another machine is refused. */
  readonly cache: ProgramCache;
}

/** Entries of one variable: by op, then by remote CPU or closure name. */
type VariableEntries = Map<AccessOp, ProgramEntry | Map<number | string, ProgramEntry>>;

const NOP_PROGRAM: AccessProgram = Object.freeze({
  op: "read-raw" as AccessOp,
  instructions: Object.freeze([insn("nop", Op.Nop)]),
  result: -1,
  input: -1,
});

/** Builds, decodes and numbers the programs of one machine's system. */
export class ProgramCache {
  readonly #port: CorePort;
  readonly #pointerBytes: 4 | 8;
  readonly #variables = new WeakMap<PercpuVar, VariableEntries>();
  readonly #sysregs = new Map<PercpuRegName, ProgramEntry>();
  readonly #closures = new WeakMap<
    object,
    { readonly variable: PercpuVar; readonly raw: boolean; readonly entry: ProgramEntry }
  >();
  #count = 0;
  /** One `nop`: a bare `yield` in a task. */
  readonly work: ProgramEntry;

  /**
   * Creates the cache.
   *
   * @param port The system's port.
   * @param pointerBytes The system's `usize` width.
   */
  constructor(port: CorePort, pointerBytes: 4 | 8) {
    this.#port = port;
    this.#pointerBytes = pointerBytes;
    this.work = this.#entry(NOP_PROGRAM, "u8");
  }

  #entry(program: AccessProgram, valueKind: ScalarKind): ProgramEntry {
    return Object.freeze({
      program,
      valueKind,
      insns: decodeProgram(program, this.#pointerBytes),
      id: this.#count++,
      cache: this,
    });
  }

  /**
   * The program of an access to a variable.
   *
   * @param variable A variable of this machine's system.
   * @param op Which access.
   * @param what The operation, for messages (e.g. `read`).
   * @param options The remote CPU, or the closure's name.
   * @returns The entry.
   * @throws {TypeError} When `variable` is not a variable of this system, or
   *   not a scalar where the access needs one.
   */
  access(
    variable: PercpuVar,
    op: AccessOp,
    what: string,
    options?: { readonly cpu?: number; readonly fn?: string },
  ): ProgramEntry {
    let entries = this.#variables.get(variable);
    if (entries === undefined) {
      // Identity first: nothing of an unknown value (a Proxy, say) is read.
      if (!this.#port.owns(variable)) {
        throw new TypeError(
          `${what}: expected a variable of this machine's per-CPU system, got ${
            describeSafely(variable)
          }`,
        );
      }
      entries = new Map();
      this.#variables.set(variable, entries);
    }
    const variant = options?.cpu ?? options?.fn;
    const found = entries.get(op);
    if (variant === undefined) {
      if (found !== undefined) return found as ProgramEntry;
      const entry = this.#build(variable, op, what);
      entries.set(op, entry);
      return entry;
    }
    let variants = found as Map<number | string, ProgramEntry> | undefined;
    if (variants === undefined) entries.set(op, variants = new Map());
    let entry = variants.get(variant);
    if (entry === undefined) {
      entry = this.#build(variable, op, what, options);
      variants.set(variant, entry);
    }
    return entry;
  }

  #build(
    variable: PercpuVar,
    op: AccessOp,
    what: string,
    options?: { readonly cpu?: number; readonly fn?: string },
  ): ProgramEntry {
    const kind = variable.type.kind;
    const scalar = kind !== "struct" && kind !== "array";
    if (op === "ptr") return this.#entry(programOf(variable, op, options), "usize");
    if (!scalar) {
      throw new TypeError(
        `${what} needs a scalar per-CPU variable, got ${variable.name} (a ${kind})`,
      );
    }
    return this.#entry(programOf(variable, op, options), kind);
  }

  /**
   * The `with-current` program applying closure `f`, named after it in
   * listings. Cached per closure, so a task's loop does not look the program
   * up by name at every access.
   *
   * @param variable A variable of this system.
   * @param raw The `_raw` form (no guard).
   * @param f The closure.
   * @returns The entry.
   */
  withCurrent(variable: PercpuVar, raw: boolean, f: (value: never) => unknown): ProgramEntry {
    const cached = this.#closures.get(f);
    if (cached?.variable === variable && cached.raw === raw) return cached.entry;
    let name = "f";
    try {
      if (typeof f.name === "string" && f.name !== "") name = f.name;
    } catch {
      // A Proxy of a function whose traps throw: listed as `f`.
    }
    const op = raw ? "with-current-raw" : "with-current";
    const entry = this.access(variable, op, "withCurrent", { fn: name });
    this.#closures.set(f, { variable, raw, entry });
    return entry;
  }

  /**
   * The program writing a system register (`msr`), its value in `V`.
   *
   * @param reg The register.
   * @returns The entry.
   */
  sysreg(reg: PercpuRegName): ProgramEntry {
    let entry = this.#sysregs.get(reg);
    if (entry === undefined) {
      entry = this.#entry(
        Object.freeze({
          op: "write-raw" as AccessOp,
          instructions: Object.freeze(this.#port.table.writeSysreg(reg)),
          result: -1,
          input: Reg.V,
        }),
        "usize",
      );
      this.#sysregs.set(reg, entry);
    }
    return entry;
  }
}
