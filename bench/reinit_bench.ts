/**
 * Setting the areas up again and again must cost the same every time and
 * keep memory flat: `init()` with a fresh buffer releases the previous one.
 *
 *     deno bench bench/reinit_bench.ts
 *
 * compares, in one run, `init({ buffer })` on a fresh system (the baseline)
 * with the same call on a system that was set up 10,000 times before, and
 * the same for `shareAreas()`. `bench/reinit_figures.ts` prints the figures
 * along the way.
 *
 * @module
 */

import { createPercpu, type Percpu, u32, u64 } from "../mod.ts";
import { shareAreas } from "../lib/workers/mod.ts";

const RE_INITS = 10_000;

function system(): Percpu {
  const p = createPercpu({ arch: "riscv64" });
  p.defPercpu("HITS", u32, 0);
  p.defPercpu("BYTES", u64, 0n);
  p.allocPercpu(u64, 1n);
  return p;
}

function initFresh(p: Percpu): void {
  p.init(4, { buffer: new ArrayBuffer(p.percpuAreaLayoutExpected(4).size) });
}

const fresh = system();
const worn = system();
for (let i = 0; i < RE_INITS; i++) initFresh(worn);
const freshShared = system();
const wornShared = system();
for (let i = 0; i < RE_INITS; i++) shareAreas(wornShared, 4);

Deno.bench("init({ buffer }), first time", { group: "init", baseline: true }, () => {
  initFresh(fresh);
});
Deno.bench("init({ buffer }) after 10,000 re-inits", { group: "init" }, () => {
  initFresh(worn);
});
Deno.bench("shareAreas(), first time", { group: "shareAreas", baseline: true }, () => {
  shareAreas(freshShared, 4);
});
Deno.bench("shareAreas() after 10,000 calls", { group: "shareAreas" }, () => {
  shareAreas(wornShared, 4);
});
