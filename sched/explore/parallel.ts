/**
 * {@linkcode checkDfs} across Workers: the same search and the same verdict,
 * with the subtrees of its schedule prefixes explored in parallel.
 *
 * ## How the work is shared
 *
 * For each bound of iterative bounding, the search is split by schedule
 * prefix (the mechanism of the `shard` option): the first steps are
 * enumerated until there are about 64 prefixes per Worker, and the prefixes
 * are cut into about 16 jobs per Worker, each a run of consecutive
 * prefixes. (The subtrees are far from equal: under partial-order
 * reduction the first prefixes hold most of the runs, so the jobs must be
 * small for the last one not to leave Workers idle.) The jobs wait in one
 * queue; a Worker that finishes a job takes the next. This is a shared queue
 * of small jobs, not work stealing: a job, once taken, is not split again,
 * so the last jobs of a bound can leave Workers idle. The jobs' results are
 * combined as the sequential search combines its runs — the smallest
 * violation of each kind, the union of the equivalence classes and final
 * states — and bounding goes on exactly as in `checkDfs`: it stops after the
 * first bound with a violation (unless `exhaustive`).
 *
 * The budget is shared: each job gets a share of what is left (what is left
 * over the jobs in flight), so the search may stop (`budget`) a little
 * before the whole budget is spent. The time limit holds for the whole
 * search. `schedulesExplored` counts the runs of the split search: the
 * first steps are enumerated without reduction, so it can exceed
 * `checkDfs`'s count for the same test.
 *
 * ## Failures
 *
 * A Worker that cannot load the test module, whose export is missing or
 * throws, whose search throws, or that dies, loses its job and no more: the
 * other Workers go on with the queue, what they found is kept, and the
 * result is incomplete with `stopReason` `failed` and the failures in
 * `failures` — never a false `complete`. Every Worker is terminated before
 * the promise settles.
 *
 * Workers load the test's module from its URL, so Deno needs read access to
 * it (`--allow-read`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfsParallel } from "@percpu/percpu/sched/parallel";
 * const result = await checkDfsParallel({
 *   module: new URL("../scenario/counter_test.ts", import.meta.url),
 *   export: "counterTest",
 *   args: { arch: "aarch64" },
 * }, { workers: 2 });
 * assert.equal(result.complete, true);
 * assert.equal(result.violation?.kind, "wrong-cpu");
 * ```
 *
 * @module
 */

import { describeSafely } from "../_safe.ts";
import { absoluteModuleUrl, workerEntry } from "../../lib/workers/_worker_entry.ts";
import { checkInteger } from "../../lib/_check.ts";
import { exploreSettings, Progress, smallestViolation, sortViolations } from "./_explorer.ts";
import { smaller } from "./_search.ts";
import type { ExploreOptions, ExploreResult, ExploreStopReason, Violation } from "./explore.ts";
import { scopeOf } from "./explore.ts";
import type { ExploreWorkerReply, ExploreWorkerRequest, JobResult } from "./_parallel_worker.ts";
import type { ViolationKind } from "./violations.ts";

/**
 * Where a Worker finds the test: `module` exports a function `export`,
 * called with `args` (structured-cloned), that returns the test.
 */
export interface TestSource {
  /** The module's absolute URL, e.g. `new URL("./my_test.ts", import.meta.url)`. */
  readonly module: string | URL;
  /** The name of the exported function that returns the test. */
  readonly export: string;
  /** Its argument (anything `structuredClone` copies; default `undefined`). */
  readonly args?: unknown;
}

/** Options of {@linkcode checkDfsParallel}: `checkDfs`'s, and how many Workers. */
export type ParallelOptions = ExploreOptions & {
  /** Workers (default `navigator.hardwareConcurrency`, at least 1). */
  readonly workers?: number;
};

const WORKER_URL = new URL("./_parallel_worker.ts", import.meta.url);

