/**
 * The register state of one CPU as far as per-CPU data cares: the per-CPU
 * register and the other registers it could be confused with (AArch64's
 * `TPIDR_EL1` and `TPIDR_EL2`).
 *
 * @module
 */

import type { PercpuRegName } from "./arch.ts";
import type { Region } from "./_memory.ts";

/**
 * One CPU's registers. A `Percpu` system has one current context; the
 * simulator gives each simulated CPU its own and switches between them.
 * Made through the system's port (`createCpuContext()`).
 */
export class CpuContext {
  /** Which register holds the per-CPU area base. */
  readonly percpuReg: PercpuRegName;
  /**
   * The region the register points into, resolved by the owning system
   * whenever the register or the memory map changes; `null` when it does not
   * point at a mapped area. It stays a region that was unmapped since (its
   * `released` says why) until the register is written again, so accesses
   * through it fault rather than reach whatever is mapped there later.
   *
   * @ignore
   */
  area: Region | null = null;
  /**
   * Byte index into `area`'s buffer of the area base.
   *
   * @ignore
   */
  byte = 0;
  #reg = 0;
  readonly #others = new Map<PercpuRegName, number>();
  readonly #retarget: (context: CpuContext) => void;

  /**
   * Creates a context whose per-CPU register is 0.
   *
   * @param percpuReg The per-CPU register's name.
   * @param retarget Called after the register changes, to resolve `area`.
   */
  constructor(percpuReg: PercpuRegName, retarget: (context: CpuContext) => void) {
    this.percpuReg = percpuReg;
    this.#retarget = retarget;
    retarget(this);
  }

  /** The per-CPU register's raw value (under `non-zero-vma`, base − VMA). */
  get reg(): number {
    return this.#reg;
  }

  set reg(value: number) {
    this.#reg = value;
    this.#retarget(this);
  }

  /**
   * Reads a register by name.
   *
   * @param name A register name.
   * @returns Its raw value (0 if never written).
   */
  readSysreg(name: PercpuRegName): number {
    return name === this.percpuReg ? this.#reg : this.#others.get(name) ?? 0;
  }

  /**
   * Writes a register by name, as an `msr` would. Writing a register other
   * than the per-CPU one leaves per-CPU accesses alone: that is what the
   * `arm-el2` feature relies on when a guest owns `TPIDR_EL1`.
   *
   * @param name A register name.
   * @param value The raw value.
   */
  writeSysreg(name: PercpuRegName, value: number): void {
    if (name === this.percpuReg) this.reg = value;
    else this.#others.set(name, value);
  }
}
