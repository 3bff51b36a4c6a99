/**
 * The installed {@linkcode KernelGuardIf}, the allocation-free preemption
 * calls the guarded accessors make on every access, and what keeps them
 * exception-safe the way RAII keeps `kernel_guard`'s guards: a hook that
 * throws while a guard is being acquired leaves nothing acquired, a hook
 * that throws on release does not stop the rest of the release, and an
 * error of the guarded code is never lost to one of the release (both are
 * kept in a `SuppressedError`, as `using` does).
 *
 * A hook that throws is taken not to have done its work: a `disablePreempt`
 * that throws is not undone, an `enablePreempt` that throws is not retried.
 *
 * @module
 */

import type { KernelGuardIf } from "./guards.ts";

/** The four hooks of an interface, read once when it was installed. */
export interface GuardHooks {
  readonly disablePreempt: () => void;
  readonly enablePreempt: () => void;
  readonly localIrqSaveAndDisable?: () => number;
  readonly localIrqRestore?: (state: number) => void;
}

/** The interface as `setKernelGuardIf` was given it, for `kernelGuardIf()`. */
let source: KernelGuardIf | null = null;
/**
 * What guards and accessors call: the interface's methods as they were when
 * it was installed, each bound to it, so that an interface whose methods
 * change afterwards (a getter, a Proxy, a reassignment) cannot turn a
 * validated interface into one that fails in the middle of an access.
 */
let current: KernelGuardIf | null = null;

/**
 * Installs an interface whose hooks `setKernelGuardIf` has read and checked.
 *
 * @param impl The interface, or `null`.
 * @param hooks Its methods, as read once (ignored for `null`).
 * @returns The previous interface.
 */
export function install(
  impl: KernelGuardIf | null,
  hooks: GuardHooks | null,
): KernelGuardIf | null {
  const previous = source;
  source = impl;
  if (impl === null || hooks === null) {
    current = null;
    return previous;
  }
  const { disablePreempt, enablePreempt, localIrqSaveAndDisable, localIrqRestore } = hooks;
  const bound: KernelGuardIf = {
    disablePreempt: () => void disablePreempt.call(impl),
    enablePreempt: () => void enablePreempt.call(impl),
  };
  if (localIrqSaveAndDisable !== undefined && localIrqRestore !== undefined) {
    bound.localIrqSaveAndDisable = () => localIrqSaveAndDisable.call(impl);
    bound.localIrqRestore = (state) => void localIrqRestore.call(impl, state);
  }
  current = Object.freeze(bound);
  return previous;
}

/**
 * The installed interface, as it was given.
 *
 * @returns It, or `null`.
 */
export function installed(): KernelGuardIf | null {
  return source;
}

/**
 * The installed interface's hooks, bound to it as they were read when it
 * was installed: what guards acquire and release on.
 *
 * @returns They, or `null` when no interface is installed.
 */
export function active(): KernelGuardIf | null {
  return current;
}

/**
 * Installs again an interface and hooks read from {@linkcode installed} and
 * {@linkcode active}, without checking or binding them again. The simulator
 * swaps its kernel in and out around every step it takes; checking and
 * binding the kernel each time cost about an eighth of an exploration.
 *
 * @param impl What {@linkcode installed} returned.
 * @param hooks What {@linkcode active} returned while `impl` was installed.
 */
export function reinstall(impl: KernelGuardIf | null, hooks: KernelGuardIf | null): void {
  source = impl;
  current = hooks;
}

/**
 * Disables preemption without allocating a guard (the per-access path).
 * When `disablePreempt` throws, its error propagates and nothing is held.
 *
 * @returns The interface that was called, to pass to {@linkcode preemptOn}.
 */
export function preemptOff(): KernelGuardIf | null {
  const impl = current;
  impl?.disablePreempt();
  return impl;
}

/**
 * Re-enables preemption on the interface {@linkcode preemptOff} used.
 *
 * @param impl What `preemptOff` returned.
 */
export function preemptOn(impl: KernelGuardIf | null): void {
  impl?.enablePreempt();
}

/** The `SuppressedError` constructor, where the runtime has one (Node 20 does not). */
type SuppressedErrorClass = new (error: unknown, suppressed: unknown, message?: string) => Error;

/**
 * The error `using` throws when disposing fails after the block threw: the
 * disposal's error in `error`, the block's in `suppressed`.
 *
 * @param error What the release threw.
 * @param suppressed What the guarded code threw before.
 * @param what Who was releasing, for the message.
 * @returns A `SuppressedError` (or, without the global class, an `Error`
 *   named `SuppressedError` with the same two properties).
 */
export function suppressedError(error: unknown, suppressed: unknown, what: string): Error {
  const message =
    `${what}: releasing the guard threw after the guarded code had thrown; the release's error is .error, the guarded code's is .suppressed`;
  const Class = (globalThis as { SuppressedError?: SuppressedErrorClass }).SuppressedError;
  if (typeof Class === "function") return new Class(error, suppressed, message);
  const fallback = new Error(message) as Error & { error?: unknown; suppressed?: unknown };
  fallback.name = "SuppressedError";
  fallback.error = error;
  fallback.suppressed = suppressed;
  return fallback;
}

/**
 * Releases after the guarded code threw `thrown`, and gives back what to
 * throw: `thrown` itself, or a `SuppressedError` when the release threw too.
 *
 * @param release Undoes the acquisition.
 * @param thrown What the guarded code threw.
 * @param what Who was releasing, for the message.
 * @returns The error to throw.
 */
export function releaseAfter(release: () => void, thrown: unknown, what: string): unknown {
  try {
    release();
  } catch (error) {
    return suppressedError(error, thrown, what);
  }
  return thrown;
}

/**
 * Runs the second step of a release even when the first throws; an error of
 * the second is kept with the first's in a `SuppressedError`.
 *
 * @param first The first step (e.g. restoring IRQs).
 * @param second The step that must run anyway (e.g. enabling preemption).
 * @param what Who is releasing, for the message.
 */
export function releaseBoth(first: () => void, second: () => void, what: string): void {
  try {
    first();
  } catch (error) {
    throw releaseAfter(second, error, what);
  }
  second();
}
