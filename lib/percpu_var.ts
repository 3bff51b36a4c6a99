/**
 * Per-CPU variables: the TypeScript form of the wrapper the crate's
 * `#[def_percpu]` macro generates around `__PERCPU_<NAME>`.
 *
 * @module
 */

import {
  type AccessOp,
  type AccessProgram,
  buildProgram,
  type ProgramOptions,
} from "./isa/access_program.ts";
import type { PercpuRegName } from "./arch.ts";
import type { CpuContext } from "./_cpu_context.ts";
import { checkAccessible } from "./_detached.ts";
import { valueText } from "./_describe.ts";
import type { FaultError } from "./errors.ts";
import { preemptOff, preemptOn, releaseAfter } from "./_guard_if.ts";
import type { AccessSymbols, ArchTable } from "./isa/isa.ts";
import type { AccessForms } from "./isa/access_program.ts";
import type { Region } from "./_memory.ts";
import { makeRef, type PercpuMutRef, type PercpuRef, refLabel } from "./refs.ts";
import { type AccessPlace, type ScalarAccessors, scalarAccessors } from "./_scalar_access.ts";
import { registerPrograms } from "./_port.ts";
import { scalarCodec } from "./_scalar_codec.ts";
import type { ScalarKind, ScalarType, ScalarValue, Type, TypeLayout, ValueOf } from "./types.ts";
import { readValue } from "./_value_codec.ts";

