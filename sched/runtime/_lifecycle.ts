/**
 * A task's life on a CPU: resuming its code up to the next request, starting
 * an access, giving up the CPU, ending — and failing alone. Whatever a task
 * throws or yields, the machine touches it only inside `try` or through
 * brand checks, so a hostile task (a thrown Proxy, an object whose
 * `toString` throws, a malformed request) fails itself with a
 * `SimulationError` naming it, and every other task runs on.
 *
 * @module
 */

import { Op } from "../../lib/isa/isa.ts";
import { SimulationError } from "../errors.ts";
import { describeSafely, isInstance } from "../_safe.ts";
import type { CurrentContext } from "./_core_handles.ts";
import type { Executor } from "./_executor.ts";
import type { Kernel } from "./_kernel.ts";
import type { ProgramCache } from "./_programs.ts";
import { Access, type AccessRequest, ControlRequest } from "./_requests.ts";
import type { RunQueues } from "./_run_queues.ts";
import type { RunState, SimCpu, SimTask } from "./_state.ts";
import type { TaskContext, TaskHost } from "./task.ts";
import { STEP_EXIT, STEP_RESUME, STEP_SLEEP, STEP_YIELD, type StepRecord } from "./_step_record.ts";

/**
 * What a task's failure records: an `Error` it threw as it is, anything
 * else wrapped in a `SimulationError` that names the task.
 */
function failureOf(task: SimTask, thrown: unknown): { message: string; error: unknown } {
  try {
    if (isInstance(thrown, Error)) {
      const message = (thrown as Error).message;
      if (typeof message === "string") return { message, error: thrown };
    }
  } catch {
    // A Proxy whose traps throw, or a throwing `message` getter: wrapped below.
  }
  const error = new SimulationError(
    "TaskFailed",
    `${task.name} threw ${describeSafely(thrown)}, not an Error`,
    { cause: thrown },
  );
  return { message: error.message, error };
}

/** Tags of functions that are not sync generator functions but look callable like one. */
const ASYNC_TAGS = new Set(["[object AsyncGeneratorFunction]", "[object AsyncFunction]"]);

/** What `Object.prototype.toString` says of a value, or `""` where asking throws. */
function tagOf(value: unknown): string {
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return "";
  }
}

/** What every `function*`'s generator objects inherit `next`, `throw` and `return` from. */
const GENERATOR_PROTOTYPE: object = Object.getPrototypeOf(
  Object.getPrototypeOf((function* () {})()),
);

/**
 * Checks what a task body returned: a sync iterator with `next`, `throw`
 * and `return` (a generator object).
 */
function checkGenerator(name: string, value: unknown): Iterator<unknown, unknown, unknown> {
  // The common case first, without the property reads below (they cost an
  // exploration, which spawns its tasks again for every schedule, about a
  // twelfth of its time): a generator object made by a `function*`.
  try {
    if (
      typeof value === "object" && value !== null &&
      Object.getPrototypeOf(Object.getPrototypeOf(value)) === GENERATOR_PROTOTYPE
    ) {
      return value as Iterator<unknown, unknown, unknown>;
    }
  } catch {
    // A hostile Proxy: the checks below say what is wrong with it.
  }
  let ok = false;
  let async = false;
  try {
    if (typeof value === "object" && value !== null) {
      const it = value as Record<string | symbol, unknown>;
      async = typeof it[Symbol.asyncIterator] === "function" || typeof it.then === "function" ||
        tagOf(value) === "[object AsyncGenerator]";
      ok = typeof it.next === "function" && typeof it.throw === "function" &&
        typeof it.return === "function";
    }
  } catch {
    ok = false;
  }
  if (async) {
    throw new TypeError(
      `spawn: tasks are sync generators (function*), but ${name}'s body returned an async one`,
    );
  }
  if (!ok) {
    throw new TypeError(
      `spawn: ${name}'s body must be a generator function (function*), it returned ${
        describeSafely(value)
      }`,
    );
  }
  return value as Iterator<unknown, unknown, unknown>;
}

/**
 * Checks a task body before anything is made: a function, and not an async
 * one (an async generator would be driven by promises the machine never
 * awaits).
 *
 * @param body What was given to `spawn`.
 * @throws {TypeError} When it is not a sync generator function.
 */
