/**
 * Tasks: TypeScript generator functions run by the simulated machine. Each
 * `yield` is an instruction boundary. The {@linkcode TaskContext} offers
 * stepped per-CPU operations that execute, one instruction per step, exactly
 * the sequences `disassemble()` prints; `yield*` them:
 *
 * ```ts ignore
 * function* worker(ctx: TaskContext) {
 *   const v = yield* ctx.read(COUNTER); // 1 to 11 instructions, by arch
 *   yield* ctx.write(COUNTER, v + 1n); // a preemption may fall in between
 * }
 * ```
 *
 * @module
 */

import type { PercpuRegName } from "../../lib/arch.ts";
import { checkInteger, checkOneOf } from "../../lib/_check.ts";
import { describeSafely } from "../_safe.ts";
import { IrqSave, NoPreempt, NoPreemptIrqSave } from "../../lib/guards.ts";
import { SYSREGS } from "../../lib/isa/isa.ts";
import type { PercpuVar, ScalarPercpuVar } from "../../lib/percpu_var.ts";
import { scalarCodec } from "../../lib/_scalar_codec.ts";
import type { ScalarKind, ScalarValue } from "../../lib/types.ts";
import type { ProgramCache, ProgramEntry } from "./_programs.ts";
import { Access, Control, ControlRequest } from "./_requests.ts";

/**
 * A stepped operation: `yield*` it inside a task (a generator of your own
 * that `yield*`s the context's operations works too). What it yields is the
 * machine's business; what it returns is `T`.
 */
export type Step<T = void> = Iterable<unknown, T, unknown>;

/**
 * A task's code: a sync generator function (`function*`) that `yield*`s the
 * context's stepped operations; a bare `yield` is one instruction of the
 * task's own work.
 */
export type TaskBody = (ctx: TaskContext) => Generator<unknown, unknown, unknown>;

/** What a task context needs from its machine. */
export interface TaskHost {
  /** The CPU running the task (while its code runs). */
  currentCpu(task: number): number;
  /** The machine's programs. */
  readonly programs: ProgramCache;
  /** `usize` width. */
  readonly pointerBytes: 4 | 8;
  /** The machine's CPU count (remote accesses name one of them). */
  readonly cpus: number;
  /**
   * The access made last by any task of the machine: what a task yields is
   * nearly always the operation it has just made, which the machine then
   * recognises by identity rather than by a slower brand check.
   */
  lastAccess: unknown;
}

/** Options of the stepped accessors. */
export interface StepOptions {
  /** Use the `_raw` form, which never takes the `NoPreempt` guard. */
  readonly raw?: boolean;
}

const NO_OPTIONS: StepOptions = Object.freeze({});

/**
 * The program an operation used last, per operation of a task: a task's
 * loop asks for the same access again and again, and a field comparison is
 * cheaper than the machine's cache lookup.
 */
class LastProgram {
  variable: unknown = null;
  raw = false;
  /** The closure of a `withCurrent`. */
  fn: unknown = null;
  entry: ProgramEntry | null = null;
}

/** The `raw` option, checked (a hostile options object is a `TypeError`, not its own error). */
function rawOf(options: StepOptions, what: string): boolean {
  let raw: unknown;
  try {
    raw = options?.raw;
  } catch {
    throw new TypeError(`${what}: its options could not be read`);
  }
  if (raw === undefined) return false;
  if (typeof raw !== "boolean") {
    throw new TypeError(`${what}: raw must be a boolean, got ${describeSafely(raw)}`);
  }
  return raw;
}

/**
 * What a task's code is given: its identity and the stepped operations.
 * Guards (`noPreempt()` …) act on the simulated CPU running the task. Bad
 * arguments throw inside the task (which fails alone unless it catches).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u32 } from "@percpu/percpu";
 * import { Machine, type TaskContext } from "@percpu/percpu/sched";
 * const percpu = createPercpu({ arch: "aarch64" });
 * const HITS = percpu.defPercpu("HITS", u32, 0);
 * const machine = new Machine({ percpu, cpus: 1 });
 * machine.spawn(function* (ctx: TaskContext) {
 *   const before = yield* ctx.read(HITS); // mrs, movz, add, ldr: four steps
 *   yield* ctx.write(HITS, before + 1);
 *   yield* ctx.add(HITS, 2);
 * });
 * machine.run();
 * assert.equal(HITS.remoteRefRaw(0).value, 3);
 * ```
 */
export class TaskContext {
  /** The task's id (its index in spawn order). */
  readonly id: number;
  /** The task's name. */
  readonly name: string;
  readonly #host: TaskHost;
  readonly #lastRead = new LastProgram();
  readonly #lastWrite = new LastProgram();
  readonly #lastWithCurrent = new LastProgram();
  readonly #lastAdd = new LastProgram();

