/**
 * The default system (x86_64, no features) behind module-level functions of
 * the crate's names, so the crate's quick start reads the same in
 * TypeScript.
 *
 * @example The seed's quick start
 * ```ts
 * import assert from "node:assert/strict";
 * import { defPercpu, init, initPercpuReg, usize } from "@percpu/percpu";
 * const CPU_COUNTER = defPercpu("CPU_COUNTER", usize, 0);
 * init(4);
 * initPercpuReg(0);
 * assert.equal(CPU_COUNTER.readCurrent(), 0);
 * CPU_COUNTER.writeCurrent(42);
 * assert.equal(CPU_COUNTER.readCurrent(), 42);
 * ```
 *
 * @module
 */

import { type AreaLayout, createPercpu, type InitMemory, type Percpu } from "./percpu.ts";
import type { DynamicPercpuVar, PercpuVar, ScalarPercpuVar } from "./percpu_var.ts";
import type { ScalarKind, ScalarType, ScalarValue, Type, ValueOf } from "./types.ts";

/**
 * The default system: x86_64, no features, `CPU_NUM` 4.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultPercpu } from "@percpu/percpu";
 * assert.equal(defaultPercpu.arch, "x86_64");
 * assert.equal(defaultPercpu.percpuReg, "GS_BASE");
 * ```
 */
export const defaultPercpu: Percpu = createPercpu();

/**
 * Defines a per-CPU variable in the default system (`#[def_percpu]`).
 *
 * @param name An identifier; the symbol is `__PERCPU_<name>`.
 * @param type The type descriptor.
 * @param init The initial value.
 * @returns The variable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defPercpu, u32 } from "@percpu/percpu";
 * const IRQ_COUNT = defPercpu("IRQ_COUNT", u32, 0);
 * assert.equal(IRQ_COUNT.symbol, "__PERCPU_IRQ_COUNT");
 * ```
 */
