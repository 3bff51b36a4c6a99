/**
 * The explorer's model of a run, shared by every search, by replay and by
 * the interactive session: the machine is driven one CPU step at a time
 * through its port, and every choice is made by a {@linkcode Chooser} and
 * logged, so the run can be written as a schedule string and replayed.
 *
 * ## The model
 *
 * A run is a sequence of steps. Before each step the driver knows which
 * CPUs can take one (a CPU with a running task, a queued task, or — idle
 * with an empty queue — a task it could pull), and a choice picks one of
 * them: the CPUs run truly in parallel, and which one moves next is the
 * interleaving. The step (see the runtime's scheduler) then meets the
 * kernel's own choice points, in this order, each a choice:
 *
 * - `tick`: offered where a timer tick would change something: the task is
 *   preemptible or not (a tick inside a guard or with IRQs off is deferred
 *   as on Linux), another task waits on the CPU and no switch is requested
 *   yet, or IRQs are off and no tick is pending yet, or load balancing could
 *   pull a task here. Each tick taken counts as a preemption;
 * - `balance`: which task a tick's load balancing pulls, or none;
 * - `pick`: which queued task a dispatch runs;
 * - `newidle`: which task an idle CPU pulls, or none.
 *
 * The clock advances one machine cycle per step (and by itself while every
 * CPU is idle and a task sleeps), so a timeline shows one instruction per
 * column, and `sleep(n)` lasts `n` steps of the whole machine.
 *
 * A choice point is logged when it has two options or more; its value is the
 * index taken (for the CPU: among the steppable CPUs, counting from the one
 * after the CPU that stepped last, so 0 everywhere is a round-robin).
 *
 * @module
 */

import { checkInteger } from "../../lib/_check.ts";
import { hex, valueText } from "../../lib/_describe.ts";
import { portOf } from "../../lib/_port.ts";
import type { Percpu } from "../../lib/percpu.ts";
import { SimulationError } from "../errors.ts";
import { describeSafely, isInstance } from "../_safe.ts";
import type { Decisions } from "../runtime/decisions.ts";
import { Machine } from "../runtime/machine.ts";
import {
  type MachinePort,
  machinePort,
  STEP_RESUME,
  STEP_SLEEP,
  StepOffers,
  StepRecord,
} from "../runtime/_port.ts";
import type { RunStats } from "../runtime/run_stats.ts";
import type { ExploreTest } from "./explore.ts";
import { fingerprintOf } from "./schedule.ts";
import { kindBit, type ViolationKind } from "./violations.ts";

/**
 * What a choice decides: which CPU steps, whether a tick arrives (`tick`
 * where the task is preemptible; `deferred-tick` inside a guard or with IRQs
 * off, where the tick would only request a switch for the region's end),
 * which task balancing pulls, which queued task runs, which task an idle CPU
 * pulls.
 */
export type ChoiceKind = "cpu" | "tick" | "deferred-tick" | "balance" | "pick" | "newidle";

/** Makes the choices of a run. */
export interface Chooser {
  /**
   * Chooses one of `count` options.
   *
   * @param count The number of options, ≥ 2.
   * @param kind What the choice decides.
   * @param from The first option that changes anything (a search need not
   *   try the ones below: a `newidle` of 0 leaves the CPU idle, a `balance`
   *   of 0 after a tick that only balancing made worth taking changes nothing).
   * @returns An index below `count`.
   */
  choose(count: number, kind: ChoiceKind, from: number): number;
}

/** The most CPUs the explorer drives (its sets of CPUs are 32-bit masks). */
export const MAX_EXPLORE_CPUS = 30;

/** An explore test, read once and checked. */
export interface CheckedTest {
  /** Its name. */
  readonly name: string;
  /** Its system. */
  readonly percpu: Percpu;
  /** Its CPUs. */
  readonly cpus: number;
  /** Spawns its tasks. */
  readonly spawn: (machine: Machine) => void;
  /** Its invariant. */
  readonly check: ((machine: Machine) => string | null) | undefined;
  /** Its numbers. */
  readonly observe: ((machine: Machine) => Readonly<Record<string, number>>) | undefined;
  /** Wrong-CPU accesses are allowed. */
  readonly allowWrongCpu: boolean;
  /** The test as given (its methods are called on it). */
  readonly source: ExploreTest;
}

