/**
 * The installed {@linkcode KernelGuardIf}, and the allocation-free
 * preemption calls the guarded accessors make on every access.
 *
 * @module
 */

import type { KernelGuardIf } from "./guards.ts";

let current: KernelGuardIf | null = null;

/**
 * Installs an interface (already checked by `setKernelGuardIf`).
 *
 * @param impl The interface, or `null`.
 * @returns The previous one.
 */
export function install(impl: KernelGuardIf | null): KernelGuardIf | null {
  const previous = current;
  current = impl;
  return previous;
}

/**
 * The installed interface.
 *
 * @returns It, or `null`.
 */
export function installed(): KernelGuardIf | null {
  return current;
}

/**
 * Disables preemption without allocating a guard (the per-access path).
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
