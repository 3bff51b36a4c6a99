/**
 * The Worker side of `worker_counter.ts`: the per-CPU definitions that the
 * main thread and every Worker import, and the counting loops each Worker
 * runs once the main thread lets them all go at the same moment.
 *
 * @module
 */

import { createPercpu, u32 } from "../mod.ts";
import { type CpuTaskContext, defPercpuCounter } from "../lib/workers/mod.ts";

/** The per-CPU system: each Worker attaches it to the shared areas. */
export const percpu = createPercpu();
/** Each CPU's increments, one `u32` in each CPU's own area. */
export const HITS = percpu.defPercpu("HITS", u32, 0);
/** The same count as a `percpu_counter`: per-CPU deltas folded into a shared total. */
export const EVENTS = defPercpuCounter(percpu, "EVENTS", { batch: 4096 });

/** Which layout a run measures. */
export type Mode = "percpu" | "counter" | "padded" | "packed" | "atomic";

/** Slots of one `u32` per Worker, 64 bytes apart (`padded`): one cache line each. */
export const PADDED_STRIDE = 16;

/** What the main thread passes to every Worker. */
export interface CountArgs {
  /** The layout to measure. */
  readonly mode: Mode;
  /** Increments per Worker. */
  readonly iterations: number;
  /** `[ready, go]` as an `Int32Array`: the start barrier. */
  readonly control: SharedArrayBuffer;
  /** One `u32` slot every Worker adds to (`atomic`). */
  readonly shared: SharedArrayBuffer;
  /** One `u32` slot per Worker, `PADDED_STRIDE` slots or 1 slot apart (`padded`, `packed`). */
  readonly slots: SharedArrayBuffer;
}

/** The start barrier's slots. */
export const READY = 0;
/** Set to 1 by the main thread once every Worker is ready. */
export const GO = 1;

/**
 * The raw-slot loop, one function for both strides: `padded` and `packed`
 * run the same code, so their difference is the memory layout alone.
 */
function bump(n: number, slot: number, buffer: SharedArrayBuffer): void {
  const slots = new Uint32Array(buffer);
  for (let i = 0; i < n; i++) slots[slot] = slots[slot] + 1;
}

// One function per layout, so that V8 compiles each loop on its own.
const LOOPS: Readonly<Record<Mode, (n: number, cpu: number, args: CountArgs) => void>> = {
  percpu(n) {
    for (let i = 0; i < n; i++) HITS.addCurrent(1);
  },
  counter(n) {
    for (let i = 0; i < n; i++) EVENTS.add(1);
  },
  padded: (n, cpu, args) => bump(n, cpu * PADDED_STRIDE, args.slots),
  packed: (n, cpu, args) => bump(n, cpu, args.slots),
  atomic(n, _cpu, args) {
    const slot = new Uint32Array(args.shared);
    for (let i = 0; i < n; i++) Atomics.add(slot, 0, 1);
  },
};

/** What a Worker reports. */
export interface Timing {
  /** Increments made inside the timed part. */
  readonly timed: number;
  /** How long the timed part took, in milliseconds. */
  readonly ms: number;
}

/**
 * Counts `iterations` times in the requested layout: first up to an eighth
 * of them untimed, so that V8 has compiled the loop (with two cores, its
 * compiler thread would otherwise compete with the Workers inside the
 * timed part); then, once the main thread says go, the rest, timed.
 *
 * @param context This Worker's CPU and the run's arguments.
 * @returns The timed increments and how long they took.
 */
export function run({ cpu, args }: CpuTaskContext<CountArgs>): Timing {
  const loop = LOOPS[args.mode];
  const warmUp = Math.min(Math.floor(args.iterations / 8), 2_000_000);
  loop(warmUp, cpu, args);
  const control = new Int32Array(args.control);
  Atomics.add(control, READY, 1);
  Atomics.wait(control, GO, 0);
  const timed = args.iterations - warmUp;
  const start = performance.now();
  loop(timed, cpu, args);
  return { timed, ms: performance.now() - start };
}
