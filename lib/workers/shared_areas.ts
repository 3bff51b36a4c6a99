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

import { valueText } from "../_describe.ts";
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
  /** The shared `i64` totals of the system's counters, in definition order. */
  readonly totals: SharedArrayBuffer;
  /** The creator's layout, which attaching systems must match. */
  readonly fingerprint: LayoutFingerprint;
}

const MAX_CPUS = 65536;

function bindTotals(percpu: Percpu, buffer: SharedArrayBuffer): void {
  const totals = new BigInt64Array(buffer);
  percpuCounters(percpu).forEach((counter, slot) => counter.bindTotal(totals, slot));
}

/**
 * Initialises `cpuCount` per-CPU areas of `percpu` in a new
 * `SharedArrayBuffer` (the crate's `init`: every area gets the template) and
 * gives its counters fresh shared totals of 0. The calling thread
 * keeps using the system as before; its per-CPU register is left alone.
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
  if (percpu.hasFeature("sp-naive")) {
    throw new TypeError(
      "shareAreas: an sp-naive system has one CPU and its variables are plain globals; there are no per-CPU areas to share",
    );
  }
  if (typeof cpuCount !== "number") {
    throw new TypeError(`shareAreas: cpuCount must be a number, got ${valueText(cpuCount)}`);
  }
  if (!Number.isInteger(cpuCount) || cpuCount < 1 || cpuCount > MAX_CPUS) {
    throw new RangeError(
      `shareAreas: cpuCount must be an integer from 1 to ${MAX_CPUS}, got ${valueText(cpuCount)}`,
    );
  }
  const size = percpu.percpuAreaLayoutExpected(cpuCount).size;
  const buffer = new SharedArrayBuffer(Math.max(size, 64));
  percpu.init(cpuCount, { buffer });
  const totals = new SharedArrayBuffer(Math.max(8 * percpuCounters(percpu).length, 8));
  bindTotals(percpu, totals);
  return { cpuCount, buffer, totals, fingerprint: layoutFingerprint(percpu) };
}

function checkShared(shared: SharedAreas): void {
  const ok = typeof shared === "object" && shared !== null &&
    shared.buffer instanceof SharedArrayBuffer && shared.totals instanceof SharedArrayBuffer &&
    Number.isInteger(shared.cpuCount) && typeof shared.fingerprint === "object" &&
    shared.fingerprint !== null;
  if (!ok) {
    throw new TypeError(
      `attachShared: expected the object shareAreas() returned ({ cpuCount, buffer, totals, fingerprint }), got ${
        valueText(shared)
      }`,
    );
  }
}

/**
 * Attaches `percpu` to areas another system shared, as CPU `cpu`: checks
 * that the layouts match, adopts the areas and the counter totals (nothing
 * is copied), and points this thread's per-CPU register at area `cpu`
 * (`initPercpuReg(cpu)`).
 *
 * @param percpu This thread's system, built from the same definitions.
 * @param shared What {@linkcode shareAreas} returned in the creator.
 * @param cpu The CPU this thread is, below `shared.cpuCount`.
 * @throws {LayoutMismatchError} When the layouts differ; its message names
 *   the first difference.
 * @throws {TypeError} When `shared` is not what `shareAreas` returned.
 * @throws {RangeError} On a bad CPU id. Nothing is changed on any error.
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
  const difference = layoutDifference(layoutFingerprint(percpu), shared.fingerprint);
  if (difference !== null) throw new LayoutMismatchError(difference);
  if (typeof cpu !== "number") {
    throw new TypeError(`attachShared: the CPU id must be a number, got ${valueText(cpu)}`);
  }
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= shared.cpuCount) {
    throw new RangeError(
      `attachShared: CPU id ${valueText(cpu)} is out of range; the shared areas have ids 0 to ${
        shared.cpuCount - 1
      }`,
    );
  }
  percpu.attach(shared.cpuCount, { buffer: shared.buffer });
  percpu.initPercpuReg(cpu);
  bindTotals(percpu, shared.totals);
}