function optionalFunction(value: unknown, what: string): void {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(`${what} must be a function, got ${describeSafely(value)}`);
  }
}

/**
 * Reads and checks an explore test.
 *
 * @param test The test given.
 * @returns Its parts.
 * @throws {TypeError} On a missing or mistyped part, or a test whose parts cannot be read.
 * @throws {RangeError} On a CPU count out of range.
 */
export function checkTest(test: unknown): CheckedTest {
  if (typeof test !== "object" || test === null) {
    throw new TypeError(
      `an explore test must be an object with name, percpu, cpus and spawn(machine), got ${
        describeSafely(test)
      }`,
    );
  }
  let parts: Record<string, unknown>;
  try {
    const t = test as Record<string, unknown>;
    parts = {
      name: t.name,
      percpu: t.percpu,
      cpus: t.cpus,
      spawn: t.spawn,
      check: t.check,
      observe: t.observe,
      allowWrongCpu: t.allowWrongCpu,
    };
  } catch (error) {
    throw new TypeError(`the explore test could not be read: ${describeSafely(error)}`, {
      cause: error,
    });
  }
  if (typeof parts.name !== "string") {
    throw new TypeError(`test.name must be a string, got ${describeSafely(parts.name)}`);
  }
  try {
    portOf(parts.percpu);
  } catch {
    throw new TypeError(
      `test.percpu must be a per-CPU system made by createPercpu(), got ${
        describeSafely(parts.percpu)
      }`,
    );
  }
  const cpus = checkInteger(parts.cpus, "test.cpus", 1, MAX_EXPLORE_CPUS);
  if (typeof parts.spawn !== "function") {
    throw new TypeError(
      `test.spawn must be a function spawning the test's tasks, got ${describeSafely(parts.spawn)}`,
    );
  }
  optionalFunction(parts.check, "test.check");
  optionalFunction(parts.observe, "test.observe");
  const allowWrongCpu = parts.allowWrongCpu ?? false;
  if (typeof allowWrongCpu !== "boolean") {
    throw new TypeError(
      `test.allowWrongCpu must be a boolean, got ${describeSafely(allowWrongCpu)}`,
    );
  }
  const source = test as ExploreTest;
  const check = parts.check as CheckedTest["check"];
  const observe = parts.observe as CheckedTest["observe"];
  return {
    name: parts.name,
    percpu: parts.percpu as Percpu,
    cpus,
    spawn: (machine) => (parts.spawn as ExploreTest["spawn"]).call(source, machine),
    check: check && ((machine) => check.call(source, machine)),
    observe: observe && ((machine) => observe.call(source, machine)),
    allowWrongCpu,
    source,
  };
}

/** Runs a test's own code; what it throws is the test's failure. */
function testCode<T>(test: CheckedTest, what: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (isInstance(error, SimulationError) && (error as SimulationError).kind === "TestFailed") {
      throw error;
    }
    throw new SimulationError(
      "TestFailed",
      `test ${JSON.stringify(test.name)}: ${what} threw ${thrownText(error)}`,
      { cause: error },
    );
  }
}

/** What was thrown, for a message: an error's class and message; never throws. */
function thrownText(thrown: unknown): string {
  try {
    if (isInstance(thrown, Error)) {
      const { name, message } = thrown as Error;
      if (typeof name === "string" && typeof message === "string") return `${name}: ${message}`;
    }
  } catch {
    // A Proxy whose traps throw, or throwing getters: described below.
  }
  return describeSafely(thrown);
}

/** Answers the machine's choice points through the driver. */
class DriverDecisions implements Decisions {
  readonly #driver: Driver;

