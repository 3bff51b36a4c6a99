/**
 * What a task's generator yields to the machine: an access to execute
 * (one instruction per step), or a scheduling request (`work`, `yield`,
 * `sleep`). The machine recognises its own requests by a private brand,
 * which never runs user code: a task that yields a hostile object (a
 * Proxy, a throwing getter) cannot reach into the machine.
 *
 * @module
 */

import type { ScalarKind } from "../../lib/types.ts";
import type { ProgramEntry } from "./_programs.ts";

/** A run of instructions a task asks the CPU to execute, one per step. */
export interface AccessRequest {
  /** The program, decoded. */
  readonly entry: ProgramEntry;
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

/**
 * An access request that is also the one-shot iterator `yield*` drives: it
 * yields itself, then returns what the machine resumed the task with. One
 * small object per operation, where a generator method would allocate a
 * generator and a request (measured: about half the cost per operation).
 */
export class Access<T> implements AccessRequest, Iterator<unknown, T, unknown> {
  #started = false;
  /** The one iterator result, yielded first and then completed in place. */
  readonly #result: { value: unknown; done: boolean } = { value: undefined, done: false };

  constructor(
    readonly entry: ProgramEntry,
    readonly valueKind: ScalarKind,
    readonly input: unknown,
    readonly fn: ((value: never) => unknown) | null,
    readonly result: number,
    readonly remote: boolean,
  ) {}

  /**
   * Whether a yielded value is an access request (a brand check: no getter,
   * trap or prototype of the value is consulted).
   */
  static is(value: unknown): value is Access<unknown> {
    return typeof value === "object" && value !== null && #started in value;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(value?: unknown): IteratorResult<unknown, T> {
    const result = this.#result;
    if (this.#started) {
      result.value = value;
      result.done = true;
    } else {
      this.#started = true;
      result.value = this;
    }
    return result as IteratorResult<unknown, T>;
  }

  /** `yield*` forwards errors thrown into the task; they must keep propagating as they are. */
  throw(error?: unknown): never {
    throw error;
  }

  return(value?: T): IteratorResult<unknown, T> {
    this.#started = true;
    return { value: value as T, done: true };
  }
}

/** A scheduling request: one `nop` of the task's own work, `sched_yield`, or sleep. */
export class ControlRequest {
  /** One instruction of the task's own work. */
  static readonly WORK: ControlRequest = new ControlRequest("work", 0);
  /** Give up the CPU. */
  static readonly YIELD: ControlRequest = new ControlRequest("yield", 0);

  /** The iterator result yielding this request (shared: `yield*` only reads it). */
  readonly result: IteratorResult<unknown, void>;

  private constructor(
    /** What is asked. */
    readonly kind: "work" | "yield" | "sleep",
    /** For `sleep`: how many machine cycles. */
    readonly cycles: number,
  ) {
    this.result = Object.freeze({ value: this, done: false });
    Object.freeze(this);
  }

  /**
   * A sleep request.
   *
   * @param cycles How long, ≥ 1 (checked by the caller).
   * @returns The request.
   */
  static sleep(cycles: number): ControlRequest {
    return new ControlRequest("sleep", cycles);
  }

  /** Whether a yielded value is a scheduling request (a brand check). */
  static is(value: unknown): value is ControlRequest {
    return typeof value === "object" && value !== null && #brand in value;
  }

  /** Brands instances for {@linkcode ControlRequest.is}. */
  #brand(): void {}
}

/** The end of every scheduling request's iteration. */
const DONE: IteratorResult<unknown, void> = Object.freeze({ value: undefined, done: true });

/**
 * A scheduling request yielded `count` times (`work(n)` yields n `nop`s).
 * `yield*` only reads the results, so they are shared, frozen objects: the
 * per-operation cost is this one object.
 */
export class Control implements Iterator<unknown, void, unknown> {
  #left: number;
  readonly #result: IteratorResult<unknown, void>;

  constructor(request: ControlRequest, count: number) {
    this.#left = count;
    this.#result = request.result;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<unknown, void> {
    return this.#left-- > 0 ? this.#result : DONE;
  }

  throw(error?: unknown): never {
    throw error;
  }

  return(): IteratorResult<unknown, void> {
    this.#left = 0;
    return { value: undefined, done: true };
  }
}
