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

import type { AccessOp, AccessProgram } from "../../lib/isa/access_program.ts";
import type { PercpuRegName } from "../../lib/arch.ts";
import { valueText } from "../../lib/_describe.ts";
import { IrqSave, NoPreempt, NoPreemptIrqSave } from "../../lib/guards.ts";
import type { PercpuVar, ScalarPercpuVar } from "../../lib/percpu_var.ts";
import { scalarCodec } from "../../lib/_scalar_codec.ts";
import type { ScalarKind, ScalarValue } from "../../lib/types.ts";

/** A run of instructions a task asks the CPU to execute, one per step. */
export interface AccessRequest {
  /** Always `"access"`. */
  readonly kind: "access";
  /** The instructions. */
  readonly program: AccessProgram;
  /** The variable's scalar kind (for 64-bit register pairs and the closure's value). */
  readonly valueKind: ScalarKind;
  /** Loaded into `program.input` before the first instruction. */
  readonly input: unknown;
  /** The closure a `with-current` access applies to the loaded value. */
  readonly fn: ((value: never) => unknown) | null;
  /** Register slot whose value the access returns, or −1. */
  readonly result: number;
  /** A deliberate remote access: hitting another CPU's area is not a violation. */
  readonly remote: boolean;
}

/** Scheduling requests: local work, `sched_yield`, sleep. */
export interface ControlRequest {
  /** `work`: one instruction of the task's own; `yield`: give up the CPU; `sleep`. */
  readonly kind: "work" | "yield" | "sleep";
  /** For `sleep`: how many machine cycles. */
  readonly cycles?: number;
}

/** What a task's generator yields; a bare `yield` (undefined) is one instruction of work. */
export type Request = AccessRequest | ControlRequest | undefined;

/**
 * A stepped operation: `yield*` it inside a task (a generator of your own
 * that `yield*`s the context's operations works too). What it yields is the
 * machine's business; what it returns is `T`.
 */
export type Step<T = void> = Iterable<unknown, T, unknown>;

/**
 * A task's code: a generator function (`function*`) that `yield*`s the
 * context's stepped operations; a bare `yield` is one instruction of the
 * task's own work.
 */
export type TaskBody = (ctx: TaskContext) => Generator<unknown, unknown, unknown>;

/** What a task context needs from its machine. */
export interface TaskHost {
  /** The CPU running the task (while its code runs). */
  currentCpu(task: number): number;
  /** The program of an access to a variable of this machine's system. */
  program(
    variable: PercpuVar,
    op: AccessOp,
    options?: { cpu?: number; fn?: string },
  ): AccessProgram;
  /** The program writing a system register. */
  sysregProgram(reg: PercpuRegName): AccessProgram;
  /** The `with-current` program applying closure `f` (named after it in listings). */
  withCurrentProgram(
    variable: PercpuVar,
    raw: boolean,
    f: (value: never) => unknown,
  ): AccessProgram;
  /** `usize` width. */
  readonly pointerBytes: 4 | 8;
}

/** Options of the stepped accessors. */
export interface StepOptions {
  /** Use the `_raw` form, which never takes the `NoPreempt` guard. */
  readonly raw?: boolean;
}

const WORK: ControlRequest = Object.freeze({ kind: "work" });
const YIELD: ControlRequest = Object.freeze({ kind: "yield" });

function scalarKind(variable: PercpuVar, what: string): ScalarKind {
  const kind = variable?.type?.kind;
  if (kind === undefined || kind === "struct" || kind === "array") {
    throw new TypeError(`${what} needs a scalar per-CPU variable, got ${valueText(variable)}`);
  }
  return kind;
}

/**
 * An access request that is also the one-shot iterator `yield*` drives: it
 * yields itself, then returns what the machine resumed the task with. One
 * small object per operation, where a generator method would allocate a
 * generator and a request (measured: about half the cost per operation).
 */
class Access<T> implements AccessRequest, Iterator<Request, T, unknown>, Step<T> {
  readonly kind = "access";
  #started = false;

  constructor(
    readonly program: AccessProgram,
    readonly valueKind: ScalarKind,
    readonly input: unknown,
    readonly fn: ((value: never) => unknown) | null,
    readonly result: number,
    readonly remote: boolean,
  ) {}

  [Symbol.iterator](): this {
    return this;
  }

  next(value?: unknown): IteratorResult<Request, T> {
    if (this.#started) return { value: value as T, done: true };
    this.#started = true;
    return { value: this, done: false };
  }

  /** `yield*` forwards errors thrown into the task; they must keep propagating as they are. */
  throw(error?: unknown): never {
    throw error;
  }

  return(value?: T): IteratorResult<Request, T> {
    this.#started = true;
    return { value: value as T, done: true };
  }
}

/** A scheduling request yielded `count` times (`work(n)` yields n `nop`s). */
class Control implements Iterator<Request, void, unknown>, Step {
  #left: number;

  constructor(readonly request: ControlRequest, count: number) {
    this.#left = count;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<Request, void> {
    return this.#left-- > 0
      ? { value: this.request, done: false }
      : { value: undefined, done: true };
  }

  throw(error?: unknown): never {
    throw error;
  }