/** Accessors every per-CPU variable has, whatever its type. */
export interface PercpuVar<T extends Type = Type> {
  /** The name it was defined with, e.g. `CPU_ID`. */
  readonly name: string;
  /** The section symbol, `__PERCPU_<name>`. */
  readonly symbol: string;
  /** The type descriptor. */
  readonly type: T;
  /** The initial value, deep-frozen: the section template's content. */
  readonly initValue: ValueOf<T>;
  /** Size in bytes on this system's architecture. */
  readonly size: number;
  /**
   * Offset from a per-CPU area base (`X.offset()`); with `sp-naive`, the
   * global's address.
   *
   * @returns The offset in bytes.
   */
  offset(): number;
  /**
   * Address of the symbol in `.percpu` (`X.symbol_vma()`): the offset when
   * the section's VMA is 0, `_percpu_load_start + offset` under
   * `non-zero-vma`, the global's address under `sp-naive`.
   *
   * @returns The symbol's VMA.
   */
  symbolVma(): number;
  /**
   * Address of the current CPU's copy (`X.current_ptr()`). Never guarded:
   * the caller must keep preemption off while using it.
   *
   * @returns The simulated address.
   * @throws {FaultError} On x86_64 when `GS_BASE` does not point at an area
   *   (the pointer is read from the `SELF_PTR` slot through `gs:`).
   */
  currentPtr(): number;
  /**
   * A read-only reference to the current CPU's copy (`X.current_ref_raw()`).
   *
   * @returns The reference, bound to the address at the time of the call.
   * @throws {FaultError} When the register does not point at an area.
   */
  currentRefRaw(): PercpuRef<T>;
  /**
   * A mutable reference to the current CPU's copy (`X.current_ref_mut_raw()`).
   *
   * @returns The reference, bound to the address at the time of the call.
   * @throws {FaultError} When the register does not point at an area.
   */
  currentRefMutRaw(): PercpuMutRef<T>;
  /**
   * Runs `f` on the current CPU's copy (`X.with_current(f)`), inside one
   * `NoPreempt` guard when the `preempt` feature is on. The guard is released
   * even when `f` throws; if releasing throws too, the two errors come as
   * one `SuppressedError` (as `using` does). `f` runs synchronously: do not
   * await inside it.
   *
   * @param f Receives a mutable reference to the copy `currentPtr()` names,
   *   valid only during the call: for scalar types, using it afterwards
   *   throws `TypeError` (keep `currentRefMutRaw()` for a lasting one).
   * @returns What `f` returns.
   * @throws {TypeError} When `f` is not a function (nothing is acquired).
   * @throws {FaultError} When the copy is not mapped, or its memory was
   *   detached.
   */
  withCurrent<R>(f: (ref: PercpuMutRef<T>) => R): R;
  /**
   * Writes the initial value into the current CPU's copy
   * (`X.reset_to_init()`), guarded under `preempt`.
   *
   * @throws {FaultError} When the copy is not mapped, or its memory was
   *   detached. Nothing is written.
   */
  resetToInit(): void;
  /**
   * Address of CPU `cpu`'s copy (`X.remote_ptr(cpu)`). Never guarded.
   *
   * @param cpu A CPU id below the number of initialised areas.
   * @returns The simulated address.
   * @throws {RangeError} On a bad CPU id.
   * @throws {NotInitializedError} Before `init()`.
   */
  remotePtr(cpu: number): number;
  /**
   * A read-only reference to CPU `cpu`'s copy (`X.remote_ref_raw(cpu)`).
   *
   * @param cpu A CPU id.
   * @returns The reference.
   */
  remoteRefRaw(cpu: number): PercpuRef<T>;
  /**
   * A mutable reference to CPU `cpu`'s copy (`X.remote_ref_mut_raw(cpu)`).
   *
   * @param cpu A CPU id.
   * @returns The reference.
   */
  remoteRefMutRaw(cpu: number): PercpuMutRef<T>;
  /**
   * Reads CPU `cpu`'s copy (custom-base's `X.read_remote(cpu)`; beyond the
   * crate under the other feature sets), inside one `NoPreempt` guard when
   * `preempt` is on. Structs and arrays come back as plain copies.
   *
   * @param cpu A CPU id below the number of initialised areas.
   * @returns The value.
   * @throws {RangeError} On a bad CPU id.
   * @throws {NotInitializedError} Before `init()`.
   */
  readRemote(cpu: number): ValueOf<T>;
  /**
   * Writes CPU `cpu`'s copy (custom-base's `X.write_remote(cpu, v)`; beyond
   * the crate under the other feature sets), inside one `NoPreempt` guard
   * when `preempt` is on. The whole value is checked before anything is
   * written.
   *
   * @param cpu A CPU id below the number of initialised areas.
   * @param value The new value.
   * @throws {TypeError} On a wrong JavaScript type.
   * @throws {RangeError} On a bad CPU id or a value the type cannot hold.
   */
  writeRemote(cpu: number, value: ValueOf<T>): void;
  /**
   * The instructions the crate's macro emits for an access to this variable
   * on this system's architecture and features, e.g. for `read` on x86_64
   * `["mov rax, qword ptr gs:[offset __PERCPU_X]"]`.
   *
   * @param op Which access; structs and arrays have `offset`, `ptr`, `remote-ptr`.
   * @param options The remote CPU for `remote-*`, the closure name for `with-current`.
   * @returns One string per instruction.
   * @throws {RangeError} On an op this variable does not have.
   */
  disassemble(op: AccessOp, options?: ProgramOptions): string[];
}

/**
 * A per-CPU variable of a scalar type, with the crate's direct accessors.
 * The crate generates `read_current`/`write_current` (and `_raw`) for
 * `bool u8 u16 u32 u64 usize` only; for `i8 i16 i32 i64 isize f32 f64` they
 * go beyond it, as does `addCurrent` for every kind.
 */