  constructor(driver: Driver) {
    this.#driver = driver;
  }

  tick(): boolean {
    return this.#driver.tickAnswer();
  }

  pick(_cpu: number, n: number): number {
    return this.#driver.choose(n, "pick", 0);
  }

  balance(_cpu: number, candidates: number): number {
    return this.#driver.choose(candidates + 1, "balance", this.#driver.balanceFrom) - 1;
  }

  newidle(_cpu: number, candidates: number): number {
    return this.#driver.choose(candidates + 1, "newidle", 1) - 1;
  }

  /** Never asked: the explorer's machine runs the `preemptive` policy. */
  migrate(cpu: number): number {
    return cpu;
  }
}

const NOT_STARTED: Chooser = {
  choose(): number {
    throw new Error("internal error: a driver was stepped before it was started");
  },
};

/** What a run amounted to, once it stopped. */
export type RunEnd = "completed" | "cut-off";

/**
 * Drives one machine through runs of a test, one step at a time. Between
 * steps its fields describe the last step (the explorer's footprint of it)
 * and the run so far.
 */
export class Driver {
  readonly test: CheckedTest;
  readonly machine: Machine;
  readonly port: MachinePort;
  readonly cpus: number;
  readonly fingerprint: string;
  readonly maxCycles: number;
  /** The last step, as the machine described it. */
  readonly record: StepRecord;
  /** Each CPU's next step, as far as known. */
  readonly offers: readonly StepOffers[];
  /**
   * Each CPU's load as load balancing sees it: its load when it has a queued
   * task, else 0 (nothing to pull from it).
   */
  readonly views: Int32Array;
  /** `views` before the last step. */
  readonly viewsBefore: Int32Array;

  /** Who chooses (set by {@linkcode Driver.start}). */
  chooser: Chooser = NOT_STARTED;
  /** Log every choice (off for the search, which keeps its own). */
  logChoices = true;
  /** Every choice of the run so far, in order. */
  readonly choices: number[] = [];
  /** Ticks taken so far. */
  ticks = 0;
  /** Steps taken so far. */
  steps = 0;
  /** The CPU that stepped last (−1 before the first step). */
  lastCpu = -1;
  /** CPUs that can step now (a mask). */
  steppable = 0;
  /** The run stopped: every task ended, or it was cut off. */
  done = false;
  /** How it stopped, once `done`. */
  end: RunEnd = "completed";

  // The last step's footprint.
  /** The step took a tick. */
  ticked = false;
  /** The step executed an instruction. */
  executed = false;
  /** Run queues the step read (mask). */
  queuesRead = 0;
  /** Run queues the step changed (mask). */
  queuesWritten = 0;
  /**
   * Whether the step's tick offer depended on the other CPUs' loads: −1 no;
   * the CPU's own load `L` when it asked whether some CPU with a queued task
   * has a load above `L`; −2 when it read every load (a balance or a pull).
   */
  viewRead = -1;
  /** CPUs whose `views` entry the step changed (mask). */
  viewsWritten = 0;
  /** The step is ordered with every other step (sleeping tasks are timed by the global clock). */
  global = false;
  /** Violation kinds that appeared first at this step (bits). */
  newKinds = 0;
  /**
   * The step only moved its task along privately: it executed an instruction
   * that touched no memory, no per-CPU register, no preempt count, IRQ flag
   * or run queue, and the scheduler did nothing. A tick just before such a
   * step reaches the same states as one just after it.
   */
  quiet = false;

  readonly #decisions: DriverDecisions;
  /** The kind of tick offered at this step, or `null`. */
  #tickOffered: "tick" | "deferred-tick" | null = null;
  /** The first `balance` answer worth trying in this step. */
  balanceFrom = 0;
  #issues = 0;
  #wrongSeen = false;
  #misusesSeen = 0;
  #failuresSeen = 0;
  #kinds = 0;

