/**
 * Per-CPU counting on real cores: N Workers, each bound to one CPU of
 * shared per-CPU areas, increment a counter M times each, in five layouts:
 *
 * - per-CPU areas through this module (`HITS.addCurrent(1)`, each Worker in
 *   its own 64-byte-strided area), and the `percpu_counter`-style helper
 *   (`EVENTS.add(1)`);
 * - one raw `u32` slot per Worker 64 bytes apart (padded) and 4 bytes apart
 *   (packed: false sharing), incremented by the same function, so that the
 *   two differ in the stride alone;
 * - one shared slot that every Worker bumps with `Atomics.add`;
 *
 * and checks that every layout's sum is exactly N × M. It prints the cores
 * it ran on and three throughput ratios: padded ÷ packed (what false sharing
 * costs), per-CPU ÷ `Atomics.add`, and per-CPU ÷ padded (this module's cost
 * over a hand-written padded slot). Each Worker makes up to an eighth of its
 * increments before the timed part, so that the loops are compiled when the
 * clock starts. The layouts take turns, `--runs` rounds of them (default
 * 3), and each reports its best round: a machine busy with other work slows
 * some rounds, and taking turns spreads that over every layout.
 *
 *     deno run --allow-read examples/worker_counter.ts [--workers N] [--iterations M] [--runs R] [--json]
 *
 * Workers load their modules from files: `--allow-read` (or `--allow-read=.`
 * from the repository root) is the only permission needed. More Workers
 * than cores are refused: they would take turns on a core, and the figures
 * would measure the operating system's time slicing; `--oversubscribe` runs
 * them anyway and says so. Exit codes: 0 when every sum is exact, 1 when a
 * sum is wrong or a Worker failed, 2 on bad options or a missing permission.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { remoteSum, runOnCpus, shareAreas } from "../lib/workers/mod.ts";
import {
  type CountArgs,
  EVENTS,
  GO,
  HITS,
  type Mode,
  PADDED_STRIDE,
  percpu,
  READY,
  type Timing,
} from "./worker_counter_task.ts";

const USAGE =
  "usage: deno run --allow-read examples/worker_counter.ts [--workers N] [--iterations M] [--runs R] [--json] [--oversubscribe]";

interface Options {
  readonly workers: number;
  readonly iterations: number;
  readonly runs: number;
  readonly json: boolean;
  readonly oversubscribe: boolean;
}

class UsageError extends Error {}

function positiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

function parseOptions(argv: string[], cores: number): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        workers: { type: "string", short: "w" },
        iterations: { type: "string", short: "n" },
        runs: { type: "string", short: "r" },
        json: { type: "boolean", default: false },
        oversubscribe: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]);
  }
  const workers = positiveInteger(values.workers, "workers", cores);
  const iterations = positiveInteger(values.iterations, "iterations", 20_000_000);
  const runs = positiveInteger(values.runs, "runs", 3);
  if (runs > 100) throw new UsageError(`--runs must be at most 100, got ${runs}`);
  if (workers > 256) throw new UsageError(`--workers must be at most 256, got ${workers}`);
  if (workers > cores && !values.oversubscribe) {
    throw new UsageError(
      `--workers ${workers} is more than the ${cores} cores here: Workers would take turns on a core and the figures would measure time slicing, not memory (--oversubscribe runs them anyway)`,
    );
  }
  // The shared and packed slots are u32: keep every total representable.
  if (workers * iterations > 0xffffffff) {
    throw new UsageError(
      `--workers × --iterations must be at most 4294967295, got ${workers * iterations}`,
    );
  }
  return { workers, iterations, runs, json: values.json, oversubscribe: values.oversubscribe };
}

/** Workers import their modules from files: make sure Deno lets them. */
function checkReadable(): void {
  const descriptor = { name: "read", path: new URL("../", import.meta.url) } as const;
  let state = Deno.permissions.querySync(descriptor).state;
  if (state === "prompt" && Deno.stdin.isTerminal()) {
    state = Deno.permissions.requestSync(descriptor).state;
  }
  if (state !== "granted") {
    throw new UsageError(
      "Workers load their modules from files: run with --allow-read, e.g. deno run --allow-read examples/worker_counter.ts",
    );
  }
}

interface Measured {
  readonly opsPerSec: number;
  readonly sum: number;
}

