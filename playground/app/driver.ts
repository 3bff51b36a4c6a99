/**
 * The player's run: a session plus the list of moves that made it, so that
 * undo and rewind are a replay of a prefix of that list on a fresh session
 * (the machine is deterministic: the same moves give the same run, bit for
 * bit). Also the automatic moves — a random step, running to the end — and
 * a readable log of what each step did. No DOM here: the tests drive it
 * directly.
 *
 * @module
 */

import { checkInteger, checkOptions } from "../../lib/_check.ts";
import { hex, valueText } from "../../lib/_describe.ts";
import type { ExploreTest } from "../../sched/explore/explore.ts";
import type { Prng } from "../../sched/runtime/prng.ts";
import { machinePort, type StepRecord } from "../../sched/runtime/_port.ts";
import type { SimEvent } from "../../sched/trace/trace.ts";
import { Challenge } from "./challenge.ts";
import { openSession, type Session, type StepAnswers } from "./session.ts";
import { formatLink, type Settings, testOf } from "./settings.ts";

/** One step the player (or the page for them) took. */
export interface Move {
  /** The CPU stepped. */
  readonly cpu: number;
  /** The answers given for its choice points. */
  readonly answers: StepAnswers;
}

/** The last step, copied out of the session's record. */
export interface LastStep {
  /** Its number (1 for the first). */
  readonly step: number;
  /** The CPU. */
  readonly cpu: number;
  /** The task that ran, or −1. */
  readonly task: number;
  /** The instruction executed, or `""`. */
  readonly instruction: string;
  /** Address written, or −1. */
  readonly writeAddress: number;
  /** Bytes written. */
  readonly writeSize: number;
  /** Address read, or −1. */
  readonly readAddress: number;
  /** Bytes read. */
  readonly readSize: number;
}

const ANSWER_KEYS = ["tick", "pick", "balance", "newidle"] as const;

/**
 * Checks the shape of a step's answers and copies them, so that a getter or
 * a Proxy is read once, here; whether an index fits the step is the
 * session's to check.
 */
function checkAnswers(answers: StepAnswers): StepAnswers {
  let given: Partial<StepAnswers>;
  try {
    given = { ...checkOptions(answers, ANSWER_KEYS, "step answers") };
  } catch (error) {
    if (error instanceof TypeError) throw error;
    throw new TypeError(`step answers could not be read: ${valueText(answers)}`);
  }
  if (given.tick !== undefined && typeof given.tick !== "boolean") {
    throw new TypeError(`step answers: tick must be a boolean, got ${valueText(given.tick)}`);
  }
  const copy: { -readonly [K in keyof StepAnswers]: StepAnswers[K] } = {};
  if (given.tick !== undefined) copy.tick = given.tick;
  for (const key of ["pick", "balance", "newidle"] as const) {
    const value = given[key];
    if (value !== undefined) {
      copy[key] = checkInteger(value, `step answers: ${key}`, key === "pick" ? 0 : -1);
    }
  }
  return copy;
}

/** Whether two moves are the same step with the same answers. */
function sameMove(a: Move, b: Move): boolean {
  const keys = ["tick", "pick", "balance", "newidle"] as const;
  return a.cpu === b.cpu && keys.every((key) => a.answers[key] === b.answers[key]);
}

/** Lines of the log kept (the page shows the last few). */
const LOG_LINES = 200;

/** The player's run. */
export class Driver {
  /** What the run is of. */
  readonly settings: Settings;
  /** The schedule the run started from, if any. */
  readonly loaded: string | undefined;
  /** The moves so far, in order. */
  readonly moves: Move[] = [];
  /** Moves taken back by a rewind, the next one last: redo replays them until a different move is taken. */
  future: Move[] = [];
  /** The session (replaced on rewind). */
  session!: Session;
  /** The test of the current session. */
  test!: ExploreTest;
  /** The challenge recogniser of the current session. */
  challenge!: Challenge;
  /** The last step, or `null` before the first. */
  last: LastStep | null = null;
  /** What happened, one line per event, oldest first (the last {@linkcode LOG_LINES}). */
  log: string[] = [];
  /** Task names by id. */
  names: readonly string[] = [];
  /** Each CPU's per-CPU register at boot: the value that selects its own area. */
  homeRegs: readonly number[] = [];
  #events = 0;
  #rotor = -1;
  /** Replaying the early part of a rewind: only the challenge needs to see those steps. */
  #quiet = false;

  /**
   * Starts a run.
   *
   * @param settings The run's settings.
   * @param loaded A schedule to replay first.
   * @throws {TypeError | RangeError | SyntaxError} On bad settings or schedule (nothing is built).
   */
  constructor(settings: Settings, loaded?: string) {
    this.settings = settings;
    this.loaded = loaded;
    // A loaded schedule's steps are the moves ahead: redo steps through them.
    this.future = this.#start().toReversed();
  }