export function checkTaskBody(body: unknown): void {
  if (typeof body !== "function") {
    throw new TypeError(`spawn expects a generator function, got ${describeSafely(body)}`);
  }
  if (ASYNC_TAGS.has(tagOf(body))) {
    throw new TypeError(
      "spawn: tasks are sync generator functions (function*), got an async function",
    );
  }
}

/**
 * Calls a task body and checks that it made a sync generator.
 *
 * @param name The task's name, for messages.
 * @param body The body (checked by {@linkcode checkTaskBody}).
 * @param context The task's context.
 * @returns The generator.
 * @throws {TypeError} When calling the body throws (a generator function's
 *   call runs none of its code) or makes something else.
 */
export function startTask(
  name: string,
  body: (context: TaskContext) => unknown,
  context: TaskContext,
): Iterator<unknown, unknown, unknown> {
  let made: unknown;
  try {
    made = body(context);
  } catch (error) {
    throw new TypeError(
      `spawn: ${name}'s body must be a generator function (function*); calling it threw ${
        describeSafely(error)
      }`,
      { cause: error },
    );
  }
  return checkGenerator(name, made);
}

/** Resumes, starts, switches out and ends tasks. */
export class Lifecycle {
  readonly #state: RunState;
  readonly #host: TaskHost;
  readonly #current: CurrentContext;
  readonly #kernel: Kernel;
  readonly #queues: RunQueues;
  readonly #programs: ProgramCache;
  readonly #executor: Executor;
  readonly #work: AccessRequest;

  constructor(
    state: RunState,
    host: TaskHost,
    current: CurrentContext,
    kernel: Kernel,
    queues: RunQueues,
    programs: ProgramCache,
    executor: Executor,
  ) {
    this.#state = state;
    this.#host = host;
    this.#current = current;
    this.#kernel = kernel;
    this.#queues = queues;
    this.#programs = programs;
    this.#executor = executor;
    this.#work = new Access(programs.work, "u8", undefined, null, -1, false);
  }

  /**
   * Runs the task's code up to its next request, with the value its last
   * access returned.
   *
   * @param cpu The CPU running it.
   * @param task The task (no access under way).
   * @param record Where the step is described, or `null`.
   * @returns `true` when the task started an access and still holds the CPU.
   */
  fetch(cpu: SimCpu, task: SimTask, record: StepRecord | null): boolean {
    const value = task.resume;
    task.resume = undefined;
    if (this.#state.hashResumes) {
      task.resumes++;
      task.resumeHash.value(value);
    }
    if (record !== null) record.events |= STEP_RESUME;
    return this.deliver(cpu, task, false, value, record);
  }

