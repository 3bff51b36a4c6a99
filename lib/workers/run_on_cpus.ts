/**
 * Runs a task on real CPUs: one Worker per CPU of some shared per-CPU areas,
 * each attached as its CPU, each running a function exported by a user
 * module, with every Worker's outcome collected.
 *
 * Workers load modules from files, so Deno needs read access to the task
 * module and everything it imports (`--allow-read`, or
 * `--allow-read=<the directory holding them>`); no other permission.
 *
 * What stopping a Worker can and cannot do (Deno 2.9): `terminate()` takes
 * effect only when the Worker returns to its event loop. A task in a
 * synchronous loop, in an endless chain of promise callbacks, or blocked in
 * `Atomics.wait` is not stopped by it: aborting `runOnCpus` still settles
 * its promise at once, but such a Worker keeps running, and keeps the
 * process alive, until it yields to the event loop or the process calls
 * `Deno.exit()`.
 *
 * @module
 */

import { checkInteger, checkOptions } from "../_check.ts";
import { isRevokedProxy, valueText } from "../_describe.ts";
import { absoluteModuleUrl, workerEntry } from "./_worker_entry.ts";
import { PercpuError } from "../errors.ts";
import type { CpuWorkerReply, CpuWorkerRequest } from "./_cpu_worker.ts";
import type { SharedAreas } from "./shared_areas.ts";

/** What the task function receives in its Worker. */
export interface CpuTaskContext<A = unknown> {
  /** The CPU this Worker is: its per-CPU register points at area `cpu`. */
  readonly cpu: number;
  /** Number of shared areas. */
  readonly cpuCount: number;
  /** The `args` given to {@linkcode runOnCpus} (structured-cloned). */
  readonly args: A;
}

/** Options of {@linkcode runOnCpus}. */
export interface RunOnCpusOptions<A = unknown> {
  /**
   * The task module, as an absolute URL, e.g.
   * `new URL("../task.ts", import.meta.url)`. It exports the system (built
   * from the same definitions as the creator's) and the task function.
   */
  readonly module: string | URL;
  /** The areas to attach, from {@linkcode shareAreas}. */
  readonly shared: SharedAreas;
  /** The task function's export name (default `"run"`); it may be async. */
  readonly task?: string;
  /** The system's export name (default `"percpu"`). */
  readonly system?: string;
  /** How many Workers, 1 to `shared.cpuCount` (default all); Worker `i` is CPU `i`. */
  readonly workers?: number;
  /**
   * Passed to every task as `args`; must be structured-cloneable. It is
   * cloned once, before any Worker starts, and that copy is what every
   * task receives.
   */
  readonly args?: A;
  /**
   * Terminates every Worker and rejects with its reason when aborted (see
   * the module documentation for Workers that `terminate()` cannot stop).
   */
  readonly signal?: AbortSignal;
}

/**
 * A task failed on one CPU: it threw, its module could not be loaded or
 * attached, its result could not be sent back, or it ended its Worker
 * (`close()`, `Deno.exit()`) before finishing. The other CPUs' outcomes and
 * data are unaffected.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CpuTaskError } from "@percpu/percpu/workers";
 *
 * const error = new CpuTaskError(1, "RangeError", "too many packets");
 * assert.equal(error.message, "CPU 1: RangeError: too many packets");
 * assert.equal(error.cpu, 1);
 * ```
 */
export class CpuTaskError extends PercpuError {
  /** The CPU whose task failed. */
  readonly cpu: number;
  /** The class name of what the task threw, e.g. `RangeError`. */
  readonly remoteName: string;
  /** The stack trace as the Worker recorded it, when there was one. */
  readonly remoteStack: string | undefined;

  /**
   * Creates the error.
   *
   * @param cpu The CPU whose task failed.
   * @param remoteName The class name of the original error.
   * @param message The original message.
   * @param remoteStack The original stack trace.
   */
  constructor(cpu: number, remoteName: string, message: string, remoteStack?: string) {
    super(`CPU ${cpu}: ${remoteName}: ${message}`);
    this.cpu = cpu;
    this.remoteName = remoteName;
    this.remoteStack = remoteStack;
  }
}

/** How one CPU's task ended. */
export type CpuOutcome<T> =
  | {
    /** The CPU. */
    readonly cpu: number;
    /** The task returned. */
    readonly ok: true;
    /** What it returned (structured-cloned). */
    readonly value: T;
  }
  | {
    /** The CPU. */
    readonly cpu: number;
    /** The task failed. */
    readonly ok: false;
    /** Why, naming the CPU and the original message. */
    readonly error: CpuTaskError;
  };

const WORKER_URL = new URL("./_cpu_worker.ts", import.meta.url);
const OPTION_KEYS = ["module", "shared", "task", "system", "workers", "args", "signal"];

/**
 * The one copy of a value every Worker receives: cloning it up front refuses
 * what cannot be sent before any Worker starts, and reads a getter or a
 * Proxy once, so that every CPU gets the same value.
 *
 * @param value `args`, or `shared`.
 * @param what Which option, and what it must be, for the message.
 */