export interface ScalarPercpuVar<K extends ScalarKind = ScalarKind>
  extends PercpuVar<ScalarType<K>> {
  /**
   * Reads the current CPU's value (`X.read_current()`), guarded under
   * `preempt`.
   *
   * @returns The value.
   * @throws {FaultError} When the per-CPU register does not point at an
   *   area, or the area's memory was detached or shrank.
   */
  readCurrent(): ScalarValue<K>;
  /**
   * Writes the current CPU's value (`X.write_current(v)`), guarded under
   * `preempt`.
   *
   * @param value The new value.
   * @throws {TypeError} On a wrong JavaScript type.
   * @throws {RangeError} On a value the type cannot hold. Nothing is written.
   * @throws {FaultError} As {@linkcode ScalarPercpuVar.readCurrent} does.
   */
  writeCurrent(value: ScalarValue<K>): void;
  /**
   * Reads the current CPU's value without a guard (`X.read_current_raw()`).
   *
   * @returns The value.
   * @throws {FaultError} As {@linkcode ScalarPercpuVar.readCurrent} does.
   */
  readCurrentRaw(): ScalarValue<K>;
  /**
   * Writes the current CPU's value without a guard (`X.write_current_raw(v)`).
   *
   * @param value The new value.
   * @throws {TypeError} On a wrong JavaScript type.
   * @throws {RangeError} On a value the type cannot hold.
   * @throws {FaultError} As {@linkcode ScalarPercpuVar.readCurrent} does.
   */
  writeCurrentRaw(value: ScalarValue<K>): void;
  /**
   * Adds to the current CPU's value, as Linux `this_cpu_add`, guarded under
   * `preempt`. The result is exact for every delta: fixed-width integers
   * give the sum modulo 2^width (u8 `2 + (2^53 − 1)` is 1), floats the exact
   * sum rounded once to the type, and `usize`/`isize` on 64-bit targets
   * throw `RangeError` when the sum leaves the safe integers.
   *
   * @param delta The amount: a safe integer for integer kinds, a `bigint`
   *   for `u64`/`i64`, any number for floats.
   * @throws {TypeError} For `bool`, or a delta of the wrong JavaScript type.
   * @throws {RangeError} On a delta that is not a safe integer for an
   *   integer kind. Nothing is written.
   * @throws {FaultError} As {@linkcode ScalarPercpuVar.readCurrent} does.
   */
  addCurrent(delta: ScalarValue<K>): void;
  /**
   * {@linkcode ScalarPercpuVar.addCurrent} without a guard.
   *
   * @param delta The amount.
   * @throws {TypeError} As `addCurrent` does.
   * @throws {RangeError} As `addCurrent` does.
   * @throws {FaultError} As `addCurrent` does.
   */
  addCurrentRaw(delta: ScalarValue<K>): void;
}

/**
 * What a variable needs from the system that defined it. One plain object
 * per system, of one shape for every implementation, so that the accessors'
 * reads of `context` stay monomorphic.
 */
export interface VarHost {
  /** `usize` width. */
  readonly pointerBytes: 4 | 8;
  /** The architecture's access sequences. */
  readonly table: ArchTable;
  /** Which sequences the implementation's variables compile to. */
  readonly forms: AccessForms;
  /** `preempt` is on. */
  readonly preempt: boolean;
  /**
   * `_percpu_load_start` where `X.offset()` subtracts it (under
   * `non-zero-vma` and custom-base), else `null`.
   */
  readonly loadStart: number | null;
  /**
   * x86_64: what `gs:` adds to reach `SELF_PTR` (its VMA; under custom-base
   * its offset). Writable so that the host can be a plain data object set
   * once SELF_PTR is defined: an object literal with a getter is a
   * dictionary-mode object in V8, and every accessor reads the host's
   * `context` on every access.
   */
  selfPtrVma: number;
  /** The per-CPU register's name. */
  readonly percpuReg: PercpuRegName;
  /** The current CPU's registers (replaced when the simulator switches CPUs). */
  context: CpuContext;
  /**
   * Counts unmappings of memory: while it stays the same, a ref made for an
   * address still points at the memory mapped there.
   */
  unmaps: number;
  /** The fault for an access through a register that points nowhere. */
  fault(context: CpuContext, who: string): FaultError;
  /** What `current_ptr` adds the symbol VMA to (register, `SELF_PTR`, or 0). */
  currentPtrBase(who: string): number;
  /** Area base of a CPU (validates the id; `who` names the caller in errors). */
  areaBase(cpu: number, who: string): number;
  /** The region holding an aligned object, or a `FaultError`. */
  resolve(address: number, size: number, align: number, who: string): Region;
  /** The CPU whose area holds an address, or −1. */
  cpuOfAddress(address: number): number;
}

