/**
 * The exhaustive search over the driver's model: a depth-first enumeration
 * of runs, stateless (each run replays its prefix from a reset machine),
 * with two reductions of the interleaving dimension:
 *
 * - `none`: every steppable CPU is tried at every step;
 * - `dpor`: source-DPOR with sleep sets (Abdulla, Aronis, Jonsson, Sagonas,
 *   POPL 2014). Steps of different CPUs are *dependent* when they touch the
 *   same simulated bytes with at least one write, when one changes a run
 *   queue the other reads or changes, when one changes a CPU's load in a way
 *   that decides whether a tick of the other could balance, or when a task
 *   sleeps (sleep is timed by the machine's clock, which every step moves).
 *   Steps of one CPU are ordered. Two runs that differ only in the order of
 *   independent steps are equivalent (they end in the same state); DPOR runs
 *   at least one of every class, usually exactly one.
 *
 * The kernel's choices inside a step (tick, balance, pick, newidle) are
 * branched on exhaustively, except that no tick is tried just before a
 * quiet step (one that only moves its task along privately): a tick one
 * step later reaches the same memory and tasks (only the CPUs' tick
 * bookkeeping left at the end may differ). A tick is taken only while the
 * run has taken fewer than `bound` ticks: the bound counts ticks over the
 * whole run, and
 * since that count is the same for equivalent runs, bounding and reduction
 * combine soundly (the explored set of runs is closed under reordering
 * independent steps, unlike a bound on context switches).
 *
 * The search can be split: the first `depth` steps are enumerated with
 * sleep sets only (every steppable CPU, so no race found below can ask for
 * more there), and the subtree under each prefix of that depth — numbered in
 * depth-first order — is explored only where `own(prefix)` says so.
 * Subtrees of different prefixes are disjoint, so the parts together make
 * exactly the whole search.
 *
 * @module
 */

import { Hasher } from "../trace/_hasher.ts";
import type { ChoiceKind, Chooser, Driver } from "./_driver.ts";
import { kindBit, VIOLATION_KINDS, type ViolationKind } from "./violations.ts";

/** What one step did, as the reduction sees it. */
export class Footprint {
  constructor(
    readonly cpu: number,
    readonly readAddress: number,
    readonly readSize: number,
    readonly writeAddress: number,
    readonly writeSize: number,
    readonly queuesRead: number,
    readonly queuesWritten: number,
    readonly viewRead: number,
    readonly viewsWritten: number,
    readonly viewsBefore: Int32Array | null,
    readonly viewsAfter: Int32Array | null,
    readonly global: boolean,
  ) {}
}

