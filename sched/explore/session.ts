/**
 * An interactive run: a person (or a program) is the scheduler. Each call
 * of {@linkcode Session.step} steps one CPU by one instruction, answering
 * the choices the step meets — a tick, which task load balancing pulls,
 * which queued task runs, which task an idle CPU pulls — exactly as the
 * explorer's searches make them, so that the run is always a schedule
 * string ({@linkcode Session.schedule}) that {@linkcode replay} (or
 * `simulate({ ...options, schedule })`, `sim --replay`) runs again to the
 * same trace hash. Undo is a new session from a prefix of that string.
 *
 * The model is the explorer's (see `explore.ts`): the clock advances one
 * machine cycle per step, a tick is offered only where it would change
 * something, and a tick inside a guard or with IRQs off is deferred as on
 * Linux (the explorer's searches never take one; a session may).
 *
 * @example Be the scheduler: preempt a task between reading and writing its counter
 * ```ts
 * import assert from "node:assert/strict";
 * import { counterTest, replay } from "@percpu/percpu/sched";
 * import { createSession } from "./session.ts";
 * const test = counterTest({ arch: "riscv64", tasks: 2, iters: 1 });
 * const session = createSession({ test });
 * // Take the CPUs in turn (an idle CPU stays steppable: it may pull a task).
 * for (let n = 0; !session.done; n++) {
 *   const cpus = session.steppable();
 *   session.step(cpus[n % cpus.length]);
 * }
 * assert.deepEqual(session.verdict(), []);
 * assert.equal(replay(test, session.schedule()).stats.traceHash, session.traceHash());
 * ```
 *
 * @module
 */

import { checkInteger, checkOptions } from "../../lib/_check.ts";
import { describeSafely, isInstance, optionsError } from "../_safe.ts";
import type { Machine } from "../runtime/machine.ts";
import { StepRecord } from "../runtime/_port.ts";
import { ReplayChooser } from "./_choices.ts";
import { checkTest, type ChoiceKind, type Chooser, Driver } from "./_driver.ts";
import type { ExploreTest } from "./explore.ts";
import { decodeSchedule, encodeSchedule } from "./schedule.ts";
import { ALL_KINDS } from "./violations.ts";

export { StepRecord } from "../runtime/_port.ts";

/** How a step answers the choice points it meets. */
export interface StepAnswers {
  /** Take a tick at this step's boundary if one is offered (default: no tick). */
  readonly tick?: boolean;
  /** Which queued task a dispatch runs, 0 the oldest (default 0). */
  readonly pick?: number;
  /** Which candidate a tick's load balancing pulls, or −1 for none (default −1), as `Decisions.balance`. */
  readonly balance?: number;
  /** Which candidate an idle CPU pulls, or −1 for none (default −1), as `Decisions.newidle`. */
  readonly newidle?: number;
}

/** Options of {@linkcode createSession}. */
export interface SessionOptions {
  /** The test (e.g. `counterTest(options)`). */
  readonly test: ExploreTest;
  /** Start by replaying this schedule (its choices), then continue interactively. */
  readonly schedule?: string;
  /**
   * Preemption bound recorded in the schedule (default: the schedule's, or
   * unbounded): ticks beyond it are not offered.
   */
  readonly maxPreemptions?: number;
  /** Cut the run off after this many machine cycles (default 10 000 000). */
  readonly maxCycles?: number;
}

/** What the next step of a CPU would offer. */
export interface StepOffer {
  /** A tick is offered at this step's boundary (within the bound). */
  readonly tick: boolean;
  /**
   * How many queued tasks a dispatch in this step would choose among (0
   * when it would not choose: the CPU runs a task, or fewer than 2 wait).
   * After a tick that preempts, the dispatch chooses among these and the
   * preempted task (and a task balancing pulled).
   */
  readonly pick: number;
  /** How many tasks a tick's load balancing could pull (0: it would not balance). */
  readonly balance: number;
  /** How many tasks the CPU, idle with an empty queue, could pull (0: none). */
  readonly newidle: number;
}

