/**
 * A simulated SMP machine: N CPUs, each with its own registers (the per-CPU
 * register included), run queue, IRQ flag and timer, running generator tasks
 * over one `Percpu` system. While it runs it is the system's
 * `KernelGuardIf`, so `NoPreempt` and friends act on the simulated CPUs.
 *
 * Preemption follows Linux: a tick while the task's preempt count is
 * non-zero only sets need-resched, and the switch happens when the count
 * returns to zero; ticks while IRQs are disabled wait until they are
 * re-enabled. Scheduling while atomic and preempt-count underflow are
 * reported, never absorbed.
 *
 * @module
 */

import type { AccessOp, AccessProgram } from "../../lib/isa/access_program.ts";
import type { PercpuRegName } from "../../lib/arch.ts";
import type { CpuContext } from "../../lib/_cpu_context.ts";
import { valueText } from "../../lib/_describe.ts";
import { checkInteger } from "../../lib/_check.ts";
import { type KernelGuardIf, setKernelGuardIf } from "../../lib/guards.ts";
import { insn, Op, Reg, REG_COUNT, SYSREGS } from "../../lib/isa/isa.ts";
import type { Region } from "../../lib/_memory.ts";
import type { Percpu } from "../../lib/percpu.ts";
import { type CorePort, portOf, programOf } from "../../lib/_port.ts";
import type { PercpuVar } from "../../lib/percpu_var.ts";
import { type Decisions, POLICIES, type Policy, SeededPolicy } from "./decisions.ts";
import { SimulationError } from "../errors.ts";
import { Executor, type RegisterFile, type Step } from "./_executor.ts";
import {
  type AccessRequest,
  type ControlRequest,
  type Request,
  type TaskBody,
  TaskContext,
  type TaskHost,
} from "./task.ts";
import { Hasher } from "../trace/_hasher.ts";
import { type AccessEvent, type SimEvent, Trace } from "../trace/trace.ts";
import { openMachinePort } from "./_port.ts";

/** Options of {@linkcode Machine}. */
export interface MachineOptions {
  /** The per-CPU system; its variables must be defined already (the machine calls `init`). */
  readonly percpu: Percpu;
  /** Number of CPUs (default 2; must be 1 under `sp-naive`). */
  readonly cpus?: number;
  /** `cooperative` or `preemptive` (default). */
  readonly policy?: Policy;
  /** Mean instructions between timer ticks on a CPU (default 10). */
  readonly quantum?: number;
  /** PRNG seed (default 1): same options and seed, same trace. */
  readonly seed?: number;
  /** Probability that a preempted task is queued on another CPU (default 0.5). */
  readonly migration?: number;
  /** Probability that an idle CPU steals a waiting task in a cycle (default 0.5). */
  readonly steal?: number;
  /** Keep the events in memory (default `true`; the hash is always kept). */
  readonly record?: boolean;
  /** Stop after this many cycles (default 10 000 000). */
  readonly maxCycles?: number;
  /** Replaces the timer and PRNG decisions (the schedule explorer uses this). */
  readonly decisions?: Decisions;
}

/** Options of {@linkcode Machine.spawn}. */
export interface SpawnOptions {
  /** A name for reports (default `task<id>`). */
  readonly name?: string;
  /** The CPU whose run queue it starts on (default: round robin). */
  readonly cpu?: number;
}

/** A kernel-reported misuse. */
export interface Misuse {
  /** Machine cycle. */
  readonly cycle: number;
  /** The CPU. */
  readonly cpu: number;
  /** The task's name. */
  readonly task: string;
  /** The kernel's message. */
  readonly message: string;
}

/** A task that threw. */
export interface TaskFailure {
  /** The task's name. */
  readonly task: string;
  /** The CPU it was running on. */
  readonly cpu: number;
  /** The error's message. */
  readonly message: string;
  /** The error. */
  readonly error: unknown;
}

