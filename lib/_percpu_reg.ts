/**
 * The per-CPU register of a system with areas: the register contexts (the
 * system's current one and every simulated CPU's), which area each one's
 * register points at, `read_percpu_reg` / `write_percpu_reg`, and x86_64's
 * `SELF_PTR` slot, where `write_percpu_reg` also stores the base so that
 * `current_ptr` can read it through `gs:` instead of the privileged MSR.
 *
 * @module
 */

import type { PercpuRegName } from "./arch.ts";
import type { Areas } from "./_areas.ts";
import { CpuContext } from "./_cpu_context.ts";
import { hex, valueText } from "./_describe.ts";
import { FaultError } from "./errors.ts";
import { scalarCodec } from "./_scalar_codec.ts";

/** `SELF_PTR` is a `usize`; x86_64 is the only arch that has it. */
const SELF_PTR_CODEC = scalarCodec("usize", 8);

/** What the register of one system is like. */
export interface RegisterOptions {
  /** The register's name. */
  readonly percpuReg: PercpuRegName;
  /** `usize` width: the register's range. */
  readonly pointerBytes: 4 | 8;
  /**
   * Added to the register's raw value to give the area base: the section's
   * VMA under `non-zero-vma` (the register holds base − VMA), else 0.
   */
  readonly areaBias: number;
  /**
   * Subtracted from the register's raw value to give what a variable's
   * symbol VMA is added to in `current_ptr`: custom-base's link start (its
   * register holds the plain base and its offsets are address − link
   * start), else 0.
   */
  readonly vmaShift: number;
  /**
   * x86_64's `SELF_PTR`: its offset in every area, and whether
   * `read_percpu_reg`/`current_ptr` read it (the crate's multi-CPU
   * implementation; custom-base reads `GS_BASE` itself). `null` elsewhere.
   */
  readonly selfPtr: { readonly offset: number; readonly reads: boolean } | null;
}

/** Where the register keeps the system's current context (the accessors' host). */
export interface CurrentHolder {
  /** The context the accessors use now. */
  context: CpuContext;
}

/** The per-CPU register of a system with areas. */
export class PercpuRegister {
  readonly #options: RegisterOptions;
  readonly #areas: Areas;
  /**
   * Contexts whose register points at no mapped area: only these can change
   * resolution when memory is mapped. (A context whose area was unmapped
   * keeps it, and faults, until its register is written.)
   */
  readonly #unresolved = new Set<CpuContext>();
  #holder: CurrentHolder | null = null;

  /**
   * Creates the register of a system.
   *
   * @param options Its name, range, biases and `SELF_PTR`.
   * @param areas The areas it points into.
   */
  constructor(options: RegisterOptions, areas: Areas) {
    this.#options = options;
    this.#areas = areas;
  }

  /**
   * Makes `holder.context` the system's current context (called once, with
   * the accessors' host).
   *
   * @param holder The host; its `context` must be one of this register's.
   */
  bind(holder: CurrentHolder): void {
    this.#holder = holder;
  }

  /** The current context. */
  get current(): CpuContext {
    return this.#holder!.context;
  }

  set current(context: CpuContext) {
    this.#holder!.context = context;
  }

