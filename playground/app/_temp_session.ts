/**
 * TEMPORARY stand-in for `sched/explore/session.ts` (the explorer's session
 * API, built on another branch). It implements the same interface so that
 * the playground and its tests run before that module is merged; the
 * integrator points `./session.ts` at the real module and deletes this file.
 *
 * Two modes:
 * - **interactive** (no schedule, or a `t1.` string from this file): the
 *   Linux-like `preemptive` policy; any steppable CPU may step next; a CPU
 *   that steps twice in a machine cycle ends the cycle first, so stepping
 *   the CPUs in order reproduces `machine.run()`. Its `t1.` strings replay
 *   here only: `cli.ts sim --replay` does not know them.
 * - **replay** of an explorer `s1.` string: the explorer's own decisions
 *   (`ChoiceDecisions` on the `stress` policy, CPUs in lock step), stepped
 *   one CPU at a time, so the trace hash is the one `cli.ts sim --replay`
 *   prints. The schedule makes every choice; answers are ignored.
 *
 * `offers()` is exact for the built-in scenarios (whose tasks never fault
 * and never disable IRQs): it reads the snapshot and the CPU's "ran since
 * dispatch" flag, which this file tracks from the step records.
 *
 * @module
 */

import type { ExploreTest } from "../../sched/explore/explore.ts";
import { ChoiceDecisions, ReplayChooser } from "../../sched/explore/_choices.ts";
import { decodeSchedule, encodeSchedule, fingerprintOf } from "../../sched/explore/schedule.ts";
import type { Decisions } from "../../sched/runtime/decisions.ts";
import { Machine } from "../../sched/runtime/machine.ts";
import {
  type MachinePort,
  machinePort,
  type MachineSnapshot,
  STEP_DISPATCH,
  StepRecord,
} from "../../sched/runtime/_port.ts";
import { checkInteger, checkOptions } from "../../lib/_check.ts";
import { valueText } from "../../lib/_describe.ts";

/** Answers for the choice points one step meets. */
export interface StepAnswers {
  /** Take a tick at this step's boundary if one is offered (default: no tick). */
  readonly tick?: boolean;
  /** Which queued task runs, when the step dispatches among 2 or more (default 0, the oldest). */
  readonly pick?: number;
  /** −1 or the index of the task a tick's load balancing pulls (default −1). */
  readonly balance?: number;
  /** −1 or the index of the task an idle CPU pulls (default −1). */
  readonly newidle?: number;
}

/** Options of {@linkcode createSession}. */
export interface SessionOptions {
  /** The test (e.g. `counterTest(options)`). */
  readonly test: ExploreTest;
  /** Start by replaying this schedule (its choices), then continue interactively. */
  readonly schedule?: string;
  /** Preemption bound recorded in the schedule (default: unbounded). */
  readonly maxPreemptions?: number;
}

/** What the next step on a CPU would offer. */
export interface Offers {
  /** A tick may be taken at the boundary. */
  readonly tick: boolean;
  /** The number of queued tasks a dispatch would choose among (0 when no choice). */
  readonly pick: number;
  /** The number of tasks a tick's load balancing could pull (0: none). */
  readonly balance: number;
  /** The number of tasks an idle CPU could pull (0: none). */
  readonly newidle: number;
}

/** A violation of a finished run. */
export interface SessionViolation {
  /** `lost-update`, `wrong-cpu`, `scheduling-while-atomic`, `preempt-underflow` or `task-error`. */
  readonly kind: string;
  /** What happened. */
  readonly message: string;
}

/** A run driven one step at a time. */
export interface Session {
  /** The machine (read its state through `machinePort(machine).snapshot()`). */
  readonly machine: Machine;
  /** CPUs that can take a step now, ascending. */
  steppable(): readonly number[];
  /** One step on `cpu` (must be steppable), answering the choice points it meets. */
  step(cpu: number, answers?: StepAnswers): StepRecord;
  /** What the next step on `cpu` would offer. */
  offers(cpu: number): Offers;
  /** True once every task ended or the run was cut off. */
  readonly done: boolean;
  /** The choices so far as a schedule string (a prefix while not done). */
  schedule(): string;
  /** The run's trace hash so far. */
  traceHash(): string;
  /** The verdict once done: violations by kind. */
  verdict(): SessionViolation[] | null;
}