/** What a run did. */
export interface RunStats {
  /** Machine cycles (each CPU executes at most one instruction per cycle). */
  readonly cycles: number;
  /** Instructions executed over all CPUs. */
  readonly instructions: number;
  /** Involuntary switches by the timer. */
  readonly preemptions: number;
  /** Dispatches of a task on a different CPU than it last ran on. */
  readonly migrations: number;
  /** Dispatches of a different task than the CPU ran before. */
  readonly contextSwitches: number;
  /** Local per-CPU accesses that hit another CPU's area or none. */
  readonly wrongCpuAccesses: number;
  /** Reported misuse (scheduling while atomic, underflow, …). */
  readonly misuses: readonly Misuse[];
  /** Tasks that threw. */
  readonly failures: readonly TaskFailure[];
  /** Every task ended before `maxCycles`. */
  readonly completed: boolean;
  /** Hash of the whole trace. */
  readonly traceHash: string;
  /** The first wrong-CPU access, or `null`. */
  readonly firstViolation: AccessEvent | null;
}

/** A run's statistics; the trace hash is formatted only when asked for. */
class Stats implements RunStats {
  readonly instructions: number;
  readonly preemptions: number;
  readonly migrations: number;
  readonly contextSwitches: number;
  readonly wrongCpuAccesses: number;
  readonly #trace: Trace;

  constructor(
    readonly cycles: number,
    counts: Omit<
      RunStats,
      "cycles" | "misuses" | "failures" | "completed" | "traceHash" | "firstViolation"
    >,
    readonly misuses: readonly Misuse[],
    readonly failures: readonly TaskFailure[],
    readonly completed: boolean,
    trace: Trace,
    readonly firstViolation: AccessEvent | null,
  ) {
    this.instructions = counts.instructions;
    this.preemptions = counts.preemptions;
    this.migrations = counts.migrations;
    this.contextSwitches = counts.contextSwitches;
    this.wrongCpuAccesses = counts.wrongCpuAccesses;
    this.#trace = trace;
  }

  get traceHash(): string {
    return this.#trace.hash;
  }
}

type TaskState = "ready" | "running" | "sleeping" | "done" | "failed";
const TASK_STATES: readonly TaskState[] = ["ready", "running", "sleeping", "done", "failed"];

/** Programs of one variable: by op, then by remote CPU or closure name. */
type ProgramCache = Map<AccessOp, AccessProgram | Map<number | string, AccessProgram>>;

interface SimTask extends RegisterFile {
  readonly id: number;
  /** How many times the generator was resumed, and a hash of what it was given. */
  resumes: number;
  resumeHash: Hasher;
  steps: readonly Step[];
  readonly name: string;
  readonly context: TaskContext;
  readonly generator: Generator<unknown, unknown, unknown>;
  state: TaskState;
  request: AccessRequest | null;
  pc: number;
  resume: unknown;
  preemptCount: number;
  lastCpu: number;
  wakeAt: number;
}

interface SimCpu {
  readonly id: number;
  readonly context: CpuContext;
  readonly queue: SimTask[];
  current: SimTask | null;
  last: SimTask | null;
  irqEnabled: boolean;
  pendingTick: boolean;
  needResched: boolean;
}

const NOP_PROGRAM: AccessProgram = Object.freeze({
  op: "read-raw" as AccessOp,
  instructions: Object.freeze([insn("nop", Op.Nop)]),
  result: -1,
  input: -1,
});
const WORK_REQUEST: AccessRequest = Object.freeze({
  kind: "access",
  program: NOP_PROGRAM,
  valueKind: "u8",
  input: undefined,
  fn: null,
  result: -1,
  remote: false,
});

/** Where the per-CPU areas lie: the base and the bytes `[first, end)` of a region. */
interface AreaSpan {
  readonly base: number;
  readonly region: Region;
  readonly first: number;
  readonly end: number;
}

/** Hashes bytes `[first, end)` of a region's buffer: whole words, then the tail. */
function hashRegion(h: Hasher, region: Region, first: number, end: number): void {
  const firstWord = (first + 3) >>> 2;
  const endWord = end >>> 2;
  if (firstWord >= endWord) {
    for (let b = first; b < end; b++) h.word(region.u8[b]);
    return;
  }
  for (let b = first; b < firstWord * 4; b++) h.word(region.u8[b]);
  h.words(region.u32, firstWord, endWord);
  for (let b = endWord * 4; b < end; b++) h.word(region.u8[b]);
}

