/**
 * Figures for setting the areas up again and again: across 10,000 calls of
 * `init({ buffer })` with a fresh buffer each time, and of `shareAreas()`,
 * the time per 1,000 calls, the regions mapped in the simulated address
 * space and the heap after a full collection. All three must stay flat.
 *
 *     deno run --v8-flags=--expose-gc bench/reinit_figures.ts
 *
 * @module
 */

import { createPercpu, type Percpu, u32, u64 } from "../mod.ts";
import { shareAreas } from "../lib/workers/mod.ts";
import { portOf } from "../lib/_port.ts";

const RE_INITS = 10_000;
const EVERY = 2_000;

function system(): Percpu {
  const p = createPercpu({ arch: "riscv64" });
  p.defPercpu("HITS", u32, 0);
  p.defPercpu("BYTES", u64, 0n);
  p.allocPercpu(u64, 1n);
  return p;
}

/** Prints time, regions and heap every {@linkcode EVERY} calls. */
function figures(what: string, call: (p: Percpu) => void): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  const p = system();
  console.log(`\n${what}\n  calls\tms/1000\tregions\theap MiB`);
  let last = performance.now();
  for (let i = 1; i <= RE_INITS; i++) {
    call(p);
    if (i % EVERY === 0) {
      const ms = (performance.now() - last) / (EVERY / 1000);
      gc?.();
      const heap = (Deno.memoryUsage().heapUsed / 2 ** 20).toFixed(1);
      const regions = portOf(p).memory.regions.length;
      console.log(`  ${i}\t${ms.toFixed(1)}\t${regions}\t${heap}`);
      last = performance.now();
    }
  }
}

figures("init({ buffer }) with a fresh buffer each time", (p) => {
  p.init(4, { buffer: new ArrayBuffer(p.percpuAreaLayoutExpected(4).size) });
});
figures("shareAreas(p, 4)", (p) => shareAreas(p, 4));
