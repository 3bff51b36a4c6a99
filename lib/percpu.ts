/**
 * A per-CPU data system: one `.percpu` section, its per-CPU areas and the
 * current CPU's per-CPU register, for one architecture and feature set.
 *
 * @module
 */

import { ARCH_TABLES } from "./isa/tables.ts";
import {
  type Arch,
  ARCHES,
  type Feature,
  FEATURES,
  isArch,
  isFeature,
  type PercpuRegName,
} from "./arch.ts";
import { CpuContext } from "./_cpu_context.ts";
import { hex, valueText } from "./_describe.ts";
import { DefinitionError, FaultError, InitError, NotInitializedError } from "./errors.ts";
import type { ArchTable } from "./isa/isa.ts";
import { AddressSpace, type Backing, Region } from "./_memory.ts";
import {
  type PercpuVar,
  PercpuVariable,
  type ScalarPercpuVar,
  type VarHost,
} from "./percpu_var.ts";
import { scalarCodec } from "./_scalar_codec.ts";
import { ADDRESS_MAP, AREA_ALIGN, MAX_AREA_SIZE, SectionLayout } from "./layout.ts";
import {
  alignUp,
  isIdentifier,
  isType,
  layoutOf,
  type ScalarKind,
  type ScalarType,
  type ScalarValue,
  type Type,
  type TypeLayout,
  usize,
  type ValueOf,
} from "./types.ts";
import { checkValue, frozenCopy, writeValue } from "./_value_codec.ts";
import { linkerScriptFor } from "./linker_script.ts";
import { checkInteger } from "./_check.ts";
import { openPort } from "./_port.ts";

/** Options of {@linkcode createPercpu}. */
export interface PercpuOptions {
  /** Target architecture (default `x86_64`). */
  readonly arch?: Arch;
  /** Enabled crate features (default none). */
  readonly features?: readonly Feature[];
  /**
   * The linker script's `CPU_NUM`: how many areas the section reserves for
   * `initInPlace()` (default 4, as the crate's tests; 1 to 65536).
   */
  readonly cpuNum?: number;
}

/** Memory given to `init()`, the crate's `base` pointer. */
export interface InitMemory {
  /** The memory; a `SharedArrayBuffer` lets Workers share the areas. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Where the areas start in `buffer`; a multiple of 64 (default 0). */
  readonly byteOffset?: number;
}

/** `percpuAreaLayoutExpected()`'s answer, as Rust's `Layout`. */
export interface AreaLayout {
  /** Bytes needed for all the areas. */
  readonly size: number;
  /** Required alignment of the base: always 64. */
  readonly align: 64;
}

/** The linker symbols of the `.percpu` section, as simulated addresses. */
export interface PercpuSymbols {
  /** Load address (LMA) of the section: CPU 0's area for `initInPlace()`. */
  readonly _percpu_start: number;
  /** End of the reserved areas: `_percpu_start + stride × CPU_NUM`. */
  readonly _percpu_end: number;
  /** Section VMA: 0, or non-zero under `non-zero-vma`. */
  readonly _percpu_load_start: number;
  /** `_percpu_load_start` + the unrounded area size. */
  readonly _percpu_load_end: number;
}

const MAX_CPUS = 65536;
/** x86_64's `SELF_PTR` is a `usize`, read on every `current_ptr()`. */
const SELF_PTR_CODEC = scalarCodec("usize", 8);
const OPTION_KEYS = ["arch", "features", "cpuNum"];

function checkCpuCount(value: unknown, what: string): number {
  return checkInteger(value, what, 1, MAX_CPUS);
}