  /**
   * Builds the machine a test runs on.
   *
   * @param test The checked test.
   * @param record Keep the events of each run.
   * @param maxCycles Cut a run off after this many cycles.
   */
  constructor(test: CheckedTest, record: boolean, maxCycles: number) {
    this.test = test;
    this.cpus = test.cpus;
    this.maxCycles = maxCycles;
    const p = test.percpu;
    this.fingerprint = fingerprintOf({
      name: test.name,
      arch: p.arch,
      features: p.features,
      cpus: test.cpus,
      vars: p.variables().map((v) => [v.name, v.offset(), v.size]),
    });
    this.#decisions = new DriverDecisions(this);
    this.machine = new Machine({
      percpu: p,
      cpus: test.cpus,
      policy: "preemptive",
      record,
      maxCycles,
      decisions: this.#decisions,
    });
    this.port = machinePort(this.machine);
    this.record = new StepRecord(test.cpus);
    this.offers = Array.from({ length: test.cpus }, () => new StepOffers());
    this.views = new Int32Array(test.cpus);
    this.viewsBefore = new Int32Array(test.cpus);
  }

  /**
   * Starts a new run.
   *
   * @param chooser Who chooses in it.
   * @throws {SimulationError} `TestFailed` when the test's `spawn` throws.
   */
  start(chooser: Chooser): void {
    this.chooser = chooser;
    this.port.reset(this.#decisions);
    testCode(this.test, "spawn()", () => this.test.spawn(this.machine));
    this.choices.length = 0;
    this.ticks = 0;
    this.steps = 0;
    this.lastCpu = -1;
    this.done = false;
    this.end = "completed";
    this.#issues = 0;
    this.#wrongSeen = false;
    this.#misusesSeen = 0;
    this.#failuresSeen = 0;
    this.#kinds = 0;
    this.#refresh();
    this.#checkEnd();
  }

  /**
   * Asks the chooser for a choice and logs it.
   *
   * @param count The number of options (a single option is no choice).
   * @param kind What it decides.
   * @param from The first option worth trying.
   * @returns The index chosen.
   * @throws {RangeError} When the chooser answers outside the options.
   */
  choose(count: number, kind: ChoiceKind, from: number): number {
    if (count < 2) return 0;
    const value = this.chooser.choose(count, kind, from);
    if (!Number.isInteger(value) || value < 0 || value >= count) {
      throw new RangeError(
        `the ${kind} choice at choice point ${this.choices.length} must be an integer from 0 to ${
          count - 1
        }, got ${valueText(value)}`,
      );
    }
    if (this.logChoices) this.choices.push(value);
    return value;
  }

  /** The machine asks whether a tick fires: a choice where one is offered. */
  tickAnswer(): boolean {
    if (this.#tickOffered === null || this.choose(2, this.#tickOffered, 0) === 0) return false;
    this.ticks++;
    this.ticked = true;
    return true;
  }

  /**
   * The steppable CPUs in choice order: counting from the one after the
   * CPU that stepped last.
   *
   * @param index A position in that order.
   * @returns The CPU, or −1 when `index` is beyond the steppable CPUs.
   */
  cpuAt(index: number): number {
    const n = this.cpus;
    for (let k = 1; k <= n; k++) {
      const cpu = (this.lastCpu + k) % n;
      if ((this.steppable >>> cpu) & 1 && index-- === 0) return cpu;
    }
    return -1;
  }

  /**
   * Asks the chooser which steppable CPU steps next (the choice is logged by
   * {@linkcode Driver.step}).
   *
   * @returns The CPU.
   * @throws {RangeError} When the chooser answers outside the options.
   */
  chooseCpu(): number {
    const count = this.steppableCount;
    if (count < 2) return this.cpuAt(0);
    const index = this.chooser.choose(count, "cpu", 0);
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new RangeError(
        `the cpu choice at choice point ${this.choices.length} must be an integer from 0 to ${
          count - 1
        }, got ${valueText(index)}`,
      );
    }
    return this.cpuAt(index);
  }

  /** How many CPUs can step now. */
  get steppableCount(): number {
    let count = 0;
    for (let mask = this.steppable; mask !== 0; mask &= mask - 1) count++;
    return count;
  }

  /**
   * The tick a CPU's next step would offer: `tick` where the task is
   * preemptible and a tick would request a switch (another task waits, no
   * switch is requested yet) or let load balancing pull a task here;
   * `deferred-tick` inside a guard or with IRQs off, where it would change
   * something later (left pending once per IRQs-off region, or a switch
   * requested for the guard's end); `null` where no tick is asked or it
   * would change nothing.
   *
   * @param cpu A CPU.
   * @returns The kind of tick offered, or `null`.
   */
  tickOffer(cpu: number): "tick" | "deferred-tick" | null {
    const o = this.offers[cpu];
    if (!o.tickAsked) return null;
    const switches = o.queued > 0 && !o.needResched;
    if (!o.irqEnabled) return o.pendingTick ? null : "deferred-tick";
    if (o.preemptCount > 0) return switches || o.balance > 0 ? "deferred-tick" : null;
    return switches || o.balance > 0 ? "tick" : null;
  }

  /**
   * Prepares the tick of `cpu`'s next step, and notes what the offer read:
   * a deferred tick is never taken by a search, so what decides it is not
   * part of the footprint; a tick that only balancing makes worth taking
   * read the other CPUs' loads.
   *
   * @returns Whether the offer read the CPU's own run queue.
   */
  #prepareTick(cpu: number): boolean {
    const o = this.offers[cpu];
    this.#tickOffered = this.tickOffer(cpu);
    const switches = o.queued > 0 && !o.needResched;
    this.balanceFrom = switches ? 0 : 1;
    if (!o.tickAsked || !o.irqEnabled || o.preemptCount > 0) return false;
    if (!switches) this.viewRead = o.load;
    return true;
  }