  /**
   * Resumes the task with a value, or throws an error into it, and handles
   * what it yields next. A malformed request is thrown back into the task
   * once as a `SimulationError`; a second one in a row ends the task.
   *
   * @param cpu The CPU running it.
   * @param task The task.
   * @param raise Throw `value` into the task instead of resuming with it.
   * @param value The value.
   * @param record Where the step is described, or `null`.
   * @returns `true` when the task started an access and still holds the CPU.
   */
  deliver(
    cpu: SimCpu,
    task: SimTask,
    raise: boolean,
    value: unknown,
    record: StepRecord | null,
  ): boolean {
    this.#current.ensure(cpu.context);
    let rejected: SimulationError | null = null;
    for (;;) {
      let request: unknown;
      try {
        const result = raise ? task.generator.throw!(value) : task.generator.next(value);
        if (result.done) {
          this.end(cpu, task, false, undefined, record);
          return false;
        }
        request = result.value;
      } catch (error) {
        this.end(cpu, task, true, error, record);
        return false;
      }
      // The common requests first, by identity: the operation just made, a
      // bare yield, sched_yield. Anything else goes through brand checks.
      if (request === this.#host.lastAccess) {
        this.start(task, request as Access<unknown>);
        return true;
      }
      if (request === undefined || request === ControlRequest.WORK) {
        this.start(task, this.#work);
        return true;
      }
      if (request === ControlRequest.YIELD) {
        this.#yield(cpu, task, record);
        return false;
      }
      if (Access.is(request) && request.entry.cache === this.#programs) {
        this.start(task, request);
        return true;
      }
      // WORK and YIELD are the only work and yield requests, matched above:
      // any other scheduling request is a sleep.
      if (ControlRequest.is(request)) {
        this.#kernel.switchOut(cpu, task, "sleep");
        this.#state.trace.leave("sleep", this.#state.cycle, cpu.id, task.id);
        task.state = "sleeping";
        task.wakeAt = this.#state.cycle + request.cycles;
        this.#state.sleepers.push(task);
        if (record !== null) record.events |= STEP_SLEEP;
        return false;
      }
      const error = new SimulationError(
        "InvalidRequest",
        `${task.name} yielded ${
          Access.is(request) ? "an operation of another machine" : describeSafely(request)
        }; use a bare \`yield\` (one instruction) or yield* a ctx operation`,
      );
      if (rejected !== null) {
        this.end(cpu, task, true, rejected, record);
        return false;
      }
      rejected = error;
      raise = true;
      value = error;
    }
  }

  /** `sched_yield`: the task goes to the back of its CPU's queue. */
  #yield(cpu: SimCpu, task: SimTask, record: StepRecord | null): void {
    this.#kernel.switchOut(cpu, task, "yield");
    this.#state.trace.leave("yield", this.#state.cycle, cpu.id, task.id);
    task.state = "ready";
    this.#queues.enqueue(cpu, task, record);
    if (record !== null) record.events |= STEP_YIELD;
  }

  /**
   * Starts an access: its program from the first instruction, its input in
   * place.
   *
   * @param task The task.
   * @param request The access.
   */
  start(task: SimTask, request: AccessRequest): void {
    const entry = request.entry;
    task.request = request;
    task.insns = entry.insns;
    task.pc = 0;
    if (entry.program.input >= 0) {
      this.#executor.place(task, entry.program.input, request.valueKind, request.input);
    }
  }

  /**
   * The task's last access has executed its last instruction: its result is
   * what the task is resumed with.
   *
   * @param task The task.
   */
  complete(task: SimTask): void {
    const request = task.request!;
    task.resume = request.result < 0
      ? undefined
      : this.#executor.take(task, request.result, request.valueKind);
    task.request = null;
  }

  /**
   * An instruction faulted: the access is abandoned and, as Rust unwinding
   * drops a `NoPreempt` guard, a guard its program took is released; then the
   * error is thrown into the task.
   *
   * @param cpu The CPU.
   * @param task The task.
   * @param error What the instruction threw.
   * @param record Where the step is described, or `null`.
   */
  fault(cpu: SimCpu, task: SimTask, error: unknown, record: StepRecord | null): void {
    const instructions = task.request!.entry.program.instructions;
    let held = 0;
    for (let i = 0; i < task.pc; i++) {
      if (instructions[i].op === Op.PreemptOff) held++;
      else if (instructions[i].op === Op.PreemptOn) held--;
    }
    task.request = null;
    try {
      for (; held > 0; held--) this.#kernel.preemptOn(cpu);
    } catch {
      // The task's own code released the guard already: the underflow is
      // reported as misuse, and the fault is what the task is told about.
    }
    this.deliver(cpu, task, true, error, record);
  }

  /**
   * Ends a task: returned, or failed.
   *
   * @param cpu The CPU it ran on.
   * @param task The task.
   * @param failed Whether it failed.
   * @param thrown What it threw.
   * @param record Where the step is described, or `null`.
   */
  end(
    cpu: SimCpu,
    task: SimTask,
    failed: boolean,
    thrown: unknown,
    record: StepRecord | null,
  ): void {
    const state = this.#state;
    if (!failed) {
      state.trace.leave("exit", state.cycle, cpu.id, task.id);
      task.state = "done";
    } else {
      const { message, error } = failureOf(task, thrown);
      state.failures.push({ task: task.name, cpu: cpu.id, message, error });
      state.trace.leave("fail", state.cycle, cpu.id, task.id, message);
      task.state = "failed";
    }
    this.#kernel.switchOut(cpu, task, "exit");
    task.request = null;
    state.live--;
    if (record !== null) record.events |= STEP_EXIT;
  }
}
