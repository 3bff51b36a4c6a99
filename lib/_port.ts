/**
 * The simulator's port into the core: what `sched/` (and the `./isa` entry
 * point) need from a per-CPU system that ordinary users never should — its
 * simulated address space, its CPU register contexts, its architecture table
 * and the access programs of its variables. A system opens its port when it
 * is built; nothing here is re-exported by `mod.ts`.
 *
 * @module
 */

import type { AccessOp, AccessProgram, ProgramOptions } from "./isa/access_program.ts";
import type { ArchTable } from "./isa/isa.ts";
import type { AddressSpace } from "./_memory.ts";
import type { CpuContext } from "./_cpu_context.ts";
import { valueText } from "./_describe.ts";
import type { DynamicFingerprint } from "./_dynamic.ts";

/**
 * What {@linkcode CorePort.cpuOfAddress} answers for ordinary shared data
 * that is not per-CPU at all (a dynamic object's pointer variable): no CPU's
 * access to it is a wrong-CPU access.
 */
export const NOT_PERCPU = -2;

/** Dynamic per-CPU objects, as Workers share them. */
export interface DynamicPort {
  /** The chunks' memory, one `SharedArrayBuffer` per chunk (the areas must be shared). */
  shared(): SharedArrayBuffer[];
  /**
   * Maps the chunks onto another system's shared chunks, keeping their contents.
   *
   * @throws {RangeError} When a buffer is missing or too small. Nothing changes.
   */
  adopt(buffers: readonly SharedArrayBuffer[]): void;
  /** The live objects' names, types and places, in allocation order. */
  fingerprint(): DynamicFingerprint[];
}

/** A system's internals, as the simulator sees them. */
export interface CorePort {
  /** The architecture's access-sequence table. */
  readonly table: ArchTable;
  /** The simulated address space holding the section and the areas. */
  readonly memory: AddressSpace;
  /** The registers the accessors use now: the current CPU's. */
  context: CpuContext;
  /** A fresh CPU register context (register 0) of this system. */
  createCpuContext(): CpuContext;
  /**
   * The CPU whose area (or dynamic unit) holds an address, −1 for none,
   * {@linkcode NOT_PERCPU} for shared data; 0 for `sp-naive` globals.
   */
  cpuOfAddress(address: number): number;
  /** Number of areas the last `init()`/`initInPlace()`/`attach()` set up (1 under `sp-naive`). */
  readonly areaCount: number;
  /**
   * Counts `init()`, `initInPlace()` and `attach()` calls that changed the
   * areas, so a machine can tell that its system was set up again under it.
   */
  readonly epoch: number;
  /** The most CPUs this system can have: 1 under `sp-naive` (the one place that rule lives). */
  readonly cpuLimit: number;
  /** Whether a variable was defined (or allocated, and not freed) by this system. */
  owns(variable: unknown): boolean;
  /** Dynamic per-CPU objects, or `null` under `sp-naive`. */
  readonly dynamic: DynamicPort | null;
}

/** Builds a variable's access programs. */
export type ProgramSource = (op: AccessOp, options?: ProgramOptions) => AccessProgram;

const ports = new WeakMap<object, CorePort>();
const programs = new WeakMap<object, ProgramSource>();

/**
 * Registers a system's port (called once, by the system's constructor).
 *
 * @param system The system.
 * @param port Its internals.
 */
export function openPort(system: object, port: CorePort): void {
  ports.set(system, port);
}

/**
 * The port of a system.
 *
 * @param system A system made by `createPercpu`.
 * @returns Its internals.
 * @throws {TypeError} When `system` is not such a system.
 */
export function portOf(system: unknown): CorePort {
  const port = typeof system === "object" && system !== null ? ports.get(system) : undefined;
  if (port === undefined) {
    throw new TypeError(
      `expected a per-CPU system made by createPercpu(), got ${valueText(system)}`,
    );
  }
  return port;
}

/**
 * Registers how a variable's access programs are built (called once, by the
 * variable's constructor).
 *
 * @param variable The variable.
 * @param source Builds (and caches) its programs.
 */
export function registerPrograms(variable: object, source: ProgramSource): void {
  programs.set(variable, source);
}

/**
 * The instructions of one access to a variable, as the simulator executes
 * them and `disassemble()` prints them.
 *
 * @param variable A variable made by `defPercpu`.
 * @param op Which access.
 * @param options The remote CPU, the closure name.
 * @returns The program (cached per op and options).
 * @throws {TypeError} When `variable` is not a per-CPU variable.
 * @throws {RangeError} On an op the variable does not have.
 */
export function programOf(
  variable: unknown,
  op: AccessOp,
  options?: ProgramOptions,
): AccessProgram {
  const source = typeof variable === "object" && variable !== null
    ? programs.get(variable)
    : undefined;
  if (source === undefined) {
    throw new TypeError(
      `expected a per-CPU variable made by defPercpu() or allocPercpu(), got ${
        valueText(variable)
      }`,
    );
  }
  return source(op, options);
}