  /**
   * Takes one step on a steppable CPU: logs the CPU choice, steps, advances
   * the clock, and describes the step.
   *
   * @param cpu A CPU in `steppable`.
   * @throws {SimulationError} `TestFailed` when the test's `check` or
   *   `observe` misbehaves at the end of the run.
   */
  step(cpu: number): void {
    if (this.logChoices && this.steppableCount >= 2) {
      let index = 0;
      for (let k = 1; k < this.cpus; k++) {
        const other = (this.lastCpu + k) % this.cpus;
        if (other === cpu) break;
        if ((this.steppable >>> other) & 1) index++;
      }
      this.choices.push(index);
    }
    this.ticked = false;
    this.viewRead = -1;
    const readsOwnQueue = this.#prepareTick(cpu);
    const port = this.port;
    const before = this.offers[cpu];
    const countBefore = before.preemptCount;
    const irqBefore = before.irqEnabled;
    const sleepingBefore = port.sleeping;
    const tasksBefore = port.tasks;
    this.viewsBefore.set(this.views);
    const record = this.record;
    if (!this.#stepPort(cpu, record)) return;
    port.endCycle(record);
    this.steps++;
    this.lastCpu = cpu;
    this.executed = record.executed;
    let read = 0;
    let written = 0;
    for (let c = 0; c < this.cpus; c++) {
      if (record.queuesRead[c] !== 0) read |= 1 << c;
      if (record.queuesWritten[c] !== 0) written |= 1 << c;
    }
    // Only counting pull candidates (a balance, a newidle pull) reads every
    // queue, and it reads every load too.
    if (this.cpus > 1 && read === (1 << this.cpus) - 1) this.viewRead = -2;
    if (readsOwnQueue) read |= 1 << cpu;
    this.queuesRead = read;
    this.queuesWritten = written;
    this.#refresh();
    // While every CPU is idle and a task sleeps, only the clock moves.
    while (
      this.steppable === 0 && port.live > 0 && port.sleeping > 0 && port.cycle < this.maxCycles
    ) {
      port.endCycle(null);
      this.#refresh();
    }
    let changed = 0;
    for (let c = 0; c < this.cpus; c++) {
      if (this.views[c] !== this.viewsBefore[c]) changed |= 1 << c;
    }
    this.viewsWritten = changed;
    this.global = sleepingBefore > 0 || port.sleeping > 0 || (record.events & STEP_SLEEP) !== 0 ||
      port.tasks > tasksBefore;
    this.newKinds = this.#noticeIssues();
    const after = this.offers[cpu];
    this.quiet = record.executed && record.readSize === 0 && record.writeSize === 0 &&
      !record.wroteSysreg && !record.readPercpuReg && (record.events & ~STEP_RESUME) === 0 &&
      written === 0 && !this.global && this.newKinds === 0 && after.running &&
      after.preemptCount === countBefore && after.irqEnabled === irqBefore;
    this.#checkEnd();
  }

  /**
   * Takes a step as it was taken before in the same state (the search
   * replaying a run's prefix): only what the step's own choices need is
   * read, nothing is described. Call {@linkcode Driver.resync} before
   * describing steps again.
   *
   * @param cpu The CPU that stepped there.
   */
  replayStep(cpu: number): void {
    const port = this.port;
    port.offers(cpu, this.offers[cpu]);
    this.#prepareTick(cpu);
    this.ticked = false;
    if (!this.#stepPort(cpu, null)) return;
    port.endCycle(null);
    this.steps++;
    this.lastCpu = cpu;
    if (port.sleeping > 0) {
      this.#refresh();
      while (
        this.steppable === 0 && port.live > 0 && port.sleeping > 0 && port.cycle < this.maxCycles
      ) {
        port.endCycle(null);
        this.#refresh();
      }
    }
    if (port.live === 0 || port.cycle >= this.maxCycles) this.#checkEnd();
  }

  /** Reads the whole machine again after replayed steps. */
  resync(): void {
    this.#refresh();
    const stats = this.port.stats();
    this.#issues = this.port.issues;
    this.#wrongSeen = stats.wrongCpuAccesses > 0 && !this.test.allowWrongCpu;
    this.#misusesSeen = stats.misuses.length;
    this.#failuresSeen = stats.failures.length;
    let kinds = this.#wrongSeen ? kindBit("wrong-cpu") : 0;
    for (const misuse of stats.misuses) kinds |= kindBit(misuse.kind);
    if (stats.failures.length > 0) kinds |= kindBit("task-error");
    this.#kinds = kinds;
    this.#checkEnd();
  }

  /**
   * Steps the machine. A run whose task set the per-CPU system up again
   * stops there, cut off (the machine refuses to go on).
   *
   * @returns Whether the step was taken.
   * @throws {SimulationError} `StaleSystem` when something else (another
   *   machine, a session on the same test) set the system up again.
   */
  #stepPort(cpu: number, record: StepRecord | null): boolean {
    try {
      this.port.step(cpu, record);
      return true;
    } catch (error) {
      const stale = isInstance(error, SimulationError) &&
        (error as SimulationError).kind === "StaleSystem";
      if (!stale || this.port.stats().stopReason !== "system-reinitialized") throw error;
      this.#stop("cut-off");
      return false;
    }
  }

  /** Reads every CPU's offers, loads and steppability. */
  #refresh(): void {
    const port = this.port;
    let steppable = 0;
    for (let c = 0; c < this.cpus; c++) {
      const o = this.offers[c];
      port.offers(c, o);
      this.views[c] = o.queued > 0 ? o.load : 0;
      if (o.running || o.queued > 0 || o.newidle > 0) steppable |= 1 << c;
    }
    this.steppable = steppable;
  }

