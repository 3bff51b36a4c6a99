/**
 * What `Percpu` delegates to: one implementation per feature set, chosen
 * once when the system is built, as the crate picks `imp.rs`, `naive.rs` or
 * its custom-base module with `cfg_if`.
 *
 * @module
 */

import type { CpuContext } from "./_cpu_context.ts";
import type { DynamicAreas } from "./_dynamic.ts";
import type { AddressSpace } from "./_memory.ts";
import type { PercpuSymbols } from "./percpu.ts";
import type { VarHost } from "./percpu_var.ts";
import type { Type, TypeLayout } from "./types.ts";

/** Where a new variable goes. */
export interface Definition {
  /** Offset from an area base (the address under sp-naive). */
  readonly offset: number;
  /** `X.symbol_vma()`. */
  readonly vma: number;
  /** Size and alignment. */
  readonly layout: TypeLayout;
}

/** One implementation of the crate's API. */
export interface Implementation {
  /** What the variables use: the current context, faults, area bases. */
  readonly host: VarHost;
  /** The simulated address space. */
  readonly memory: AddressSpace;
  /** Whether the layout is fixed (definitions are refused). */
  readonly frozen: boolean;
  /** Counts set-ups of the areas (0 before the first). */
  readonly epoch: number;
  /** Number of areas set up (1 under sp-naive). */
  readonly areaCount: number;
  /** The most CPUs the system can have. */
  readonly cpuLimit: number;
  /** Dynamic per-CPU allocation (`allocPercpu`), or `null` where there are no areas. */
  readonly dynamic: DynamicAreas | null;
  /** The current context (the simulator swaps it per CPU). */
  current: CpuContext;
  /** A fresh CPU context. */
  createCpuContext(): CpuContext;
  /** The CPU owning an address (its area or dynamic unit), or −1. */
  cpuOfAddress(address: number): number;
  /**
   * Places a variable (its name, type and value are checked already).
   *
   * @throws {DefinitionError} `TooLarge` when the section cannot hold it.
   */
  define(name: string, type: Type, init: unknown): Definition;
  /** `init(cpu_count)`. */
  init(cpuCount: unknown, memory: unknown): number;
  /** `init_in_place()`. */
  initInPlace(): number;
  /** Adopts areas another system set up. */
  attach(cpuCount: unknown, memory: unknown): number;
  /** `percpu_area_num()`. */
  areaNum(): number;
  /** `percpu_area_size()`. */
  areaSize(): number;
  /** `percpu_area_base(cpu)`, the id checked, `who` naming the caller. */
  areaBase(cpu: unknown, who: string): number;
  /** `percpu_area_layout_expected(count).size`. */
  layoutExpected(count: number): number;
  /** `read_percpu_reg()`. */
  readReg(): number;
  /** `write_percpu_reg(address)`. */
  writeReg(address: unknown): void;
  /** `init_percpu_reg(cpu)`. */
  initReg(cpu: unknown): void;
  /** The section's linker symbols. */
  symbols(): PercpuSymbols;
  /** The linker script snippet for `cpuNum` areas. */
  linkerScript(cpuNum: number): string;
}
