/**
 * Error classes thrown by this module. Wrong JavaScript types throw
 * `TypeError` and out-of-range values `RangeError`; the classes here cover
 * what is specific to per-CPU data.
 *
 * @module
 */

/**
 * Base class of the errors specific to this module.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, PercpuError } from "@percpu/percpu";
 * assert.throws(() => createPercpu().percpuAreaBase(0), PercpuError);
 * ```
 */
export class PercpuError extends Error {
  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param options The standard `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * `init()` refused the memory it was given. Nothing was changed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, InitError } from "@percpu/percpu";
 * const p = createPercpu();
 * assert.throws(
 *   () => p.init(2, { buffer: new ArrayBuffer(1024), byteOffset: 8 }),
 *   (e) => e instanceof InitError && e.kind === "UnalignedBase",
 * );
 * ```
 */
export class InitError extends PercpuError {
  /** Which check failed. */
  readonly kind: "InvalidBase" | "UnalignedBase" | "InsufficientMemory";

  /**
   * Creates the error.
   *
   * @param kind Which check failed.
   * @param message The details: what was given and what is accepted.
   */
  constructor(kind: InitError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}

/**
 * A per-CPU area was asked for before `init()` or `initInPlace()` set the
 * area base (the crate panics with "PerCPU area base address not set").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, NotInitializedError } from "@percpu/percpu";
 * assert.throws(() => createPercpu().initPercpuReg(0), NotInitializedError);
 * ```
 */
export class NotInitializedError extends PercpuError {}

/**
 * `defPercpu()` refused a definition. Nothing was defined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, DefinitionError, u8 } from "@percpu/percpu";
 * const p = createPercpu();
 * p.defPercpu("X", u8, 0);
 * assert.throws(
 *   () => p.defPercpu("X", u8, 1),
 *   (e) => e instanceof DefinitionError && e.kind === "DuplicateName",
 * );
 * ```
 */
export class DefinitionError extends PercpuError {
  /** Which rule the definition broke. */
  readonly kind: "DuplicateName" | "InvalidName" | "AfterInit" | "TooLarge";

  /**
   * Creates the error.
   *
   * @param kind Which rule the definition broke.
   * @param message The details.
   */
  constructor(kind: DefinitionError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}

/**
 * A simulated memory access hit no mapped memory, or was misaligned: what a
 * page fault or alignment fault would be on hardware.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, FaultError, u32 } from "@percpu/percpu";
 * const p = createPercpu({ arch: "aarch64" });
 * const x = p.defPercpu("X", u32, 0);
 * p.init(2);
 * assert.throws(() => x.readCurrent(), FaultError); // TPIDR_EL1 is still 0
 * ```
 */
export class FaultError extends PercpuError {
  /** The faulting simulated address. */
  readonly address: number;

  /**
   * Creates the error.
   *
   * @param address The faulting simulated address.
   * @param message The details and a hint.
   */
  constructor(address: number, message: string) {
    super(message);
    this.address = address;
  }
}
