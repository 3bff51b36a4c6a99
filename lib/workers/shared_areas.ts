/**
 * Per-CPU areas in a `SharedArrayBuffer`, for Workers: the creator
 * initialises them once, each Worker (with its own system, built by
 * importing the same definitions) attaches as one CPU, and from then on the
 * ordinary accessors of every thread work on the same memory. A Worker's
 * per-CPU register is its own, so `readCurrent()` and friends go to its own
 * CPU's area at full speed.
 *
 * @module
 */

import { checkInteger } from "../_check.ts";
import { valueText } from "../_describe.ts";
import { InitError } from "../errors.ts";
import { checkCpuCount } from "../_options.ts";
import { portOf } from "../_port.ts";
import {
  layoutDifference,
  type LayoutFingerprint,
  layoutFingerprint,
  LayoutMismatchError,
} from "./layout_fingerprint.ts";
import type { Percpu } from "../percpu.ts";
import { percpuCounters } from "./percpu_counter.ts";

/**
 * Shared per-CPU areas, as {@linkcode shareAreas} made them. A plain object
 * of shared buffers and numbers: post it to Workers as it is.
 */
export interface SharedAreas {
  /** Number of areas (CPUs). */
  readonly cpuCount: number;
  /** The areas, from byte 0, `stride` bytes apart. */
  readonly buffer: SharedArrayBuffer;
  /** The chunks of the dynamic variables (`allocPercpu`), one per chunk. */
  readonly dynamic: readonly SharedArrayBuffer[];
  /** The shared `i64` totals of the system's counters, in definition order. */
  readonly totals: SharedArrayBuffer;
  /** The creator's layout, which attaching systems must match. */
  readonly fingerprint: LayoutFingerprint;
}

function bindTotals(percpu: Percpu, buffer: SharedArrayBuffer): void {
  const totals = new BigInt64Array(buffer);
  percpuCounters(percpu).forEach((counter, slot) => counter.bindTotal(totals, slot));
}

function refuseNaive(percpu: Percpu, what: string): void {
  if (percpu.hasFeature("sp-naive")) {
    throw new TypeError(
      `${what}: an sp-naive system has one CPU and its variables are plain globals; there are no per-CPU areas to share`,
    );
  }
}

/**
 * Initialises `cpuCount` per-CPU areas of `percpu` in a new
 * `SharedArrayBuffer` (the crate's `init`: every area gets the template,
 * every dynamic variable its initial value, in shared memory too) and gives
 * its counters fresh shared totals of 0. The calling thread keeps using the
 * system as before; its per-CPU register is left alone. The memory of the
 * previous set-up is released, so sharing again does not pin old buffers.
 *
 * @param percpu The creating system, with every variable defined.
 * @param cpuCount Number of CPUs, 1 to 65536.
 * @returns What Workers need to attach.
 * @throws {TypeError} Under `sp-naive`, which has no areas to share.
 * @throws {RangeError} On a bad `cpuCount`. Nothing is changed.
 *
 * @example The creator's side
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u32 } from "@percpu/percpu";
 * import { shareAreas } from "@percpu/percpu/workers";
 *
 * const p = createPercpu();
 * const HITS = p.defPercpu("HITS", u32, 7);
 * const shared = shareAreas(p, 2);
 * assert.ok(shared.buffer instanceof SharedArrayBuffer);
 * assert.equal(shared.cpuCount, 2);
 * assert.equal(HITS.remoteRefRaw(1).value, 7);
 * // new Worker(...).postMessage(shared) — see runOnCpus
 * ```
 */
export function shareAreas(percpu: Percpu, cpuCount: number): SharedAreas {
  refuseNaive(percpu, "shareAreas");
  checkCpuCount(cpuCount, "shareAreas: cpuCount");
  const size = percpu.percpuAreaLayoutExpected(cpuCount).size;
  const buffer = new SharedArrayBuffer(Math.max(size, 64));
  const totals = new SharedArrayBuffer(Math.max(8 * percpuCounters(percpu).length, 8));
  percpu.init(cpuCount, { buffer });
  bindTotals(percpu, totals);
  const dynamic = portOf(percpu).dynamic?.shared() ?? [];
  return { cpuCount, buffer, dynamic, totals, fingerprint: layoutFingerprint(percpu) };
}