  /** The kinds of the issues that appeared in the last step (and were not seen before). */
  #noticeIssues(): number {
    const issues = this.port.issues;
    if (issues === this.#issues) return 0;
    this.#issues = issues;
    const stats = this.port.stats();
    let kinds = 0;
    if (!this.#wrongSeen && stats.wrongCpuAccesses > 0 && !this.test.allowWrongCpu) {
      this.#wrongSeen = true;
      kinds |= kindBit("wrong-cpu");
    }
    for (; this.#misusesSeen < stats.misuses.length; this.#misusesSeen++) {
      kinds |= kindBit(stats.misuses[this.#misusesSeen].kind);
    }
    if (stats.failures.length > this.#failuresSeen) {
      this.#failuresSeen = stats.failures.length;
      kinds |= kindBit("task-error");
    }
    const fresh = kinds & ~this.#kinds;
    this.#kinds |= fresh;
    return fresh;
  }

  #checkEnd(): void {
    const port = this.port;
    if (port.live === 0) {
      this.#stop(port.stats().stopReason === "completed" ? "completed" : "cut-off");
    } else if (port.cycle >= this.maxCycles || this.steppable === 0) {
      this.#stop("cut-off");
    }
  }

  #stop(end: RunEnd): void {
    this.done = true;
    this.end = end;
    this.steppable = 0;
  }