const NONE: Offers = Object.freeze({ tick: false, pick: 0, balance: 0, newidle: 0 });
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/** The identity a schedule is tied to (the same as the explorer's). */
function testFingerprint(test: ExploreTest): string {
  const p = test.percpu;
  return fingerprintOf({
    name: test.name,
    arch: p.arch,
    features: p.features,
    cpus: test.cpus,
    vars: p.variables().map((v) => [v.name, v.offset(), v.size]),
  });
}

/** The decisions of an interactive step: the answers given for it. */
class Answering implements Decisions {
  answers: StepAnswers = {};
  ticked = false;

  tick(): boolean {
    this.ticked = this.answers.tick === true;
    return this.ticked;
  }
  pick(): number {
    return this.answers.pick ?? 0;
  }
  balance(): number {
    return this.answers.balance ?? -1;
  }
  newidle(): number {
    return this.answers.newidle ?? -1;
  }
  migrate(cpu: number): number {
    return cpu;
  }
}

/** One recorded interactive step. */
interface Move {
  readonly cpu: number;
  readonly answers: StepAnswers;
}

/**
 * `t1.<fingerprint>.<bound>.<moves>`: a move is `<cpu>[t][p<n>][b<n>][n<n>]`
 * in decimal, moves `~`-separated (`x` for an unbounded bound).
 */
function encodeMoves(fingerprint: string, bound: number, moves: readonly Move[]): string {
  const text = moves.map(({ cpu, answers: a }) =>
    `${cpu}${a.tick ? "t" : ""}${a.pick ? `p${a.pick}` : ""}${
      a.balance !== undefined && a.balance >= 0 ? `b${a.balance}` : ""
    }${a.newidle !== undefined && a.newidle >= 0 ? `n${a.newidle}` : ""}`
  ).join("~");
  return `t1.${fingerprint}.${bound === UNBOUNDED ? "x" : bound}.${text}`;
}

function decodeMoves(text: string): { fingerprint: string; bound: number; moves: Move[] } {
  const match = /^t1\.([0-9a-z]{1,12})\.(x|\d{1,9})\.([\dtpbn~]*)$/.exec(text);
  if (match === null) throw new SyntaxError(`not a playground schedule: ${valueText(text)}`);
  const moves: Move[] = [];
  for (const part of match[3] === "" ? [] : match[3].split("~")) {
    const m = /^(\d{1,3})(t?)(?:p(\d{1,4}))?(?:b(\d{1,4}))?(?:n(\d{1,4}))?$/.exec(part);
    if (m === null) throw new SyntaxError(`not a playground schedule step: ${valueText(part)}`);
    moves.push({
      cpu: Number(m[1]),
      answers: {
        ...(m[2] ? { tick: true } : {}),
        ...(m[3] ? { pick: Number(m[3]) } : {}),
        ...(m[4] ? { balance: Number(m[4]) } : {}),
        ...(m[5] ? { newidle: Number(m[5]) } : {}),
      },
    });
  }
  return {
    fingerprint: match[1],
    bound: match[2] === "x" ? UNBOUNDED : Number(match[2]),
    moves,
  };
}

/** Tasks `to` may pull: the queued tasks of the busiest other CPUs (the kernel's rule). */
function pullCandidates(snap: MachineSnapshot, to: number): { count: number; busiest: number } {
  let busiest = 0;
  let count = 0;
  for (const cpu of snap.cpus) {
    const queued = cpu.queue.length;
    if (cpu.id === to || queued === 0) continue;
    const load = cpu.task < 0 ? queued : queued + 1;
    if (load > busiest) {
      busiest = load;
      count = queued;
    } else if (load === busiest) count += queued;
  }
  return { count, busiest };
}

/** Checks an optional index answer. */
function checkAnswer(value: unknown, what: string, min: number, count: number): void {
  if (value === undefined) return;
  if (count <= 0 || (min === 0 && count < 2)) {
    throw new RangeError(`step: ${what} is not offered by this step, got ${valueText(value)}`);
  }
  checkInteger(value, `step: ${what}`, min, count - 1);
}

class InteractiveSession implements Session {
  readonly machine: Machine;
  readonly #test: ExploreTest;
  readonly #port: MachinePort;
  readonly #decisions = new Answering();
  readonly #record: StepRecord;
  readonly #fingerprint: string;
  readonly #bound: number;
  readonly #moves: Move[] = [];
  /** Moves of the schedule still to replay, next first. */
  readonly #pending: Move[];
  /** Whether each CPU's running task has executed an instruction since it was dispatched. */
  readonly #ran: boolean[];
  /** CPUs stepped in the current machine cycle (a bit each). */
  #stepped = 0;
  #preemptions = 0;

