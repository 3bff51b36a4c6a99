/**
 * The crate's multi-CPU implementation (`imp.rs`): one area per CPU,
 * `stride` bytes apart from one base, each CPU's register holding the base
 * of its own area (minus the section's VMA under `non-zero-vma`).
 * custom-base (`_custom_base.ts`) is the same machinery with other bases,
 * offsets and symbols.
 *
 * @module
 */

import type { AccessForms } from "./isa/access_program.ts";
import { Areas, type AreaSource, checkMemory } from "./_areas.ts";
import { checkInteger } from "./_check.ts";
import type { CpuContext } from "./_cpu_context.ts";
import { hex, valueText } from "./_describe.ts";
import { DynamicAreas } from "./_dynamic.ts";
import { DefinitionError, NotInitializedError } from "./errors.ts";
import type { Definition, Implementation } from "./_implementation.ts";
import { ADDRESS_MAP, MAX_AREA_SIZE } from "./layout.ts";
import { linkerScriptFor } from "./linker_script.ts";
import { type AddressSpace, type Region, resolveOrFault } from "./_memory.ts";
import { checkCpuCount, MAX_CPUS, type ResolvedOptions } from "./_options.ts";
import { PercpuRegister } from "./_percpu_reg.ts";
import type { PercpuSymbols } from "./percpu.ts";
import { createHost, type VarHost } from "./percpu_var.ts";
import type { Type } from "./types.ts";
import { writeValue } from "./_value_codec.ts";

const OWN: AreaSource = Object.freeze({ kind: "own" });
const SECTION: AreaSource = Object.freeze({ kind: "section" });

/** How an implementation with areas links and addresses its variables. */
export interface AreaShape {
  /** Areas the linker script reserves in the section. */
  readonly sectionCopies: number;
  /** Added to the register's raw value to give an area base. */
  readonly areaBias: number;
  /** `_percpu_load_start`: a variable's offset is its VMA minus this. */
  readonly linkStart: number;
  /** Subtracted from the register's value before a symbol VMA is added (`current_ptr`). */
  readonly vmaShift: number;
  /**
   * What `symbol_vma()` yields for a link address: the arch table's
   * materialisation (AArch64's single `movz` keeps 16 bits) where the crate
   * uses asm, the address itself where it computes in Rust.
   */
  readonly symbolVma: (vma: number) => number;
  /** Whether `read_percpu_reg`/`current_ptr` read x86_64's `SELF_PTR` (not the MSR). */
  readonly selfPtrReads: boolean;
  /** The sequences its variables compile to. */
  readonly forms: AccessForms;
}

/** The crate's multi-CPU implementation. */
export class ImpImplementation implements Implementation {
  readonly host: VarHost;
  readonly dynamic: DynamicAreas;
  readonly cpuLimit: number = MAX_CPUS;
  /** The checked options. */
  protected readonly options: ResolvedOptions;
  /** How it links and addresses. */
  protected readonly shape: AreaShape;
  /** The areas. */
  protected readonly areas: Areas;
  /** The per-CPU register. */
  protected readonly register: PercpuRegister;
  readonly #defs: { type: Type; offset: number; init: unknown }[] = [];
  readonly #writeTemplateFn = (section: Region): void => this.#writeTemplate(section);

  /**
   * Builds the implementation for a feature set.
   *
   * @param options The checked options.
   * @param shape How it links and addresses (default: the crate's `imp.rs`).
   */
  constructor(options: ResolvedOptions, shape?: AreaShape) {
    const vma = options.nonZeroVma ? ADDRESS_MAP.nonZeroVma : 0;
    this.options = options;
    const table = options.table;
    this.shape = shape ?? {
      sectionCopies: options.cpuNum,
      // The crate's write_percpu_reg stores tp − symbol_vma(_percpu_load_start),
      // materialised like any symbol: on AArch64 both truncate to 16 bits and cancel.
      areaBias: table.symbolVma(vma),
      linkStart: vma,
      vmaShift: 0,
      symbolVma: (at) => table.symbolVma(at),
      selfPtrReads: true,
      forms: "imp",
    };
    this.areas = new Areas(options.pointerBytes, this.shape.sectionCopies);
    const selfPtr = options.table.selfPtr;
    this.register = new PercpuRegister({
      percpuReg: options.percpuReg,
      pointerBytes: options.pointerBytes,
      areaBias: this.shape.areaBias,
      vmaShift: this.shape.vmaShift,
      selfPtr: selfPtr ? { offset: 0, reads: this.shape.selfPtrReads } : null,
    }, this.areas);
    const memory = this.areas.memory;
    this.host = createHost({
      pointerBytes: options.pointerBytes,
      table: options.table,
      forms: this.shape.forms,
      preempt: options.preempt,
      loadStart: this.shape.linkStart === 0 ? null : this.shape.linkStart,
      selfPtrVma: selfPtr ? this.vmaOf(0) - this.shape.vmaShift : 0,
      percpuReg: options.percpuReg,
      context: this.register.createCpuContext(),
      unmaps: 0,
      fault: (context, who) => this.register.fault(context, who),
      currentPtrBase: (who) => this.register.currentPtrBase(who),
      areaBase: (cpu, who) => this.areaBase(cpu, who),
      resolve: (address, size, align, who) => resolveOrFault(memory, address, size, align, who),
      cpuOfAddress: (address) => this.cpuOfAddress(address),
    });
    this.register.bind(this.host);
    this.dynamic = new DynamicAreas({
      areas: this.areas,
      register: this.register,
      host: this.host,
      areaBias: this.shape.areaBias,
      // A dynamic pointer is a run-time value, not a materialised symbol: what
      // current_ptr adds to the register's value to reach `offset` in the area.
      vmaOf: (offset) => offset + this.shape.areaBias + this.shape.vmaShift,
      freeze: () => this.areas.freeze(this.#writeTemplateFn, "allocPercpu"),
    });
  }

  /** Whether the arch's `SELF_PTR` must be defined first (its offset is 0). */
  get selfPtr(): boolean {
    return this.options.table.selfPtr;
  }

  get memory(): AddressSpace {
    return this.areas.memory;
  }

  get frozen(): boolean {
    return this.areas.frozen;
  }

  get epoch(): number {
    return this.areas.epoch;
  }

  get areaCount(): number {
    return this.areas.count;
  }

  get current(): CpuContext {
    return this.register.current;
  }

  set current(context: CpuContext) {
    this.register.current = context;
  }

  createCpuContext(): CpuContext {
    return this.register.createCpuContext();
  }

  cpuOfAddress(address: number): number {
    const cpu = this.areas.cpuOfAddress(address);
    return cpu < 0 ? this.dynamic.cpuOfAddress(address) : cpu;
  }

  /**
   * `symbol_vma` of an offset.
   *
   * @param offset Offset from an area base.
   * @returns The VMA.
   */
  vmaOf(offset: number): number {
    return this.shape.symbolVma(this.shape.linkStart + offset);
  }

  define(name: string, type: Type, init: unknown): Definition {
    const layout = this.areas.layout;
    const placed = layout.peek(type);
    const end = placed.offset + placed.layout.size;
    const archLimit = this.options.table.sectionLimit;
    const limit = archLimit?.bytes ?? MAX_AREA_SIZE;
    if (end > limit) {
      throw new DefinitionError(
        "TooLarge",
        `defPercpu: ${name} would end at offset ${hex(end)}; ${
          archLimit?.why ?? `the section is limited to ${hex(limit)} bytes`
        }`,
      );
    }
    layout.place(type);
    this.#defs.push({ type, offset: placed.offset, init });
    return { offset: placed.offset, vma: this.vmaOf(placed.offset), layout: placed.layout };
  }

  #writeTemplate(section: Region): void {
    for (const def of this.#defs) {
      writeValue(def.type, section, def.offset, def.init, this.options.pointerBytes);
    }
  }