  /** A fresh session at the run's start; returns the loaded schedule's steps. */
  #start(): Move[] {
    const test = testOf(this.settings);
    const opened = openSession(test, this.loaded);
    this.session = opened.session;
    this.test = test;
    this.names = this.session.machine.taskNames;
    this.homeRegs = machinePort(this.session.machine).cpuContexts.map((context) => context.reg);
    this.challenge = new Challenge(this.settings, test, (t) => this.names[t] ?? `task${t}`);
    this.moves.length = 0;
    this.future = [];
    this.last = null;
    this.log = [];
    this.#events = 0;
    this.#rotor = -1;
    return opened.steps.map(({ cpu, answers }) => ({ cpu, answers }));
  }

  /** Steps taken. */
  get steps(): number {
    return this.moves.length;
  }

  /**
   * One step.
   *
   * @param cpu A steppable CPU.
   * @param answers Answers for its choice points.
   * @throws {TypeError} On answers of the wrong shape (nothing changes).
   * @throws {RangeError} On a CPU that cannot step or an index out of range, as
   *   the session refuses them (nothing changes).
   */
  step(cpu: number, answers: StepAnswers = {}): void {
    const given = checkAnswers(answers);
    const record = this.session.step(cpu, given);
    const move = { cpu, answers: given };
    this.moves.push(move);
    if (this.future.length > 0) {
      if (sameMove(this.future[this.future.length - 1], move)) this.future.pop();
      else this.future = [];
    }
    this.#observe(record);
  }

  #observe(record: StepRecord): void {
    const step = this.moves.length;
    const machine = this.session.machine;
    const events = machine.events ?? [];
    const contexts = machinePort(machine).cpuContexts;
    this.challenge.observe(step, record, events, (cpu) => contexts[cpu].reg);
    const from = this.#events;
    this.#events = events.length;
    if (this.#quiet) return;
    this.last = {
      step,
      cpu: record.cpu,
      task: record.task,
      instruction: record.executed ? record.instruction : "",
      writeAddress: record.writeAddress,
      writeSize: record.writeSize,
      readAddress: record.readAddress,
      readSize: record.readSize,
    };
    this.#logStep(step, record, events, from);
  }

  #logStep(step: number, record: StepRecord, events: readonly SimEvent[], from: number): void {
    const name = (task: number) => this.names[task] ?? `task${task}`;
    // Scheduling first, then the instruction, then what the instruction or the task's code did.
    const before: string[] = [];
    const after: string[] = [];
    let accessNote = "";
    /** An instruction's own events (memory, preempt count) come before a switch it causes. */
    let executed = false;
    for (let i = from; i < events.length; i++) {
      const e = events[i];
      switch (e.kind) {
        case "access": {
          executed = true;
          const where = e.hitCpu < 0 ? "outside every area" : `CPU ${e.hitCpu}'s area`;
          accessNote = ` — ${e.write ? "writes" : "reads"} ${hex(e.address)} in ${where}${
            e.wrong ? " ✗ WRONG CPU" : ""
          }`;
          break;
        }
        case "dispatch":
          before.push(`CPU ${e.cpu} runs ${name(e.task)}`);
          break;
        case "preempt":
          (executed ? after : before).push(
            `${name(e.task)} preempted on CPU ${e.cpu} (queued again)`,
          );
          break;
        case "tick":
          before.push(
            e.outcome === "deferred-guard"
              ? `tick on CPU ${e.cpu} DEFERRED: ${name(e.task)} holds preempt count > 0`
              : e.outcome === "deferred-irq"
              ? `tick on CPU ${e.cpu} DEFERRED: IRQs are off`
              : e.outcome === "alone"
              ? `tick on CPU ${e.cpu}: nothing else to run, ${name(e.task)} runs on`
              : `tick on CPU ${e.cpu}`,
          );
          break;
        case "pull":
          before.push(
            `CPU ${e.cpu} pulls ${name(e.task)} from CPU ${e.from} (${
              e.reason === "balance" ? "load balancing" : "newidle"
            })`,
          );
          break;
        case "migrate":
          before.push(`${name(e.task)} migrated: CPU ${e.from} → CPU ${e.cpu}`);
          break;
        case "guard":
          executed = true;
          after.push(`${name(e.task)}: preempt count ${e.count}`);
          break;
        case "yield":
        case "sleep":
        case "exit":
          after.push(`${name(e.task)} ${e.kind === "exit" ? "exits" : `${e.kind}s`}`);
          break;
        case "fail":
          after.push(`${name(e.task)} failed: ${e.message ?? ""}`);
          break;
        case "misuse":
          after.push(`kernel: ${e.message}`);
          break;
        case "sysreg":
          after.push(`${name(e.task)} writes ${e.reg} = ${hex(e.value)}`);
          break;
        case "irq":
          after.push(`CPU ${e.cpu}: IRQs ${e.enabled ? "on" : "off"}`);
          break;
      }
    }
    const lines = before;
    if (record.executed) {
      lines.push(`CPU ${record.cpu} · ${name(record.task)}: ${record.instruction}${accessNote}`);
    }
    lines.push(...after);
    if (lines.length === 0) lines.push(`CPU ${record.cpu}: idle`);
    for (const line of lines) this.log.push(`${step}. ${line}`);
    if (this.log.length > LOG_LINES * 2) this.log = this.log.slice(-LOG_LINES);
  }

  /**
   * Replays the first `n` moves on a fresh session: rewinding.
   *
   * @param n How many moves to keep (clamped to those taken).
   */
  rewind(n: number): void {
    const all = [...this.moves, ...this.future.toReversed()];
    const keep = Math.max(0, Math.min(n, this.moves.length));
    this.#start();
    this.future = [];
    try {
      for (let i = 0; i < keep; i++) {
        this.#quiet = i < keep - LOG_LINES;
        this.step(all[i].cpu, all[i].answers);
      }
    } finally {
      this.#quiet = false;
    }
    this.future = all.slice(keep).reverse();
  }

  /**
   * Goes to step `n` of the run: back by a rewind, forward along the moves
   * taken back (as far as there are).
   *
   * @param n The step to show.
   */
  seek(n: number): void {
    if (n < this.moves.length) this.rewind(n);
    while (this.moves.length < n && this.future.length > 0) this.redo();
  }

  /**
   * Takes the next move taken back, if any.
   *
   * @returns Whether there was one.
   */
  redo(): boolean {
    const move = this.future[this.future.length - 1];
    if (move === undefined) return false;
    this.step(move.cpu, move.answers);
    return true;
  }

  /**
   * Takes back the last move.
   *
   * @returns Whether there was one.
   */
  undo(): boolean {
    if (this.moves.length === 0) return false;
    this.rewind(this.moves.length - 1);
    return true;
  }

  /**
   * A random move: a random steppable CPU, a tick with probability
   * `tickChance` where one is offered, and random pulls and picks.
   *
   * @param prng The randomness.
   * @param tickChance Probability of taking an offered tick.
   * @returns The move, or `null` when no CPU can step.
   */
  randomMove(prng: Prng, tickChance: number): Move | null {
    const steppable = this.session.steppable();
    if (steppable.length === 0) return null;
    const cpu = steppable[prng.below(steppable.length)];
    const offers = this.session.offers(cpu);
    const tick = offers.tick && prng.chance(tickChance);
    const answers: { -readonly [K in keyof StepAnswers]: StepAnswers[K] } = {};
    if (tick) answers.tick = true;
    if (tick && offers.balance > 0) answers.balance = prng.below(offers.balance + 1) - 1;
    if (offers.newidle > 0) answers.newidle = prng.below(offers.newidle + 1) - 1;
    if (!tick && answers.newidle === undefined && offers.pick >= 2) {
      answers.pick = prng.below(offers.pick);
    }
    return { cpu, answers };
  }

  /**
   * The move "run to the end" takes next: the next move ahead (of a loaded
   * schedule, or taken back), else the next steppable CPU in turn with no
   * tick, no pull and the oldest queued task.
   *
   * @returns The move, or `null` when no CPU can step.
   */
  nextPlainMove(): Move | null {
    const ahead = this.future[this.future.length - 1];
    if (ahead !== undefined) return ahead;
    const steppable = this.session.steppable();
    if (steppable.length === 0) return null;
    const cpu = steppable.find((c) => c > this.#rotor) ?? steppable[0];
    this.#rotor = cpu;
    return { cpu, answers: {} };
  }

  /**
   * Runs until the session is done, no CPU can step, or `limit` steps.
   *
   * @param next Chooses each move.
   * @param limit At most this many steps.
   * @returns Steps taken.
   */
  runWhile(next: () => Move | null, limit: number): number {
    let taken = 0;
    while (taken < limit && !this.session.done) {
      const move = next();
      if (move === null) break;
      this.step(move.cpu, move.answers);
      taken++;
    }
    return taken;
  }

  /** A link to this run: the settings and the schedule so far. */
  link(): string {
    return formatLink(this.settings, this.session.schedule());
  }
}