export function defPercpu<K extends ScalarKind>(
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
export function defPercpu<T extends Type>(name: string, type: T, init: ValueOf<T>): PercpuVar<T>;
export function defPercpu(name: string, type: Type, init: unknown): PercpuVar {
  return defaultPercpu.defPercpu(name, type, init as ValueOf<Type>);
}

/**
 * Allocates a per-CPU variable in the default system at run time, as
 * Linux's `alloc_percpu` (beyond the crate); see `Percpu.allocPercpu`.
 *
 * @param type The type descriptor.
 * @param init The initial value on every CPU (default: zeroes).
 * @returns The variable, with `free()`.
 * @throws {TypeError} On a non-descriptor type or a value of the wrong type.
 * @throws {RangeError} On a value out of range or an object larger than the area stride.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocPercpu, init, initPercpuReg, u32 } from "@percpu/percpu";
 * init(2);
 * initPercpuReg(0);
 * const packets = allocPercpu(u32);
 * packets.addCurrent(3);
 * assert.equal(packets.readCurrent(), 3);
 * assert.equal(packets.readRemote(1), 0);
 * packets.free();
 * ```
 */
export function allocPercpu<K extends ScalarKind>(
  type: ScalarType<K>,
  init?: ScalarValue<K>,
): ScalarPercpuVar<K> & DynamicPercpuVar<ScalarType<K>>;
/**
 * Allocates a struct or array per-CPU variable in the default system; see
 * the scalar overload.
 *
 * @param type The struct or array descriptor.
 * @param init The initial value on every CPU (default: zeroes).
 * @returns The variable, with `free()`.
 */
export function allocPercpu<T extends Type>(type: T, init?: ValueOf<T>): DynamicPercpuVar<T>;
export function allocPercpu(type: Type, init?: unknown): DynamicPercpuVar {
  return defaultPercpu.allocPercpu(type, init as ValueOf<Type>);
}

/**
 * Initialises the default system's areas (`percpu::init`).
 *
 * @param cpuCount Number of CPUs.
 * @param memory Where to put the areas; omitted, the system allocates.
 * @returns `cpuCount`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { init, percpuAreaBase } from "@percpu/percpu";
 * init(2);
 * assert.equal(percpuAreaBase(1) - percpuAreaBase(0), 64); // one cache line apart
 * ```
 */
export function init(cpuCount: number, memory?: InitMemory): number {
  return defaultPercpu.init(cpuCount, memory);
}

/**
 * Initialises the default system's areas in the section (`percpu::init_in_place`).
 *
 * @returns The number of areas, `CPU_NUM`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initInPlace } from "@percpu/percpu";
 * assert.equal(initInPlace(), 4);
 * ```
 */
export function initInPlace(): number {
  return defaultPercpu.initInPlace();
}

/**
 * Points the default system's per-CPU register at CPU `cpuId`'s area
 * (`percpu::init_percpu_reg`).
 *
 * @param cpuId A CPU id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { init, initPercpuReg, percpuAreaBase, readPercpuReg } from "@percpu/percpu";
 * init(4);
 * initPercpuReg(3);
 * assert.equal(readPercpuReg(), percpuAreaBase(3));
 * ```
 */
export function initPercpuReg(cpuId: number): void {
  defaultPercpu.initPercpuReg(cpuId);
}

/**
 * Reads the default system's per-CPU register (`percpu::read_percpu_reg`).
 *
 * @returns The current area base.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { init, initPercpuReg, readPercpuReg } from "@percpu/percpu";
 * init(1);
 * initPercpuReg(0);
 * assert.equal(readPercpuReg(), percpuAreaBase(0));
 * ```
 */
export function readPercpuReg(): number {
  return defaultPercpu.readPercpuReg();
}

/**
 * Writes the default system's per-CPU register (`percpu::write_percpu_reg`).
 *
 * @param address The new area base.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { init, percpuAreaBase, readPercpuReg, writePercpuReg } from "@percpu/percpu";
 * init(2);
 * writePercpuReg(percpuAreaBase(1));
 * assert.equal(readPercpuReg(), percpuAreaBase(1));
 * ```
 */
export function writePercpuReg(address: number): void {
  defaultPercpu.writePercpuReg(address);
}

/**
 * Number of areas the default system's section reserves (`percpu::percpu_area_num`).
 *
 * @returns `CPU_NUM`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percpuAreaNum } from "@percpu/percpu";
 * assert.equal(percpuAreaNum(), 4);
 * ```
 */
export function percpuAreaNum(): number {
  return defaultPercpu.percpuAreaNum();
}

/**
 * Unrounded area size of the default system (`percpu::percpu_area_size`).
 *
 * @returns Bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percpuAreaSize } from "@percpu/percpu";
 * assert.equal(percpuAreaSize(), 8); // only x86_64's SELF_PTR so far
 * ```
 */
export function percpuAreaSize(): number {
  return defaultPercpu.percpuAreaSize();
}

/**
 * Area base of a CPU in the default system (`percpu::percpu_area_base`).
 *
 * @param cpuId A CPU id.
 * @returns The address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { init, percpuAreaBase } from "@percpu/percpu";
 * init(2);
 * assert.equal(percpuAreaBase(0) % 64, 0);
 * ```
 */
export function percpuAreaBase(cpuId: number): number {
  return defaultPercpu.percpuAreaBase(cpuId);
}

/**
 * Memory needed for `cpuCount` areas in the default system
 * (`percpu::percpu_area_layout_expected`).
 *
 * @param cpuCount Number of CPUs.
 * @returns Size and alignment.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percpuAreaLayoutExpected } from "@percpu/percpu";
 * assert.deepEqual(percpuAreaLayoutExpected(4), { size: 4 * 64, align: 64 });
 * ```
 */
export function percpuAreaLayoutExpected(cpuCount: number): AreaLayout {
  return defaultPercpu.percpuAreaLayoutExpected(cpuCount);
}