  /**
   * A fresh CPU context (register 0).
   *
   * @returns The context.
   */
  createCpuContext(): CpuContext {
    return new CpuContext(this.#options.percpuReg, (c) => this.#retarget(c));
  }

  /** Resolves the contexts that pointed at no area, after the areas were set up. */
  retargetAll(): void {
    for (const context of this.#unresolved) this.#retarget(context);
  }

  #retarget(context: CpuContext): void {
    const base = context.reg + this.#options.areaBias;
    const layout = this.#areas.layout;
    const current = context.area;
    const region = current !== null && current.released === null &&
        base % layout.align === 0 && current.contains(base, layout.size)
      ? current
      : this.#areas.areaAt(base);
    context.area = region;
    context.byte = region === null ? 0 : base + region.bias;
    if (region === null) this.#unresolved.add(context);
    else this.#unresolved.delete(context);
  }

  /**
   * `read_percpu_reg()`: the current CPU's area base (on x86_64 read from
   * the `SELF_PTR` slot through `gs:`).
   *
   * @returns The base.
   * @throws {FaultError} On x86_64 when `GS_BASE` does not point at an area.
   */
  read(): number {
    return this.#raw("readPercpuReg") + this.#options.areaBias;
  }

  /** The register's raw value, from `SELF_PTR` where the crate reads it there. */
  #raw(who: string): number {
    const context = this.current;
    const area = context.area;
    if (area !== null && area.released !== null) throw this.fault(context, who);
    const selfPtr = this.#options.selfPtr;
    if (selfPtr === null || !selfPtr.reads) return context.reg;
    if (area === null) throw this.fault(context, who);
    return SELF_PTR_CODEC.read(area, context.byte + selfPtr.offset) as number;
  }

  /**
   * What `current_ptr` adds a symbol's VMA to.
   *
   * @param who The caller, for the fault.
   * @returns The value.
   * @throws {FaultError} On x86_64 when `GS_BASE` does not point at an area.
   */
  currentPtrBase(who: string): number {
    return this.#raw(who) - this.#options.vmaShift;
  }

  /**
   * `write_percpu_reg(address)`: points the current CPU's register at an
   * area base; on x86_64 also stores it in that area's `SELF_PTR`.
   *
   * @param address The new area base.
   * @throws {TypeError} When `address` is not a number.
   * @throws {RangeError} When it is not an address of this architecture.
   * @throws {FaultError} On x86_64 when it is not a mapped area. Nothing changes.
   */
  write(address: unknown): void {
    const { areaBias, pointerBytes, selfPtr } = this.#options;
    if (typeof address !== "number") {
      throw new TypeError(
        `writePercpuReg: the address must be a number, got ${valueText(address)}`,
      );
    }
    const limit = pointerBytes === 4 ? 0xffff_ffff : Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(address) || address < areaBias || address > limit) {
      throw new RangeError(
        `writePercpuReg: the address must be an integer from ${hex(areaBias)} to ${hex(limit)}${
          areaBias ? " (non-zero-vma stores it minus _percpu_load_start)" : ""
        }, got ${valueText(address)}`,
      );
    }
    const raw = address - areaBias;
    if (selfPtr === null) {
      this.current.reg = raw;
      return;
    }
    const region = this.#areas.areaAt(address);
    if (region === null) {
      throw new FaultError(
        address,
        `writePercpuReg: ${
          hex(address)
        } is not a mapped per-CPU area, so x86_64 cannot store it in SELF_PTR`,
      );
    }
    this.current.reg = raw;
    SELF_PTR_CODEC.write(region, address + region.bias + selfPtr.offset, raw);
  }

  /**
   * The fault of an access through a register that points at no area.
   *
   * @param context The registers.
   * @param who The accessor, e.g. `X.readCurrent`.
   * @returns The error, naming the register, its value and what to call.
   */
  fault(context: CpuContext, who: string): FaultError {
    const { areaBias, percpuReg } = this.#options;
    const raw = context.reg;
    const base = raw + areaBias;
    const shown = areaBias ? `${hex(raw)} (area base ${hex(base)})` : hex(raw);
    const released = context.area?.released ?? null;
    if (released !== null) {
      return new FaultError(
        base,
        `${who}: the per-CPU register ${percpuReg} holds ${shown}, an area whose memory is no longer mapped (${released}); call initPercpuReg(cpuId) again`,
      );
    }
    const layout = this.#areas.layout;
    const hint = this.#areas.ready
      ? "call initPercpuReg(cpuId) first"
      : "call init() or initInPlace(), then initPercpuReg(cpuId)";
    return new FaultError(
      base,
      `${who}: the per-CPU register ${percpuReg} holds ${shown}, which is not the base of a mapped per-CPU area (${layout.size} bytes, aligned to ${layout.align}); ${hint}`,
    );
  }
}
