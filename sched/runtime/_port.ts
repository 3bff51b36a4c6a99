/**
 * The explorer's port into a machine: what a schedule search needs that
 * users of {@linkcode Machine} never should (restarting it with new
 * decisions, fingerprinting its state). A machine opens its port when it is
 * built; nothing here is re-exported by `sched/mod.ts`.
 *
 * @module
 */

import type { CpuContext } from "../../lib/_cpu_context.ts";
import type { Decisions } from "./decisions.ts";
import type { Machine } from "./machine.ts";

/** A machine's internals, as the explorer sees them. */
export interface MachinePort {
  /** Starts over with no tasks and new decisions (re-initialises the areas). */
  reset(decisions: Decisions): void;
  /** A 53-bit fingerprint of everything that decides what happens next. */
  stateHash(extra: number): number;
  /** Changes whenever a run queue gains a task. */
  readonly queueEpoch: number;
  /** Each simulated CPU's registers. */
  readonly cpuContexts: readonly CpuContext[];
}

const ports = new WeakMap<Machine, MachinePort>();

/**
 * Registers a machine's port (called once, by its constructor).
 *
 * @param machine The machine.
 * @param port Its internals.
 */
export function openMachinePort(machine: Machine, port: MachinePort): void {
  ports.set(machine, port);
}

/**
 * The port of a machine.
 *
 * @param machine A machine.
 * @returns Its internals.
 */
export function machinePort(machine: Machine): MachinePort {
  return ports.get(machine)!;
}