/** Removes and returns `queue[index]`, keeping the order of the rest. */
function removeAt<T>(queue: T[], index: number): T {
  if (index === 0) return queue.shift()!;
  const item = queue[index];
  for (let i = index; i < queue.length - 1; i++) queue[i] = queue[i + 1];
  queue.length--;
  return item;
}

function positiveInt(value: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  return checkInteger(value, what, 1, max);
}

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
 * for (let t = 0; t < 2; t++) {
 *   machine.spawn(function* (ctx) {
 *     for (let i = 0; i < 50; i++) yield* ctx.withCurrent(COUNTER, (v) => v + 1n);
 *   });
 * }
 * const stats = machine.run();
 * assert.ok(stats.completed);
 * assert.ok(stats.instructions > 0);
 * ```
 */
export class Machine {
  /** The per-CPU system the machine runs. */
  readonly percpu: Percpu;
  /** Number of CPUs. */
  readonly cpus: number;
  readonly #port: CorePort;
  #trace: Trace;
  readonly #keepEvents: boolean;
  readonly #maxCycles: number;
  readonly #cpus: SimCpu[];
  readonly #guardIf: KernelGuardIf;
  readonly #programs = new WeakMap<PercpuVar, ProgramCache>();
  readonly #sysregPrograms = new Map<PercpuRegName, AccessProgram>();
  readonly #programIds = new Map<AccessProgram, number>();
  readonly #closurePrograms = new WeakMap<
    object,
    { variable: PercpuVar; raw: boolean; program: AccessProgram }
  >();
  readonly #taskHost: TaskHost;
  #areas: AreaSpan | undefined;
  #decisions: Decisions;
  readonly #executor: Executor;
  #tasks: SimTask[] = [];
  #sleepers: SimTask[] = [];
  #live = 0;
  #cycle = 0;
  #running: SimCpu | null = null;
  #stats = {
    instructions: 0,
    preemptions: 0,
    migrations: 0,
    contextSwitches: 0,
    wrongCpuAccesses: 0,
  };
  #misuses: Misuse[] = [];
  #failures: TaskFailure[] = [];
  #firstViolation: AccessEvent | null = null;
  #queueEpoch = 0;

  /**
   * Builds the machine: initialises `cpus` per-CPU areas and points each
   * simulated CPU's per-CPU register at its own area.
   *
   * @param options The system, CPU count, policy, quantum, seed, …
   * @throws {RangeError} On a bad option (the message names it and the accepted values).
   */
  constructor(options: MachineOptions) {
    const percpu = options.percpu;
    const naive = percpu.hasFeature("sp-naive");
    this.cpus = positiveInt(options.cpus ?? (naive ? 1 : 2), "cpus", 64);
    if (naive && this.cpus !== 1) {
      throw new RangeError(`cpus: an sp-naive machine has exactly 1 CPU, got ${this.cpus}`);
    }
    const policy = options.policy ?? "preemptive";
    if (!POLICIES.includes(policy)) {
      throw new RangeError(
        `policy must be one of ${POLICIES.join(", ")}, got ${valueText(policy)}`,
      );
    }
    this.percpu = percpu;
    this.#port = portOf(percpu);
    this.#taskHost = {
      currentCpu: (task) => this.#tasks[task].lastCpu,
      program: (variable, op, options) => this.#program(variable, op, options),
      sysregProgram: (reg) => this.#sysregProgram(reg),
      withCurrentProgram: (variable, raw, f) => this.#withCurrentProgram(variable, raw, f),
      pointerBytes: percpu.pointerBytes,
    };
    this.#keepEvents = options.record ?? true;
    this.#maxCycles = positiveInt(options.maxCycles ?? 10_000_000, "maxCycles");
    this.#decisions = options.decisions ?? new SeededPolicy({
      policy,
      quantum: positiveInt(options.quantum ?? 10, "quantum", 1_000_000),
      seed: options.seed ?? 1,
      migration: options.migration ?? 0.5,
      steal: options.steal ?? 0.5,
      cpus: this.cpus,
    });
    this.#trace = new Trace(this.#keepEvents);
    this.#guardIf = {
      disablePreempt: () => this.#preemptOff(this.#current("disable_preempt")),
      enablePreempt: () => this.#preemptOn(this.#current("enable_preempt")),
      localIrqSaveAndDisable: () => this.#irqSave(),
      localIrqRestore: (state) => this.#irqRestore(state),
    };
    const outside = this.#port.context;
    this.#cpus = Array.from({ length: this.cpus }, (_, id) => {
      const context = this.#port.createCpuContext();
      return {
        id,
        context,
        queue: [],
        current: null,
        last: null,
        irqEnabled: true,
        pendingTick: false,
        needResched: false,
      };
    });
    this.#port.context = outside;
    this.#executor = this.#makeExecutor();
    this.#areas = this.#boot();
    // deno-lint-ignore no-this-alias
    const machine = this;
    openMachinePort(this, {
      reset: (decisions) => this.#reset(decisions),
      stateHash: (extra) => this.#stateHash(extra),
      get queueEpoch(): number {
        return machine.#queueEpoch;
      },
      cpuContexts: this.#cpus.map((cpu) => cpu.context),
    });
  }

  #makeExecutor(): Executor {
    return new Executor(this.percpu, this.#trace, {
      preemptOff: () => this.#preemptOff(this.#running!),
      preemptOn: () => this.#preemptOn(this.#running!),
      violation: (event) => {
        this.#stats.wrongCpuAccesses++;
        this.#firstViolation ??= event;
      },
    });
  }

  /**
   * `init(cpus)` and each CPU's `init_percpu_reg(cpu)`, as a kernel boots.
   *
   * @returns Where the areas are.
   */
  #boot(): AreaSpan {
    const percpu = this.percpu;
    const outside = this.#port.context;
    percpu.init(this.cpus);
    for (const cpu of this.#cpus) {
      this.#port.context = cpu.context;
      percpu.initPercpuReg(cpu.id);
    }
    this.#port.context = outside;
    this.#executor.clearWritten();
    const areas = this.#areas;
    return areas?.base === percpu.percpuAreaBase(0) ? areas : this.#locateAreas();
  }

  /**
   * Starts over with no tasks: re-initialises the areas (the template is
   * copied again), resets every CPU, the trace and the counters, and takes
   * new decisions. Lets the explorer reuse one machine for many schedules.
   *
   * @param decisions The decisions for the next run.
   */
  #reset(decisions: Decisions): void {
    this.#decisions = decisions;
    this.#trace = new Trace(this.#keepEvents);
    this.#executor.trace = this.#trace;
    this.#tasks = [];
    this.#sleepers = [];
    this.#live = 0;
    this.#cycle = 0;
    this.#running = null;
    this.#stats = {
      instructions: 0,
      preemptions: 0,
      migrations: 0,
      contextSwitches: 0,
      wrongCpuAccesses: 0,
    };
    this.#misuses = [];
    this.#failures = [];
    this.#firstViolation = null;
    this.#queueEpoch = 0;
    for (const cpu of this.#cpus) {
      cpu.queue.length = 0;
      cpu.current = null;
      cpu.last = null;
      cpu.irqEnabled = true;
      cpu.pendingTick = false;
      cpu.needResched = false;
      for (const reg of ["TPIDR_EL1", "TPIDR_EL2"] as const) {
        if (reg !== cpu.context.percpuReg) cpu.context.writeSysreg(reg, 0);
      }
    }
    this.#areas = this.#boot();
  }

  /**
   * Adds a task.
   *
   * @param body A generator function; each `yield` is an instruction boundary.
   * @param options A name and the starting CPU.
   * @returns The task's context (its id and name).
   * @throws {TypeError} When `body` is not a function.
   * @throws {RangeError} On a bad CPU id.
   */
  spawn(body: TaskBody, options: SpawnOptions = {}): TaskContext {
    if (typeof body !== "function") {
      throw new TypeError(`spawn expects a generator function, got ${valueText(body)}`);
    }
    const id = this.#tasks.length;
    const cpu = options.cpu ?? id % this.cpus;
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus) {
      throw new RangeError(
        `spawn: cpu must be an integer from 0 to ${this.cpus - 1}, got ${valueText(cpu)}`,
      );
    }
    const name = options.name ?? `task${id}`;
    const context = new TaskContext(id, name, this.#taskHost);
    const generator = body(context);
    if (typeof generator?.next !== "function") {
      throw new TypeError(`spawn: ${name}'s body must be a generator function (function*)`);
    }
    const task: SimTask = {
      id,
      name,
      context,
      generator,
      state: "ready",
      request: null,
      pc: 0,
      resume: undefined,
      preemptCount: 0,
      lastCpu: -1,
      wakeAt: 0,
      regs: new Array(REG_COUNT).fill(0),
      carry: 0,
      steps: [],
      resumes: 0,
      resumeHash: new Hasher(),
    };
    this.#tasks.push(task);
    this.#enqueue(this.#cpus[cpu], task);
    this.#live++;
    return context;
  }

  /**
   * Runs until every task has ended (or `maxCycles`). While running, the
   * machine is the installed `KernelGuardIf`; the previous one is restored.
   *
   * @returns What happened.
   */
  run(): RunStats {
    const previous = setKernelGuardIf(this.#guardIf);
    const outside = this.#port.context;
    try {
      while (this.#live > 0 && this.#cycle < this.#maxCycles) this.#cycleOnce();
    } finally {
      setKernelGuardIf(previous);
      this.#port.context = outside;
      this.#running = null;
    }
    return new Stats(
      this.#cycle,
      this.#stats,
      this.#misuses,
      this.#failures,
      this.#live === 0,
      this.#trace,
      this.#firstViolation,
    );
  }

  /**
   * A fingerprint of everything that decides what the machine does next:
   * every mapped region's bytes, each CPU's registers, flags and run queue,
   * and each task's progress, registers, preempt count and the values its
   * code was resumed with. Two states with equal fingerprints continue
   * alike, provided task code is deterministic and shares nothing but
   * simulated memory. The explorer prunes schedules with it.
   *
   * @param extra Decision state to fold in (e.g. the CPU about to step).
   * @returns A 53-bit key.
   */
  #stateHash(extra: number): number {
    const h = new Hasher();
    h.number(extra);
    const areas = this.#areas!;
    hashRegion(h, areas.region, areas.first, areas.end);
    for (const region of this.#executor.written) {
      if (region !== areas.region) {
        hashRegion(h, region, region.byteOffset, region.byteOffset + region.length);
      }
    }
    for (const cpu of this.#cpus) {
      h.word(cpu.current?.id ?? -1);
      h.word((cpu.irqEnabled ? 1 : 0) | (cpu.pendingTick ? 2 : 0) | (cpu.needResched ? 4 : 0));
      for (const reg of SYSREGS) h.number(cpu.context.readSysreg(reg));
      h.word(cpu.queue.length);
      for (const task of cpu.queue) h.word(task.id);
    }
    for (const task of this.#tasks) {
      h.word(TASK_STATES.indexOf(task.state));
      h.word(task.request === null ? -1 : this.#programId(task.request.program));
      h.word(task.pc);
      for (const value of task.regs) h.value(value);
      h.word(task.carry);
      h.word(task.preemptCount);
      h.word(task.lastCpu);
      h.word(task.resumes);
      h.number(task.resumeHash.key);
      h.value(task.resume);
      h.number(task.state === "sleeping" ? task.wakeAt - this.#cycle : 0);
    }
    return h.key;
  }

  /** Where the per-CPU areas (the `.data` globals under `sp-naive`) lie. */
  #locateAreas(): AreaSpan {
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

  #programId(program: AccessProgram): number {
    let id = this.#programIds.get(program);
    if (id === undefined) this.#programIds.set(program, id = this.#programIds.size);
    return id;
  }

  /** Instructions executed so far in the current run. */
  get instructions(): number {
    return this.#stats.instructions;
  }

  /** The events of the current run, or `null` unless the machine records them. */
  get events(): readonly SimEvent[] | null {
    return this.#trace.events;
  }

  /** Task names by id. */
  get taskNames(): readonly string[] {
    return this.#tasks.map((task) => task.name);
  }

  #cycleOnce(): void {
    if (this.#sleepers.length > 0) this.#wake();
    for (const cpu of this.#cpus) {
      const task = cpu.current ?? this.#dispatch(cpu);
      if (task !== null) this.#step(cpu, task);
    }
    this.#cycle++;
  }

  #step(cpu: SimCpu, task: SimTask): void {
    this.#running = cpu;
    const preemptible = task.preemptCount === 0 && cpu.irqEnabled;
    if (this.#decisions.tick(cpu.id, preemptible)) {
      if (!cpu.irqEnabled) {
        cpu.pendingTick = true;
        this.#trace.tick(this.#cycle, cpu.id, task.id, "deferred-irq");
      } else if (task.preemptCount > 0) {
        cpu.needResched = true;
        this.#trace.tick(this.#cycle, cpu.id, task.id, "deferred-guard");
      } else {
        this.#trace.tick(this.#cycle, cpu.id, task.id, "preempt");
        this.#preempt(cpu, task);
        return;
      }
    }
    if (task.request === null && !this.#fetch(cpu, task)) return;
    if (this.#reschedule(cpu, task)) return;
    const request = task.request!;
    try {
      this.#executor.execute(
        task.steps[task.pc],
        task,
        cpu.context,
        request,
        this.#cycle,
        cpu.id,
        task.id,
      );
    } catch (error) {
      this.#unwind(cpu, task, request, task.pc);
      this.#deliver(cpu, task, true, error);
      return;
    }
    this.#stats.instructions++;
    if (++task.pc === request.program.instructions.length) {
      task.resume = request.result < 0
        ? undefined
        : this.#executor.take(task, request.result, request.valueKind);
      task.request = null;
    }
    this.#reschedule(cpu, task);
  }

  /** Switches away when a deferred tick is due and the task just became preemptible. */
  #reschedule(cpu: SimCpu, task: SimTask): boolean {
    if (!cpu.needResched || task.preemptCount > 0 || !cpu.irqEnabled || cpu.current !== task) {
      return false;
    }
    this.#preempt(cpu, task);
    return true;
  }

  /** Runs the task's code up to its next request; `false` when it left the CPU. */
  #fetch(cpu: SimCpu, task: SimTask): boolean {
    const value = task.resume;
    task.resume = undefined;
    task.resumes++;
    task.resumeHash.value(value);
    return this.#deliver(cpu, task, false, value);
  }

  /** Resumes the task with a value, or throws an error into it; handles what it yields next. */
  #deliver(cpu: SimCpu, task: SimTask, raise: boolean, value: unknown): boolean {
    if (this.#port.context !== cpu.context) this.#port.context = cpu.context;
    let result: IteratorResult<unknown, unknown>;
    try {
      result = raise ? task.generator.throw(value) : task.generator.next(value);
    } catch (error) {
      this.#end(cpu, task, "failed", error);
      return false;
    }
    if (result.done) {
      this.#end(cpu, task, "done", null);
      return false;
    }
    const request = result.value as Request;
    switch (request === undefined ? "work" : request?.kind) {
      case "access":
        this.#start(task, request as AccessRequest);
        return true;
      case "work":
        this.#start(task, WORK_REQUEST);
        return true;
      case "yield":
        this.#leave(cpu, task, "yield");
        this.#enqueue(cpu, task);
        task.state = "ready";
        return false;
      case "sleep":
        this.#leave(cpu, task, "sleep");
        task.state = "sleeping";
        task.wakeAt = this.#cycle + (request as ControlRequest).cycles!;
        this.#sleepers.push(task);
        return false;
      default:
        return this.#deliver(
          cpu,
          task,
          true,
          new TypeError(
            `${task.name} yielded ${
              valueText(request)
            }; use a bare \`yield\` (one instruction) or yield* a ctx operation`,
          ),
        );
    }
  }

  /**
   * An instruction faulted: the access is abandoned and, as Rust unwinding
   * drops a `NoPreempt` guard, a guard its program took is released.
   */
  #unwind(cpu: SimCpu, task: SimTask, request: AccessRequest, pc: number): void {
    task.request = null;
    let held = 0;
    const instructions = request.program.instructions;
    for (let i = 0; i < pc; i++) {
      if (instructions[i].op === Op.PreemptOff) held++;
      else if (instructions[i].op === Op.PreemptOn) held--;
    }
    for (; held > 0; held--) this.#preemptOn(cpu);
  }

  #start(task: SimTask, request: AccessRequest): void {
    task.request = request;
    task.pc = 0;
    task.steps = this.#executor.compile(request.program);
    if (request.program.input >= 0) {
      this.#executor.place(task, request.program.input, request.valueKind, request.input);
    }
  }

  #leave(cpu: SimCpu, task: SimTask, kind: "yield" | "sleep"): void {
    if (task.preemptCount > 0) {
      this.#misuse(
        cpu,
        task,
        `BUG: scheduling while atomic: ${task.name} called ${
          kind === "yield" ? "sched_yield" : "sleep"
        } with preempt count ${task.preemptCount}`,
      );
    }
    if (!cpu.irqEnabled) {
      this.#misuse(cpu, task, `BUG: ${task.name} gave up CPU ${cpu.id} with IRQs disabled`);
    }
    this.#trace.leave(kind, this.#cycle, cpu.id, task.id);
    cpu.current = null;
    cpu.needResched = false;
  }

  #end(cpu: SimCpu, task: SimTask, state: "done" | "failed", error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (state === "failed") {
      this.#failures.push({ task: task.name, cpu: cpu.id, message, error });
      this.#trace.leave("fail", this.#cycle, cpu.id, task.id, message);
    } else {
      this.#trace.leave("exit", this.#cycle, cpu.id, task.id);
    }
    if (task.preemptCount !== 0) {
      this.#misuse(
        cpu,
        task,
        `BUG: scheduling while atomic: ${task.name} ${
          state === "done" ? "exited" : "died"
        } with preempt count ${task.preemptCount}`,
      );
      task.preemptCount = 0;
    }
    if (!cpu.irqEnabled) {
      this.#misuse(
        cpu,
        task,
        `BUG: ${task.name} ${
          state === "done" ? "exited" : "died"
        } with IRQs disabled on CPU ${cpu.id}`,
      );
      cpu.irqEnabled = true;
      cpu.pendingTick = false;
    }
    task.state = state;
    task.request = null;
    cpu.current = null;
    cpu.needResched = false;
    this.#live--;
  }

  #enqueue(cpu: SimCpu, task: SimTask): void {
    cpu.queue.push(task);
    this.#queueEpoch++;
  }

  #preempt(cpu: SimCpu, task: SimTask): void {
    cpu.needResched = false;
    cpu.current = null;
    task.state = "ready";
    const target = this.#decisions.migrate(cpu.id, this.cpus);
    this.#enqueue(this.#cpus[target], task);
    this.#stats.preemptions++;
    this.#trace.preempt(this.#cycle, cpu.id, task.id, target);
  }

  #dispatch(cpu: SimCpu): SimTask | null {
    let task: SimTask | undefined;
    const queue = cpu.queue;
    if (queue.length === 1) {
      task = queue.shift();
    } else if (queue.length > 1) {
      task = removeAt(queue, this.#decisions.pick(cpu.id, queue.length));
    } else {
      task = this.#steal(cpu);
    }
    if (task === undefined) return null;
    if (task.lastCpu >= 0 && task.lastCpu !== cpu.id) {
      this.#stats.migrations++;
      this.#trace.migrate(this.#cycle, cpu.id, task.id, task.lastCpu);
    }
    if (cpu.last !== task) this.#stats.contextSwitches++;
    cpu.current = task;
    cpu.last = task;
    task.lastCpu = cpu.id;
    task.state = "running";
    this.#trace.dispatch(this.#cycle, cpu.id, task.id);
    return task;
  }

  #steal(cpu: SimCpu): SimTask | undefined {
    let waiting = 0;
    for (const other of this.#cpus) if (other !== cpu) waiting += other.queue.length;
    if (waiting === 0) return undefined;
    let k = this.#decisions.steal(cpu.id, waiting, this.#queueEpoch);
    if (k < 0) return undefined;
    for (const other of this.#cpus) {
      if (other === cpu) continue;
      if (k < other.queue.length) return removeAt(other.queue, k);
      k -= other.queue.length;
    }
    return undefined;
  }

  #wake(): void {
    const sleepers = this.#sleepers;
    for (let i = sleepers.length - 1; i >= 0; i--) {
      const task = sleepers[i];
      if (task.wakeAt > this.#cycle) continue;
      sleepers.splice(i, 1);
      task.state = "ready";
      this.#enqueue(this.#cpus[task.lastCpu], task);
    }
  }

  #current(what: string): SimCpu {
    const cpu = this.#running;
    if (cpu === null || cpu.current === null) {
      throw new SimulationError(
        "OutsideTask",
        `${what} called outside a simulated task while the machine is running`,
      );
    }
    return cpu;
  }

  #preemptOff(cpu: SimCpu): void {
    const task = cpu.current!;
    task.preemptCount++;
    this.#trace.guard(this.#cycle, cpu.id, task.id, task.preemptCount);
  }

  #preemptOn(cpu: SimCpu): void {
    const task = cpu.current!;
    if (task.preemptCount === 0) {
      const message = `BUG: preempt count underflow in ${task.name} on CPU ${cpu.id}`;
      this.#misuse(cpu, task, message);
      throw new SimulationError("PreemptCountUnderflow", message);
    }
    task.preemptCount--;
    this.#trace.guard(this.#cycle, cpu.id, task.id, task.preemptCount);
  }

  #irqSave(): number {
    const cpu = this.#current("local_irq_save");
    const state = cpu.irqEnabled ? 1 : 0;
    cpu.irqEnabled = false;
    this.#trace.irq(this.#cycle, cpu.id, cpu.current!.id, false);
    return state;
  }

  #irqRestore(state: number): void {
    const cpu = this.#current("local_irq_restore");
    if (state !== 0 && state !== 1) {
      throw new SimulationError(
        "InvalidIrqState",
        `local_irq_restore expects a state from local_irq_save (0 or 1), got ${valueText(state)}`,
      );
    }
    cpu.irqEnabled = state === 1;
    this.#trace.irq(this.#cycle, cpu.id, cpu.current!.id, cpu.irqEnabled);
    if (cpu.irqEnabled && cpu.pendingTick) {
      cpu.pendingTick = false;
      cpu.needResched = true;
    }
  }

  #misuse(cpu: SimCpu, task: SimTask, message: string): void {
    this.#misuses.push({ cycle: this.#cycle, cpu: cpu.id, task: task.name, message });
    this.#trace.misuse(this.#cycle, cpu.id, task.id, message);
  }

  #program(
    variable: PercpuVar,
    op: AccessOp,
    options: { cpu?: number; fn?: string } = {},
  ): AccessProgram {
    let cache = this.#programs.get(variable);
    if (cache === undefined) {
      if (!this.#port.owns(variable)) {
        throw new TypeError(
          `${valueText(variable?.name)} is not a variable of this machine's per-CPU system`,
        );
      }
      cache = new Map();
      this.#programs.set(variable, cache);
    }
    const variant = options.cpu ?? options.fn;
    const entry = cache.get(op);
    if (variant === undefined) {
      if (entry !== undefined) return entry as AccessProgram;
      const program = programOf(variable, op);
      cache.set(op, program);
      return program;
    }
    let variants = entry as Map<number | string, AccessProgram> | undefined;
    if (variants === undefined) cache.set(op, variants = new Map());
    let program = variants.get(variant);
    if (program === undefined) {
      program = programOf(variable, op, options);
      variants.set(variant, program);
    }
    return program;
  }

  /** Caches per closure, so a task's loop does not look the program up by name each step. */
  #withCurrentProgram(
    variable: PercpuVar,
    raw: boolean,
    f: (value: never) => unknown,
  ): AccessProgram {
    const cached = this.#closurePrograms.get(f);
    if (cached?.variable === variable && cached.raw === raw) return cached.program;
    const op = raw ? "with-current-raw" : "with-current";
    const program = this.#program(variable, op, { fn: f.name || "f" });
    this.#closurePrograms.set(f, { variable, raw, program });
    return program;
  }

  #sysregProgram(reg: PercpuRegName): AccessProgram {
    let program = this.#sysregPrograms.get(reg);
    if (program === undefined) {
      program = Object.freeze({
        op: "write-raw" as AccessOp,
        instructions: Object.freeze(this.#port.table.writeSysreg(reg)),
        result: -1,
        input: Reg.V,
      });
      this.#sysregPrograms.set(reg, program);
    }
    return program;
  }
}