  init(cpuCount: unknown, memory: unknown): number {
    const count = checkCpuCount(cpuCount, "init: cpuCount", 0);
    const size = this.areas.checkSize(count, "init");
    const source: AreaSource = memory === undefined
      ? OWN
      : { kind: "memory", at: checkMemory(memory, size, "init") };
    this.setUp(count, source, true, "init");
    return count;
  }

  attach(cpuCount: unknown, memory: unknown): number {
    const count = checkCpuCount(cpuCount, "attach: cpuCount", 0);
    const size = this.areas.checkSize(count, "attach");
    this.setUp(count, { kind: "memory", at: checkMemory(memory, size, "attach") }, false, "attach");
    return count;
  }

  initInPlace(): number {
    this.setUp(this.shape.sectionCopies, SECTION, true, "initInPlace");
    return this.areaNum();
  }

  /**
   * Sets the areas up: the dynamic chunks' memory is allocated first, then
   * the areas, so a failure changes nothing; then every register context
   * and dynamic object follows the areas.
   *
   * @param count Number of areas.
   * @param source Where they go (checked).
   * @param copy Whether the template is copied.
   * @param what The caller, for messages.
   */
  protected setUp(count: number, source: AreaSource, copy: boolean, what: string): void {
    const areas = this.areas;
    const shared = typeof SharedArrayBuffer === "function" &&
      (source.kind === "memory"
        ? source.at.buffer instanceof SharedArrayBuffer
        : source.kind === "bases" && source.at[0]?.buffer instanceof SharedArrayBuffer);
    const plan = this.dynamic.prepare(count, source, shared);
    areas.setUp(count, source, copy, this.#writeTemplateFn, what);
    this.register.retargetAll();
    this.dynamic.commit(plan, copy);
    this.host.unmaps = areas.memory.unmaps;
  }

  areaNum(): number {
    return this.options.cpuNum;
  }

  areaSize(): number {
    return this.areas.layout.size;
  }

  areaBase(cpu: unknown, who: string): number {
    const areas = this.areas;
    if (!areas.ready) {
      throw new NotInitializedError(
        `${who}: PerCPU area base address not set; call init() or initInPlace() first`,
      );
    }
    if (typeof cpu !== "number") {
      throw new TypeError(`${who}: the CPU id must be a number, got ${valueText(cpu)}`);
    }
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= areas.count) {
      throw new RangeError(
        `${who}: CPU id ${valueText(cpu)} is out of range; ${areas.idsText()}`,
      );
    }
    return areas.baseOf(cpu);
  }

  layoutExpected(count: number): number {
    return checkInteger(count, "percpuAreaLayoutExpected: cpuCount", 0) * this.areas.layout.stride;
  }

  readReg(): number {
    return this.register.read();
  }

  writeReg(address: unknown): void {
    this.register.write(address);
  }

  initReg(cpu: unknown): void {
    this.register.write(this.areaBase(cpu, "initPercpuReg"));
  }

  symbols(): PercpuSymbols {
    const start = ADDRESS_MAP.percpuStart;
    const layout = this.areas.layout;
    return Object.freeze({
      _percpu_start: start,
      _percpu_end: start + layout.stride * this.options.cpuNum,
      _percpu_load_start: this.shape.linkStart,
      _percpu_load_end: this.shape.linkStart + layout.size,
    });
  }

  linkerScript(cpuNum: number): string {
    return linkerScriptFor({ cpuNum, variant: "imp", vma: this.shape.linkStart });
  }
}