  constructor(test: ExploreTest, bound: number, pending: Move[]) {
    this.#test = test;
    this.#bound = bound;
    this.#pending = pending.reverse();
    this.#fingerprint = testFingerprint(test);
    this.machine = new Machine({
      percpu: test.percpu,
      cpus: test.cpus,
      policy: "preemptive",
      record: true,
      decisions: this.#decisions,
    });
    this.#port = machinePort(this.machine);
    this.#port.reset(this.#decisions);
    test.spawn(this.machine);
    this.#record = new StepRecord(test.cpus);
    this.#ran = new Array<boolean>(test.cpus).fill(false);
  }

  get done(): boolean {
    return this.#port.stats().stopReason !== "stopped";
  }

  steppable(): readonly number[] {
    return this.done ? [] : this.#steppable(this.#port.snapshot());
  }

  #steppable(snap: MachineSnapshot): number[] {
    const able = snap.cpus.filter((cpu) =>
      cpu.task >= 0 || cpu.queue.length > 0 ||
      (snap.cpus.length > 1 && pullCandidates(snap, cpu.id).count > 0)
    ).map((cpu) => cpu.id);
    if (this.#pending.length === 0) return able;
    // While the schedule replays, only its next CPU (none if the schedule does not fit).
    const next = this.#pending[this.#pending.length - 1].cpu;
    return able.includes(next) ? [next] : [];
  }

  offers(cpu: number): Offers {
    checkInteger(cpu, "offers: cpu", 0, this.machine.cpus - 1);
    // While the schedule replays, it makes the choices.
    return this.#pending.length > 0 || this.done ? NONE : this.#offers(this.#port.snapshot(), cpu);
  }