function sameValues(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function overlaps(a: number, aSize: number, b: number, bSize: number): boolean {
  return aSize > 0 && bSize > 0 && a < b + bSize && b < a + aSize;
}

/** Whether `writer`'s load changes decide something `reader`'s tick offer asked. */
function viewDependent(reader: Footprint, writer: Footprint): boolean {
  const threshold = reader.viewRead;
  if (threshold === -1 || writer.viewsWritten === 0) return false;
  for (let mask = writer.viewsWritten & ~(1 << reader.cpu); mask !== 0; mask &= mask - 1) {
    if (threshold === -2) return true;
    const cpu = 31 - Math.clz32(mask & -mask);
    if ((writer.viewsBefore![cpu] > threshold) !== (writer.viewsAfter![cpu] > threshold)) {
      return true;
    }
  }
  return false;
}

/**
 * Whether two steps of different CPUs are dependent (do not commute).
 *
 * @param a A step.
 * @param b Another.
 * @returns Whether their order matters.
 */
export function dependent(a: Footprint, b: Footprint): boolean {
  if (a.cpu === b.cpu || a.global || b.global) return true;
  if (
    overlaps(a.writeAddress, a.writeSize, b.readAddress, b.readSize) ||
    overlaps(a.writeAddress, a.writeSize, b.writeAddress, b.writeSize) ||
    overlaps(a.readAddress, a.readSize, b.writeAddress, b.writeSize)
  ) {
    return true;
  }
  if ((a.queuesWritten & (b.queuesRead | b.queuesWritten)) !== 0) return true;
  if ((b.queuesWritten & a.queuesRead) !== 0) return true;
  return viewDependent(a, b) || viewDependent(b, a);
}

/** The step an idle CPU with nothing to pull would take once a queue gains a task. */
function pendingPull(cpu: number, cpus: number): Footprint {
  const all = (1 << cpus) - 1;
  return new Footprint(cpu, -1, 0, -1, 0, all, all, -2, 0, null, null, false);
}

/**
 * One alternative of a CPU's step (its kernel choices), asleep: it was
 * explored where it fell asleep, and every step since was independent of it.
 */
interface Sleeper {
  /** The CPU. */
  readonly cpu: number;
  /** The kernel choices of the alternative. */
  readonly values: readonly number[];
  /** What it did. */
  readonly step: Footprint;
  /** Taken without a tick, it was quiet. */
  readonly quiet: boolean;
  /** Every alternative of the step, asleep together from where they fell asleep. */
  readonly group: SleepGroup;
}

/** The alternatives of one step that fell asleep together. */
interface SleepGroup {
  /** How many. */
  readonly size: number;
}

/** An alternative of the current CPU's step, explored at a node. */
interface Alternative {
  readonly values: readonly number[];
  readonly step: Footprint;
  readonly quiet: boolean;
}

/** Thrown out of a step whose every remaining alternative is asleep. */
const ASLEEP: unique symbol = Symbol("asleep");

/** One step of the current run: the choices that make it, and the search's state there. */
class Node {
  /** CPUs steppable here (mask). */
  enabled = 0;
  /** CPUs to explore here. */
  backtrack = 0;
  /** CPUs fully explored here. */
  done = 0;
  /** CPUs whose every alternative is asleep here. */
  sleepMask = 0;
  /** The sleepers: inherited, then the alternatives of the CPUs explored here before the current one. */
  sleep: Sleeper[] = [];
  /** The CPU that stepped before this node. */
  lastCpu = -1;
  /** Ticks taken before this step. */
  ticksBefore = 0;
  /** The CPU stepping here. */
  cpu = -1;
  /** The kernel's choice points in this step: kind, option count, value. */
  readonly kinds: ChoiceKind[] = [];
  readonly counts: number[] = [];
  readonly values: number[] = [];
  /** Choice points replayed so far in the current run. */
  position = 0;
  /** The alternatives of the current CPU's step explored so far. */
  alternatives: Alternative[] = [];
  /** The step at this node has not been taken with its current choices yet. */
  fresh = true;
  /**
   * The current CPU's step, taken without a tick, was quiet: a tick before
   * it is not tried, the same preemption comes one step later.
   */
  quiet = false;
}

/** One step of a plan: a CPU and the kernel choices its step takes. */
export interface PlannedStep {
  /** The CPU. */
  readonly cpu: number;
  /** The kinds of the kernel's choice points, in order. */
  readonly kinds: readonly ChoiceKind[];
  /** The choice at each. */
  readonly values: readonly number[];
}

/** The smallest violation of a kind found so far: its causal prefix first. */
export interface Best {
  /** Ticks in the violating step's causal past (itself included). */
  readonly preemptions: number;
  /** Instructions in it. */
  readonly steps: number;
  /** A run: the causal past of the violating step in order, then the rest. */
  readonly plan: readonly PlannedStep[];
}

/**
 * Which of two violations is smaller: fewer preemptions, then fewer
 * instructions in the violating prefix.
 *
 * @returns Whether `a` beats `b`.
 */
export function smaller(
  a: { preemptions: number; steps: number },
  b: { preemptions: number; steps: number } | undefined,
): boolean {
  return b === undefined || a.preemptions < b.preemptions ||
    (a.preemptions === b.preemptions && a.steps < b.steps);
}

/** Why a search stopped. */
export type SearchStop = "complete" | "budget" | "time";

/** What the search is asked to do. */
export interface SearchOptions {
  /** At most this many ticks per run (`Infinity`: no bound). */
  readonly bound: number;
  /** How the interleavings are reduced. */
  readonly reduction: "dpor" | "none";
  /** The violation kinds that count (bits). */
  readonly kinds: number;
  /** `fifo`: a CPU always runs its oldest queued task; `any`: every queued task is tried. */
  readonly picks: "fifo" | "any";
  /** Stop after this many runs. */
  readonly budget: number;
  /** Stop at this `performance.now()`. */
  readonly deadline: number;
  /** Explore only some subtrees. */
  readonly split?: {
    /** Prefixes are this many steps long. */
    readonly depth: number;
    /** Whether to explore the subtree of prefix number `prefix`. */
    readonly own: (prefix: number) => boolean;
  };
  /** Called after each run. */
  readonly onRun?: (runs: number) => void;
}

/** What the search found. */
export interface SearchResult {
  /** Runs started: completed, cut off, or abandoned as redundant. */
  runs: number;
  /** Runs in which every task ended. */
  completed: number;
  /** Runs cut off by the cycle limit or a re-initialised system. */
  cutOff: number;
  /** Runs abandoned because every steppable CPU was asleep (redundant). */
  blocked: number;
  /** Fingerprints of the completed runs' equivalence classes. */
  readonly classes: Set<number>;
  /** Fingerprints of the completed runs' final machine states. */
  readonly finalStates: Set<number>;
  /** The smallest violation of each kind. */
  readonly best: Map<ViolationKind, Best>;
  /** Why it stopped. */
  stop: SearchStop;
  /** Prefixes met when split (explored or not). */
  prefixes: number;
}

const KIND_CODES: Readonly<Record<ChoiceKind, number>> = {
  cpu: 0,
  tick: 1,
  "deferred-tick": 2,
  balance: 3,
  pick: 4,
  newidle: 5,
};

/** The search: one instance per exploration. */
export class Search implements Chooser {
  readonly #driver: Driver;
  readonly #options: SearchOptions;
  readonly #cpus: number;
  readonly #dpor: boolean;
  readonly #fifo: boolean;
  readonly #splitDepth: number;
  readonly #nodes: Node[] = [];
  #pathLength = 0;
  /** The node whose step is being taken. */
  #current: Node = new Node();

  // Per position of the current run.
  readonly #steps: Footprint[] = [];
  readonly #executed: number[] = [];
  readonly #ticked: number[] = [];
  readonly #kinds: number[] = [];
  readonly #local: number[] = [];
  #clocks: Int32Array;
  readonly #lastAt: Int32Array;
  readonly #pending: Int32Array;
  readonly #firstLocal: Int32Array;
  readonly #pendingPulls: readonly Footprint[];

  readonly result: SearchResult = {
    runs: 0,
    completed: 0,
    cutOff: 0,
    blocked: 0,
    classes: new Set(),
    finalStates: new Set(),
    best: new Map(),
    stop: "complete",
    prefixes: 0,
  };

  /**
   * Prepares a search.
   *
   * @param driver The driver (its test and machine).
   * @param options What to search.
   */
  constructor(driver: Driver, options: SearchOptions) {
    this.#driver = driver;
    this.#options = options;
    this.#cpus = driver.cpus;
    this.#dpor = options.reduction === "dpor";
    this.#fifo = options.picks === "fifo";
    this.#splitDepth = options.split?.depth ?? 0;
    this.#clocks = new Int32Array(64 * this.#cpus);
    this.#lastAt = new Int32Array(this.#cpus);
    this.#pending = new Int32Array(this.#cpus);
    this.#firstLocal = new Int32Array(this.#cpus);
    this.#pendingPulls = Array.from({ length: this.#cpus }, (_, q) => pendingPull(q, this.#cpus));
  }

  /**
   * Runs the search to its end, the budget or the deadline.
   *
   * @returns What it found.
   */
  run(): SearchResult {
    const result = this.result;
    const options = this.#options;
    do {
      if (result.runs >= options.budget) {
        result.stop = "budget";
        break;
      }
      if (performance.now() >= options.deadline) {
        result.stop = "time";
        break;
      }
      this.#runOnce();
      options.onRun?.(result.runs);
    } while (this.#backtrack());
    return result;
  }

  /**
   * The kernel's choice points, answered for the current node: replayed,
   * or the first option worth trying at a new point.
   */
  choose(count: number, kind: ChoiceKind, from: number): number {
    const node = this.#current;
    const k = node.position++;
    if (k < node.kinds.length) {
      if (node.kinds[k] !== kind || node.counts[k] !== count) {
        throw new Error(
          `nondeterministic test: a replayed step met a ${kind} choice with ${count} options where it met a ${
            node.kinds[k]
          } choice with ${node.counts[k]} before; tasks must depend only on simulated memory`,
        );
      }
      return node.values[k];
    }
    const start = kind === "tick" ? 0 : Math.min(from, this.#limit(kind, count) - 1);
    const value = this.#firstAwake(node, k, start, count, kind);
    if (value < 0) throw ASLEEP;
    node.kinds.push(kind);
    node.counts.push(count);
    node.values.push(value);
    return value;
  }

  /**
   * How many of a choice point's options the search tries: a deferred tick
   * is never taken (its switch is the one a tick at the region's end
   * makes), and FIFO picks always run the oldest queued task.
   */
  #limit(kind: ChoiceKind, count: number): number {
    return kind === "deferred-tick" || (kind === "pick" && this.#fifo) ? 1 : count;
  }

  /**
   * The first value from `start` at choice point `k` of the node's step that
   * is allowed (a tick within the bound, not before a quiet step) and does
   * not complete an alternative that is asleep; −1 when none.
   */
  #firstAwake(node: Node, k: number, start: number, count: number, kind: ChoiceKind): number {
    const limit = this.#limit(kind, count);
    for (let value = start; value < limit; value++) {
      if (
        kind === "tick" && value === 1 && (node.ticksBefore >= this.#options.bound || node.quiet)
      ) {
        continue;
      }
      const sleeper = this.#asleep(node, k, value);
      if (sleeper === null) return value;
      if (kind === "tick" && value === 0) node.quiet = sleeper.quiet;
    }
    return -1;
  }

  /** The sleeper that is the node's CPU's alternative with `value` at point `k` after the node's values, if any. */
  #asleep(node: Node, k: number, value: number): Sleeper | null {
    for (const sleeper of node.sleep) {
      const values = sleeper.values;
      if (sleeper.cpu !== node.cpu || values.length !== k + 1 || values[k] !== value) continue;
      let same = true;
      for (let i = 0; i < k && same; i++) same = values[i] === node.values[i];
      if (same) return sleeper;
    }
    return null;
  }

  /** One run: replays the path, then extends it with first choices. */
  #runOnce(): void {
    const driver = this.#driver;
    const result = this.result;
    driver.logChoices = false;
    driver.start(this);
    this.#lastAt.fill(-1);
    let depth = 0;
    let replayed = false;
    for (;; depth++) {
      if (driver.done) break;
      let node: Node;
      if (depth < this.#pathLength && !this.#nodes[depth].fresh) {
        // The prefix: taken exactly as before, nothing to learn from it.
        node = this.#nodes[depth];
        this.#current = node;
        node.position = 0;
        driver.replayStep(node.cpu);
        this.#lastAt[node.cpu] = depth;
        replayed = true;
        continue;
      }
      if (replayed) {
        driver.resync();
        replayed = false;
        if (driver.done) break;
      }
      if (depth < this.#pathLength) {
        node = this.#nodes[depth];
        if (node.enabled !== driver.steppable) {
          throw new Error(
            "nondeterministic test: a replayed run reached a different set of steppable CPUs; tasks must depend only on simulated memory",
          );
        }
      } else {
        if (depth === this.#splitDepth && this.#options.split && !this.#ownPrefix()) return;
        const fresh = this.#open(depth);
        if (fresh === null) {
          if (depth < this.#splitDepth && this.#options.split && !this.#ownPrefix()) return;
          result.runs++;
          result.blocked++;
          return;
        }
        node = fresh;
      }
      this.#current = node;
      node.position = 0;
      try {
        driver.step(node.cpu);
      } catch (error) {
        if (error !== ASLEEP) throw error;
        result.runs++;
        result.blocked++;
        return;
      }
      if (node.position !== node.kinds.length) {
        throw new Error(
          "nondeterministic test: a replayed step met fewer choices than before; tasks must depend only on simulated memory",
        );
      }
      this.#record(depth, node);
    }
    if (depth < this.#splitDepth && this.#options.split && !this.#ownPrefix()) return;
    result.runs++;
    if (driver.end === "cut-off") {
      result.cutOff++;
      return;
    }
    this.#finish(depth);
  }

  /** Numbers a prefix and asks whether this search explores it. */
  #ownPrefix(): boolean {
    return this.#options.split!.own(this.result.prefixes++);
  }

  /**
   * Opens a new node at `depth` of the path: its sleepers and first CPU.
   *
   * @returns The node, or `null` when every steppable CPU is asleep.
   */
  #open(depth: number): Node | null {
    const driver = this.#driver;
    let node = this.#nodes[depth];
    if (node === undefined) node = this.#nodes[depth] = new Node();
    node.enabled = driver.steppable;
    node.lastCpu = driver.lastCpu;
    node.ticksBefore = driver.ticks;
    node.done = 0;
    const sleep: Sleeper[] = [];
    let sleepMask = 0;
    if (this.#dpor && depth > 0) {
      const parent = this.#nodes[depth - 1];
      const step = this.#steps[depth - 1];
      for (const sleeper of parent.sleep) if (!dependent(step, sleeper.step)) sleep.push(sleeper);
      // A CPU is asleep when every alternative of a group still is.
      for (const sleeper of sleep) {
        let count = 0;
        for (const other of sleep) if (other.group === sleeper.group) count++;
        if (count === sleeper.group.size) sleepMask |= 1 << sleeper.cpu;
      }
    }
    node.sleep = sleep;
    node.sleepMask = sleepMask;
    const cpu = this.#firstIn(node, node.enabled & ~sleepMask);
    if (cpu < 0) return null;
    node.backtrack = this.#dpor && depth >= this.#splitDepth ? 1 << cpu : node.enabled & ~sleepMask;
    this.#begin(node, cpu);
    this.#pathLength = depth + 1;
    return node;
  }

  /** Starts exploring `cpu` at a node. */
  #begin(node: Node, cpu: number): void {
    node.cpu = cpu;
    node.kinds.length = 0;
    node.counts.length = 0;
    node.values.length = 0;
    node.alternatives = [];
    node.fresh = true;
    node.quiet = false;
  }

  /** The first CPU of `mask` in choice order at a node (−1 when empty). */
  #firstIn(node: Node, mask: number): number {
    const n = this.#cpus;
    for (let k = 1; k <= n; k++) {
      const cpu = (node.lastCpu + k) % n;
      if ((mask >>> cpu) & 1) return cpu;
    }
    return -1;
  }

  /** Takes note of the step just taken at `depth`. */
  #record(depth: number, node: Node): void {
    const driver = this.#driver;
    const cpu = node.cpu;
    const prev = this.#lastAt[cpu];
    this.#lastAt[cpu] = depth;
    if (!node.fresh) return;
    node.fresh = false;
    const viewsWritten = driver.viewsWritten;
    const step = new Footprint(
      cpu,
      driver.record.readAddress,
      driver.record.readSize,
      driver.record.writeAddress,
      driver.record.writeSize,
      driver.queuesRead,
      driver.queuesWritten,
      driver.viewRead,
      viewsWritten,
      viewsWritten === 0 ? null : driver.viewsBefore.slice(),
      viewsWritten === 0 ? null : driver.views.slice(),
      driver.global,
    );
    if (node.kinds[0] === "tick" && node.values[0] === 0) node.quiet = driver.quiet;
    node.alternatives.push({ values: node.values.slice(), step, quiet: driver.quiet });
    this.#steps[depth] = step;
    // A step that leaves another CPU unable to step conflicts with that
    // CPU's step, which this run never takes: try that CPU here too.
    const disabled = node.enabled & ~driver.steppable & ~(1 << cpu);
    if (this.#dpor && depth >= this.#splitDepth) node.backtrack |= disabled;
    this.#executed[depth] = driver.executed ? 1 : 0;
    this.#ticked[depth] = driver.ticked ? 1 : 0;
    this.#kinds[depth] = driver.newKinds;
    const n = this.#cpus;
    if (this.#clocks.length < (depth + 1) * n) {
      const grown = new Int32Array(this.#clocks.length * 2);
      grown.set(this.#clocks);
      this.#clocks = grown;
    }
    const clocks = this.#clocks;
    const base = depth * n;
    if (prev >= 0) clocks.copyWithin(base, prev * n, prev * n + n);
    else clocks.fill(0, base, base + n);
    const local = prev >= 0 ? this.#local[prev] + 1 : 1;
    this.#local[depth] = local;
    clocks[base + cpu] = local;
    this.#scan(step, clocks, base, depth);
    if (!this.#dpor) return;
    // A CPU that cannot step (idle, nothing to pull) would pull as soon as
    // a queue gains a task: that pending pull races with the queue changes
    // that do not happen before the CPU's last step, like a step would.
    for (let mask = ~driver.steppable & ((1 << n) - 1); mask !== 0; mask &= mask - 1) {
      const q = 31 - Math.clz32(mask & -mask);
      const last = this.#lastAt[q];
      const pending = this.#pending;
      if (last >= 0) pending.set(clocks.subarray(last * n, last * n + n));
      else pending.fill(0);
      this.#scan(this.#pendingPulls[q], pending, 0, depth + 1);
    }
  }

  /**
   * Scans the steps before position `end`, latest first, for those not yet
   * known to happen before `step` (whose clock is at `clock[base…]`): a
   * dependent one is a race (reversed, under DPOR) and happens before it.
   */
  #scan(step: Footprint, clock: Int32Array, base: number, end: number): void {
    const n = this.#cpus;
    const clocks = this.#clocks;
    for (let i = end - 1; i >= 0; i--) {
      const other = this.#steps[i];
      if (other.cpu === step.cpu || clock[base + other.cpu] >= this.#local[i]) continue;
      if (!dependent(other, step)) continue;
      if (this.#dpor && i >= this.#splitDepth) this.#reverse(i, end, step.cpu, clock, base);
      const from = i * n;
      for (let c = 0; c < n; c++) {
        if (clocks[from + c] > clock[base + c]) clock[base + c] = clocks[from + c];
      }
    }
  }

  /**
   * A race between the step at `i` and a step of `cj` taken at position
   * `end` (clock at `clock[base…]`): make sure the node at `i` will also
   * try a CPU that can start the reversed order (an initial of the steps
   * between that do not happen after `i`, followed by the racing step).
   */
  #reverse(i: number, end: number, cj: number, clock: Int32Array, base: number): void {
    const n = this.#cpus;
    const clocks = this.#clocks;
    const ci = this.#steps[i].cpu;
    const li = this.#local[i];
    const firstLocal = this.#firstLocal;
    let seen = 0;
    let initials = 0;
    for (let k = i + 1; k <= end; k++) {
      const last = k === end;
      const from = last ? clock : clocks;
      const at = last ? base : k * n;
      if (!last && from[at + ci] >= li) continue;
      const c = last ? cj : this.#steps[k].cpu;
      if ((seen >>> c) & 1) continue;
      let initial = true;
      for (let mask = seen; mask !== 0; mask &= mask - 1) {
        const r = 31 - Math.clz32(mask & -mask);
        if (from[at + r] >= firstLocal[r]) {
          initial = false;
          break;
        }
      }
      seen |= 1 << c;
      if (!last) firstLocal[c] = this.#local[k];
      if (initial) initials |= 1 << c;
    }
    const node = this.#nodes[i];
    const candidates = initials & node.enabled;
    if (candidates === 0 || (candidates & node.backtrack) !== 0) return;
    node.backtrack |= (candidates >>> cj) & 1 ? 1 << cj : candidates & -candidates;
  }

  /** A completed run: its class, final state and violations. */
  #finish(length: number): void {
    const driver = this.#driver;
    const result = this.result;
    const options = this.#options;
    result.completed++;
    result.classes.add(this.#classOf(length));
    result.finalStates.add(driver.port.stateHash(0));
    const lost = kindBit("lost-update");
    let kinds = 0;
    for (let d = 0; d < length; d++) kinds |= this.#kinds[d];
    if ((options.kinds & lost) !== 0 && driver.invariant() !== null) kinds |= lost;
    kinds &= options.kinds;
    if (kinds === 0) return;
    for (let k = 0; k < VIOLATION_KINDS.length; k++) {
      const bit = 1 << k;
      if ((kinds & bit) === 0) continue;
      let at = length - 1;
      if (bit !== lost) { while (at > 0 && (this.#kinds[at] & bit) === 0) at--; }
      this.#consider(VIOLATION_KINDS[k], at, length);
    }
  }

  /** A violation of `kind` at step `at`: kept when its causal prefix is the smallest yet. */
  #consider(kind: ViolationKind, at: number, length: number): void {
    const n = this.#cpus;
    const clocks = this.#clocks;
    const base = at * n;
    let preemptions = 0;
    let steps = 0;
    // A broken invariant is judged on the final state: everything is its past.
    const inPast = kind === "lost-update"
      ? () => true
      : (d: number) => clocks[base + this.#steps[d].cpu] >= this.#local[d];
    for (let d = 0; d <= at; d++) {
      if (!inPast(d)) continue;
      preemptions += this.#ticked[d];
      steps += this.#executed[d];
    }
    const best = this.result.best;
    if (!smaller({ preemptions, steps }, best.get(kind))) return;
    const plan: PlannedStep[] = [];
    const add = (d: number) => {
      const node = this.#nodes[d];
      plan.push({ cpu: node.cpu, kinds: node.kinds.slice(), values: node.values.slice() });
    };
    for (let d = 0; d <= at; d++) if (inPast(d)) add(d);
    for (let d = 0; d < length; d++) if (d > at || !inPast(d)) add(d);
    best.set(kind, { preemptions, steps, plan });
  }

  /**
   * The fingerprint of a completed run's equivalence class: its canonical
   * order (at each point the lowest CPU whose next step has all its
   * predecessors done), with each step's CPU and kernel choices. A tick
   * not taken is left out: whether it was offered depends on the order.
   */
  #classOf(length: number): number {
    const n = this.#cpus;
    const clocks = this.#clocks;
    const positions: number[][] = Array.from({ length: n }, () => []);
    for (let d = 0; d < length; d++) positions[this.#steps[d].cpu].push(d);
    const emitted = new Int32Array(n);
    const h = new Hasher();
    for (let count = 0; count < length; count++) {
      for (let c = 0; c < n; c++) {
        const d = positions[c][emitted[c]];
        if (d === undefined) continue;
        let ready = true;
        for (let r = 0; r < n && ready; r++) {
          if (r !== c && clocks[d * n + r] > emitted[r]) ready = false;
        }
        if (!ready) continue;
        emitted[c]++;
        const node = this.#nodes[d];
        h.word(c);
        for (let k = 0; k < node.kinds.length; k++) {
          const kind = node.kinds[k];
          if ((kind !== "tick" && kind !== "deferred-tick") || node.values[k] !== 0) {
            h.word(KIND_CODES[kind] * 0x10000 + node.values[k]);
          }
        }
        h.word(-1);
        break;
      }
    }
    return h.key;
  }

  /** Moves to the next run: another choice at the deepest node that has one. */
  #backtrack(): boolean {
    for (let depth = this.#pathLength - 1; depth >= 0; depth--) {
      const node = this.#nodes[depth];
      if (this.#nextChoice(node)) {
        this.#pathLength = depth + 1;
        node.fresh = true;
        return true;
      }
      const bit = 1 << node.cpu;
      node.done |= bit;
      this.#fallAsleep(node);
      node.sleepMask |= bit;
      if (node.alternatives.length === 0) {
        // Every alternative of this CPU was asleep after all: try the next CPU.
        const other = this.#firstIn(node, node.enabled & ~node.done & ~node.sleepMask);
        if (other >= 0) node.backtrack |= 1 << other;
      }
      const next = this.#firstIn(node, node.backtrack & ~node.done & ~node.sleepMask);
      if (next >= 0) {
        this.#begin(node, next);
        this.#pathLength = depth + 1;
        return true;
      }
    }
    this.#pathLength = 0;
    return false;
  }

  /** The node's CPU is done: its alternatives, explored or asleep, fall asleep together. */
  #fallAsleep(node: Node): void {
    const members: Alternative[] = [...node.alternatives];
    for (const sleeper of node.sleep) {
      if (sleeper.cpu === node.cpu && !members.some((m) => sameValues(m.values, sleeper.values))) {
        members.push(sleeper);
      }
    }
    const group: SleepGroup = { size: members.length };
    for (const m of members) {
      node.sleep.push({ cpu: node.cpu, values: m.values, step: m.step, quiet: m.quiet, group });
    }
  }

  /** The next untried kernel choice of a node's step (deepest first), if any. */
  #nextChoice(node: Node): boolean {
    const { kinds, counts, values } = node;
    for (let k = kinds.length - 1; k >= 0; k--) {
      kinds.length = counts.length = values.length = k + 1;
      const next = this.#firstAwake(node, k, values[k] + 1, counts[k], kinds[k]);
      if (next >= 0) {
        values[k] = next;
        return true;
      }
    }
    kinds.length = counts.length = values.length = 0;
    return false;
  }
}