function cloneOnce<T>(value: T, what: string): T {
  try {
    return structuredClone(value);
  } catch (error) {
    throw new TypeError(
      `runOnCpus: ${what}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

function exportName(value: unknown, what: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || value === "") {
    throw new TypeError(`runOnCpus: ${what} must be an export name, got ${valueText(value)}`);
  }
  return value;
}

/** Fails fast, with the fix in the message, where a Worker would fail to load a module. */
function checkLoadable(url: URL): void {
  if (url.protocol !== "file:") return;
  if (Deno.permissions.querySync({ name: "read", path: url }).state !== "granted") {
    throw new Deno.errors.NotCapable(
      `runOnCpus: Workers load their modules from files and cannot read ${url.pathname}; run with --allow-read (or --allow-read=<the directory holding the modules>)`,
    );
  }
  let file = false;
  try {
    file = Deno.statSync(url).isFile;
  } catch {
    // Reported below.
  }
  if (!file) throw new Deno.errors.NotFound(`runOnCpus: no module file at ${url.href}`);
}

function runOne(
  request: CpuWorkerRequest,
): { worker: Worker; outcome: Promise<CpuOutcome<never>> } {
  const worker = new Worker(workerEntry(WORKER_URL, "serveCpuTask", request.module), {
    type: "module",
    name: `percpu CPU ${request.cpu}`,
  });
  const cpu = request.cpu;
  const outcome = new Promise<CpuOutcome<never>>((resolve) => {
    const finish = (result: CpuOutcome<never>) => {
      worker.terminate();
      resolve(result);
    };
    worker.onmessage = (event: MessageEvent<CpuWorkerReply>) => {
      const reply = event.data;
      finish(
        reply.ok ? { cpu, ok: true, value: reply.value as never } : {
          cpu,
          ok: false,
          error: new CpuTaskError(cpu, reply.name, reply.message, reply.stack),
        },
      );
    };
    worker.onerror = (event: ErrorEvent) => {
      // Keep an uncaught error in the Worker (say, its module failed to load)
      // from ending this process: it is this CPU's outcome.
      event.preventDefault();
      finish({ cpu, ok: false, error: new CpuTaskError(cpu, "Error", event.message) });
    };
    worker.onmessageerror = () => {
      finish({
        cpu,
        ok: false,
        error: new CpuTaskError(cpu, "DataCloneError", "the task's result could not be received"),
      });
    };
  });
  worker.postMessage(request);
  return { worker, outcome };
}

/**
 * Starts one Worker per CPU, attaches each to `shared` as its CPU (after
 * checking its layout), runs the task module's exported function in every
 * one, and collects the outcomes. Every Worker is terminated once it has
 * answered. A task that throws becomes a failed outcome naming its CPU; the
 * other tasks and their data are not disturbed.
 *
 * @param options The task module, the shared areas and what to pass.
 * @returns One outcome per CPU, in CPU order.
 * @throws {TypeError} On a malformed option, or `args` that cannot be
 *   structured-cloned (the promise rejects; no Worker is started).
 * @throws {RangeError} On a number of Workers outside 1 to `shared.cpuCount`.
 * @throws {Deno.errors.NotCapable} Without read access to the modules.
 * @throws {Deno.errors.NotFound} When the task module's file does not exist.
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
 *     return cpu * 10;
 *   }`);
 * const { percpu, HITS } = await import(task.href);
 *
 * const shared = shareAreas(percpu, 2);
 * const outcomes = await runOnCpus({ module: task, shared });
 * assert.deepEqual(outcomes, [{ cpu: 0, ok: true, value: 0 }, { cpu: 1, ok: true, value: 10 }]);
 * assert.equal(remoteSum(percpu, HITS), 3);
 * ```
 */
export async function runOnCpus<T = unknown, A = unknown>(
  options: RunOnCpusOptions<A>,
): Promise<CpuOutcome<T>[]> {
  if (options === undefined) {
    throw new TypeError("runOnCpus: options are required: { module, shared, … }");
  }
  const checked = checkOptions(options, OPTION_KEYS, "runOnCpus") as RunOnCpusOptions<A>;
  const module = absoluteModuleUrl(checked.module, "runOnCpus: module", "../task.ts");
  const task = exportName(checked.task, "task", "run");
  const system = exportName(checked.system, "system", "percpu");
  const shared = checked.shared;
  if (
    typeof shared !== "object" || shared === null || isRevokedProxy(shared) ||
    !Number.isInteger(shared.cpuCount)
  ) {
    throw new TypeError(
      `runOnCpus: shared must be what shareAreas() returned, got ${valueText(shared)}`,
    );
  }
  const workers = checkInteger(
    checked.workers === undefined ? shared.cpuCount : checked.workers,
    `runOnCpus: workers (1 to ${shared.cpuCount}, the shared CPUs)`,
    1,
    shared.cpuCount,
  );
  const signal = checked.signal;
  if (signal !== undefined && (isRevokedProxy(signal) || !(signal instanceof AbortSignal))) {
    throw new TypeError(`runOnCpus: signal must be an AbortSignal, got ${valueText(signal)}`);
  }
  const args = cloneOnce(
    checked.args,
    "args must be structured-cloneable (plain data, arrays, typed arrays, SharedArrayBuffers, …)",
  );
  const sent = cloneOnce(shared, "shared must be what shareAreas() returned");
  checkLoadable(WORKER_URL);
  checkLoadable(new URL(module));
  signal?.throwIfAborted();
  const runs: { worker: Worker; outcome: Promise<CpuOutcome<never>> }[] = [];
  try {
    for (let cpu = 0; cpu < workers; cpu++) {
      runs.push(runOne({ module, task, system, shared: sent, cpu, args }));
    }
  } catch (error) {
    // Nothing may keep running (or keep the process alive) for a call that failed.
    for (const run of runs) run.worker.terminate();
    throw error;
  }
  const all = Promise.all(runs.map((run) => run.outcome)) as Promise<CpuOutcome<T>[]>;
  if (signal === undefined) return await all;
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      for (const run of runs) run.worker.terminate();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([all, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