function isList(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

function checkShared(shared: SharedAreas): void {
  const f = typeof shared === "object" && shared !== null ? shared.fingerprint : null;
  const ok = typeof shared === "object" && shared !== null &&
    shared.buffer instanceof SharedArrayBuffer && shared.totals instanceof SharedArrayBuffer &&
    Number.isSafeInteger(shared.cpuCount) && shared.cpuCount >= 1 &&
    isList(shared.dynamic) && typeof f === "object" && f !== null &&
    typeof f.arch === "string" && isList(f.features) && Number.isSafeInteger(f.stride) &&
    isList(f.variables) && isList(f.dynamic) && isList(f.counters);
  if (!ok) {
    throw new TypeError(
      `attachShared: expected the object shareAreas() returned ({ cpuCount, buffer, dynamic, totals, fingerprint }), got ${
        valueText(shared)
      }`,
    );
  }
}

/**
 * Attaches `percpu` to areas another system shared, as CPU `cpu`: checks
 * that the layouts match, adopts the areas, the dynamic variables' chunks
 * and the counter totals (nothing is copied), and points this thread's
 * per-CPU register at area `cpu` (`initPercpuReg(cpu)`). Everything is
 * checked before anything is adopted, so a failed call leaves `percpu` as
 * it was.
 *
 * @param percpu This thread's system, built from the same definitions
 *   (and the same `allocPercpu()` calls, in the same order).
 * @param shared What {@linkcode shareAreas} returned in the creator.
 * @param cpu The CPU this thread is, below `shared.cpuCount`.
 * @throws {LayoutMismatchError} When the layouts differ; its message names
 *   the first difference.
 * @throws {TypeError} When `shared` is not what `shareAreas` returned, or
 *   under `sp-naive`.
 * @throws {InitError} `InsufficientMemory` when the shared areas are too
 *   small for `cpuCount`.
 * @throws {RangeError} On a bad CPU id, or shared totals or dynamic chunks
 *   too small for what they must hold. Nothing is changed on any error.
 *
 * @example A second system attaching (in a Worker it is the same code)
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u32, u64 } from "@percpu/percpu";
 * import { attachShared, LayoutMismatchError, shareAreas } from "@percpu/percpu/workers";
 *
 * const creator = createPercpu();
 * const HITS = creator.defPercpu("HITS", u32, 0);
 * const shared = shareAreas(creator, 2);
 *
 * const worker = createPercpu();
 * const hits = worker.defPercpu("HITS", u32, 0);
 * attachShared(worker, shared, 1);
 * hits.addCurrent(5);
 * assert.equal(HITS.remoteRefRaw(1).value, 5);
 *
 * const stale = createPercpu();
 * stale.defPercpu("HITS", u64, 0n);
 * assert.throws(() => attachShared(stale, shared, 0), LayoutMismatchError);
 * ```
 */
export function attachShared(percpu: Percpu, shared: SharedAreas, cpu: number): void {
  checkShared(shared);
  refuseNaive(percpu, "attachShared");
  const here = layoutFingerprint(percpu);
  const difference = layoutDifference(here, shared.fingerprint);
  if (difference !== null) throw new LayoutMismatchError(difference);
  checkInteger(cpu, "attachShared: the CPU id", 0, shared.cpuCount - 1);
  const counters = percpuCounters(percpu).length;
  if (shared.totals.byteLength < 8 * counters) {
    throw new RangeError(
      `attachShared: ${counters} counters need ${
        8 * counters
      } bytes of shared totals, got ${shared.totals.byteLength}`,
    );
  }
  const chunkBytes = shared.cpuCount * here.stride;
  if (shared.buffer.byteLength < chunkBytes) {
    throw new InitError(
      "InsufficientMemory",
      `attachShared: ${shared.cpuCount} areas need ${chunkBytes} bytes, but the shared buffer has ${shared.buffer.byteLength}`,
    );
  }
  for (const d of here.dynamic) {
    const chunk = here.stride === 0 ? 0 : Math.floor(d.offset / here.stride);
    const buffer = shared.dynamic[chunk];
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < chunkBytes) {
      throw new RangeError(
        `attachShared: ${d.name} lives in dynamic chunk ${chunk}, which needs a SharedArrayBuffer of ${chunkBytes} bytes; got ${
          valueText(buffer)
        }`,
      );
    }
  }
  // Checked: from here on nothing throws (attach checks the area buffer's
  // size before it changes anything).
  percpu.attach(shared.cpuCount, { buffer: shared.buffer });
  portOf(percpu).dynamic?.adopt(shared.dynamic);
  percpu.initPercpuReg(cpu);
  bindTotals(percpu, shared.totals);
}
