/**
 * Per-CPU counting on real cores: N Workers, each bound to one CPU of
 * shared per-CPU areas, increment a counter M times each. Prints the
 * throughput of
 *
 * - (a) per-CPU areas through this module (`HITS.addCurrent(1)`, each Worker
 *   in its own 64-byte area), and the same with the `percpu_counter`-style
 *   helper (`EVENTS.add(1)`);
 * - (b) one shared slot that every Worker bumps with `Atomics.add`;
 * - (c) one slot per Worker, packed 4 bytes apart (false sharing);
 *
 * and checks that every layout's sum is exactly N × M. Each Worker makes up
 * to an eighth of its increments before the timed part, so that the loops
 * are compiled when the clock starts.
 *
 *     deno run --allow-read examples/worker_counter.ts [--workers N] [--iterations M] [--json]
 *
 * Workers load their module from a file, which is the only permission they
 * need: `--allow-read` (or `--allow-read=.` from the repository root, read
 * access to `examples/` and `lib/`). `--json` prints
 * `{ workers, itersPerWorker, expected, sum, percpuOpsPerSec, atomicOpsPerSec,
 * falseSharingOpsPerSec }`. Exit codes: 0 when every sum is exact, 1 when a
 * sum is wrong or a Worker failed, 2 on bad options.
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
  percpu,
  READY,
  type Timing,
} from "./worker_counter_task.ts";

const USAGE = "usage: worker_counter.ts [--workers N] [--iterations M] [--json]";

interface Options {
  readonly workers: number;
  readonly iterations: number;
  readonly json: boolean;
}

function positiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      workers: { type: "string", short: "w" },
      iterations: { type: "string", short: "n" },
      json: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const workers = positiveInteger(values.workers, "workers", navigator.hardwareConcurrency);
  const iterations = positiveInteger(values.iterations, "iterations", 20_000_000);
  if (workers > 256) throw new RangeError(`--workers must be at most 256, got ${workers}`);
  // The shared and packed slots are u32: keep every total representable.
  if (workers * iterations > 0xffffffff) {
    throw new RangeError(
      `--workers × --iterations must be at most 4294967295, got ${workers * iterations}`,
    );
  }
  return { workers, iterations, json: values.json };
}

interface Measured {
  readonly opsPerSec: number;
  readonly sum: number;
}

async function measure(
  mode: Mode,
  workers: number,
  iterations: number,
  sharedAreas: ReturnType<typeof shareAreas>,
): Promise<Measured> {
  const args: CountArgs = {
    mode,
    iterations,
    control: new SharedArrayBuffer(8),
    shared: new SharedArrayBuffer(4),
    packed: new SharedArrayBuffer(4 * workers),
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
  const sums: Record<Mode, () => number> = {
    percpu: () => remoteSum(percpu, HITS),
    counter: () => EVENTS.sum(),
    atomic: () => new Uint32Array(args.shared)[0],
    "false-sharing": () => new Uint32Array(args.packed).reduce((a, b) => a + b, 0),
  };
  return { opsPerSec: timed / (slowest / 1000), sum: sums[mode]() };
}

function millions(opsPerSec: number): string {
  return `${(opsPerSec / 1e6).toFixed(0).padStart(6)} M ops/s`;
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(Deno.args);
  } catch (error) {
    console.error(`worker_counter: ${(error as Error).message}; ${USAGE}`);
    return 2;
  }
  const { workers, iterations, json } = options;
  const expected = workers * iterations;
  const sharedAreas = shareAreas(percpu, workers);
  const modes: Mode[] = ["percpu", "counter", "atomic", "false-sharing"];
  const results = {} as Record<Mode, Measured>;
  for (const mode of modes) results[mode] = await measure(mode, workers, iterations, sharedAreas);
  const wrong = modes.filter((mode) => results[mode].sum !== expected);

  if (json) {
    console.log(JSON.stringify({
      workers,
      itersPerWorker: iterations,
      expected,
      sum: results.percpu.sum,
      percpuOpsPerSec: Math.round(results.percpu.opsPerSec),
      atomicOpsPerSec: Math.round(results.atomic.opsPerSec),
      falseSharingOpsPerSec: Math.round(results["false-sharing"].opsPerSec),
    }));
  } else {
    const base = results.percpu.opsPerSec;
    const ratio = (mode: Mode) => (base / results[mode].opsPerSec).toFixed(1);
    console.log(`${workers} Workers × ${iterations} increments = ${expected}`);
    console.log(`(a) per-CPU, addCurrent    ${millions(base)}  sum ${results.percpu.sum}`);
    console.log(
      `    per-CPU, counter.add   ${
        millions(results.counter.opsPerSec)
      }  sum ${results.counter.sum}`,
    );
    console.log(
      `(b) one Atomics.add slot   ${
        millions(results.atomic.opsPerSec)
      }  sum ${results.atomic.sum}  (per-CPU is ${ratio("atomic")}×)`,
    );
    console.log(
      `(c) slots 4 bytes apart    ${millions(results["false-sharing"].opsPerSec)}  sum ${
        results["false-sharing"].sum
      }  (per-CPU is ${ratio("false-sharing")}×)`,
    );
  }
  for (const mode of wrong) {
    console.error(`worker_counter: ${mode}: sum ${results[mode].sum} !== expected ${expected}`);
  }
  return wrong.length === 0 ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main();
  } catch (error) {
    console.error(`worker_counter: ${(error as Error).message}`);
    Deno.exitCode = 1;
  }
}
