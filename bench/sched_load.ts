// Load figures of the simulator (a script, not a Deno.bench suite: one run
// of each takes seconds). Two modes:
//
//   deno run --v8-flags=--max-old-space-size=256 bench/sched_load.ts full
//     A default run to the cycle limit (simulate with 2 000 000 guarded
//     increments: 10M cycles, no events kept) inside a 256 MB heap; prints
//     its verdict, time and heap.
//
//   deno run bench/sched_load.ts svg
//     A run of 10M instructions with every event kept, then its timeline:
//     prints the events' count and heap, and the SVG's size and render time.
//     Goals: SVG under 2 MB, rendered in under 5 s.

import v8 from "node:v8";
import { renderTimelineSvg, simulate } from "../sched/mod.ts";

const MiB = 2 ** 20;

function heap(): string {
  const { used_heap_size, total_heap_size, heap_size_limit } = v8.getHeapStatistics();
  return `heap used ${(used_heap_size / MiB).toFixed(1)} MiB, total ${
    (total_heap_size / MiB).toFixed(1)
  } MiB, limit ${(heap_size_limit / MiB).toFixed(0)} MiB`;
}

const mode = Deno.args[0] ?? "full";
if (mode === "full") {
  const start = performance.now();
  const result = simulate({ iters: 2_000_000, features: ["preempt"] });
  const ms = performance.now() - start;
  console.log(
    `default run to the cycle limit: ${result.cycles} cycles, ${result.instructions} instructions in ${
      (ms / 1000).toFixed(1)
    } s (${
      (result.instructions / ms / 1000).toFixed(1)
    } M/s); completed ${result.completed}, stopReason ${result.stopReason}, corrupted ${result.corrupted}`,
  );
  console.log(heap());
} else if (mode === "svg") {
  // Three tasks × 476 190 increments of 7 instructions each: 10M instructions.
  const start = performance.now();
  const run = simulate({ arch: "aarch64", tasks: 3, iters: 476_190, record: true });
  const simMs = performance.now() - start;
  console.log(
    `recorded run: ${run.instructions} instructions, ${run.events!.length} events in ${
      (simMs / 1000).toFixed(1)
    } s; ${heap()}`,
  );
  const renderStart = performance.now();
  const svg = renderTimelineSvg({
    events: run.events!,
    taskNames: run.taskNames,
    cpus: run.cpus,
    title: "10M instructions",
  });
  const renderMs = performance.now() - renderStart;
  console.log(
    `timeline: ${(svg.length / 1e6).toFixed(2)} MB rendered in ${renderMs.toFixed(0)} ms`,
  );
} else {
  console.error(`unknown mode ${JSON.stringify(mode)}; accepted: full, svg`);
  Deno.exitCode = 2;
}
