/**
 * A simulated SMP machine: N CPUs, each with its own registers (the per-CPU
 * register included), run queue, IRQ flag and timer, running generator tasks
 * over one `Percpu` system. While it runs it is the system's
 * `KernelGuardIf`, so `NoPreempt` and friends act on the simulated CPUs.
 *
 * The scheduler follows Linux (policy `preemptive`, the default): per-CPU
 * run queues; a tick preempts only when another task is runnable on the CPU,
 * and a preempted task stays on its CPU's queue; tasks move between CPUs by
 * periodic load balancing from the tick and by newidle pulls, both of which
 * may move a task preempted in the middle of a per-CPU access. A tick while
 * the preempt count is non-zero only sets need-resched, acted on at the next
 * preemption point (`enable_preempt()` returning the count to 0, the return
 * from a tick, `sched_yield`); a tick while IRQs are disabled waits for them
 * to be re-enabled. Scheduling while atomic, exiting with a preempt count,
 * and preempt-count underflow are reported, never absorbed. The `stress`
 * policy keeps the aggressive scheduler of earlier versions (every tick
 * preempts, preempted tasks scatter across CPUs) for shaking out races.
 *
 * `run()` steps the CPUs in lock step: each machine cycle every CPU takes
 * one step (its scheduling, then at most one instruction), CPU 0 first.
 *
 * @module
 */

import type { Percpu } from "../../lib/percpu.ts";
import type { CorePort } from "../../lib/_port.ts";
import { checkInteger } from "../../lib/_check.ts";
import { type KernelGuardIf, setKernelGuardIf } from "../../lib/guards.ts";
import { active, installed, reinstall } from "../../lib/_guard_if.ts";
import { SimulationError } from "../errors.ts";
import { optionsError } from "../_safe.ts";
import type { SimEvent } from "../trace/trace.ts";
import type { Decisions } from "./decisions.ts";
import { type CoreHandles, coreHandles, CurrentContext } from "./_core_handles.ts";
import { Executor } from "./_executor.ts";
import { type AreaSpan, stateHash } from "./_fingerprint.ts";
import { Kernel } from "./_kernel.ts";
import { checkTaskBody, Lifecycle, startTask } from "./_lifecycle.ts";
import {
  type MachineOptions,
  resolveMachineOptions,
  resolveSpawnOptions,
  type SpawnOptions,
} from "./machine_options.ts";
import { openMachinePort, snapshotOf, type StepRecord } from "./_port.ts";
import { ProgramCache } from "./_programs.ts";
import { RunQueues } from "./_run_queues.ts";
import { type RunStats, Stats, type StopReason } from "./run_stats.ts";
import { Scheduler } from "./_scheduler.ts";
import { RunState, SimCpu, SimTask } from "./_state.ts";
import { type TaskBody, TaskContext, type TaskHost } from "./task.ts";

/** Where the per-CPU areas lie, and the base of the first. */
type Areas = AreaSpan & { readonly base: number };

/**
 * The simulated SMP machine.
 *
 * @example Two tasks race on a per-CPU counter
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u64 } from "@percpu/percpu";
 * import { Machine } from "@percpu/percpu/sched";
 * const percpu = createPercpu({ arch: "riscv64" });
 * const COUNTER = percpu.defPercpu("COUNTER", u64, 0n);
 * const machine = new Machine({ percpu, cpus: 2, quantum: 3, seed: 7 });
 * for (let t = 0; t < 3; t++) {
 *   machine.spawn(function* (ctx) {
 *     for (let i = 0; i < 50; i++) yield* ctx.withCurrent(COUNTER, (v) => v + 1n);
 *   });
 * }
 * const stats = machine.run();
 * assert.equal(stats.stopReason, "completed");
 * assert.ok(stats.instructions > 0);
 * ```
 */