/**
 * A per-CPU variable allocated at run time by `allocPercpu()` (Linux's
 * `alloc_percpu`; beyond the crate): the accessors of a variable of its
 * type, plus `free()`. Its per-CPU pointer is held at run time, so its
 * listings load it before adding the per-CPU register (`this_cpu_ptr`).
 */
export interface DynamicPercpuVar<T extends Type = Type> extends PercpuVar<T> {
  /** Whether `free()` was called. */
  readonly freed: boolean;
  /**
   * Frees the variable (`free_percpu`): its space on every CPU goes back to
   * its chunk for later allocations. Every accessor of a freed variable
   * throws `FaultError`; refs taken before are raw pointers into memory that
   * may be reused, as in the crate.
   *
   * @throws {FaultError} When it was freed already.
   */
  free(): void;
}

/**
 * Builds a system's host with its fields always in the same order, so that
 * the hosts of every implementation share one shape.
 *
 * @param parts The host's fields.
 * @returns A plain object holding them.
 */
export function createHost(parts: VarHost): VarHost {
  return {
    pointerBytes: parts.pointerBytes,
    table: parts.table,
    forms: parts.forms,
    preempt: parts.preempt,
    loadStart: parts.loadStart,
    selfPtrVma: parts.selfPtrVma,
    percpuReg: parts.percpuReg,
    context: parts.context,
    unmaps: parts.unmaps,
    fault: parts.fault,
    currentPtrBase: parts.currentPtrBase,
    areaBase: parts.areaBase,
    resolve: parts.resolve,
    cpuOfAddress: parts.cpuOfAddress,
  };
}

/** Where a variable is: fixed for a static variable, moved by re-init for a dynamic one. */
export interface VarPlace {
  /** Offset from an area base (`X.offset()`). */
  readonly offset: number;
  /** `X.symbol_vma()`: what `current_ptr` adds to its base. */
  readonly vma: number;
}

/** Everything a {@linkcode PercpuVariable} is made of. */
export interface VariableSpec<T extends Type> {
  /** The defining system. */
  readonly host: VarHost;
  /** The name. */
  readonly name: string;
  /** The symbol its instructions name. */
  readonly symbol: string;
  /** The type. */
  readonly type: T;
  /** The frozen initial value. */
  readonly initValue: ValueOf<T>;
  /** Size and alignment on the system's architecture. */
  readonly layout: TypeLayout;
  /** Where it is; read on every call. */
  readonly place: VarPlace;
  /** Which sequences its accesses compile to. */
  readonly forms: AccessForms;
  /** What its instructions need to know (symbol, VMA, …). */
  readonly symbols: () => AccessSymbols;
  /**
   * Where the scalar accessors find the current CPU's copy: the host and
   * the offset for a static variable.
   */
  readonly current: AccessPlace["host"];
  /** Offset the scalar accessors add to `current.context.byte`. */
  readonly currentOffset: number;
}

function notScalar(
  name: string,
  type: Type,
  withCurrent: ScalarAccessors["with"],
): ScalarAccessors {
  const fail = (): never => {
    throw new TypeError(
      `${name} has type ${type.kind}; the direct accessors are only for scalar types, use withCurrent() or a ref`,
    );
  };
  return { read: fail, write: fail, add: fail, with: withCurrent };
}

// The guarded forms run the access inside one `NoPreempt` and release it
// however the access ends. An error of the access is never lost to one of
// the release (see `releaseAfter`); the result is returned only once the
// release succeeded.

