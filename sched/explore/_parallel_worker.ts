/**
 * The Worker side of `checkDfsParallel`. Each Worker's entry is a two-line
 * module that `checkDfsParallel` writes: it imports this module and the
 * test's module statically and calls {@linkcode serveExplore}, which builds
 * the test from the module's export and then answers requests: how deep to
 * split a bound's search, and jobs — the subtrees of some prefixes of one
 * bound — each answered with what its search found. (Static imports keep the
 * library free of a dynamic `import()` of a run-time URL.)
 *
 * A Worker that ends itself (`close()`, `Deno.exit()`) would leave its
 * creator waiting: `unload` answers with a failure first.
 *
 * @module
 */

import type { ExploreOptions, ExploreTest, Violation } from "./explore.ts";
import { Explorer, exploreSettings } from "./_explorer.ts";
import { Search } from "./_search.ts";

/** What the Worker is asked. */
export type ExploreWorkerRequest =
  | {
    /** Build the test: `module[export](args)`, explored with these options. */
    readonly type: "init";
    readonly module: string;
    readonly export: string;
    readonly args: unknown;
    readonly options: ExploreOptions;
  }
  | {
    /** How deep to split the search of `bound` for at least `target` prefixes. */
    readonly type: "split";
    readonly bound: number;
    readonly target: number;
  }
  | {
    /** Search the subtrees of the prefixes `from` to `to − 1`. */
    readonly type: "job";
    readonly bound: number;
    readonly depth: number;
    readonly from: number;
    readonly to: number;
    readonly budget: number;
    readonly timeMs: number;
  };

/** What one job found. */
export interface JobResult {
  readonly runs: number;
  readonly completed: number;
  readonly cutOff: number;
  readonly blocked: number;
  readonly classes: number[];
  readonly finalStates: number[];
  readonly stop: "complete" | "budget" | "time";
  /** The smallest violation of each kind, described (its schedule runs it). */
  readonly violations: Violation[];
}

/** What the Worker answers. */
export type ExploreWorkerReply =
  | { readonly type: "ready"; readonly fingerprint: string }
  | { readonly type: "split"; readonly depth: number; readonly prefixes: number }
  | { readonly type: "job"; readonly result: JobResult }
  | { readonly type: "error"; readonly name: string; readonly message: string };

/** The parts of a Worker's global scope used here. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ExploreWorkerRequest>) => void) | null;
  postMessage(message: ExploreWorkerReply): void;
  close(): void;
  addEventListener(type: "unload", listener: () => void): void;
}

/** Set once the Worker is ending: nothing more is sent. */
let ended = false;

function reply(message: ExploreWorkerReply): void {
  if (!ended) (globalThis as unknown as WorkerScope).postMessage(message);
}

/** Says the Worker is ending, once, naming how. */
function ending(how: string): void {
  reply({ type: "error", name: "Error", message: `the test ended its Worker with ${how}` });
  ended = true;
}

/** Whether this module runs in a Worker (only Workers have `WorkerGlobalScope`). */
function inWorker(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: new () => unknown }).WorkerGlobalScope;
  return typeof scope === "function" && globalThis instanceof scope;
}

/**
 * Makes `close()` and `Deno.exit()` answer with a failure before they end
 * the Worker (this module is evaluated before the test's), and `unload`
 * answer too.
 */
function reportEnds(): void {
  const scope = globalThis as unknown as WorkerScope;
  const close = scope.close.bind(scope);
  scope.close = () => {
    ending("close()");
    close();
  };
  const exit = Deno.exit.bind(Deno);
  Deno.exit = ((code?: number) => {
    ending(`Deno.exit(${code ?? ""})`);
    return exit(code);
  }) as typeof Deno.exit;
  scope.addEventListener("unload", () => ending("an exit"));
}

if (inWorker()) reportEnds();

/** What was thrown, as a reply; never throws. */
function failure(error: unknown): ExploreWorkerReply {
  try {
    if (error instanceof Error) {
      return { type: "error", name: String(error.name), message: String(error.message) };
    }
    return {
      type: "error",
      name: "Error",
      message: `a non-Error value was thrown: ${String(error)}`,
    };
  } catch {
    return { type: "error", name: "Error", message: "a value that cannot be described was thrown" };
  }
}

/**
 * Serves `checkDfsParallel`'s requests in this Worker.
 *
 * @param exports The test module's exports.
 */
export function serveExplore(exports: Readonly<Record<string, unknown>>): void {
  const scope = globalThis as unknown as WorkerScope;
  scope.addEventListener("unload", () => {
    reply({
      type: "error",
      name: "Error",
      message: "the Worker ended itself (close() or Deno.exit())",
    });
    ended = true;
  });
  let explorer: Explorer | null = null;
  scope.onmessage = (event) => {
    try {
      const request = event.data;
      if (request.type === "init") {
        const make = exports[request.export];
        if (typeof make !== "function") {
          throw new TypeError(
            `${request.module} does not export a function "${request.export}" that returns the test`,
          );
        }
        const test = make(request.args) as ExploreTest;
        explorer = new Explorer(test, exploreSettings(request.options, "checkDfsParallel", 1));
        reply({ type: "ready", fingerprint: explorer.driver.fingerprint });
      } else if (request.type === "split") {
        const depth = explorer!.splitDepth(request.bound, request.target);
        const prefixes = explorer!.search(request.bound, Infinity, Infinity, {
          depth,
          own: () => false,
        }).prefixes;
        reply({ type: "split", depth, prefixes });
      } else {
        reply({ type: "job", result: job(explorer!, request) });
      }
    } catch (error) {
      reply(failure(error));
    }
  };
}

/** Thrown out of a job's search once it is past its prefixes. */
const PAST: unique symbol = Symbol("past the job's prefixes");

function job(explorer: Explorer, request: ExploreWorkerRequest & { type: "job" }): JobResult {
  const { from, to } = request;
  const settings = explorer.settings;
  const search = new Search(explorer.driver, {
    bound: request.bound,
    reduction: settings.reduction,
    picks: settings.picks,
    kinds: settings.kinds,
    budget: request.budget,
    deadline: performance.now() + request.timeMs,
    split: {
      depth: request.depth,
      // Prefixes come in order: the search can stop after the job's last
      // one rather than enumerate every later prefix to skip it.
      own: (prefix) => {
        if (prefix >= to) throw PAST;
        return prefix >= from;
      },
    },
  });
  try {
    search.run();
  } catch (error) {
    if (error !== PAST) throw error;
  }
  const found = search.result;
  return {
    runs: found.runs,
    completed: found.completed,
    cutOff: found.cutOff,
    blocked: found.blocked,
    classes: [...found.classes],
    finalStates: [...found.finalStates],
    stop: found.stop,
    violations: explorer.violations(found.best),
  };
}
