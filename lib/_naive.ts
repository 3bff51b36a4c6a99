/**
 * The crate's `sp-naive` implementation (`naive.rs`): one CPU, and every
 * per-CPU variable a plain global in `.data`. As in the crate there is no
 * register and no area: `percpu_area_base` is 0 for any CPU,
 * `init_percpu_reg` and `write_percpu_reg` do nothing, `read_percpu_reg` is
 * 0, `init`/`init_in_place` ignore their arguments and return 1, and a
 * remote access to any CPU reaches the one global.
 *
 * @module
 */

import { checkInteger } from "./_check.ts";
import { CpuContext } from "./_cpu_context.ts";
import { hex } from "./_describe.ts";
import { DefinitionError, FaultError } from "./errors.ts";
import type { Definition, Implementation } from "./_implementation.ts";
import { ADDRESS_MAP, MAX_AREA_SIZE } from "./layout.ts";
import { linkerScriptFor } from "./linker_script.ts";
import { AddressSpace, Region, resolveOrFault } from "./_memory.ts";
import type { ResolvedOptions } from "./_options.ts";
import type { PercpuSymbols } from "./percpu.ts";
import { createHost, type VarHost } from "./percpu_var.ts";
import { alignUp, layoutOf, type Type } from "./types.ts";
import { writeValue } from "./_value_codec.ts";

/** Globals live from `.data` up to where the `.percpu` section would start. */
const DATA_LIMIT = ADDRESS_MAP.percpuStart - ADDRESS_MAP.data;

/** The crate's single-CPU implementation. */
export class NaiveImplementation implements Implementation {
  readonly host: VarHost;
  readonly memory: AddressSpace = new AddressSpace(ADDRESS_MAP.heap);
  readonly dynamic: null = null;
  readonly epoch: number = 0;
  readonly areaCount: number = 1;
  readonly cpuLimit: number = 1;
  readonly #options: ResolvedOptions;
  readonly #data: Region;
  #frozen = false;

  /**
   * Builds the implementation.
   *
   * @param options The checked options.
   */
  constructor(options: ResolvedOptions) {
    this.#options = options;
    const buffer = new ArrayBuffer(0, { maxByteLength: MAX_AREA_SIZE });
    this.#data = this.memory.mapFixed(new Region(".data", ADDRESS_MAP.data, buffer, 0, 0));
    const memory = this.memory;
    this.host = createHost({
      pointerBytes: options.pointerBytes,
      table: options.table,
      forms: "sp-naive",
      preempt: options.preempt,
      loadStart: null,
      selfPtrVma: 0,
      percpuReg: options.percpuReg,
      context: this.createCpuContext(),
      unmaps: 0,
      // Contexts always point at .data, so no access reaches this.
      fault: (_context, who) => new FaultError(0, `${who}: sp-naive globals are always mapped`),
      currentPtrBase: () => 0,
      areaBase: (cpu, who) => this.areaBase(cpu, who),
      resolve: (address, size, align, who) => resolveOrFault(memory, address, size, align, who),
      cpuOfAddress: (address) => this.cpuOfAddress(address),
    });
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  get current(): CpuContext {
    return this.host.context;
  }

  set current(context: CpuContext) {
    this.host.context = context;
  }

  /** Every context sees the globals: there is no register to point anywhere else. */
  createCpuContext(): CpuContext {
    const data = this.#data;
    return new CpuContext(this.#options.percpuReg, (context) => {
      context.area = data;
      context.byte = data.bias;
    });
  }

  cpuOfAddress(address: number): number {
    return this.#data.contains(address, 1) ? 0 : -1;
  }

  define(name: string, type: Type, init: unknown): Definition {
    const data = this.#data;
    const layout = layoutOf(type, this.#options.pointerBytes);
    const offset = alignUp(data.end, layout.align);
    const end = offset + layout.size - ADDRESS_MAP.data;
    if (end > DATA_LIMIT) {
      throw new DefinitionError(
        "TooLarge",
        `defPercpu: ${name} would end at offset ${hex(end)}; .data is limited to ${
          hex(DATA_LIMIT)
        } bytes`,
      );
    }
    data.grow(end);
    writeValue(type, data, offset + data.bias, init, this.#options.pointerBytes);
    return { offset, vma: offset, layout };
  }

  /** `init(base, cpu_count)`: the crate ignores both and returns 1. */
  init(cpuCount: unknown): number {
    checkInteger(cpuCount, "init: cpuCount", 0);
    this.#frozen = true;
    return 1;
  }

  attach(cpuCount: unknown): number {
    checkInteger(cpuCount, "attach: cpuCount", 0);
    this.#frozen = true;
    return 1;
  }

  initInPlace(): number {
    this.#frozen = true;
    return 1;
  }

  areaNum(): number {
    return 1;
  }

  areaSize(): number {
    return 0;
  }

  /** `percpu_area_base(_)`: 0 for any CPU id (the id must still be a `usize`). */
  areaBase(cpu: unknown, who: string): number {
    checkInteger(cpu, `${who}: the CPU id`, 0);
    return 0;
  }

  layoutExpected(count: number): number {
    checkInteger(count, "percpuAreaLayoutExpected: cpuCount", 0);
    return 0;
  }

  readReg(): number {
    return 0;
  }

  /** `write_percpu_reg(_)`: does nothing (the address must still be a `usize`). */
  writeReg(address: unknown): void {
    const limit = this.#options.pointerBytes === 4 ? 0xffff_ffff : Number.MAX_SAFE_INTEGER;
    checkInteger(address, "writePercpuReg: the address", 0, limit);
  }

  /** `init_percpu_reg(_)`: does nothing (the id must still be a `usize`). */
  initReg(cpu: unknown): void {
    checkInteger(cpu, "initPercpuReg: the CPU id", 0);
  }

  symbols(): PercpuSymbols {
    const start = ADDRESS_MAP.percpuStart;
    return Object.freeze({
      _percpu_start: start,
      _percpu_end: start,
      _percpu_load_start: 0,
      _percpu_load_end: 0,
    });
  }

  linkerScript(cpuNum: number): string {
    return linkerScriptFor({ cpuNum, variant: "sp-naive", vma: 0 });
  }
}