  #offers(snap: MachineSnapshot, cpu: number): Offers {
    const c = snap.cpus[cpu];
    if (c.task < 0) {
      const newidle = c.queue.length === 0 && snap.cpus.length > 1
        ? pullCandidates(snap, cpu).count
        : 0;
      return { tick: false, pick: c.queue.length >= 2 ? c.queue.length : 0, balance: 0, newidle };
    }
    const tick = this.#ran[cpu] && !c.pendingTick && this.#preemptions < this.#bound;
    let balance = 0;
    if (tick && c.irqEnabled && snap.cpus.length > 1) {
      const { count, busiest } = pullCandidates(snap, cpu);
      if (count > 0 && busiest - (1 + c.queue.length) >= 1) balance = count;
    }
    return { tick, pick: 0, balance, newidle: 0 };
  }

  step(cpu: number, answers: StepAnswers = {}): StepRecord {
    checkInteger(cpu, "step: cpu", 0, this.machine.cpus - 1);
    // One snapshot for all the checks (this stand-in reads the machine through it).
    const snap = this.#port.snapshot();
    const steppable = this.done ? [] : this.#steppable(snap);
    if (!steppable.includes(cpu)) {
      throw new RangeError(
        `step: CPU ${cpu} cannot step now; steppable: ${steppable.join(", ") || "none"}`,
      );
    }
    const replaying = this.#pending.length > 0;
    const move = this.#check(
      snap,
      cpu,
      replaying ? this.#pending[this.#pending.length - 1].answers : answers,
    );
    if (replaying) this.#pending.pop();
    const record = this.#record;
    this.#decisions.answers = move.answers;
    this.#decisions.ticked = false;
    if ((this.#stepped & (1 << cpu)) !== 0) {
      this.#port.endCycle(null);
      this.#stepped = 0;
    }
    this.#stepped |= 1 << cpu;
    this.#port.step(cpu, record);
    if (this.#decisions.ticked) this.#preemptions++;
    if ((record.events & STEP_DISPATCH) !== 0) this.#ran[cpu] = false;
    if (record.executed) this.#ran[cpu] = true;
    this.#moves.push(move);
    return record;
  }

  /** The answers the step may take, checked against what it offers; nothing changes on error. */
  #check(snap: MachineSnapshot, cpu: number, answers: StepAnswers): Move {
    let given: Partial<StepAnswers>;
    try {
      given = { ...checkOptions(answers, ["tick", "pick", "balance", "newidle"], "step answers") };
    } catch (error) {
      if (error instanceof TypeError) throw error;
      throw new TypeError(`step answers could not be read: ${valueText(answers)}`);
    }
    const offers = this.#offers(snap, cpu);
    if (given.tick !== undefined && typeof given.tick !== "boolean") {
      throw new TypeError(`step: tick must be a boolean, got ${valueText(given.tick)}`);
    }
    const tick = given.tick === true && offers.tick;
    checkAnswer(given.balance, "balance", -1, tick ? offers.balance : 0);
    checkAnswer(given.newidle, "newidle", -1, offers.newidle);
    let pick = offers.pick;
    if (tick) {
      // A preempting tick queues the running task behind the others (and a pulled one).
      const queued = snap.cpus[cpu].queue.length;
      pick = queued > 0 || (given.balance ?? -1) >= 0
        ? queued + ((given.balance ?? -1) >= 0 ? 1 : 0) + 1
        : 0;
    } else if ((given.newidle ?? -1) >= 0) pick = 0;
    checkAnswer(given.pick, "pick", 0, pick);
    return {
      cpu,
      answers: {
        ...(tick ? { tick } : {}),
        ...(given.pick ? { pick: given.pick } : {}),
        ...((given.balance ?? -1) >= 0 ? { balance: given.balance } : {}),
        ...((given.newidle ?? -1) >= 0 ? { newidle: given.newidle } : {}),
      },
    };
  }

  schedule(): string {
    return encodeMoves(this.#fingerprint, this.#bound, this.#moves);
  }

  traceHash(): string {
    return this.#port.stats().traceHash;
  }

  verdict(): SessionViolation[] | null {
    return this.done ? judge(this.#test, this.machine, this.#port) : null;
  }
}

class ReplaySession implements Session {
  readonly machine: Machine;
  readonly #test: ExploreTest;
  readonly #port: MachinePort;
  readonly #record: StepRecord;
  readonly #decisions: ChoiceDecisions;
  readonly #fingerprint: string;
  #next = 0;
  /** The schedule did not fit the run (it ran out of choices): the run stops there. */
  #broken = false;

  constructor(test: ExploreTest, schedule: string) {
    const decoded = decodeSchedule(schedule);
    this.#fingerprint = testFingerprint(test);
    if (decoded.fingerprint !== this.#fingerprint) {
      throw new RangeError(
        `the schedule was recorded for another test (fingerprint ${decoded.fingerprint}, this test is ${this.#fingerprint}); use the same settings as the exploration`,
      );
    }
    this.#test = test;
    this.#decisions = new ChoiceDecisions(new ReplayChooser(decoded.choices), {
      maxPreemptions: decoded.maxPreemptions,
    });
    this.machine = new Machine({
      percpu: test.percpu,
      cpus: test.cpus,
      policy: "stress",
      record: true,
      decisions: this.#decisions,
    });
    this.#port = machinePort(this.machine);
    this.#port.reset(this.#decisions);
    test.spawn(this.machine);
    this.#record = new StepRecord(test.cpus);
  }

  get done(): boolean {
    // `machine.run()` finishes the cycle in which the last task ends.
    return this.#broken || (this.#port.stats().stopReason !== "stopped" && this.#next === 0);
  }

  steppable(): readonly number[] {
    return this.done ? [] : [this.#next];
  }

  offers(cpu: number): Offers {
    checkInteger(cpu, "offers: cpu", 0, this.machine.cpus - 1);
    return NONE;
  }

  step(cpu: number): StepRecord {
    checkInteger(cpu, "step: cpu", 0, this.machine.cpus - 1);
    if (this.done || cpu !== this.#next) {
      throw new RangeError(
        `step: CPU ${cpu} cannot step now; steppable: ${this.steppable().join(", ") || "none"}`,
      );
    }
    try {
      this.#port.step(cpu, this.#record);
    } catch (error) {
      this.#broken = true;
      throw error;
    }
    this.#next = (cpu + 1) % this.machine.cpus;
    if (this.#next === 0) this.#port.endCycle(null);
    return this.#record;
  }

  schedule(): string {
    return encodeSchedule(
      this.#fingerprint,
      this.#decisions.maxPreemptions,
      this.#decisions.choices,
    );
  }

  traceHash(): string {
    return this.#port.stats().traceHash;
  }

  verdict(): SessionViolation[] | null {
    return this.done && !this.#broken ? judge(this.#test, this.machine, this.#port) : null;
  }
}

/** The violations of a finished run, by kind, as the explorer judges them. */
function judge(test: ExploreTest, machine: Machine, port: MachinePort): SessionViolation[] {
  const stats = port.stats();
  if (!stats.completed) return [];
  const found: SessionViolation[] = [];
  const first = stats.firstViolation;
  if (!test.allowWrongCpu && first !== null) {
    found.push({
      kind: "wrong-cpu",
      message: `${stats.wrongCpuAccesses} local ${
        stats.wrongCpuAccesses === 1 ? "access" : "accesses"
      } hit another CPU's area; first: \`${first.text}\` on CPU ${first.cpu}`,
    });
  }
  for (const misuse of stats.misuses) {
    if (misuse.kind === "scheduling-while-atomic" || misuse.kind === "preempt-underflow") {
      found.push({ kind: misuse.kind, message: `kernel: ${misuse.message}` });
    }
  }
  for (const failure of stats.failures) {
    found.push({
      kind: "task-error",
      message: `${failure.task} failed on CPU ${failure.cpu}: ${failure.message}`,
    });
  }
  const broken = test.check?.(machine);
  if (broken) found.push({ kind: "lost-update", message: broken });
  return found;
}

/** A session, and the steps of a loaded schedule still to take on it. */
export interface Opened {
  /** The session, at the start of the run. */
  readonly session: Session;
  /** The schedule's steps, in order: taking them replays it. */
  readonly steps: readonly { readonly cpu: number; readonly answers: StepAnswers }[];
}

/**
 * Opens a run at its start, with a loaded schedule's steps to take one by
 * one (so a person can step through it). A `t1.` string's steps are its
 * moves; an explorer `s1.` string runs on the explorer's own decisions,
 * one CPU after the other, so its steps are those CPUs (with no answers:
 * the schedule answers).
 *
 * @param test The test (its system is initialised by the session).
 * @param schedule A schedule string, or none.
 * @returns The session and the steps.
 * @throws {SyntaxError} On a malformed schedule string.
 * @throws {RangeError} On a schedule recorded for another test.
 */
export function openSession(test: ExploreTest, schedule?: string): Opened {
  if (schedule === undefined) return { session: createSession({ test }), steps: [] };
  const text = schedule.trim();
  if (!text.startsWith("s1.")) {
    // The string is checked against the test (format, fingerprint) first.
    createSession({ test, schedule: text });
    const { moves, bound } = decodeMoves(text);
    const session = createSession({
      test,
      ...(bound === UNBOUNDED ? {} : { maxPreemptions: bound }),
    });
    return { session, steps: moves };
  }
  const probe = createSession({ test, schedule: text });
  const steps: { cpu: number; answers: StepAnswers }[] = [];
  while (!probe.done) {
    const cpu = probe.steppable()[0];
    probe.step(cpu);
    steps.push({ cpu, answers: {} });
  }
  return { session: createSession({ test, schedule: text }), steps };
}

/**
 * Starts a session on a fresh machine.
 *
 * @param options The test, a schedule to replay first, the preemption bound.
 * @returns The session.
 * @throws {SyntaxError} On a malformed schedule string.
 * @throws {RangeError} On a schedule recorded for another test, or a bad bound.
 */
export function createSession(options: SessionOptions): Session {
  const given = checkOptions(options, ["test", "schedule", "maxPreemptions"], "createSession");
  const test = given.test;
  if (typeof test?.spawn !== "function") {
    throw new TypeError(`createSession: test must be an explore test, got ${valueText(test)}`);
  }
  const schedule = given.schedule;
  if (schedule !== undefined && typeof schedule !== "string") {
    throw new TypeError(`createSession: schedule must be a string, got ${valueText(schedule)}`);
  }
  const bound = given.maxPreemptions === undefined
    ? UNBOUNDED
    : checkInteger(given.maxPreemptions, "createSession: maxPreemptions", 0);
  if (schedule === undefined) return new InteractiveSession(test, bound, []);
  const text = schedule.trim();
  if (text.startsWith("s1.")) return new ReplaySession(test, text);
  const decoded = decodeMoves(text);
  const fingerprint = testFingerprint(test);
  if (decoded.fingerprint !== fingerprint) {
    throw new RangeError(
      `the schedule was recorded for another test (fingerprint ${decoded.fingerprint}, this test is ${fingerprint}); use the same settings`,
    );
  }
  return new InteractiveSession(test, decoded.bound, decoded.moves);
}