export class Machine {
  /** The per-CPU system the machine runs. */
  readonly percpu: Percpu;
  /** Number of CPUs. */
  readonly cpus: number;
  readonly #port: CorePort;
  readonly #handles: CoreHandles;
  readonly #current: CurrentContext;
  readonly #maxCycles: number;
  readonly #state: RunState;
  readonly #cpus: readonly SimCpu[];
  readonly #kernel: Kernel;
  /** The kernel's guard hooks, checked and bound once (see `#swapIn`). */
  readonly #kernelHooks: KernelGuardIf;
  readonly #queues: RunQueues;
  readonly #programs: ProgramCache;
  readonly #executor: Executor;
  readonly #lifecycle: Lifecycle;
  readonly #scheduler: Scheduler;
  readonly #host: TaskHost;
  #areas: AreaSpan & { readonly base: number };
  /**
   * Under `sp-naive`, the `.data` globals as the machine booted. The crate's
   * naive `init()` leaves them alone, so `reset` loads them again, as a
   * fresh boot loads `.data`: every run starts from the same values.
   */
  #globals: Uint8Array | null = null;
  #bootEpoch = 0;
  /** `run()` or a port step is under way. */
  #active = false;

  /**
   * Builds the machine: initialises `cpus` per-CPU areas and points each
   * simulated CPU's per-CPU register at its own area.
   *
   * @param options The system, CPU count, policy, quantum, seed, …
   * @throws {TypeError} On a missing system, an option of the wrong type or
   *   an unknown option.
   * @throws {RangeError} On a value out of range (the message names the
   *   option and the accepted values).
   */
  constructor(options: MachineOptions) {
    let resolved: ReturnType<typeof resolveMachineOptions>;
    try {
      resolved = resolveMachineOptions(options);
    } catch (error) {
      throw optionsError("Machine", error);
    }
    const percpu = resolved.percpu;
    const port = resolved.port;
    this.percpu = percpu;
    this.cpus = resolved.cpus;
    this.#port = port;
    this.#maxCycles = resolved.maxCycles;
    const state = this.#state = new RunState(resolved.record);
    const outside = port.context;
    this.#cpus = Array.from(
      { length: this.cpus },
      (_, id) => new SimCpu(id, port.createCpuContext()),
    );
    port.context = outside;
    this.#handles = coreHandles(port);
    this.#current = new CurrentContext(this.#handles);
    this.#kernel = new Kernel(state);
    const [outerIf, outerHooks] = [installed(), active()];
    setKernelGuardIf(this.#kernel);
    this.#kernelHooks = active()!;
    reinstall(outerIf, outerHooks);
    this.#queues = new RunQueues(state, this.#cpus);
    this.#programs = new ProgramCache(port, percpu.pointerBytes);
    this.#executor = new Executor(percpu, this.#handles, this.#current, state, this.#kernel);
    this.#host = {
      currentCpu: (task) => state.tasks[task].lastCpu,
      programs: this.#programs,
      pointerBytes: percpu.pointerBytes,
      cpus: this.cpus,
      // Nothing a task can yield: a yielded null or undefined must not match.
      lastAccess: Symbol("no access yet"),
    };
    this.#lifecycle = new Lifecycle(
      state,
      this.#host,
      this.#current,
      this.#kernel,
      this.#queues,
      this.#programs,
      this.#executor,
    );
    this.#scheduler = new Scheduler(
      state,
      this.#cpus,
      this.#kernel,
      this.#queues,
      this.#lifecycle,
      this.#executor,
      resolved.policy,
      resolved.decisions,
    );
    this.#areas = this.#boot(null);
    if (this.percpu.hasFeature("sp-naive")) {
      const { region, first, end } = this.#areas;
      this.#globals = region.u8.slice(first, end);
    }
    this.#openPort();
  }

  #openPort(): void {
    // deno-lint-ignore no-this-alias
    const machine = this;
    const state = this.#state;
    openMachinePort(this, {
      step: (cpu, record) => this.#stepOne(cpu, record),
      endCycle: (record) => this.#scheduler.endCycle(record),
      offers: (cpu, out) => this.#scheduler.offers(this.#cpus[cpu], out),
      get cycle(): number {
        return state.cycle;
      },
      get live(): number {
        return state.live;
      },
      get tasks(): number {
        return state.tasks.length;
      },
      get sleeping(): number {
        return state.sleepers.length;
      },
      get issues(): number {
        return state.wrongCpuAccesses + state.misuses.length + state.failures.length;
      },
      stats: () => this.#stats(),
      snapshot: () => snapshotOf(state, this.#cpus),
      reset: (decisions) => this.#reset(decisions),
      stateHash: (extra) =>
        stateHash(state, this.#cpus, this.#areas, this.#executor.written, extra),
      get queueEpoch(): number {
        return machine.#state.queueEpoch;
      },
      cpuContexts: this.#cpus.map((cpu) => cpu.context),
    });
  }

  /**
   * `init(cpus)` and each CPU's `init_percpu_reg(cpu)`, as a kernel boots.
   *
   * @param areas Where the areas were, to keep when they did not move.
   * @returns Where the areas are.
   */
  #boot(areas: Areas | null): Areas {
    const percpu = this.percpu;
    const port = this.#port;
    const outside = port.context;
    percpu.init(this.cpus);
    for (const cpu of this.#cpus) {
      port.context = cpu.context;
      percpu.initPercpuReg(cpu.id);
    }
    port.context = outside;
    this.#executor.clearWritten();
    this.#bootEpoch = port.epoch;
    return areas?.base === percpu.percpuAreaBase(0) ? areas : this.#locateAreas();
  }

  /** Where the per-CPU areas (the `.data` globals under `sp-naive`) lie. */
  #locateAreas(): Areas {
    const percpu = this.percpu;
    const base = percpu.percpuAreaBase(0);
    if (percpu.hasFeature("sp-naive")) {
      const data = this.#port.memory.resolve(percpu.variables()[0]?.offset() ?? 0, 0)!;
      return { base, region: data, first: data.byteOffset, end: data.byteOffset + data.length };
    }
    const size = percpu.percpuAreaLayoutExpected(this.cpus).size;
    const region = this.#port.memory.resolve(base, size)!;
    return { base, region, first: base + region.bias, end: base + region.bias + size };
  }

  /** Starts over with no tasks (the explorer reuses one machine for many schedules). */
  #reset(decisions: Decisions): void {
    this.#enter("reset");
    const state = this.#state;
    state.reset();
    state.hashResumes = true;
    this.#scheduler.decisions = decisions;
    for (const cpu of this.#cpus) {
      cpu.queue.length = 0;
      cpu.current = null;
      cpu.last = null;
      cpu.irqEnabled = true;
      cpu.pendingTick = false;
      cpu.tickDue = false;
      cpu.needResched = false;
      cpu.preemptPoint = false;
      cpu.ran = false;
      for (const reg of ["TPIDR_EL1", "TPIDR_EL2"] as const) {
        if (reg !== cpu.context.percpuReg) cpu.context.writeSysreg(reg, 0);
      }
    }
    this.#areas = this.#boot(this.#areas);
    if (this.#globals !== null) this.#areas.region.u8.set(this.#globals, this.#areas.first);
  }

  /**
   * Refuses to run inside a run, or over a system initialised again since
   * the machine booted (its areas may have moved under the CPUs' registers).
   */
  #enter(what: string): void {
    if (this.#active) {
      const task = this.#kernel.running?.current;
      throw new SimulationError(
        "Reentrant",
        `${what} was called while the machine is running${
          task ? ` (from inside ${task.name})` : ""
        }; a machine runs one step at a time`,
      );
    }
    if (what !== "reset" && this.#port.epoch !== this.#bootEpoch) {
      throw new SimulationError(
        "StaleSystem",
        `${what}: the per-CPU system was initialised again after this machine was built (by another Machine or by init()), so its CPUs' registers may point at stale areas; build the machine again after the last init()`,
      );
    }
  }

  /**
   * Adds a task, queued on a CPU (also from inside a running task).
   *
   * @param body A generator function (`function*`); each `yield` is an
   *   instruction boundary.
   * @param options A name and the starting CPU.
   * @returns The task's context (its id and name).
   * @throws {TypeError} When `body` is not a sync generator function, or on
   *   a bad option type.
   * @throws {RangeError} On a CPU id out of range.
   */
  spawn(body: TaskBody, options?: SpawnOptions): TaskContext {
    checkTaskBody(body);
    const state = this.#state;
    const id = state.tasks.length;
    let resolved: ReturnType<typeof resolveSpawnOptions>;
    try {
      resolved = resolveSpawnOptions(options, id, this.cpus);
    } catch (error) {
      throw optionsError("spawn", error);
    }
    const { name, cpu } = resolved;
    const context = new TaskContext(id, name, this.#host);
    const generator = startTask(name, body, context);
    const task = new SimTask(id, name, context, generator);
    state.tasks.push(task);
    this.#queues.enqueue(this.#cpus[cpu], task, null);
    state.live++;
    return context;
  }

  /**
   * Runs until every task has ended, or `maxCycles`. While running, the
   * machine is the installed `KernelGuardIf`; the previous one is restored.
   * A run that stops early says why (`stopReason`); it has no verdict.
   *
   * @returns What happened.
   * @throws {SimulationError} When called from inside a running task
   *   (`Reentrant`), or when the per-CPU system was initialised again since
   *   the machine was built (`StaleSystem`).
   * @throws {TypeError} When custom `decisions` answer with a wrong type
   *   (`RangeError` for an index out of range); what they throw propagates.
   */
  run(): RunStats {
    this.#enter("run()");
    const state = this.#state;
    const port = this.#port;
    const scheduler = this.#scheduler;
    const cpus = this.#cpus;
    const maxCycles = this.#maxCycles;
    const epoch = this.#handles.epoch;
    const previous = installed();
    const previousHooks = active();
    reinstall(this.#kernel, this.#kernelHooks);
    const outside = port.context;
    this.#current.forget();
    this.#active = true;
    try {
      while (state.live > 0 && state.cycle < maxCycles) {
        for (let i = 0; i < cpus.length; i++) scheduler.step(cpus[i], null);
        scheduler.endCycle(null);
        // Only task code can set the system up again; looking every 256
        // cycles (and at the end) stops such a run soon enough, and its
        // verdict is "incomplete" either way.
        if ((state.cycle & 255) === 0 && epoch() !== this.#bootEpoch) break;
      }
      if (epoch() !== this.#bootEpoch) state.stopped = "system-reinitialized";
    } finally {
      this.#active = false;
      this.#kernel.running = null;
      reinstall(previous, previousHooks);
      port.context = outside;
    }
    return this.#stats();
  }

  /** One port step: the machine installed as the guard interface for its duration. */
  #stepOne(cpu: number, record: StepRecord | null): void {
    checkInteger(cpu, "step: cpu", 0, this.cpus - 1);
    this.#enter("step");
    const port = this.#port;
    // Installed without checking or binding again: this runs at every step.
    const previous = installed();
    const previousHooks = active();
    reinstall(this.#kernel, this.#kernelHooks);
    const outside = port.context;
    this.#current.forget();
    this.#active = true;
    try {
      this.#scheduler.step(this.#cpus[cpu], record);
      if (port.epoch !== this.#bootEpoch) this.#state.stopped = "system-reinitialized";
    } finally {
      this.#active = false;
      this.#kernel.running = null;
      reinstall(previous, previousHooks);
      port.context = outside;
    }
  }

  #stats(): RunStats {
    const s = this.#state;
    const reason: StopReason = s.stopped ??
      (s.live === 0 ? "completed" : s.cycle >= this.#maxCycles ? "cycle-limit" : "stopped");
    return new Stats(
      s.cycle,
      s.instructions,
      s.preemptions,
      s.migrations,
      s.contextSwitches,
      s.pulls,
      s.wrongCpuAccesses,
      s.misuses,
      s.failures,
      reason,
      s.trace,
      s.firstViolation,
    );
  }

  /** Instructions executed so far in the current run. */
  get instructions(): number {
    return this.#state.instructions;
  }

  /**
   * The events of the current run, or `null` unless the machine was built
   * with `record: true`.
   */
  get events(): readonly SimEvent[] | null {
    return this.#state.trace.events;
  }

  /** Task names by id. */
  get taskNames(): readonly string[] {
    return this.#state.tasks.map((task) => task.name);
  }
}