/** `read` inside one `NoPreempt` guard. */
function guardedRead(read: () => unknown, what: string): () => unknown {
  return () => {
    const guard = preemptOff();
    let value: unknown;
    try {
      value = read();
    } catch (error) {
      throw releaseAfter(() => preemptOn(guard), error, what);
    }
    preemptOn(guard);
    return value;
  };
}

/** {@linkcode guardedRead} for `write` and `add`, without a rest array. */
function guardedUpdate(update: (value: unknown) => void, what: string): (value: unknown) => void {
  return (value) => {
    const guard = preemptOff();
    try {
      update(value);
    } catch (error) {
      throw releaseAfter(() => preemptOn(guard), error, what);
    }
    preemptOn(guard);
  };
}

/**
 * {@linkcode guardedRead} for `withCurrent`: a non-function is refused
 * before anything is acquired.
 */
function guardedWith(
  run: (f: (ref: never) => unknown) => unknown,
  what: string,
): (f: (ref: never) => unknown) => unknown {
  return (f) => {
    if (typeof f !== "function") {
      throw new TypeError(`${what} expects a function, got ${valueText(f)}`);
    }
    const guard = preemptOff();
    let result: unknown;
    try {
      result = run(f);
    } catch (error) {
      throw releaseAfter(() => preemptOn(guard), error, what);
    }
    preemptOn(guard);
    return result;
  };
}

interface RefCache<T extends Type> {
  lastAddress: number;
  last: PercpuMutRef<T> | null;
  readonly byAddress: Map<number, PercpuMutRef<T>>;
}

function refCache<T extends Type>(): RefCache<T> {
  return { lastAddress: -1, last: null, byAddress: new Map() };
}

/**
 * The implementation behind {@linkcode PercpuVar} and
 * {@linkcode ScalarPercpuVar}: one class, so every access site sees one
 * shape. For structs and arrays the scalar accessors throw `TypeError`.
 */
export class PercpuVariable<T extends Type = Type> implements PercpuVar<T> {
  readonly name: string;
  readonly symbol: string;
  readonly type: T;
  readonly initValue: ValueOf<T>;
  readonly size: number;
  readonly #host: VarHost;
  readonly #place: VarPlace;
  readonly #align: number;
  readonly #kind: ScalarKind | null;
  readonly #preempt: boolean;
  readonly #ptrLabel: string;
  readonly #forms: AccessForms;
  readonly #symbols: () => AccessSymbols;
  // The scalar accessors and `withCurrent` are per-variable closures rather
  // than prototype methods, so that each call site reaches code specialised
  // for one kind (see _scalar_access.ts). They are defined read-only and
  // non-enumerable in the constructor, so a variable still looks like it has
  // only data fields. With `preempt` off the guarded and the raw forms are
  // the same function.
  /** `X.read_current()`; see {@linkcode ScalarPercpuVar.readCurrent}. */
  declare readonly readCurrent: () => ValueOf<T>;
  /** `X.write_current(v)`; see {@linkcode ScalarPercpuVar.writeCurrent}. */
  declare readonly writeCurrent: (value: ValueOf<T>) => void;
  /** `this_cpu_add`; see {@linkcode ScalarPercpuVar.addCurrent}. */
  declare readonly addCurrent: (delta: ValueOf<T>) => void;
  /** `X.read_current_raw()`; see {@linkcode ScalarPercpuVar.readCurrentRaw}. */
  declare readonly readCurrentRaw: () => ValueOf<T>;
  /** `X.write_current_raw(v)`; see {@linkcode ScalarPercpuVar.writeCurrentRaw}. */
  declare readonly writeCurrentRaw: (value: ValueOf<T>) => void;
  /** See {@linkcode ScalarPercpuVar.addCurrentRaw}. */
  declare readonly addCurrentRaw: (delta: ValueOf<T>) => void;
  /** `X.with_current(f)`; see {@linkcode PercpuVar.withCurrent}. */
  declare readonly withCurrent: <R>(f: (ref: PercpuMutRef<T>) => R) => R;
  readonly #refs = refCache<T>();
  readonly #mutRefs = refCache<T>();
  #refUnmaps = 0;
  readonly #programs = new Map<string, AccessProgram>();