  return(): IteratorResult<Request, void> {
    this.#left = 0;
    return { value: undefined, done: true };
  }
}

/**
 * What a task's code is given: its identity and the stepped operations.
 * Guards (`noPreempt()` …) act on the simulated CPU running the task.
 */
export class TaskContext {
  /** The task's id (its index in spawn order). */
  readonly id: number;
  /** The task's name. */
  readonly name: string;
  readonly #host: TaskHost;

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
   */
  read<K extends ScalarKind>(
    variable: ScalarPercpuVar<K>,
    options: StepOptions = {},
  ): Step<ScalarValue<K>> {
    const program = this.#host.program(variable, options.raw ? "read-raw" : "read");
    return this.#access(variable, program, undefined, null, program.result, false);
  }

  /**
   * Writes the current CPU's value (`write_current`), one instruction per step.
   *
   * @param variable A scalar variable.
   * @param value The value; checked now, so a bad value throws in the task.
   * @param options `raw` for `write_current_raw`.
   */
  write<K extends ScalarKind>(
    variable: ScalarPercpuVar<K>,
    value: ScalarValue<K>,
    options: StepOptions = {},
  ): Step {
    this.#check(variable, value, "write");
    const program = this.#host.program(variable, options.raw ? "write-raw" : "write");
    return this.#access(variable, program, value, null, -1, false);
  }

  /**
   * Read-modify-write through `current_ptr()` as `with_current` does: the
   * pointer is built, the value loaded, `f` applied (one `call` step) and the
   * result stored.
   *
   * @param variable A scalar variable.
   * @param f Maps the old value to the new one; its name shows in listings.
   * @param options `raw` to skip the guard.
   */
  withCurrent<K extends ScalarKind>(
    variable: ScalarPercpuVar<K>,
    f: (value: ScalarValue<K>) => ScalarValue<K>,
    options: StepOptions = {},
  ): Step {
    if (typeof f !== "function") {
      throw new TypeError(`withCurrent expects a function, got ${valueText(f)}`);
    }
    const fn = f as (value: never) => unknown;
    const program = this.#host.withCurrentProgram(variable, options.raw === true, fn);
    return this.#access(variable, program, undefined, fn, -1, false);
  }

  /**
   * Adds to the current CPU's value as Linux `this_cpu_add` compiles: one
   * instruction on x86_64, load/add/store elsewhere.
   *
   * @param variable A scalar numeric variable.
   * @param delta The amount (a `bigint` for `u64`/`i64`).
   * @param options `raw` to skip the guard.
   */
  add<K extends ScalarKind>(
    variable: ScalarPercpuVar<K>,
    delta: ScalarValue<K>,
    options: StepOptions = {},
  ): Step {
    const kind = scalarKind(variable, "add");
    scalarCodec(kind, this.#host.pointerBytes).checkDelta(delta, `${this.name}: add`);
    const program = this.#host.program(variable, options.raw ? "add-raw" : "add");
    return this.#access(variable, program, delta, null, -1, false);
  }

  /**
   * Address of the current CPU's copy (`current_ptr`).
   *
   * @param variable Any variable of this machine's system.
   * @returns The address.
   */
  ptr(variable: PercpuVar): Step<number> {
    const program = this.#host.program(variable, "ptr");
    return new Access(program, "usize", undefined, null, 0, false);
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
    const program = this.#host.program(variable, "remote-read", { cpu });
    return this.#access(variable, program, undefined, null, program.result, true);
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
    this.#check(variable, value, "remoteWrite");
    const program = this.#host.program(variable, "remote-write", { cpu });
    return this.#access(variable, program, value, null, -1, true);
  }

  /**
   * Writes a system register, as a guest kernel's `msr TPIDR_EL1, x2` does.
   *
   * @param reg The register.
   * @param value The raw value.
   */
  writeSysreg(reg: PercpuRegName, value: number): Step {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(
        `writeSysreg: the value must be a non-negative integer, got ${valueText(value)}`,
      );
    }
    return new Access(this.#host.sysregProgram(reg), "usize", value, null, -1, false);
  }

  /**
   * Executes `n` instructions of the task's own work (`nop`s).
   *
   * @param n How many, ≥ 0.
   */
  work(n = 1): Step {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`work: n must be a non-negative integer, got ${valueText(n)}`);
    }
    return new Control(WORK, n);
  }

  /** Gives up the CPU (`sched_yield`): the only switch point under `cooperative`. */
  schedYield(): Step {
    return new Control(YIELD, 1);
  }

  /**
   * Sleeps for `cycles` machine cycles (a voluntary switch).
   *
   * @param cycles How long, ≥ 1.
   */
  sleep(cycles: number): Step {
    if (!Number.isSafeInteger(cycles) || cycles < 1) {
      throw new RangeError(`sleep: cycles must be a positive integer, got ${valueText(cycles)}`);
    }
    return new Control({ kind: "sleep", cycles }, 1);
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
   * Disables IRQs on the current CPU until released; timer ticks are deferred.
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

  #check(variable: PercpuVar, value: unknown, what: string): void {
    const kind = scalarKind(variable, what);
    scalarCodec(kind, this.#host.pointerBytes).check(value, `${this.name}: ${what}`);
  }

  #access<T>(
    variable: PercpuVar,
    program: AccessProgram,
    input: unknown,
    fn: ((value: never) => unknown) | null,
    result: number,
    remote: boolean,
  ): Access<T> {
    return new Access(program, scalarKind(variable, program.op), input, fn, result, remote);
  }
}