/**
 * A per-CPU data system for one architecture and feature set, with the
 * crate's whole API. Make one with {@linkcode createPercpu}.
 *
 * @example The crate's test, in TypeScript
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, struct, u8, usize } from "@percpu/percpu";
 * const p = createPercpu({ arch: "riscv64" });
 * const CPU_ID = p.defPercpu("CPU_ID", usize, 0);
 * const STATS = p.defPercpu("STATS", struct({ foo: usize, bar: u8 }), { foo: 6, bar: 7 });
 * p.init(4);
 * p.initPercpuReg(1);
 * CPU_ID.writeCurrent(1);
 * STATS.withCurrent((s) => s.value.bar++);
 * assert.equal(CPU_ID.readCurrent(), 1);
 * assert.equal(STATS.remoteRefRaw(1).value.bar, 8);
 * assert.equal(CPU_ID.remoteRefRaw(0).value, 0);
 * ```
 */
export class Percpu {
  /** The target architecture. */
  readonly arch: Arch;
  /** The enabled features, in canonical order. */
  readonly features: readonly Feature[];
  /** The register holding the current CPU's area base. */
  readonly percpuReg: PercpuRegName;
  /** The linker script's `CPU_NUM`. */
  readonly cpuNum: number;
  /** `usize` width in bytes: 8, or 4 on `arm`. */
  readonly pointerBytes: 4 | 8;
  readonly #table: ArchTable;
  readonly #naive: boolean;
  readonly #vmaBias: number;
  readonly #memory = new AddressSpace(ADDRESS_MAP.heap);
  readonly #layout: SectionLayout;
  readonly #vars = new Map<string, PercpuVariable>();
  /**
   * Contexts whose register points at no mapped area. Regions are never
   * unmapped, so only these can change resolution when memory is mapped.
   */
  readonly #unresolved = new Set<CpuContext>();
  readonly #host: VarHost & { context: CpuContext };
  readonly #data: Region | null;
  #section: Region | null = null;
  /** The section's first area: what init() copies (a view, so in-place CPU 0 writes show). */
  #template: Uint8Array | null = null;
  #ownAreas: Region | null = null;
  #frozen = false;
  #base: number | null = null;
  #areaCount = 0;
  #selfPtr: PercpuVariable | null = null;
  #epoch = 0;