  /**
   * Creates the wrapper of a placed variable.
   *
   * @param spec The system, name, type, initial value, place and sequences.
   */
  constructor(spec: VariableSpec<T>) {
    const host = spec.host;
    const name = spec.name;
    const type = spec.type;
    this.#host = host;
    this.name = name;
    this.symbol = spec.symbol;
    this.type = type;
    this.initValue = spec.initValue;
    this.size = spec.layout.size;
    this.#align = spec.layout.align;
    this.#place = spec.place;
    this.#forms = spec.forms;
    this.#symbols = spec.symbols;
    this.#preempt = host.preempt;
    this.#kind = type.kind === "struct" || type.kind === "array" ? null : type.kind;
    this.#ptrLabel = `${name}.currentPtr`;
    const raw = this.#kind === null
      ? notScalar(name, type, (f) => {
        if (typeof f !== "function") {
          throw new TypeError(`${name}.withCurrent expects a function, got ${valueText(f)}`);
        }
        return f(this.currentRefMutRaw() as never);
      })
      : scalarAccessors(scalarCodec(this.#kind, host.pointerBytes), {
        host: spec.current,
        name,
        offset: spec.currentOffset,
        selfPtrOffset: () => this.#selfPtrOffset(),
        currentRef: () => this.currentRefMutRaw(),
      });
    const preempt = host.preempt;
    Object.defineProperties(this, {
      readCurrent: { value: preempt ? guardedRead(raw.read, `${name}.readCurrent`) : raw.read },
      writeCurrent: {
        value: preempt ? guardedUpdate(raw.write, `${name}.writeCurrent`) : raw.write,
      },
      addCurrent: { value: preempt ? guardedUpdate(raw.add, `${name}.addCurrent`) : raw.add },
      readCurrentRaw: { value: raw.read },
      writeCurrentRaw: { value: raw.write },
      addCurrentRaw: { value: raw.add },
      withCurrent: { value: preempt ? guardedWith(raw.with, `${name}.withCurrent`) : raw.with },
    });
    registerPrograms(this, (op, options) => this.program(op, options));
  }

  offset(): number {
    return this.#place.offset;
  }

  symbolVma(): number {
    return this.#place.vma;
  }

  currentPtr(): number {
    this.#checkSelfPtr(this.#ptrLabel);
    return this.#host.currentPtrBase(this.#ptrLabel) + this.#place.vma;
  }

