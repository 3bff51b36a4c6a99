/**
 * A per-CPU data system: one `.percpu` section, its per-CPU areas and the
 * current CPU's per-CPU register, for one architecture and feature set. The
 * facade: the work is done by the implementation the feature set selects.
 *
 * @module
 */

import type { Arch, Feature, PercpuRegName } from "./arch.ts";
import { CustomBaseImplementation } from "./_custom_base.ts";
import { valueText } from "./_describe.ts";
import { zeroOf } from "./_dynamic.ts";
import { DefinitionError } from "./errors.ts";
import { ImpImplementation } from "./_imp.ts";
import type { Implementation } from "./_implementation.ts";
import { NaiveImplementation } from "./_naive.ts";
import { checkCpuCount, resolveOptions } from "./_options.ts";
import {
  type DynamicPercpuVar,
  type PercpuVar,
  PercpuVariable,
  type ScalarPercpuVar,
} from "./percpu_var.ts";
import {
  isIdentifier,
  isType,
  type ScalarKind,
  type ScalarType,
  type ScalarValue,
  type Type,
  usize,
  type ValueOf,
} from "./types.ts";
import { checkValue, frozenCopy } from "./_value_codec.ts";
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
  /**
   * custom-base only: the platform's `_percpu_base_ptr(cpu_idx)`, where
   * CPU `cpu`'s area is. `init(n)` calls it for CPUs 0 to n − 1; each
   * answer needs `percpuAreaSize()` bytes from a 64-byte aligned
   * `byteOffset`, and no two may overlap. Without it, the system places the
   * areas itself, `stride` bytes apart.
   */
  readonly bases?: (cpu: number) => InitMemory;
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
  readonly #impl: Implementation;
  readonly #vars = new Map<string, PercpuVar>();
  readonly #owned = new Set<unknown>();
  readonly #selfPtr: PercpuVar | null;

  /**
   * Creates a system; prefer {@linkcode createPercpu}.
   *
   * @param options Architecture, features, `CPU_NUM` and custom-base's `bases`.
   * @throws {RangeError} On an unknown arch or feature, conflicting
   *   features, or a bad `cpuNum`.
   * @throws {TypeError} On an unknown option or a wrong option type.
   */
  constructor(options?: PercpuOptions) {
    const resolved = resolveOptions(options);
    this.arch = resolved.arch;
    this.features = resolved.features;
    this.cpuNum = resolved.cpuNum;
    this.pointerBytes = resolved.pointerBytes;
    this.percpuReg = resolved.percpuReg;
    const impl = resolved.variant === "sp-naive"
      ? new NaiveImplementation(resolved)
      : resolved.variant === "custom-base"
      ? new CustomBaseImplementation(resolved)
      : new ImpImplementation(resolved);
    this.#impl = impl;
    // The crate's x86_64 SELF_PTR: the first slot of every area.
    this.#selfPtr = resolved.table.selfPtr && resolved.variant !== "sp-naive"
      ? this.#define("SELF_PTR", usize, 0)
      : null;
    const owned = this.#owned;
    const dynamic = impl.dynamic;
    // The simulator switches the current context on every step and asks
    // which CPU owns every address it touches: straight to the host and the
    // implementation.
    const host = impl.host;
    openPort(this, {
      table: resolved.table,
      memory: impl.memory,
      get context() {
        return host.context;
      },
      set context(context) {
        host.context = context;
      },
      createCpuContext: () => impl.createCpuContext(),
      cpuOfAddress: impl.cpuOfAddress.bind(impl),
      get areaCount(): number {
        return impl.areaCount;
      },
      cpuLimit: impl.cpuLimit,
      get epoch(): number {
        return impl.epoch;
      },
      owns: (variable) => owned.has(variable) || (dynamic?.owns(variable) ?? false),
      dynamic: dynamic === null ? null : {
        shared: () => dynamic.shared(),
        adopt: (buffers) => dynamic.adopt(buffers),
        fingerprint: () => dynamic.fingerprint(),
      },
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
   *   after `init()` or `allocPercpu()`, or a section too large for the
   *   architecture.
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
    if (this.#impl.frozen) {
      throw new DefinitionError(
        "AfterInit",
        `defPercpu: cannot define ${name} after init() or allocPercpu(): the .percpu section layout is fixed`,
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
    return this.#define(name, type, checked);
  }

  #define<T extends Type>(name: string, type: T, init: unknown): PercpuVariable<T> {
    const impl = this.#impl;
    const initValue = frozenCopy(type, init);
    const { offset, vma, layout } = impl.define(name, type, initValue);
    const host = impl.host;
    const symbol = `__PERCPU_${name}`;
    const variable = new PercpuVariable<T>({
      host,
      name,
      symbol,
      type,
      initValue,
      layout,
      place: Object.freeze({ offset, vma }),
      forms: host.forms,
      symbols: () => ({
        symbol,
        vma,
        loadStart: host.loadStart,
        selfPtrVma: host.selfPtrVma,
        percpuReg: host.percpuReg,
      }),
      current: host,
      currentOffset: offset,
    });
    this.#vars.set(name, variable);
    this.#owned.add(variable);
    return variable;
  }

  /**
   * The defined variables in section order (on x86_64 the crate's
   * `SELF_PTR` comes first). Dynamic variables are not among them.
   *
   * @returns The variables.
   */
  variables(): PercpuVar[] {
    return [...this.#vars.values()];
  }

  /**
   * Allocates a per-CPU variable at run time, as Linux's `alloc_percpu`
   * (beyond the crate, whose variables are all defined at link time). It
   * has the accessors of a variable of its type, plus `free()`; every CPU's
   * copy starts as `init` (zeroes by default). Its per-CPU pointer is held
   * at run time, so its listings load it and add the per-CPU register
   * (`this_cpu_ptr`). Space comes from chunks of one `stride`-byte unit per
   * CPU, added on demand and reused after `free()`, so an object can be at
   * most `stride` bytes. The first allocation fixes the section layout, as
   * `init()` does; re-initialising gives every dynamic variable its initial
   * value again.
   *
   * @param type The type descriptor.
   * @param init The initial value on every CPU (default: zeroes).
   * @returns The variable.
   * @throws {TypeError} On a non-descriptor type, a value of the wrong
   *   JavaScript type, or under `sp-naive`.
   * @throws {RangeError} On a value out of range, or an object larger than
   *   the area stride.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { createPercpu, u32 } from "@percpu/percpu";
   * const p = createPercpu({ arch: "aarch64" });
   * p.defPercpu("PAD", u32, 0);
   * p.init(2);
   * const hits = p.allocPercpu(u32, 5);
   * p.initPercpuReg(1);
   * hits.addCurrent(1);
   * assert.deepEqual([hits.readRemote(0), hits.readRemote(1)], [5, 6]);
   * assert.deepEqual(hits.disassemble("ptr"), [
   *   `adrp x1, ${hits.symbol}`,
   *   `ldr x1, [x1, #:lo12:${hits.symbol}]`,
   *   "mrs x0, TPIDR_EL1",
   *   "add x0, x0, x1",
   * ]);
   * hits.free();
   * assert.throws(() => hits.readCurrent(), /freed/);
   * ```
   */
  allocPercpu<K extends ScalarKind>(
    type: ScalarType<K>,
    init?: ScalarValue<K>,
  ): ScalarPercpuVar<K> & DynamicPercpuVar<ScalarType<K>>;
  /**
   * Allocates a per-CPU variable of a struct or array type; see the scalar
   * overload.
   *
   * @param type The struct or array descriptor.
   * @param init The initial value on every CPU (default: zeroes).
   * @returns The variable.
   */
  allocPercpu<T extends Type>(type: T, init?: ValueOf<T>): DynamicPercpuVar<T>;
  allocPercpu(type: Type, init?: unknown): DynamicPercpuVar {
    const dynamic = this.#impl.dynamic;
    if (dynamic === null) {
      throw new TypeError(
        "allocPercpu: an sp-naive system has one CPU and no per-CPU areas; its variables are plain globals (use defPercpu)",
      );
    }
    if (!isType(type)) {
      throw new TypeError(
        `allocPercpu: the type must be a descriptor such as u32, got ${valueText(type)}`,
      );
    }
    const value = init === undefined ? zeroOf(type) : init;
    checkValue(type, value, "allocPercpu: initial value", this.pointerBytes);
    return dynamic.allocate(type, value as ValueOf<Type>);
  }

  /**
   * Initialises `cpuCount` per-CPU areas in memory (the crate's
   * `init(base, cpu_count)`): copies the section template into each area.
   * Without `memory`, the system allocates (and on re-init reuses) its own.
   * Re-initialising overwrites every area with the template and gives the
   * dynamic variables their initial values; memory the previous set-up used
   * and this one does not is released (registers and refs still pointing
   * into it fault). The first call fixes the section layout. Under
   * `sp-naive` both arguments are ignored, as in the crate; under
   * custom-base with `bases`, the areas are where `bases` says.
   *
   * @param cpuCount Number of CPUs, 0 to 65536 (0 sets the base and no area).
   * @param memory Where to put the areas: `percpuAreaLayoutExpected(cpuCount).size`
   *   bytes of a live buffer from a 64-byte aligned `byteOffset`.
   * @returns `cpuCount` (1 under `sp-naive`).
   * @throws {InitError} `InvalidBase` without a buffer, `UnalignedBase` when
   *   `byteOffset` is not a multiple of 64, `InsufficientMemory` when the
   *   buffer is too small.
   * @throws {TypeError} On a detached or empty buffer or a wrong type.
   * @throws {RangeError} On a bad `cpuCount` or `byteOffset`, or memory that
   *   cannot be allocated. Nothing is changed by a failed call.
   */
  init(cpuCount: number, memory?: InitMemory): number {
    return this.#impl.init(cpuCount, memory);
  }

  /**
   * Adopts `cpuCount` areas that another system with the same definitions
   * already initialised in `memory` (typically a `SharedArrayBuffer` handed
   * to a Worker): like `init()`, but nothing is copied, so the areas keep
   * their contents. Checking that the layouts match is the caller's job
   * (`attachShared()` does it, and shares dynamic variables too).
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
    return this.#impl.attach(cpuCount, memory);
  }

  /**
   * Initialises the areas the section reserves (the crate's
   * `init_in_place()`): CPU 0's area is the section itself, so the template
   * is copied to CPUs 1 to `cpuNum − 1` only.
   *
   * @returns `percpuAreaNum()` (1 under `sp-naive`).
   * @throws {TypeError} Under custom-base, whose section holds only the template.
   */
  initInPlace(): number {
    return this.#impl.initInPlace();
  }

  /**
   * Number of areas the section reserves (the crate's `percpu_area_num()`):
   * `(_percpu_end − _percpu_start) / align_up_64(size)`, which is `cpuNum`;
   * 1 under `sp-naive` and custom-base.
   *
   * @returns The number of areas.
   */
  percpuAreaNum(): number {
    return this.#impl.areaNum();
  }

  /**
   * Unrounded size of one area (`_percpu_load_end − _percpu_load_start`);
   * 0 under `sp-naive`.
   *
   * @returns Bytes.
   */
  percpuAreaSize(): number {
    return this.#impl.areaSize();
  }

  /**
   * Base address of CPU `cpuId`'s area: `base + cpuId × align_up_64(size)`,
   * custom-base's `bases(cpuId)`, or 0 for any CPU under `sp-naive` (as in
   * the crate).
   *
   * @param cpuId A CPU id below the number of initialised areas.
   * @returns The address.
   * @throws {NotInitializedError} Before `init()`/`initInPlace()`.
   * @throws {TypeError} When `cpuId` is not a number.
   * @throws {RangeError} On a bad CPU id.
   */
  percpuAreaBase(cpuId: number): number {
    return this.#impl.areaBase(cpuId, "percpuAreaBase");
  }

  /**
   * Memory needed for `cpuCount` areas (`percpu_area_layout_expected`).
   *
   * @param cpuCount Number of CPUs (0 or more).
   * @returns `{ size: cpuCount × align_up_64(size), align: 64 }` (size 0 under `sp-naive`).
   * @throws {TypeError} When `cpuCount` is not a number.
   * @throws {RangeError} On a negative or non-integer count.
   */
  percpuAreaLayoutExpected(cpuCount: number): AreaLayout {
    return Object.freeze({ size: this.#impl.layoutExpected(cpuCount), align: 64 });
  }

  /**
   * Reads the current CPU's per-CPU register (`read_percpu_reg()`). On
   * x86_64 this reads the `SELF_PTR` slot through `gs:`, as the crate does on
   * Linux (custom-base reads `GS_BASE` itself). Under `non-zero-vma` the
   * stored value is base − VMA, and the VMA is added back. 0 under `sp-naive`.
   *
   * @returns The current CPU's area base.
   * @throws {FaultError} On x86_64 when `GS_BASE` does not point at an area.
   */
  readPercpuReg(): number {
    return this.#impl.readReg();
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
    this.#impl.writeReg(address);
  }

  /**
   * Points the current CPU's register at CPU `cpuId`'s area
   * (`init_percpu_reg(cpu_id)`). Does nothing under `sp-naive`, whatever
   * the id, as in the crate.
   *
   * @param cpuId A CPU id below the number of initialised areas.
   * @throws {NotInitializedError} Before `init()`.
   * @throws {TypeError} When `cpuId` is not a number.
   * @throws {RangeError} On a bad CPU id.
   */
  initPercpuReg(cpuId: number): void {
    this.#impl.initReg(cpuId);
  }

  /**
   * The section's linker symbols.
   *
   * @returns The four symbols as simulated addresses.
   */
  symbols(): PercpuSymbols {
    return this.#impl.symbols();
  }

  /**
   * The linker script snippet to add to a kernel's script for this feature set.
   *
   * @param options `cpuNum`: the `CPU_NUM` to reserve (default this system's).
   * @returns The snippet.
   * @throws {RangeError} On a bad `cpuNum`.
   */
  linkerScript(options: { cpuNum?: number } = {}): string {
    return this.#impl.linkerScript(
      checkCpuCount(options.cpuNum ?? this.cpuNum, "linkerScript: cpuNum"),
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
