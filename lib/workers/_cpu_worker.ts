/**
 * The Worker side of {@linkcode runOnCpus}. Each Worker's entry is a
 * two-line module that `runOnCpus` writes: it imports this module and the
 * task module statically and calls {@linkcode serveCpuTask}, which waits for
 * the request, attaches the task module's system to the shared areas as this
 * Worker's CPU, runs the task and answers with its result or its error.
 * (Static imports keep the library free of a dynamic `import()` of a
 * run-time URL, which JSR cannot analyse.)
 *
 * A Worker that ends itself sends nothing to its creator, which would then
 * wait for it forever. So, in a Worker, this module wraps `close()` and
 * `Deno.exit()` before the task module is evaluated (it is imported first),
 * and listens for `unload`: a task that ends its Worker answers with a
 * failure first, naming what it called.
 *
 * @module
 */

import type { Percpu } from "../percpu.ts";
import { attachShared, type SharedAreas } from "./shared_areas.ts";

/** What a Worker receives from {@linkcode runOnCpus}. */
export interface CpuWorkerRequest {
  /** The task module's URL, for messages. */
  readonly module: string;
  /** The task function's export name. */
  readonly task: string;
  /** The system's export name. */
  readonly system: string;
  /** The areas to attach. */
  readonly shared: SharedAreas;
  /** The CPU to attach as. */
  readonly cpu: number;
  /** The task's arguments. */
  readonly args: unknown;
}

/** What it answers. */
export type CpuWorkerReply =
  | { readonly ok: true; readonly value: unknown }
  | {
    readonly ok: false;
    readonly name: string;
    readonly message: string;
    readonly stack?: string;
  };

/** The parts of a Worker's global scope used here (this file is type-checked with the window's). */
interface WorkerScope {
  onmessage: ((event: MessageEvent<CpuWorkerRequest>) => void) | null;
  postMessage(message: CpuWorkerReply): void;
  close(): void;
  addEventListener(type: "unload", listener: () => void): void;
}

/** Whether this module runs in a Worker (only Workers have `WorkerGlobalScope`). */
function inWorker(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: new () => unknown }).WorkerGlobalScope;
  return typeof scope === "function" && globalThis instanceof scope;
}

/** Whether this Worker has answered its request (or said why it could not). */
let answered = false;

/**
 * Answers once: the first reply sent wins, later ones (say, from `unload`)
 * are dropped. A reply that cannot be cloned throws and does not count.
 */
function answer(reply: CpuWorkerReply): void {
  if (answered) return;
  (globalThis as unknown as WorkerScope).postMessage(reply);
  answered = true;
}

/** The failure sent when the task ends its Worker, naming how. */
function ended(how: string): CpuWorkerReply {
  return {
    ok: false,
    name: "Error",
    message: `the task ended its Worker with ${how} before it finished; nothing was returned`,
  };
}

/**
 * Makes `close()` and `Deno.exit()` answer with a failure before they end
 * the Worker, and `unload` (which `Deno.exit()` fires, even called through a
 * reference taken earlier) answer too.
 */
function reportEnds(): void {
  const scope = globalThis as unknown as WorkerScope;
  const close = scope.close.bind(scope);
  scope.close = () => {
    answer(ended("close()"));
    close();
  };
  const exit = Deno.exit.bind(Deno);
  Deno.exit = ((code?: number) => {
    answer(ended(`Deno.exit(${code ?? ""})`));
    return exit(code);
  }) as typeof Deno.exit;
  scope.addEventListener("unload", () => answer(ended("an exit")));
}

if (inWorker()) reportEnds();

/** What the task threw, as a reply; whatever it threw, this does not throw. */
function failure(error: unknown): CpuWorkerReply {
  try {
    if (error instanceof Error) {
      return {
        ok: false,
        name: String(error.name),
        message: String(error.message),
        stack: typeof error.stack === "string" ? error.stack : undefined,
      };
    }
    return {
      ok: false,
      name: "Error",
      message: `the task threw a non-Error value: ${String(error)}`,
    };
  } catch {
    return { ok: false, name: "Error", message: "the task threw a value that cannot be described" };
  }
}

async function run(
  exports: Readonly<Record<string, unknown>>,
  request: CpuWorkerRequest,
): Promise<CpuWorkerReply> {
  const percpu = exports[request.system] as Percpu | undefined;
  if (typeof percpu !== "object" || percpu === null || typeof percpu.attach !== "function") {
    throw new TypeError(
      `${request.module} does not export its per-CPU system as "${request.system}" (export const ${request.system} = createPercpu(…))`,
    );
  }
  const task = exports[request.task];
  if (typeof task !== "function") {
    throw new TypeError(`${request.module} does not export a function "${request.task}"`);
  }
  attachShared(percpu, request.shared, request.cpu);
  const value = await task({
    cpu: request.cpu,
    cpuCount: request.shared.cpuCount,
    args: request.args,
  });
  return { ok: true, value };
}

/**
 * Serves one {@linkcode runOnCpus} request in this Worker with the task
 * module's exports, then stops listening. Called by the Worker entry that
 * `runOnCpus` writes; there is no need to call it yourself.
 *
 * @param exports The task module's namespace.
 *
 * @example What a Worker entry does (outside a Worker it only installs the handler)
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveCpuTask } from "./_cpu_worker.ts";
 *
 * const scope = globalThis as unknown as { onmessage: unknown };
 * serveCpuTask({ run: () => "done" });
 * assert.equal(typeof scope.onmessage, "function");
 * scope.onmessage = null;
 * ```
 */
export function serveCpuTask(exports: Readonly<Record<string, unknown>>): void {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = async (event) => {
    scope.onmessage = null;
    let reply: CpuWorkerReply;
    try {
      reply = await run(exports, event.data);
    } catch (error) {
      reply = failure(error);
    }
    try {
      answer(reply);
    } catch (error) {
      // The result could not be cloned; say so instead of going silent.
      answer(failure(error));
    }
  };
}
