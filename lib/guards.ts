/**
 * RAII guards in the style of the `kernel_guard` crate, as `Disposable`s for
 * `using`. The kernel (or the simulator) implements {@linkcode KernelGuardIf}
 * and installs it with {@linkcode setKernelGuardIf}; with none installed every
 * guard does nothing, as on the crate's hosted targets.
 *
 * Order, as in `kernel_guard`: `NoPreemptIrqSave` disables preemption and
 * then saves and disables IRQs; on release it restores IRQs and then enables
 * preemption.
 *
 * @example A guarded critical section
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoPreempt, setKernelGuardIf } from "@percpu/percpu/guards";
 * let depth = 0;
 * setKernelGuardIf({ disablePreempt: () => void depth++, enablePreempt: () => void depth-- });
 * {
 *   using _guard = new NoPreempt();
 *   assert.equal(depth, 1);
 * }
 * assert.equal(depth, 0);
 * setKernelGuardIf(null);
 * ```
 *
 * @module
 */

import { isRevokedProxy, valueText } from "./_describe.ts";
import { active, install, installed, releaseAfter, releaseBoth } from "./_guard_if.ts";

/**
 * What guards call: implemented by the kernel, as `kernel_guard`'s
 * `KernelGuardIf`. The IRQ methods are optional; without them `IrqSave`
 * does nothing.
 */
export interface KernelGuardIf {
  /** Disables preemption on the current CPU (increments the preempt count). */
  disablePreempt(): void;
  /** Enables preemption (decrements the count; may reschedule at zero). */
  enablePreempt(): void;
  /** Saves the IRQ state, disables local IRQs and returns the saved state. */
  localIrqSaveAndDisable?(): number;
  /** Restores the IRQ state saved by `localIrqSaveAndDisable`. */
  localIrqRestore?(state: number): void;
}

/**
 * Installs the interface guards call, or removes it with `null`.
 *
 * @param impl The kernel's implementation, or `null` for no-op guards. Its
 *   methods are read once, here: guards call the functions read now, with
 *   `impl` as `this`, even if the object changes later.
 * @returns The previously installed interface, so a caller can restore it.
 * @throws {TypeError} When `impl` lacks `disablePreempt`/`enablePreempt`, or
 *   has only one of the two IRQ methods. Nothing is installed then.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelGuardIf, setKernelGuardIf } from "@percpu/percpu/guards";
 * const kernel = { disablePreempt() {}, enablePreempt() {} };
 * const previous = setKernelGuardIf(kernel);
 * assert.equal(kernelGuardIf(), kernel);
 * setKernelGuardIf(previous);
 * assert.throws(() => setKernelGuardIf({} as never), TypeError);
 * ```
 */
export function setKernelGuardIf(impl: KernelGuardIf | null): KernelGuardIf | null {
  if (impl === null) return install(null, null);
  if (typeof impl !== "object" || isRevokedProxy(impl)) {
    throw new TypeError(`setKernelGuardIf expects an object or null, got ${valueText(impl)}`);
  }
  // Each method is read once: what is checked is what guards will call.
  const hooks = {
    disablePreempt: impl.disablePreempt,
    enablePreempt: impl.enablePreempt,
    localIrqSaveAndDisable: impl.localIrqSaveAndDisable,
    localIrqRestore: impl.localIrqRestore,
  };
  for (const method of ["disablePreempt", "enablePreempt"] as const) {
    if (typeof hooks[method] !== "function") {
      throw new TypeError(
        `setKernelGuardIf: ${method} must be a function, got ${valueText(hooks[method])}`,
      );
    }
  }
  const save = typeof hooks.localIrqSaveAndDisable;
  const restore = typeof hooks.localIrqRestore;
  if ((save === "function") !== (restore === "function") || ![save, restore].every(optional)) {
    throw new TypeError(
      "setKernelGuardIf: localIrqSaveAndDisable and localIrqRestore must both be functions or both be absent",
    );
  }
  return install(impl, hooks);
}

function optional(type: string): boolean {
  return type === "function" || type === "undefined";
}