/** Fails fast, with the fix in the message, where every Worker would fail to load the module. */
function checkLoadable(url: URL): void {
  if (url.protocol !== "file:") return;
  if (Deno.permissions.querySync({ name: "read", path: url }).state !== "granted") {
    throw new Deno.errors.NotCapable(
      `checkDfsParallel: Workers load the test's module from its file and cannot read ${url.pathname}; run with --allow-read (or --allow-read=<the directory holding the modules>)`,
    );
  }
  let file = false;
  try {
    file = Deno.statSync(url).isFile;
  } catch {
    // Reported below.
  }
  if (!file) throw new Deno.errors.NotFound(`checkDfsParallel: no module file at ${url.href}`);
}

/** An error event's message without terminal colours and the stack Deno appends. */
function plain(message: string): string {
  // deno-lint-ignore no-control-regex
  return message.replace(/\x1b\[[0-9;]*m/g, "").split("\n    at ")[0];
}

/** One Worker and its conversation: one request at a time. */
class ExploreWorker {
  readonly #worker: Worker;
  #pending: ((reply: ExploreWorkerReply) => void) | null = null;
  /** Why it failed, once it has. */
  failed: string | null = null;

  constructor(readonly id: number, module: string) {
    this.#worker = new Worker(workerEntry(WORKER_URL, "serveExplore", module), {
      type: "module",
      name: `percpu explorer ${id}`,
    });
    this.#worker.onmessage = (event: MessageEvent<ExploreWorkerReply>) => this.#settle(event.data);
    this.#worker.onerror = (event: ErrorEvent) => {
      // An uncaught error in the Worker (its module failed to load, say) is
      // this Worker's failure, not this process's.
      event.preventDefault();
      this.#settle({ type: "error", name: "Error", message: plain(String(event.message)) });
    };
    this.#worker.onmessageerror = () => {
      this.#settle({
        type: "error",
        name: "DataCloneError",
        message: "a reply could not be received",
      });
    };
  }

  #settle(reply: ExploreWorkerReply): void {
    const pending = this.#pending;
    this.#pending = null;
    if (reply.type === "error" && this.failed === null) {
      this.failed = `${reply.name}: ${reply.message}`;
      this.terminate();
    }
    pending?.(reply);
  }

  /** Sends a request; resolves with its reply (an `error` reply when the Worker failed). */
  ask(request: ExploreWorkerRequest): Promise<ExploreWorkerReply> {
    if (this.failed !== null) {
      return Promise.resolve({ type: "error", name: "Error", message: this.failed });
    }
    return new Promise((resolve) => {
      this.#pending = resolve;
      this.#worker.postMessage(request);
    });
  }

  terminate(): void {
    this.#worker.terminate();
  }
}

/** What the passes found at one bound. */
interface Pass {
  runs: number;
  cutOff: number;
  blocked: number;
  readonly classes: Set<number>;
  readonly finalStates: Set<number>;
  readonly best: Map<ViolationKind, { violation: Violation; job: number }>;
  stop: ExploreStopReason;
}

/**
 * {@linkcode checkDfs} split across Workers by schedule prefix (see the
 * module docs): the same verdict — complete or not, the same bound reached,
 * the smallest violation of each kind with the same preemptions and steps —
 * found in parallel. A Worker that fails or dies loses nothing of the others
 * and makes the result incomplete (`stopReason` `failed`, the reasons in
 * `failures`), never a false `complete`.
 *
 * @param source Where the Workers find the test.
 * @param options `checkDfs`'s options (not `shard`), and `workers`.
 * @returns What was found.
 * @throws {TypeError} On a bad source or option type (the promise rejects
 *   and no Worker is started).
 * @throws {RangeError} On an option out of range, or `shard`.
 * @throws {Deno.errors.NotFound} When the module is a file that does not exist.
 * @throws {Deno.errors.NotCapable} When it is a file Deno may not read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfs, counterTest } from "@percpu/percpu/sched";
 * import { checkDfsParallel } from "@percpu/percpu/sched/parallel";
 * const args = { arch: "riscv64", features: ["preempt"], tasks: 2, iters: 2 } as const;
 * const module = new URL("../scenario/counter_test.ts", import.meta.url);
 * const parallel = await checkDfsParallel({ module, export: "counterTest", args }, {
 *   workers: 2,
 *   maxPreemptions: 1,
 * });
 * const sequential = checkDfs(counterTest(args), { maxPreemptions: 1 });
 * assert.equal(parallel.complete, sequential.complete);
 * assert.equal(parallel.violation, null);
 * ```
 */