/** A run driven one step at a time. */
export interface Session {
  /** The machine (read its state through `machinePort(machine).snapshot()`). */
  readonly machine: Machine;
  /** CPUs that can take a step now, ascending (the explorer's "which CPU" options). */
  steppable(): readonly number[];
  /**
   * One step on `cpu` (must be steppable), answering the choice points it
   * meets (answers for points it does not meet are ignored).
   *
   * @param cpu A steppable CPU.
   * @param answers The answers (default: no tick, the oldest task, no pull).
   * @returns What happened (a new record each time).
   * @throws {TypeError} On a wrong type.
   * @throws {RangeError} On a CPU that cannot step, or an answer outside the
   *   options the step met; the session is then as it was.
   */
  step(cpu: number, answers?: StepAnswers): StepRecord;
  /**
   * What the next step on `cpu` would offer.
   *
   * @param cpu A CPU.
   * @returns The offer.
   * @throws {RangeError} On a CPU id out of range.
   */
  offers(cpu: number): StepOffer;
  /** True once every task ended or the run was cut off. */
  readonly done: boolean;
  /** The choices so far as a schedule string (a prefix while not done). */
  schedule(): string;
  /** The run's trace hash so far. */
  traceHash(): string;
  /**
   * The verdict once done: the violations by kind, as the explorer reports
   * them (empty when none); `null` while not done or when the run was cut
   * off (it has no verdict).
   */
  verdict(): { kind: string; message: string }[] | null;
}

/** Answers a step's choice points from the caller's answers. */
class AnswerChooser implements Chooser {
  answers: StepAnswers = {};
  readonly #driver: Driver;
  readonly #bound: number;

  constructor(driver: Driver, bound: number) {
    this.#driver = driver;
    this.#bound = bound;
  }

  choose(count: number, kind: ChoiceKind): number {
    const a = this.answers;
    let value: number;
    switch (kind) {
      case "tick":
      case "deferred-tick":
        return a.tick === true && this.#driver.ticks < this.#bound ? 1 : 0;
      case "pick":
        value = a.pick ?? 0;
        break;
      case "balance":
        value = (a.balance ?? -1) + 1;
        break;
      case "newidle":
        value = (a.newidle ?? -1) + 1;
        break;
      case "cpu":
        throw new Error("internal error: a session chooses its CPUs itself");
    }
    if (value >= count) {
      const shown = kind === "pick" ? value : value - 1;
      throw new AnswerError(
        `step: answers.${kind} is ${shown}, but this step's ${kind} offers ${
          kind === "pick" ? `0 to ${count - 1}` : `-1 to ${count - 2}`
        }`,
      );
    }
    return value;
  }
}

/** An answer outside the options a step met. */
class AnswerError extends RangeError {}

const ANSWER_KEYS = ["tick", "pick", "balance", "newidle"] as const;

function checkAnswers(answers: unknown): StepAnswers {
  let given: Partial<StepAnswers>;
  try {
    given = checkOptions(answers as StepAnswers | undefined, ANSWER_KEYS, "step: answers");
    if (given.tick !== undefined && typeof given.tick !== "boolean") {
      throw new TypeError(
        `step: answers.tick must be a boolean, got ${describeSafely(given.tick)}`,
      );
    }
    if (given.pick !== undefined) checkInteger(given.pick, "step: answers.pick", 0);
    if (given.balance !== undefined) checkInteger(given.balance, "step: answers.balance", -1);
    if (given.newidle !== undefined) checkInteger(given.newidle, "step: answers.newidle", -1);
  } catch (error) {
    throw optionsError("step", error);
  }
  return { ...given };
}