/**
 * The installed interface.
 *
 * @returns The interface guards currently call, or `null`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelGuardIf } from "@percpu/percpu/guards";
 * assert.equal(kernelGuardIf(), null);
 * ```
 */
export function kernelGuardIf(): KernelGuardIf | null {
  return installed();
}

/**
 * What the four guards share (`kernel_guard::BaseGuard`): they acquire on
 * construction and release once, at the end of a `using` block or by hand.
 *
 * They are exception-safe as RAII guards are: when a {@linkcode KernelGuardIf}
 * hook throws during construction, whatever the guard had already acquired
 * is released again before the error propagates (so nothing stays
 * disabled); when one throws during release, the rest of the release still
 * runs, the guard counts as released, and the error propagates (inside a
 * `using` block that also threw, as a `SuppressedError` holding both). A
 * hook that throws is taken not to have done its work.
 */
export abstract class BaseGuard implements Disposable {
  #impl: KernelGuardIf | null;
  #state: number;
  #held = true;

  /**
   * Acquires on the installed interface.
   *
   * @param acquire Takes the interface's hooks (its methods as they were
   *   when it was installed, or `null` when none is) and returns the state to
   *   release with. When it throws, it must leave nothing acquired.
   * @throws What `acquire` throws.
   */
  constructor(acquire: (impl: KernelGuardIf | null) => number) {
    this.#impl = active();
    this.#state = acquire(this.#impl);
  }

  /**
   * Undoes the acquisition.
   *
   * @param impl The interface the guard acquired on.
   * @param state What the acquisition returned.
   */
  protected abstract releaseOn(impl: KernelGuardIf | null, state: number): void;

  /** Whether the guard still holds what it acquired. */
  get held(): boolean {
    return this.#held;
  }

  /**
   * Releases what the guard acquired, on the interface it acquired it from.
   * Releasing again does nothing, so the interface is never unbalanced; a
   * release whose hook threw counts as done.
   *
   * @throws What a {@linkcode KernelGuardIf} hook threw (after the rest of
   *   the release ran).
   */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.releaseOn(this.#impl, this.#state);
  }

  /**
   * Releases the guard at the end of a `using` block.
   *
   * @throws What a {@linkcode KernelGuardIf} hook threw.
   */
  [Symbol.dispose](): void {
    this.release();
  }
}

function irqSave(impl: KernelGuardIf | null): number {
  return impl?.localIrqSaveAndDisable?.() ?? 0;
}

function irqRestore(impl: KernelGuardIf | null, state: number): void {
  impl?.localIrqRestore?.(state);
}

/**
 * `NoPreemptIrqSave`'s acquisition: when saving IRQs throws, preemption is
 * enabled again before the error propagates.
 */
function acquireBoth(impl: KernelGuardIf | null): number {
  impl?.disablePreempt();
  try {
    return irqSave(impl);
  } catch (error) {
    throw releaseAfter(() => impl?.enablePreempt(), error, "NoPreemptIrqSave");
  }
}

/** `NoPreemptIrqSave`'s release: preemption is enabled even when restoring IRQs throws. */
function releaseBothOn(impl: KernelGuardIf | null, state: number): void {
  releaseBoth(() => irqRestore(impl, state), () => impl?.enablePreempt(), "NoPreemptIrqSave");
}

/**
 * A guard that does nothing (`kernel_guard::NoOp`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoOp } from "@percpu/percpu/guards";
 * using guard = new NoOp();
 * assert.equal(guard.held, true);
 * ```
 */
export class NoOp extends BaseGuard {
  /** Acquires nothing. */
  constructor() {
    super(() => 0);
  }

  /**
   * `BaseGuard::acquire`: does nothing.
   *
   * @returns The (empty) state.
   */
  static acquire(): number {
    return 0;
  }

  /**
   * `BaseGuard::release`: does nothing.
   *
   * @param _state What `acquire` returned.
   */
  static release(_state: number): void {}

  /** Releases nothing. */
  protected releaseOn(): void {}
}

