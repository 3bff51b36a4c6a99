/**
 * Direct handles on a system's core port for the simulator's hot paths.
 * The port is a plain object whose accessors V8 keeps in dictionary mode,
 * where each `port.context = c` costs over 100 ns and each read tens; the
 * accessor and method functions themselves, fetched once, cost a few.
 *
 * @module
 */

import type { CpuContext } from "../../lib/_cpu_context.ts";
import type { CorePort } from "../../lib/_port.ts";

/** The port's hot members, as plain functions. */
export interface CoreHandles {
  /** The system's current CPU registers (what its accessors use). */
  getContext(): CpuContext;
  /** Makes a CPU's registers the system's current ones. */
  setContext(context: CpuContext): void;
  /** Counts the system's `init()`s: a change means its areas were set up again. */
  epoch(): number;
  /** The CPU whose area holds an address, or −1. */
  cpuOfAddress(address: number): number;
}

/** The descriptor of `key` on `object` or its prototype chain. */
function descriptorOf(object: object, key: string): PropertyDescriptor | undefined {
  for (let o: object | null = object; o !== null; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, key);
    if (descriptor !== undefined) return descriptor;
  }
  return undefined;
}

/**
 * The handles of a port.
 *
 * @param port A system's port.
 * @returns Its hot members as functions bound to it.
 */
export function coreHandles(port: CorePort): CoreHandles {
  const context = descriptorOf(port, "context");
  const epoch = descriptorOf(port, "epoch");
  const get = context?.get;
  const set = context?.set;
  const readEpoch = epoch?.get;
  const cpuOfAddress = port.cpuOfAddress;
  return {
    getContext: get ? () => get.call(port) : () => port.context,
    setContext: set ? (c) => set.call(port, c) : (c) => void (port.context = c),
    epoch: readEpoch ? () => readEpoch.call(port) : () => port.epoch,
    cpuOfAddress: (address) => cpuOfAddress.call(port, address),
  };
}

/**
 * Which CPU's registers the system's accessors use: switched only when a
 * different CPU's task code is about to run (task code may call the core
 * accessors, which act on the CPU running it).
 */
export class CurrentContext {
  readonly #handles: CoreHandles;
  /** The context installed last by {@linkcode CurrentContext.ensure}, or `null` when unknown. */
  #installed: CpuContext | null = null;

  /**
   * Creates the switch.
   *
   * @param handles The system's port handles.
   */
  constructor(handles: CoreHandles) {
    this.#handles = handles;
  }

  /**
   * Makes `context` the system's current one.
   *
   * @param context A CPU's registers.
   */
  ensure(context: CpuContext): void {
    if (this.#installed !== context) {
      this.#handles.setContext(context);
      this.#installed = context;
    }
  }

  /** Forgets what was installed (someone else may have changed it). */
  forget(): void {
    this.#installed = null;
  }
}