export async function checkDfsParallel(
  source: TestSource,
  options: ParallelOptions = {},
): Promise<ExploreResult> {
  if (typeof source !== "object" || source === null) {
    throw new TypeError(
      `checkDfsParallel: source must be an object { module, export, args }, got ${
        describeSafely(source)
      }`,
    );
  }
  let module: string;
  let exportName: unknown;
  let args: unknown;
  let workersOption: unknown;
  let rest: ExploreOptions;
  try {
    module = absoluteModuleUrl(source.module, "checkDfsParallel: source.module", "./my_test.ts");
    exportName = source.export;
    args = structuredClone(source.args);
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`options must be an object, got ${describeSafely(options)}`);
    }
    const { workers, ...others } = options;
    workersOption = workers;
    rest = others;
  } catch (error) {
    if (error instanceof TypeError && error.message.startsWith("checkDfsParallel")) throw error;
    throw new TypeError(
      `checkDfsParallel: the source or options could not be read or copied: ${
        describeSafely(error)
      }`,
      { cause: error },
    );
  }
  if (typeof exportName !== "string" || exportName === "") {
    throw new TypeError(
      `checkDfsParallel: source.export must be an export name, got ${describeSafely(exportName)}`,
    );
  }
  const settings = exploreSettings(rest, "checkDfsParallel", 1_000_000);
  checkLoadable(new URL(module));
  if (settings.shard !== null) {
    throw new RangeError(
      "checkDfsParallel: shard is not supported; run checkDfs with shard on each machine, or checkDfsParallel on the whole search",
    );
  }
  const count = workersOption === undefined
    ? Math.max(1, navigator.hardwareConcurrency ?? 1)
    : checkInteger(workersOption, "checkDfsParallel: workers", 1, 256);
  // What the Workers rebuild the settings from (functions stay here).
  const workerOptions: ExploreOptions = {
    maxPreemptions: settings.maxPreemptions,
    reduction: settings.reduction,
    picks: settings.picks,
    violations: scopeOf(settings).violations,
    exhaustive: settings.exhaustive,
    maxCycles: settings.maxCycles,
  };
  const progress = new Progress("dfs", settings.onProgress);
  const deadline = performance.now() + settings.timeLimitMs;
  const failures: string[] = [];
  const workers = Array.from({ length: count }, (_, id) => new ExploreWorker(id, module));
  try {
    let fingerprint: string | null = null;
    const ready = await Promise.all(
      workers.map((w) =>
        w.ask({ type: "init", module, export: exportName as string, args, options: workerOptions })
      ),
    );
    ready.forEach((reply, id) => {
      if (reply.type === "ready") fingerprint ??= reply.fingerprint;
      else if (reply.type === "error") {
        failures.push(`Worker ${id} failed to start: ${reply.name}: ${reply.message}`);
      }
    });
    const single = settings.exhaustive || settings.maxPreemptions === Infinity;
    let runs = 0;
    let pruned = 0;
    let cutOff = 0;
    let boundReached = -1;
    let last: Pass | null = null;
    for (
      let bound = single ? settings.maxPreemptions : 0;
      bound <= settings.maxPreemptions;
      bound++
    ) {
      if (failures.length > 0 || fingerprint === null) break;
      progress.bound = bound;
      progress.before = runs;
      // Progress reports on multiples of 64 runs; jobs end on any count.
      last = await pass(
        workers,
        bound,
        settings.budget - runs,
        deadline,
        failures,
        (n) => progress.tick(n - (n & 63)),
      );
      runs += last.runs;
      pruned += last.blocked;
      cutOff += last.cutOff;
      if (last.stop !== "complete") break;
      boundReached = bound;
      if (last.best.size > 0 || single) break;
    }
    const stopReason: ExploreStopReason = failures.length > 0 ? "failed" : last!.stop;
    const violations = sortViolations([...(last?.best.values() ?? [])].map((b) => b.violation));
    return {
      mode: "dfs",
      reduction: settings.reduction,
      schedulesExplored: runs,
      complete: stopReason === "complete" && cutOff === 0,
      stopReason,
      boundReached,
      maxPreemptions: settings.maxPreemptions,
      elapsedMs: progress.elapsedMs,
      pruned,
      cutOff,
      equivalenceClasses: last === null ? null : last.classes.size,
      finalStates: last === null ? null : last.finalStates.size,
      violation: smallestViolation(violations),
      violations,
      shard: null,
      test: fingerprint ?? "",
      scope: scopeOf(settings),
      failures,
    };
  } finally {
    for (const w of workers) w.terminate();
  }
}