/**
 * Saves and disables local IRQs; restores them on release
 * (`kernel_guard::IrqSave`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IrqSave, setKernelGuardIf } from "@percpu/percpu/guards";
 * let enabled = true;
 * setKernelGuardIf({
 *   disablePreempt() {},
 *   enablePreempt() {},
 *   localIrqSaveAndDisable() {
 *     const saved = enabled ? 1 : 0;
 *     enabled = false;
 *     return saved;
 *   },
 *   localIrqRestore(state) {
 *     enabled = state === 1;
 *   },
 * });
 * {
 *   using _irq = new IrqSave();
 *   assert.equal(enabled, false);
 * }
 * assert.equal(enabled, true);
 * setKernelGuardIf(null);
 * ```
 */
export class IrqSave extends BaseGuard {
  /** Saves and disables local IRQs. */
  constructor() {
    super(irqSave);
  }

  /**
   * `BaseGuard::acquire`: saves and disables local IRQs.
   *
   * @returns The saved IRQ state.
   */
  static acquire(): number {
    return irqSave(active());
  }

  /**
   * `BaseGuard::release`: restores the IRQ state.
   *
   * @param state What `acquire` returned.
   */
  static release(state: number): void {
    irqRestore(active(), state);
  }

  /**
   * Restores IRQs.
   *
   * @param impl The interface the guard acquired on.
   * @param state The saved IRQ state.
   */
  protected releaseOn(impl: KernelGuardIf | null, state: number): void {
    irqRestore(impl, state);
  }
}

/**
 * Disables preemption; enables it on release (`kernel_guard::NoPreempt`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoPreempt } from "@percpu/percpu/guards";
 * const guard = new NoPreempt();
 * guard.release();
 * guard.release(); // a second release does nothing
 * assert.equal(guard.held, false);
 * ```
 */
export class NoPreempt extends BaseGuard {
  /** Disables preemption. */
  constructor() {
    super((impl) => {
      impl?.disablePreempt();
      return 0;
    });
  }

  /**
   * `BaseGuard::acquire`: disables preemption.
   *
   * @returns The (empty) state.
   */
  static acquire(): number {
    active()?.disablePreempt();
    return 0;
  }

  /**
   * `BaseGuard::release`: enables preemption.
   *
   * @param _state What `acquire` returned.
   */
  static release(_state: number): void {
    active()?.enablePreempt();
  }

  /**
   * Enables preemption.
   *
   * @param impl The interface the guard acquired on.
   */
  protected releaseOn(impl: KernelGuardIf | null): void {
    impl?.enablePreempt();
  }
}

/**
 * Disables preemption, then saves and disables IRQs; on release restores
 * IRQs, then enables preemption (`kernel_guard::NoPreemptIrqSave`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoPreemptIrqSave, setKernelGuardIf } from "@percpu/percpu/guards";
 * const calls: string[] = [];
 * setKernelGuardIf({
 *   disablePreempt: () => void calls.push("preempt off"),
 *   enablePreempt: () => void calls.push("preempt on"),
 *   localIrqSaveAndDisable: () => (calls.push("irq off"), 1),
 *   localIrqRestore: () => void calls.push("irq restore"),
 * });
 * new NoPreemptIrqSave()[Symbol.dispose]();
 * assert.deepEqual(calls, ["preempt off", "irq off", "irq restore", "preempt on"]);
 * setKernelGuardIf(null);
 * ```
 */
export class NoPreemptIrqSave extends BaseGuard {
  /** Disables preemption, then IRQs (enabling preemption again if that fails). */
  constructor() {
    super(acquireBoth);
  }

  /**
   * `BaseGuard::acquire`: disables preemption, then saves and disables IRQs.
   *
   * @returns The saved IRQ state.
   */
  static acquire(): number {
    return acquireBoth(active());
  }

  /**
   * `BaseGuard::release`: restores IRQs, then enables preemption.
   *
   * @param state What `acquire` returned.
   */
  static release(state: number): void {
    releaseBothOn(active(), state);
  }

  /**
   * Restores IRQs, then enables preemption.
   *
   * @param impl The interface the guard acquired on.
   * @param state The saved IRQ state.
   */
  protected releaseOn(impl: KernelGuardIf | null, state: number): void {
    releaseBothOn(impl, state);
  }
}