  /**
   * Made by the machine for each task.
   *
   * @param id The task id.
   * @param name The task name.
   * @param host The machine.
   */
  constructor(id: number, name: string, host: TaskHost) {
    this.id = id;
    this.name = name;
    this.#host = host;
  }

  #made<T>(
    entry: ProgramEntry,
    valueKind: ScalarKind,
    input: unknown,
    fn: ((value: never) => unknown) | null,
    result: number,
    remote: boolean,
  ): Access<T> {
    const access = new Access<T>(entry, valueKind, input, fn, result, remote);
    this.#host.lastAccess = access;
    return access;
  }

  /**
   * The CPU running this task now (`smp_processor_id()`): stale as soon as
   * the task can be preempted, which is the whole point.
   *
   * @returns The CPU id.
   */
  cpu(): number {
    return this.#host.currentCpu(this.id);
  }

  /**
   * Reads the current CPU's value (`read_current`), one instruction per step.
   *
   * @param variable A scalar variable of this machine's system.
   * @param options `raw` for `read_current_raw` (no guard).
   * @returns The value.
   * @throws {TypeError} On a variable of another system or not scalar.
   */
  read<K extends ScalarKind>(
    variable: ScalarPercpuVar<K>,
    options: StepOptions = NO_OPTIONS,
  ): Step<ScalarValue<K>> {
    const raw = rawOf(options, "read");
    const last = this.#lastRead;
    if (last.variable !== variable || last.raw !== raw) {
      last.entry = this.#host.programs.access(variable, raw ? "read-raw" : "read", "read");
      last.variable = variable;
      last.raw = raw;
    }
    const entry = last.entry!;
    return this.#made(entry, entry.valueKind, undefined, null, entry.program.result, false);
  }

  /**
   * Writes the current CPU's value (`write_current`), one instruction per step.
   *
   * @param variable A scalar variable.
   * @param value The value; checked now, so a bad value throws in the task.
   * @param options `raw` for `write_current_raw`.
   * @throws {TypeError} On a value of the wrong type; `RangeError` when out of range.
   */
  write<K extends ScalarKind>(
    variable: ScalarPercpuVar<K>,
    value: ScalarValue<K>,
    options: StepOptions = NO_OPTIONS,
  ): Step {
    const raw = rawOf(options, "write");
    const last = this.#lastWrite;
    if (last.variable !== variable || last.raw !== raw) {
      last.entry = this.#host.programs.access(variable, raw ? "write-raw" : "write", "write");
      last.variable = variable;
      last.raw = raw;
    }
    const entry = last.entry!;
    scalarCodec(entry.valueKind, this.#host.pointerBytes).check(value, `${this.name}: write`);
    return this.#made(entry, entry.valueKind, value, null, -1, false);
  }

  /**
   * Read-modify-write through `current_ptr()` as `with_current` does: the
   * pointer is built, the value loaded, `f` applied (one `call` step) and the
   * result stored.
   *
   * @param variable A scalar variable.
   * @param f Maps the old value to the new one; its name shows in listings.
   * @param options `raw` to skip the guard.
   * @throws {TypeError} When `f` is not a function.
   */
  withCurrent<K extends ScalarKind>(
    variable: ScalarPercpuVar<K>,
    f: (value: ScalarValue<K>) => ScalarValue<K>,
    options: StepOptions = NO_OPTIONS,
  ): Step {
    if (typeof f !== "function") {
      throw new TypeError(`withCurrent expects a function, got ${describeSafely(f)}`);
    }
    const fn = f as (value: never) => unknown;
    const raw = rawOf(options, "withCurrent");
    const last = this.#lastWithCurrent;
    if (last.variable !== variable || last.raw !== raw || last.fn !== fn) {
      last.entry = this.#host.programs.withCurrent(variable, raw, fn);
      last.variable = variable;
      last.raw = raw;
      last.fn = fn;
    }
    const entry = last.entry!;
    return this.#made(entry, entry.valueKind, undefined, fn, -1, false);
  }

  /**
   * Adds to the current CPU's value as Linux `this_cpu_add` compiles: one
   * instruction on x86_64, load/add/store elsewhere. Exact modular
   * arithmetic for integers, as the core's `addCurrent`.
   *
   * @param variable A scalar numeric variable.
   * @param delta The amount (a `bigint` for `u64`/`i64`).
   * @param options `raw` to skip the guard.
   * @throws {TypeError} On a delta of the wrong type; `RangeError` on a non-integer.
   */
  add<K extends ScalarKind>(
    variable: ScalarPercpuVar<K>,
    delta: ScalarValue<K>,
    options: StepOptions = NO_OPTIONS,
  ): Step {
    const raw = rawOf(options, "add");
    const last = this.#lastAdd;
    if (last.variable !== variable || last.raw !== raw) {
      last.entry = this.#host.programs.access(variable, raw ? "add-raw" : "add", "add");
      last.variable = variable;
      last.raw = raw;
    }
    const entry = last.entry!;
    scalarCodec(entry.valueKind, this.#host.pointerBytes).checkDelta(delta, `${this.name}: add`);
    return this.#made(entry, entry.valueKind, delta, null, -1, false);
  }

  /**
   * Address of the current CPU's copy (`current_ptr`).
   *
   * @param variable Any variable of this machine's system.
   * @returns The address.
   */
  ptr(variable: PercpuVar): Step<number> {
    const entry = this.#host.programs.access(variable, "ptr", "ptr");
    return this.#made(entry, "usize", undefined, null, 0, false);
  }

  /**
   * Reads CPU `cpu`'s copy (`*remote_ptr(cpu)`).
   *
   * @param variable A scalar variable.
   * @param cpu A CPU id.
   * @returns The value.
   */
  remoteRead<K extends ScalarKind>(
    variable: ScalarPercpuVar<K>,
    cpu: number,
  ): Step<ScalarValue<K>> {
    checkInteger(cpu, "remoteRead: cpu", 0, this.#host.cpus - 1);
    const entry = this.#host.programs.access(variable, "remote-read", "remoteRead", { cpu });
    return this.#made(entry, entry.valueKind, undefined, null, entry.program.result, true);
  }

  /**
   * Writes CPU `cpu`'s copy (`*remote_ref_mut_raw(cpu) = value`).
   *
   * @param variable A scalar variable.
   * @param cpu A CPU id.
   * @param value The value.
   */
  remoteWrite<K extends ScalarKind>(
    variable: ScalarPercpuVar<K>,
    cpu: number,
    value: ScalarValue<K>,
  ): Step {
    checkInteger(cpu, "remoteWrite: cpu", 0, this.#host.cpus - 1);
    const entry = this.#host.programs.access(variable, "remote-write", "remoteWrite", { cpu });
    scalarCodec(entry.valueKind, this.#host.pointerBytes).check(value, `${this.name}: remoteWrite`);
    return this.#made(entry, entry.valueKind, value, null, -1, true);
  }

  /**
   * Writes a system register, as a guest kernel's `msr TPIDR_EL1, x2` does.
   *
   * @param reg The register.
   * @param value The raw value.
   * @throws {TypeError} On an unknown register name's type or a non-number value.
   * @throws {RangeError} On an unknown register or a negative or fractional value.
   */
  writeSysreg(reg: PercpuRegName, value: number): Step {
    checkOneOf(reg, SYSREGS, "writeSysreg: reg");
    checkInteger(value, "writeSysreg: value", 0);
    return this.#made(this.#host.programs.sysreg(reg), "usize", value, null, -1, false);
  }

  /**
   * Executes `n` instructions of the task's own work (`nop`s).
   *
   * @param n How many, ≥ 0.
   */
  work(n = 1): Step {
    return new Control(ControlRequest.WORK, checkInteger(n, "work: n", 0));
  }

  /** Gives up the CPU (`sched_yield`): the only switch point under `cooperative`. */
  schedYield(): Step {
    return new Control(ControlRequest.YIELD, 1);
  }

  /**
   * Sleeps for `cycles` machine cycles (a voluntary switch). The task wakes
   * on the CPU it last ran on.
   *
   * @param cycles How long, ≥ 1.
   */
  sleep(cycles: number): Step {
    return new Control(ControlRequest.sleep(checkInteger(cycles, "sleep: cycles", 1)), 1);
  }

  /**
   * Disables preemption until the guard is released (`using g = ctx.noPreempt()`).
   *
   * A tick that arrives meanwhile sets need-resched; the switch happens at
   * the first instruction boundary after the count returns to zero. Code
   * between two `yield`s runs at once, so a guard released and taken again
   * with no `yield` in between leaves no such boundary: put a `yield` (or
   * any stepped operation) between critical sections, as `cond_resched()`.
   *
   * @returns The guard.
   */
  noPreempt(): NoPreempt {
    return new NoPreempt();
  }

  /**
   * Disables IRQs on the current CPU until released; timer ticks are
   * deferred until then, and the return from the deferred tick is a
   * preemption point.
   *
   * @returns The guard.
   */
  irqSave(): IrqSave {
    return new IrqSave();
  }

  /**
   * Disables preemption, then IRQs; released in the opposite order.
   *
   * @returns The guard.
   */
  noPreemptIrqSave(): NoPreemptIrqSave {
    return new NoPreemptIrqSave();
  }
}