  /**
   * Where x86_64's `current_ptr()` reads the area base: the offset of the
   * crate's `SELF_PTR` slot; −1 where it adds the register (or nothing), and
   * for dynamic objects, whose pointer is reached through their own cursor.
   */
  #selfPtrOffset(): number {
    const host = this.#host;
    return host.table.selfPtr && this.#forms === "imp"
      ? host.selfPtrVma - (host.loadStart ?? 0)
      : -1;
  }

  /**
   * On x86_64 `current_ptr()` reads `SELF_PTR` from the area's memory:
   * when that memory was detached, say so rather than read garbage.
   */
  #checkSelfPtr(who: string): void {
    const offset = this.#selfPtrOffset();
    const context = this.#host.context;
    const area = context.area;
    if (offset >= 0 && area !== null) checkAccessible(area, context.byte + offset, 8, who);
  }

  currentRefRaw(): PercpuRef<T> {
    return this.#refAt(this.currentPtr(), this.#refs, false);
  }

  currentRefMutRaw(): PercpuMutRef<T> {
    return this.#refAt(this.currentPtr(), this.#mutRefs, true);
  }

  resetToInit(): void {
    if (!this.#preempt) return this.#reset();
    const guard = preemptOff();
    try {
      this.#reset();
    } catch (error) {
      throw releaseAfter(() => preemptOn(guard), error, `${this.name}.resetToInit`);
    }
    preemptOn(guard);
  }

  #reset(): void {
    this.#refAt(this.currentPtr(), this.#mutRefs, true).value = this.initValue;
  }

  remotePtr(cpu: number): number {
    return this.#host.areaBase(cpu, `${this.name}.remotePtr`) + this.#place.offset;
  }

  remoteRefRaw(cpu: number): PercpuRef<T> {
    return this.#refAt(this.remotePtr(cpu), this.#refs, false);
  }

  remoteRefMutRaw(cpu: number): PercpuMutRef<T> {
    return this.#refAt(this.remotePtr(cpu), this.#mutRefs, true);
  }

  readRemote(cpu: number): ValueOf<T> {
    if (!this.#preempt) return this.#readRemote(cpu);
    const guard = preemptOff();
    try {
      return this.#readRemote(cpu);
    } finally {
      preemptOn(guard);
    }
  }

  #readRemote(cpu: number): ValueOf<T> {
    const ref = this.remoteRefRaw(cpu);
    if (this.#kind !== null) return ref.value;
    const host = this.#host;
    const region = host.resolve(ref.address, this.size, this.#align, `${this.name}.readRemote`);
    return readValue(this.type, region, ref.address + region.bias, host.pointerBytes);
  }

  writeRemote(cpu: number, value: ValueOf<T>): void {
    if (!this.#preempt) return this.#writeRemote(cpu, value);
    const guard = preemptOff();
    try {
      this.#writeRemote(cpu, value);
    } finally {
      preemptOn(guard);
    }
  }

  #writeRemote(cpu: number, value: ValueOf<T>): void {
    this.remoteRefMutRaw(cpu).value = value;
  }

  disassemble(op: AccessOp, options?: ProgramOptions): string[] {
    return this.program(op, options).instructions.map((i) => i.text);
  }

  /**
   * The program of one access, built once per op and options.
   *
   * @param op Which access.
   * @param options The remote CPU, the closure name.
   * @returns The program.
   */
  program(op: AccessOp, options: ProgramOptions = {}): AccessProgram {
    // Options left out and given as their defaults build the same program
    // twice: rare, and cheaper than normalising options on every call.
    const key = `${op}|${options.cpu}|${options.fn}`;
    let program = this.#programs.get(key);
    if (!program) {
      const host = this.#host;
      program = buildProgram(
        {
          table: host.table,
          symbols: this.#symbols(),
          kind: this.#kind,
          forms: this.#forms,
          preempt: host.preempt,
        },
        op,
        options,
      );
      this.#programs.set(key, program);
    }
    return program;
  }

  #refAt(address: number, cache: RefCache<T>, mutable: boolean): PercpuMutRef<T> {
    const host = this.#host;
    if (this.#refUnmaps !== host.unmaps) {
      // Memory was unmapped: a cached ref may point at memory that is gone,
      // where something else may be mapped now.
      this.#refUnmaps = host.unmaps;
      for (const c of [this.#refs, this.#mutRefs]) {
        c.lastAddress = -1;
        c.last = null;
        c.byAddress.clear();
      }
    }
    if (address === cache.lastAddress) return cache.last!;
    let ref = cache.byAddress.get(address);
    if (!ref) {
      const cpu = host.cpuOfAddress(address);
      const label = refLabel(this.name, address, cpu < 0 ? null : cpu);
      const region = host.resolve(address, this.size, this.#align, label);
      ref = makeRef<T>({
        type: this.type,
        region,
        address,
        pointerBytes: host.pointerBytes,
        label,
      }, mutable);
      cache.byAddress.set(address, ref);
    }
    cache.lastAddress = address;
    cache.last = ref;
    return ref;
  }
}