  /** The run's statistics. */
  stats(): RunStats {
    return this.port.stats();
  }

  /**
   * The test's invariant on a completed run.
   *
   * @returns Its message when it fails, else `null`.
   * @throws {SimulationError} `TestFailed` when `check()` throws or returns
   *   something else than `null` or a string.
   */
  invariant(): string | null {
    const check = this.test.check;
    if (check === undefined) return null;
    const verdict = testCode(this.test, "check()", () => check(this.machine));
    if (verdict !== null && typeof verdict !== "string") {
      throw new SimulationError(
        "TestFailed",
        `test ${JSON.stringify(this.test.name)}: check() must return null or a message, got ${
          describeSafely(verdict)
        }`,
      );
    }
    return verdict;
  }

  /**
   * The test's numbers on a finished run.
   *
   * @returns What `observe()` returned (`{}` without one).
   * @throws {SimulationError} `TestFailed` when it throws or returns
   *   something else than an object of numbers.
   */
  observe(): Readonly<Record<string, number>> {
    const observe = this.test.observe;
    if (observe === undefined) return {};
    return testCode(this.test, "observe()", () => {
      const numbers = observe(this.machine);
      const copy: Record<string, number> = {};
      if (typeof numbers !== "object" || numbers === null) {
        throw new TypeError(`it returned ${describeSafely(numbers)}, not an object of numbers`);
      }
      for (const [key, value] of Object.entries(numbers)) {
        if (typeof value !== "number") {
          throw new TypeError(`its ${key} is ${describeSafely(value)}, not a number`);
        }
        copy[key] = value;
      }
      return copy;
    });
  }

  /**
   * What went wrong in a finished run, by kind: one message per kind, the
   * first of its kind.
   *
   * @param kinds The kinds that count.
   * @returns The messages by kind (empty when none).
   */
  messages(kinds: number): Map<ViolationKind, string> {
    const stats = this.stats();
    const out = new Map<ViolationKind, string>();
    const add = (kind: ViolationKind, message: string) => {
      if ((kinds & kindBit(kind)) !== 0 && !out.has(kind)) out.set(kind, message);
    };
    const broken = this.end === "completed" ? this.invariant() : null;
    if (broken !== null) add("lost-update", broken);
    const first = stats.firstViolation;
    if (first !== null && !this.test.allowWrongCpu) {
      const where = first.hitCpu < 0 ? "no CPU's area" : `CPU ${first.hitCpu}'s area`;
      add(
        "wrong-cpu",
        `${stats.wrongCpuAccesses} local ${
          stats.wrongCpuAccesses === 1 ? "access" : "accesses"
        } hit another CPU's area; first: \`${first.text}\` on CPU ${first.cpu} at ${
          hex(first.address)
        } in ${where}`,
      );
    }
    for (const misuse of stats.misuses) add(misuse.kind, `kernel: ${misuse.message}`);
    for (const failure of stats.failures) {
      add("task-error", `${failure.task} failed on CPU ${failure.cpu}: ${failure.message}`);
    }
    return out;
  }
}