async function measure(mode: Mode, workers: number, iterations: number): Promise<Measured> {
  // Fresh areas (and counter totals) for every run: sums start at 0.
  const sharedAreas = shareAreas(percpu, workers);
  const args: CountArgs = {
    mode,
    iterations,
    control: new SharedArrayBuffer(8),
    shared: new SharedArrayBuffer(4),
    slots: new SharedArrayBuffer(4 * PADDED_STRIDE * workers),
  };
  const control = new Int32Array(args.control);
  let settled = false;
  const done = runOnCpus<Timing, CountArgs>({
    module: new URL("./worker_counter_task.ts", import.meta.url),
    shared: sharedAreas,
    workers,
    args,
  }).finally(() => settled = true);
  // Release every Worker at once, after all of them have started, so that
  // they contend for the whole loop.
  while (Atomics.load(control, READY) < workers && !settled) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  Atomics.store(control, GO, 1);
  Atomics.notify(control, GO);
  const outcomes = await done;
  const failed = outcomes.find((outcome) => !outcome.ok);
  if (failed && !failed.ok) throw failed.error;
  // The Workers run side by side: the slowest one's time is the run's.
  const timings = outcomes.map((outcome) => (outcome as { value: Timing }).value);
  const timed = timings.reduce((sum, timing) => sum + timing.timed, 0);
  const slowest = Math.max(...timings.map((timing) => timing.ms));
  const slots = new Uint32Array(args.slots);
  const sums: Record<Mode, () => number> = {
    percpu: () => remoteSum(percpu, HITS),
    counter: () => EVENTS.sum(),
    padded: () => slots.reduce((a, b) => a + b, 0),
    packed: () => slots.reduce((a, b) => a + b, 0),
    atomic: () => new Uint32Array(args.shared)[0],
  };
  return { opsPerSec: timed / (slowest / 1000), sum: sums[mode]() };
}

function millions(opsPerSec: number): string {
  return `${(opsPerSec / 1e6).toFixed(0).padStart(6)} M ops/s`;
}

const MODES: readonly Mode[] = ["percpu", "counter", "padded", "packed", "atomic"];

async function main(): Promise<number> {
  const cores = navigator.hardwareConcurrency;
  let options: Options;
  try {
    options = parseOptions(Deno.args, cores);
    checkReadable();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`worker_counter: ${error.message}\n${USAGE}`);
    return 2;
  }
  const { workers, iterations, runs, json } = options;
  const expected = workers * iterations;
  const results = {} as Record<Mode, Measured>;
  const wrong = new Set<Mode>();
  for (let round = 0; round < runs; round++) {
    for (const mode of MODES) {
      const measured = await measure(mode, workers, iterations);
      if (measured.sum !== expected) wrong.add(mode);
      if (!(results[mode]?.opsPerSec >= measured.opsPerSec)) results[mode] = measured;
    }
  }
  const ops = (mode: Mode) => results[mode].opsPerSec;
  const ratios = {
    falseSharing: ops("padded") / ops("packed"),
    atomic: ops("percpu") / ops("atomic"),
    library: ops("percpu") / ops("padded"),
  };

  if (json) {
    console.log(JSON.stringify({
      workers,
      cores,
      itersPerWorker: iterations,
      runs,
      expected,
      sums: Object.fromEntries(MODES.map((mode) => [mode, results[mode].sum])),
      opsPerSec: Object.fromEntries(MODES.map((mode) => [mode, Math.round(ops(mode))])),
      ratios: Object.fromEntries(
        Object.entries(ratios).map(([name, ratio]) => [name, Math.round(ratio * 100) / 100]),
      ),
    }));
  } else {
    const x = (ratio: number) => `${ratio.toFixed(2)}×`;
    const row = (label: string, mode: Mode) =>
      console.log(`  ${label.padEnd(34)}${millions(ops(mode))}  sum ${results[mode].sum}`);
    console.log(
      `${workers} Workers × ${iterations} increments = ${expected}, on ${cores} cores, best of ${runs}` +
        (workers > cores
          ? ` (oversubscribed: Workers take turns, figures measure time slicing)`
          : ""),
    );
    row("per-CPU area, HITS.addCurrent(1)", "percpu");
    row("per-CPU counter, EVENTS.add(1)", "counter");
    row("raw slots 64 bytes apart (padded)", "padded");
    row("raw slots 4 bytes apart (packed)", "packed");
    row("one slot, Atomics.add", "atomic");
    console.log(
      `padded slots are ${
        x(ratios.falseSharing)
      } as fast as packed ones (same loop: the stride alone)`,
    );
    console.log(`per-CPU areas are ${x(ratios.atomic)} as fast as one Atomics.add slot`);
    console.log(
      `per-CPU areas run at ${
        x(ratios.library)
      } the speed of padded raw slots (this module's cost)`,
    );
  }
  for (const mode of wrong) {
    console.error(`worker_counter: ${mode}: sum ${results[mode].sum} !== expected ${expected}`);
  }
  return wrong.size === 0 ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main();
  } catch (error) {
    console.error(`worker_counter: ${(error as Error).message}`);
    Deno.exitCode = 1;
  }
}