  /**
   * Creates a system; prefer {@linkcode createPercpu}.
   *
   * @param options Architecture, features and `CPU_NUM`.
   */
  constructor(options: PercpuOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`createPercpu options must be an object, got ${valueText(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.includes(key)) {
        throw new TypeError(
          `unknown createPercpu option ${JSON.stringify(key)}; accepted: ${OPTION_KEYS.join(", ")}`,
        );
      }
    }
    const arch = options.arch ?? "x86_64";
    if (!isArch(arch)) {
      throw new RangeError(`unknown arch ${valueText(arch)}; accepted: ${ARCHES.join(", ")}`);
    }
    const features = options.features ?? [];
    if (!Array.isArray(features)) {
      throw new TypeError(`features must be an array, got ${valueText(features)}`);
    }
    for (const feature of features) {
      if (!isFeature(feature)) {
        throw new RangeError(
          `unknown feature ${valueText(feature)}; accepted: ${FEATURES.join(", ")}`,
        );
      }
    }
    this.arch = arch;
    this.features = Object.freeze(FEATURES.filter((f) => features.includes(f)));
    this.cpuNum = checkCpuCount(options.cpuNum ?? 4, "cpuNum");
    this.#table = ARCH_TABLES[arch];
    this.pointerBytes = this.#table.pointerBytes;
    this.percpuReg = this.#table.percpuReg(arch === "aarch64" && this.hasFeature("arm-el2"));
    this.#naive = this.hasFeature("sp-naive");
    this.#vmaBias = !this.#naive && this.hasFeature("non-zero-vma") ? ADDRESS_MAP.nonZeroVma : 0;
    this.#layout = new SectionLayout(this.pointerBytes);
    this.#data = this.#naive
      ? this.#memory.mapFixed(
        new Region(
          ".data",
          ADDRESS_MAP.data,
          new ArrayBuffer(0, { maxByteLength: MAX_AREA_SIZE }),
          0,
          0,
        ),
      )
      : null;
    this.#host = this.#makeHost();
    this.#host.context = this.#createCpuContext();
    if (arch === "x86_64" && !this.#naive) {
      this.#selfPtr = this.#define("SELF_PTR", usize, 0);
      this.#host.selfPtrVma = this.#selfPtr.symbolVma();
    }
    const vars = this.#vars;
    const host = this.#host;
    // deno-lint-ignore no-this-alias
    const self = this;
    openPort(this, {
      table: this.#table,
      memory: this.#memory,
      get context(): CpuContext {
        return host.context;
      },
      set context(context: CpuContext) {
        host.context = context;
      },
      createCpuContext: () => this.#createCpuContext(),
      cpuOfAddress: (address) => this.#cpuOfAddress(address),
      get areaCount(): number {
        return self.#naive ? 1 : self.#areaCount;
      },
      cpuLimit: this.#naive ? 1 : MAX_CPUS,
      get epoch(): number {
        return self.#epoch;
      },
      owns: (variable) => [...vars.values()].includes(variable as PercpuVariable),
    });
  }

  /**
   * Tells whether a feature is enabled.
   *
   * @param feature A feature name.
   * @returns `true` when enabled.
   */
  hasFeature(feature: Feature): boolean {
    return this.features.includes(feature);
  }

  /**
   * Defines a per-CPU variable (`#[def_percpu] static NAME: T = init;`). It
   * is placed after the previously defined ones, at its natural alignment.
   *
   * @param name An identifier; the symbol is `__PERCPU_<name>`.
   * @param type The type descriptor.
   * @param init The initial value: the section template's content.
   * @returns The variable's accessors (scalar types get `readCurrent` & co.).
   * @throws {TypeError} On a non-string name, a non-descriptor type, or an
   *   initial value of the wrong JavaScript type.
   * @throws {RangeError} On an initial value out of the type's range.
   * @throws {DefinitionError} On an invalid or duplicate name, a definition
   *   after `init()`, or a section too large for the architecture.
   */
  defPercpu<K extends ScalarKind>(
    name: string,
    type: ScalarType<K>,
    init: ScalarValue<K>,
  ): ScalarPercpuVar<K>;
  /**
   * Defines a per-CPU variable of a struct or array type; see the scalar
   * overload for the rules.
   *
   * @param name An identifier.
   * @param type The struct or array descriptor.
   * @param init The initial value.
   * @returns The variable's accessors.
   */
  defPercpu<T extends Type>(name: string, type: T, init: ValueOf<T>): PercpuVar<T>;
  defPercpu(name: string, type: Type, init: unknown): PercpuVar {
    if (typeof name !== "string") {
      throw new TypeError(`defPercpu: the name must be a string, got ${valueText(name)}`);
    }
    if (!isIdentifier(name)) {
      throw new DefinitionError(
        "InvalidName",
        `defPercpu: ${JSON.stringify(name)} is not an identifier ([A-Za-z_][A-Za-z0-9_]*)`,
      );
    }
    if (this.#vars.has(name)) {
      const why = this.#vars.get(name) === this.#selfPtr
        ? "it is the crate's own x86_64 slot holding the area base"
        : "it is already defined";
      throw new DefinitionError(
        "DuplicateName",
        `defPercpu: cannot define ${name}: __PERCPU_${name} exists (${why})`,
      );
    }
    if (this.#frozen) {
      throw new DefinitionError(
        "AfterInit",
        `defPercpu: cannot define ${name} after init(): the .percpu section layout is fixed`,
      );
    }
    if (!isType(type)) {
      throw new TypeError(
        `defPercpu: the type of ${name} must be a descriptor such as u32, got ${valueText(type)}`,
      );
    }
    const checked = checkValue(
      type,
      init,
      `defPercpu: initial value of ${name}`,
      this.pointerBytes,
    );
    return this.#define(name, type, checked) as unknown as PercpuVar;
  }

  #define(name: string, type: Type, init: unknown): PercpuVariable {
    const { offset, layout } = this.#naive ? this.#peekData(type) : this.#layout.peek(type);
    const end = offset + layout.size - (this.#naive ? ADDRESS_MAP.data : 0);
    const limit = this.#naive
      ? ADDRESS_MAP.percpuStart - ADDRESS_MAP.data
      : this.arch === "aarch64"
      ? 0x10000
      : MAX_AREA_SIZE;
    if (end > limit) {
      throw new DefinitionError(
        "TooLarge",
        this.arch === "aarch64" && !this.#naive
          ? `defPercpu: ${name} would end at offset ${
            hex(end)
          }; AArch64 materialises offsets with movz #:abs_g0_nc:, which holds 16 bits (≤ 0xffff)`
          : `defPercpu: ${name} would end at offset ${hex(end)}; the section is limited to ${
            hex(limit)
          } bytes`,
      );
    }
    if (this.#naive) {
      const data = this.#data!;
      data.grow(end);
      writeValue(type, data, offset + data.bias, init, this.pointerBytes);
    } else {
      this.#layout.place(type);
    }
    const variable = new PercpuVariable(
      this.#host,
      name,
      type,
      frozenCopy(type, init),
      offset,
      layout,
    );
    this.#vars.set(name, variable);
    return variable;
  }

  #peekData(type: Type): { offset: number; layout: TypeLayout } {
    const layout = layoutOf(type, this.pointerBytes);
    return { offset: alignUp(this.#data!.end, layout.align), layout };
  }

  /**
   * The defined variables in section order (on x86_64 the crate's
   * `SELF_PTR` comes first).
   *
   * @returns The variables.
   */
  variables(): PercpuVar[] {
    return [...this.#vars.values()] as unknown as PercpuVar[];
  }

  /**
   * Initialises `cpuCount` per-CPU areas in memory (the crate's
   * `init(base, cpu_count)`): copies the section template into each area.
   * Without `memory`, the system allocates (and on re-init reuses) its own.
   * Re-initialising overwrites every area with the template. The first call
   * fixes the section layout.
   *
   * @param cpuCount Number of CPUs, 1 to 65536.
   * @param memory Where to put the areas: `percpuAreaLayoutExpected(cpuCount).size`
   *   bytes from a 64-byte aligned `byteOffset`.
   * @returns `cpuCount` (1 under `sp-naive`).
   * @throws {InitError} `InvalidBase` without a buffer, `UnalignedBase` when
   *   `byteOffset` is not a multiple of 64, `InsufficientMemory` when the
   *   buffer is too small. Nothing is changed.
   * @throws {RangeError} On a bad `cpuCount` or `byteOffset`.
   */
  init(cpuCount: number, memory?: InitMemory): number {
    return this.#setUp(cpuCount, memory, "init", true);
  }

  /**
   * Adopts `cpuCount` areas that another system with the same definitions
   * already initialised in `memory` (typically a `SharedArrayBuffer` handed
   * to a Worker): like `init()`, but nothing is copied, so the areas keep
   * their contents. Checking that the layouts match is the caller's job.
   *
   * @param cpuCount Number of areas in `memory`.
   * @param memory The memory the areas live in.
   * @returns `cpuCount` (1 under `sp-naive`).
   * @throws {InitError} As `init()` does; `InvalidBase` when `memory` is missing.
   *
   * @example Two systems, one set of areas
   * ```ts
   * import assert from "node:assert/strict";
   * import { createPercpu, u32 } from "@percpu/percpu";
   * const define = () => {
   *   const p = createPercpu();
   *   return { p, hits: p.defPercpu("HITS", u32, 0) };
   * };
   * const a = define(), b = define();
   * const buffer = new SharedArrayBuffer(a.p.percpuAreaLayoutExpected(2).size);
   * a.p.init(2, { buffer });
   * a.hits.remoteRefMutRaw(1).value = 7;
   * b.p.attach(2, { buffer });
   * b.p.initPercpuReg(1);
   * assert.equal(b.hits.readCurrent(), 7);
   * ```
   */
  attach(cpuCount: number, memory: InitMemory): number {
    if (memory === undefined) {
      throw new InitError("InvalidBase", "attach: memory is required: { buffer, byteOffset }");
    }
    return this.#setUp(cpuCount, memory, "attach", false);
  }

  #setUp(cpuCount: number, memory: InitMemory | undefined, what: string, copy: boolean): number {
    checkCpuCount(cpuCount, `${what}: cpuCount`);
    if (this.#naive) {
      this.#frozen = true;
      return 1;
    }
    const size = cpuCount * this.#layout.stride;
    if (size > MAX_AREA_SIZE) {
      throw new RangeError(
        `${what}: ${cpuCount} areas of ${this.#layout.stride} bytes need ${size} bytes; the limit is ${MAX_AREA_SIZE}`,
      );
    }
    const placement = memory === undefined ? null : this.#checkMemory(memory, cpuCount, size, what);
    this.#freeze();
    let base: number;
    if (placement) {
      base = this.#memory.mapBuffer(`${what}(memory)`, placement.buffer).start +
        placement.byteOffset;
    } else {
      if (!this.#ownAreas || this.#ownAreas.length < size) {
        this.#ownAreas = this.#memory.allocate("per-CPU areas", size);
      }
      base = this.#ownAreas.start;
    }
    this.#setAreas(base, cpuCount, copy ? 0 : cpuCount);
    return cpuCount;
  }

  #checkMemory(memory: InitMemory, cpuCount: number, size: number, what: string) {
    if (memory === null || (typeof memory === "object" && memory.buffer == null)) {
      throw new InitError(
        "InvalidBase",
        `${what}: no memory given (${
          memory === null ? "null" : "buffer is " + valueText(memory.buffer)
        }); pass { buffer, byteOffset } or omit it to let init() allocate`,
      );
    }
    if (typeof memory !== "object") {
      throw new TypeError(
        `${what}: memory must be { buffer, byteOffset }, got ${valueText(memory)}`,
      );
    }
    const buffer: unknown = memory.buffer;
    const shared = typeof SharedArrayBuffer === "function" && buffer instanceof SharedArrayBuffer;
    if (!(buffer instanceof ArrayBuffer) && !shared) {
      throw new TypeError(
        `${what}: memory.buffer must be an ArrayBuffer or SharedArrayBuffer, got ${
          valueText(buffer)
        }`,
      );
    }
    const byteOffset = memory.byteOffset ?? 0;
    if (typeof byteOffset !== "number") {
      throw new TypeError(
        `${what}: memory.byteOffset must be a number, got ${valueText(byteOffset)}`,
      );
    }
    if (!Number.isSafeInteger(byteOffset) || byteOffset < 0) {
      throw new RangeError(
        `${what}: memory.byteOffset must be a non-negative integer, got ${valueText(byteOffset)}`,
      );
    }
    if (byteOffset % AREA_ALIGN !== 0) {
      throw new InitError(
        "UnalignedBase",
        `${what}: byteOffset ${byteOffset} is not a multiple of ${AREA_ALIGN}; per-CPU areas must start on a cache line`,
      );
    }
    const backing = buffer as Backing;
    if (backing.byteLength - byteOffset < size) {
      throw new InitError(
        "InsufficientMemory",
        `${what}: ${cpuCount} areas need ${size} bytes from byteOffset ${byteOffset}, but the buffer has ${
          Math.max(0, backing.byteLength - byteOffset)
        } (byteLength ${backing.byteLength})`,
      );
    }
    return { buffer: backing, byteOffset };
  }

  /**
   * Initialises the areas the section reserves (the crate's
   * `init_in_place()`): CPU 0's area is the section itself, so the template
   * is copied to CPUs 1 to `cpuNum − 1` only.
   *
   * @returns `percpuAreaNum()` (1 under `sp-naive`).
   */
  initInPlace(): number {
    if (this.#naive) {
      this.#frozen = true;
      return 1;
    }
    this.#freeze();
    this.#setAreas(this.#section!.start, this.cpuNum, 1);
    return this.percpuAreaNum();
  }

  /** Fixes the layout and materialises the section with its template. */
  #freeze(): void {
    if (this.#frozen) return;
    this.#frozen = true;
    const stride = this.#layout.stride;
    const buffer = new ArrayBuffer(Math.max(stride * this.cpuNum, 8));
    const section = new Region(".percpu", ADDRESS_MAP.percpuStart, buffer, 0, stride * this.cpuNum);
    this.#section = this.#memory.mapFixed(section);
    this.#template = section.u8.subarray(0, this.#layout.size);
    for (const variable of this.#vars.values()) {
      writeValue(variable.type, section, variable.offset(), variable.initValue, this.pointerBytes);
    }
  }

  #setAreas(base: number, count: number, firstCopied: number): void {
    const stride = this.#layout.stride;
    if (firstCopied < count) {
      const region = this.#memory.resolve(base, count * stride)!;
      const template = this.#template!;
      for (let cpu = firstCopied; cpu < count; cpu++) {
        region.u8.set(template, base + cpu * stride + region.bias);
      }
    }
    this.#base = base;
    this.#areaCount = count;
    this.#epoch++;
    for (const context of this.#unresolved) this.#retarget(context);
  }

  /**
   * Number of areas the section reserves (the crate's `percpu_area_num()`):
   * `(_percpu_end − _percpu_start) / align_up_64(size)`, which is `cpuNum`;
   * 1 under `sp-naive`.
   *
   * @returns The number of areas.
   */
  percpuAreaNum(): number {
    return this.#naive ? 1 : this.cpuNum;
  }

  /**
   * Unrounded size of one area (`_percpu_load_end − _percpu_load_start`);
   * 0 under `sp-naive`.
   *
   * @returns Bytes.
   */
  percpuAreaSize(): number {
    return this.#naive ? 0 : this.#layout.size;
  }

  /**
   * Base address of CPU `cpuId`'s area: `base + cpuId × align_up_64(size)`;
   * 0 under `sp-naive`.
   *
   * @param cpuId A CPU id below the number of initialised areas.
   * @returns The address.
   * @throws {NotInitializedError} Before `init()`/`initInPlace()`.
   * @throws {RangeError} On a bad CPU id.
   */
  percpuAreaBase(cpuId: number): number {
    return this.#areaBase(cpuId, "percpuAreaBase");
  }

  #areaBase(cpuId: number, what: string): number {
    this.#checkCpu(cpuId, what);
    return this.#naive ? 0 : this.#base! + cpuId * this.#layout.stride;
  }