function copyRecord(record: StepRecord, cpus: number): StepRecord {
  const copy = new StepRecord(cpus);
  copy.cpu = record.cpu;
  copy.task = record.task;
  copy.instruction = record.instruction;
  copy.executed = record.executed;
  copy.readAddress = record.readAddress;
  copy.readSize = record.readSize;
  copy.writeAddress = record.writeAddress;
  copy.writeSize = record.writeSize;
  copy.wroteSysreg = record.wroteSysreg;
  copy.readPercpuReg = record.readPercpuReg;
  copy.queuesRead.set(record.queuesRead);
  copy.queuesWritten.set(record.queuesWritten);
  copy.events = record.events;
  return copy;
}

class InteractiveSession implements Session {
  readonly machine: Machine;
  readonly #driver: Driver;
  readonly #chooser: AnswerChooser;
  readonly #bound: number;

  constructor(driver: Driver, bound: number) {
    this.#driver = driver;
    this.machine = driver.machine;
    this.#bound = bound;
    this.#chooser = new AnswerChooser(driver, bound);
    driver.chooser = this.#chooser;
  }

  get done(): boolean {
    return this.#driver.done;
  }

  steppable(): readonly number[] {
    const out: number[] = [];
    const mask = this.#driver.steppable;
    for (let cpu = 0; cpu < this.#driver.cpus; cpu++) if ((mask >>> cpu) & 1) out.push(cpu);
    return out;
  }

  #checkCpu(cpu: unknown): number {
    return checkInteger(cpu, "cpu", 0, this.#driver.cpus - 1);
  }

  step(cpu: number, answers: StepAnswers = {}): StepRecord {
    const driver = this.#driver;
    this.#checkCpu(cpu);
    if (driver.done) {
      throw new RangeError(`step: the run is over (${driver.end}); no CPU can step`);
    }
    if (((driver.steppable >>> cpu) & 1) === 0) {
      throw new RangeError(
        `step: CPU ${cpu} cannot step now (nothing to run or pull); steppable: ${
          this.steppable().join(", ")
        }`,
      );
    }
    const chooser = this.#chooser;
    chooser.answers = checkAnswers(answers);
    const logged = driver.choices.length;
    try {
      driver.step(cpu);
    } catch (error) {
      if (!isInstance(error, AnswerError)) throw error;
      // The step stopped half-way at a bad answer: take the run back to
      // where it was.
      this.#restore(driver.choices.slice(0, logged));
      throw new RangeError((error as Error).message);
    } finally {
      chooser.answers = {};
    }
    return copyRecord(driver.record, driver.cpus);
  }

  /** Replays the run's steps so far, with the choices logged before the last one. */
  #restore(choices: readonly number[]): void {
    const driver = this.#driver;
    const text = encodeSchedule(driver.fingerprint, this.#bound, driver.steps, choices);
    replaySteps(driver, decodeSchedule(text));
    driver.chooser = this.#chooser;
  }

  offers(cpu: number): StepOffer {
    const driver = this.#driver;
    this.#checkCpu(cpu);
    const o = driver.offers[cpu];
    const tick = driver.tickOffer(cpu) !== null && driver.ticks < this.#bound && !driver.done;
    return {
      tick,
      pick: !o.running && o.queued >= 2 ? o.queued : 0,
      balance: tick && o.irqEnabled && o.preemptCount === 0 ? o.balance : 0,
      newidle: o.newidle,
    };
  }

  schedule(): string {
    const driver = this.#driver;
    return encodeSchedule(driver.fingerprint, this.#bound, driver.steps, driver.choices);
  }

  traceHash(): string {
    return this.#driver.stats().traceHash;
  }

  verdict(): { kind: string; message: string }[] | null {
    const driver = this.#driver;
    if (!driver.done || driver.end !== "completed") return null;
    return [...driver.messages(ALL_KINDS)].map(([kind, message]) => ({ kind, message }));
  }
}

/**
 * Replays a decoded schedule's steps on a driver (from a fresh start).
 *
 * @throws {RangeError} When the schedule does not fit the test.
 */
function replaySteps(driver: Driver, schedule: ReturnType<typeof decodeSchedule>): void {
  const chooser = new ReplayChooser(schedule);
  driver.start(chooser);
  while (!driver.done && driver.steps < schedule.steps) driver.step(driver.chooseCpu());
  if (driver.steps !== schedule.steps || chooser.consumed !== schedule.length) {
    throw new RangeError(
      `the schedule does not fit this test: it has ${schedule.steps} steps and ${schedule.length} choice points, the run had ${driver.steps} and ${chooser.consumed}`,
    );
  }
}

const SESSION_KEYS = ["test", "schedule", "maxPreemptions", "maxCycles"] as const;

/**
 * Starts an interactive run of a test, optionally from a schedule (a whole
 * run, or a prefix from {@linkcode Session.schedule}).
 *
 * @param options The test, a schedule to start from, the bound, the cycle limit.
 * @returns The session.
 * @throws {TypeError} On a bad test or option type.
 * @throws {RangeError} On an option out of range, a schedule recorded for
 *   another test or that does not fit it.
 * @throws {SyntaxError} On a malformed or corrupted schedule string.
 */
export function createSession(options: SessionOptions): Session {
  let given: Partial<SessionOptions>;
  let bound: number | undefined;
  let maxCycles: number;
  try {
    given = checkOptions(options, SESSION_KEYS, "createSession");
    if (given.schedule !== undefined && typeof given.schedule !== "string") {
      throw new TypeError(`schedule must be a string, got ${describeSafely(given.schedule)}`);
    }
    bound = given.maxPreemptions === undefined || given.maxPreemptions === Infinity
      ? given.maxPreemptions
      : checkInteger(given.maxPreemptions, "maxPreemptions", 0);
    maxCycles = checkInteger(given.maxCycles ?? 10_000_000, "maxCycles", 1);
  } catch (error) {
    throw optionsError("createSession", error);
  }
  const driver = new Driver(checkTest(given.test), true, maxCycles);
  if (given.schedule === undefined) {
    driver.start(NO_CHOICE);
    return new InteractiveSession(driver, bound ?? Infinity);
  }
  const schedule = decodeSchedule(given.schedule);
  if (schedule.fingerprint !== driver.fingerprint) {
    throw new RangeError(
      `the schedule was recorded for another test (fingerprint ${schedule.fingerprint}, this test is ${driver.fingerprint})`,
    );
  }
  replaySteps(driver, schedule);
  return new InteractiveSession(driver, bound ?? schedule.maxPreemptions);
}

const NO_CHOICE: Chooser = { choose: () => 0 };

/**
 * The steps of a schedule, as a session would take them: each step's CPU
 * and the answers to the choices it met.
 *
 * @param test The test the schedule was recorded for.
 * @param schedule A schedule string.
 * @returns One entry per step.
 * @throws {RangeError} When the schedule belongs to another test or does not fit it.
 * @throws {SyntaxError} On a malformed or corrupted schedule string.
 */
export function scheduleSteps(
  test: ExploreTest,
  schedule: string,
): { cpu: number; answers: StepAnswers }[] {
  const decoded = decodeSchedule(schedule);
  const driver = new Driver(checkTest(test), false, 10_000_000);
  if (decoded.fingerprint !== driver.fingerprint) {
    throw new RangeError(
      `the schedule was recorded for another test (fingerprint ${decoded.fingerprint}, this test is ${driver.fingerprint})`,
    );
  }
  const inner = new ReplayChooser(decoded);
  let answers: { tick?: boolean; pick?: number; balance?: number; newidle?: number } = {};
  const steps: { cpu: number; answers: StepAnswers }[] = [];
  driver.start({
    choose(count: number, kind: ChoiceKind): number {
      const value = inner.choose(count, kind);
      if (kind === "tick" || kind === "deferred-tick") answers.tick = value === 1;
      else if (kind === "pick") answers.pick = value;
      else if (kind === "balance") answers.balance = value - 1;
      else if (kind === "newidle") answers.newidle = value - 1;
      return value;
    },
  });
  while (!driver.done && driver.steps < decoded.steps) {
    answers = {};
    const cpu = driver.chooseCpu();
    driver.step(cpu);
    steps.push({ cpu, answers });
  }
  return steps;
}