/** One bound: split, then the jobs from one queue to every live Worker. */
async function pass(
  workers: readonly ExploreWorker[],
  bound: number,
  budget: number,
  deadline: number,
  failures: string[],
  onRuns: (runs: number) => void,
): Promise<Pass> {
  const result: Pass = {
    runs: 0,
    cutOff: 0,
    blocked: 0,
    classes: new Set(),
    finalStates: new Set(),
    best: new Map(),
    stop: "complete",
  };
  const live = () => workers.filter((w) => w.failed === null);
  // How deep to split: asked of the first Worker that answers.
  let depth = -1;
  let prefixes = 0;
  for (const w of live()) {
    const reply = await w.ask({ type: "split", bound, target: 64 * workers.length });
    if (reply.type === "split") {
      depth = reply.depth;
      prefixes = reply.prefixes;
      break;
    }
    failures.push(`Worker ${w.id} failed at bound ${bound}: ${w.failed}`);
  }
  if (depth < 0) {
    result.stop = "failed";
    return result;
  }
  const jobs = Math.max(1, Math.min(prefixes, 16 * workers.length));
  let next = 0;
  let allotted = 0;
  const take = async (w: ExploreWorker): Promise<void> => {
    while (next < jobs && w.failed === null) {
      if (result.stop !== "complete") return;
      const timeMs = deadline - performance.now();
      if (timeMs <= 0) {
        result.stop = "time";
        return;
      }
      const left = budget - result.runs - allotted;
      const share = left === Infinity ? Infinity : Math.ceil(left / live().length);
      if (share <= 0) {
        result.stop = "budget";
        return;
      }
      const job = next++;
      allotted += share;
      const from = Math.floor(job * prefixes / jobs);
      const to = Math.floor((job + 1) * prefixes / jobs);
      const reply = await w.ask({ type: "job", bound, depth, from, to, budget: share, timeMs });
      allotted -= share;
      if (reply.type !== "job") {
        failures.push(
          `Worker ${w.id} failed on job ${job} of ${jobs} at bound ${bound}: ${
            reply.type === "error" ? `${reply.name}: ${reply.message}` : "unexpected reply"
          }`,
        );
        return;
      }
      add(result, reply.result, job);
      onRuns(result.runs);
      if (reply.result.stop !== "complete") result.stop = reply.result.stop;
    }
  };
  await Promise.all(live().map(take));
  if (result.stop === "complete" && next < jobs) {
    // Every Worker failed before the queue was empty.
    failures.push(
      `jobs ${next} to ${jobs - 1} of ${jobs} at bound ${bound} were not run: no Worker left`,
    );
  }
  if (failures.length > 0) result.stop = "failed";
  return result;
}

function add(pass: Pass, found: JobResult, job: number): void {
  pass.runs += found.runs;
  pass.cutOff += found.cutOff;
  pass.blocked += found.blocked;
  for (const c of found.classes) pass.classes.add(c);
  for (const s of found.finalStates) pass.finalStates.add(s);
  for (const v of found.violations) {
    const held = pass.best.get(v.kind);
    // Ties go to the lower job: the same answer whatever order jobs end in.
    if (
      held === undefined || smaller(v, held.violation) ||
      (!smaller(held.violation, v) && job < held.job)
    ) {
      pass.best.set(v.kind, { violation: v, job });
    }
  }
}
