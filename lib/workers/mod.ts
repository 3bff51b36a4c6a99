/**
 * Real parallelism: per-CPU areas in a `SharedArrayBuffer`, one Worker per
 * CPU. {@linkcode shareAreas} initialises the areas, each Worker attaches as
 * one CPU ({@linkcode runOnCpus} does it for you), and the ordinary accessors
 * of every thread then reach their own CPU's area at full speed.
 * {@linkcode atomicRemote} and {@linkcode remoteSum} read other CPUs without
 * torn values; {@linkcode defPercpuCounter} is Linux's `percpu_counter`.
 *
 * Workers load their modules from files, so Deno needs `--allow-read`.
 *
 * @example Two CPUs, one task module
 * ```ts
 * import assert from "node:assert/strict";
 * import { remoteSum, runOnCpus, shareAreas } from "@percpu/percpu/workers";
 *
 * // The task module: the definitions every Worker imports, and the task.
 * // (A data: URL keeps this example in one piece; normally it is a file.)
 * const task = new URL(`data:text/typescript,
 *   import { createPercpu, u32 } from "@percpu/percpu";
 *   export const percpu = createPercpu();
 *   export const HITS = percpu.defPercpu("HITS", u32, 0);
 *   export function run({ cpu }: { cpu: number }) {
 *     HITS.addCurrent(cpu + 1);
 *     return cpu;
 *   }`);
 * const { percpu, HITS } = await import(task.href);
 * const outcomes = await runOnCpus({ module: task, shared: shareAreas(percpu, 2) });
 * assert.deepEqual(outcomes.map((o) => o.ok), [true, true]);
 * assert.equal(remoteSum(percpu, HITS), 3);
 * ```
 *
 * @module
 */

export { attachShared, shareAreas } from "./shared_areas.ts";
export type { SharedAreas } from "./shared_areas.ts";
export { CpuTaskError, runOnCpus } from "./run_on_cpus.ts";
export type { CpuOutcome, CpuTaskContext, RunOnCpusOptions } from "./run_on_cpus.ts";
export { layoutDifference, layoutFingerprint, LayoutMismatchError } from "./layout_fingerprint.ts";
export type {
  CounterFingerprint,
  LayoutFingerprint,
  VariableFingerprint,
} from "./layout_fingerprint.ts";
export { atomicRemote, remoteSum } from "./remote_atomics.ts";
export type { AtomicRemote, SumOf } from "./remote_atomics.ts";
export { defPercpuCounter, PercpuCounter } from "./percpu_counter.ts";
export type { PercpuCounterOptions } from "./percpu_counter.ts";