  #checkCpu(cpuId: unknown, what: string): void {
    if (!this.#naive && this.#base === null) {
      throw new NotInitializedError(
        `${what}: PerCPU area base address not set; call init() or initInPlace() first`,
      );
    }
    const count = this.#naive ? 1 : this.#areaCount;
    if (typeof cpuId !== "number") {
      throw new TypeError(`${what}: the CPU id must be a number, got ${valueText(cpuId)}`);
    }
    if (!Number.isInteger(cpuId) || cpuId < 0 || cpuId >= count) {
      throw new RangeError(
        `${what}: CPU id ${valueText(cpuId)} is out of range; ${
          this.#naive
            ? "sp-naive has only CPU 0"
            : `${count} areas are initialised (ids 0 to ${count - 1})`
        }`,
      );
    }
  }

  /**
   * Memory needed for `cpuCount` areas (`percpu_area_layout_expected`).
   *
   * @param cpuCount Number of CPUs (0 or more).
   * @returns `{ size: cpuCount × align_up_64(size), align: 64 }`.
   * @throws {RangeError} On a negative or non-integer count.
   */
  percpuAreaLayoutExpected(cpuCount: number): AreaLayout {
    if (typeof cpuCount !== "number" || !Number.isSafeInteger(cpuCount) || cpuCount < 0) {
      throw new RangeError(
        `percpuAreaLayoutExpected: cpuCount must be a non-negative integer, got ${
          valueText(cpuCount)
        }`,
      );
    }
    return Object.freeze({ size: this.#naive ? 0 : cpuCount * this.#layout.stride, align: 64 });
  }

  /**
   * Reads the current CPU's per-CPU register (`read_percpu_reg()`). On
   * x86_64 this reads the `SELF_PTR` slot through `gs:`, as the crate does on
   * Linux. Under `non-zero-vma` the stored value is base − VMA, and the VMA
   * is added back. 0 under `sp-naive`.
   *
   * @returns The current CPU's area base.
   * @throws {FaultError} On x86_64 when `GS_BASE` does not point at an area.
   */
  readPercpuReg(): number {
    if (this.#naive) return 0;
    return this.#host.currentPtrBase("readPercpuReg") + this.#vmaBias;
  }

  /**
   * Writes the current CPU's per-CPU register (`write_percpu_reg(tp)`). On
   * x86_64 it also stores the value in the new area's `SELF_PTR` slot, so the
   * address must be a mapped area. Does nothing under `sp-naive`.
   *
   * @param address The new area base.
   * @throws {TypeError} When `address` is not a number.
   * @throws {RangeError} When it is not an address of this architecture.
   * @throws {FaultError} On x86_64 when it is not a mapped area. Nothing changes.
   */
  writePercpuReg(address: number): void {
    if (this.#naive) return;
    if (typeof address !== "number") {
      throw new TypeError(
        `writePercpuReg: the address must be a number, got ${valueText(address)}`,
      );
    }
    const limit = this.pointerBytes === 4 ? 0xffff_ffff : Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(address) || address < this.#vmaBias || address > limit) {
      throw new RangeError(
        `writePercpuReg: the address must be an integer from ${hex(this.#vmaBias)} to ${
          hex(limit)
        }${this.#vmaBias ? " (non-zero-vma stores it minus _percpu_load_start)" : ""}, got ${
          valueText(address)
        }`,
      );
    }
    const raw = address - this.#vmaBias;
    const selfPtr = this.#selfPtr;
    if (selfPtr === null) {
      this.#host.context.reg = raw;
      return;
    }
    const region = this.#areaAt(address);
    if (region === null) {
      throw new FaultError(
        address,
        `writePercpuReg: ${
          hex(address)
        } is not a mapped per-CPU area, so x86_64 cannot store it in SELF_PTR`,
      );
    }
    this.#host.context.reg = raw;
    SELF_PTR_CODEC.write(region, address + region.bias + selfPtr.offset(), raw);
  }

  /**
   * Points the current CPU's register at CPU `cpuId`'s area
   * (`init_percpu_reg(cpu_id)`). Does nothing under `sp-naive`.
   *
   * @param cpuId A CPU id below the number of initialised areas.
   * @throws {NotInitializedError} Before `init()`.
   * @throws {RangeError} On a bad CPU id.
   */
  initPercpuReg(cpuId: number): void {
    this.writePercpuReg(this.#areaBase(cpuId, "initPercpuReg"));
  }

  /**
   * The section's linker symbols.
   *
   * @returns The four symbols as simulated addresses.
   */
  symbols(): PercpuSymbols {
    const start = ADDRESS_MAP.percpuStart;
    if (this.#naive) {
      return Object.freeze({
        _percpu_start: start,
        _percpu_end: start,
        _percpu_load_start: 0,
        _percpu_load_end: 0,
      });
    }
    return Object.freeze({
      _percpu_start: start,
      _percpu_end: start + this.#layout.stride * this.cpuNum,
      _percpu_load_start: this.#vmaBias,
      _percpu_load_end: this.#vmaBias + this.#layout.size,
    });
  }

  /**
   * The linker script snippet to add to a kernel's script for this feature set.
   *
   * @param options `cpuNum`: the `CPU_NUM` to reserve (default this system's).
   * @returns The snippet.
   */
  linkerScript(options: { cpuNum?: number } = {}): string {
    const cpuNum = checkCpuCount(options.cpuNum ?? this.cpuNum, "linkerScript: cpuNum");
    return linkerScriptFor({ cpuNum, naive: this.#naive, vma: this.#vmaBias });
  }

  #createCpuContext(): CpuContext {
    return new CpuContext(this.percpuReg, (c) => this.#retarget(c));
  }

  /** Which CPU's area holds an address: −1 for none (0 for `sp-naive` globals). */
  #cpuOfAddress(address: number): number {
    if (this.#naive) return this.#data!.contains(address, 1) ? 0 : -1;
    const base = this.#base;
    const stride = this.#layout.stride;
    if (base === null || stride === 0 || address < base) return -1;
    const offset = address - base;
    const cpu = Math.floor(offset / stride);
    return cpu < this.#areaCount && offset - cpu * stride < this.#layout.size ? cpu : -1;
  }

  #areaAt(base: number): Region | null {
    return base % this.#layout.align === 0 ? this.#memory.resolve(base, this.#layout.size) : null;
  }

  #retarget(context: CpuContext): void {
    if (this.#naive) {
      context.area = this.#data;
      context.byte = this.#data!.bias;
      return;
    }
    const base = context.reg + this.#vmaBias;
    const current = context.area;
    const region = current !== null && base % this.#layout.align === 0 &&
        current.contains(base, this.#layout.size)
      ? current
      : this.#frozen
      ? this.#areaAt(base)
      : null;
    context.area = region;
    context.byte = region === null ? 0 : base + region.bias;
    if (region === null) this.#unresolved.add(context);
    else this.#unresolved.delete(context);
  }

  #makeHost(): VarHost & { context: CpuContext } {
    const table = this.#table;
    return {
      pointerBytes: this.pointerBytes,
      table,
      naive: this.#naive,
      preempt: this.hasFeature("preempt"),
      loadStart: this.#vmaBias === 0 ? null : this.#vmaBias,
      selfPtrVma: 0,
      percpuReg: this.percpuReg,
      context: undefined as unknown as CpuContext,
      fault: (context, who) => this.#fault(context, who),
      currentPtrBase: (who) => {
        if (this.#naive) return 0;
        const context = this.#host.context;
        const selfPtr = this.#selfPtr;
        if (selfPtr === null) return context.reg;
        const area = context.area;
        if (area === null) throw this.#fault(context, who);
        return SELF_PTR_CODEC.read(area, context.byte + selfPtr.offset()) as number;
      },
      areaBase: (cpu, who) => this.#areaBase(cpu, who),
      resolve: (address, size, align, who) => {
        const region = address % align === 0 ? this.#memory.resolve(address, size) : null;
        if (region === null) {
          throw new FaultError(
            address,
            `${who}: ${size} bytes at ${hex(address)} are ${
              address % align === 0 ? "not mapped" : `not aligned to ${align}`
            }`,
          );
        }
        return region;
      },
      cpuOfAddress: (address) => this.#cpuOfAddress(address),
    };
  }

  #fault(context: CpuContext, who: string): FaultError {
    const raw = context.reg;
    const base = raw + this.#vmaBias;
    const shown = this.#vmaBias ? `${hex(raw)} (area base ${hex(base)})` : hex(raw);
    const hint = this.#frozen
      ? "call initPercpuReg(cpuId) first"
      : "call init() or initInPlace(), then initPercpuReg(cpuId)";
    return new FaultError(
      base,
      `${who}: the per-CPU register ${this.percpuReg} holds ${shown}, which is not the base of a mapped per-CPU area (${this.#layout.size} bytes, aligned to ${this.#layout.align}); ${hint}`,
    );
  }
}

/**
 * Creates a per-CPU data system.
 *
 * @param options Architecture (default `x86_64`), features (default none)
 *   and `cpuNum` (the linker script's `CPU_NUM`, default 4).
 * @returns The system.
 * @throws {RangeError} On an unknown arch or feature, or a bad `cpuNum`.
 * @throws {TypeError} On an unknown option or a wrong option type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu } from "@percpu/percpu";
 * const p = createPercpu({ arch: "aarch64", features: ["arm-el2", "preempt"] });
 * assert.equal(p.percpuReg, "TPIDR_EL2");
 * ```
 */
export function createPercpu(options?: PercpuOptions): Percpu {
  return new Percpu(options);
}
