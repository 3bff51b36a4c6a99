/**
 * What happened during a simulation: a list of events (when recorded) and a
 * hash over all of them, so two runs can be compared exactly without keeping
 * their events.
 *
 * @module
 */

import { Hasher } from "./_hasher.ts";

/** A memory access by an instruction of a per-CPU access sequence. */
export interface AccessEvent {
  /** Event kind. */
  readonly kind: "access";
  /** Machine cycle. */
  readonly cycle: number;
  /** The CPU that executed the instruction. */
  readonly cpu: number;
  /** The task id. */
  readonly task: number;
  /** The simulated address. */
  readonly address: number;
  /** The CPU whose area holds the address, or −1 for memory outside every area. */
  readonly hitCpu: number;
  /** Whether the instruction wrote memory. */
  readonly write: boolean;
  /** The instruction. */
  readonly text: string;
  /** A deliberate remote access (`remote-*`), which may hit another CPU. */
  readonly remote: boolean;
  /** A local access that hit another CPU's area (or no area): a violation. */
  readonly wrong: boolean;
}

/**
 * Every event a simulation records, told apart by `kind`.
 */
export type SimEvent =
  /** A task was put on a CPU. */
  | {
    /** Event kind. */
    readonly kind: "dispatch";
    /** Machine cycle (every CPU executes at most one instruction per cycle). */
    readonly cycle: number;
    /** The CPU. */
    readonly cpu: number;
    /** The task id. */
    readonly task: number;
  }
  /** A task was taken off its CPU by a timer tick and queued on `target`. */
  | {
    /** Event kind. */
    readonly kind: "preempt";
    /** Machine cycle. */
    readonly cycle: number;
    /** The CPU it was running on. */
    readonly cpu: number;
    /** The task id. */
    readonly task: number;
    /** The CPU whose run queue it joined. */
    readonly target: number;
  }
  /**
   * A queued task was moved to another CPU's run queue: by periodic load
   * balancing (from a tick on `cpu`) or by `cpu` about to go idle (newidle).
   */
  | {
    /** Event kind. */
    readonly kind: "pull";
    /** Machine cycle. */
    readonly cycle: number;
    /** The pulling CPU, whose queue the task joined. */
    readonly cpu: number;
    /** The task id. */
    readonly task: number;
    /** The CPU whose queue it left. */
    readonly from: number;
    /** `balance` (periodic, from the tick) or `newidle`. */
    readonly reason: "balance" | "newidle";
  }
  /** A task starts running on a different CPU than last time. */
  | {
    /** Event kind. */
    readonly kind: "migrate";
    /** Machine cycle. */
    readonly cycle: number;
    /** The new CPU. */
    readonly cpu: number;
    /** The task id. */
    readonly task: number;
    /** The CPU it last ran on. */
    readonly from: number;
  }
  /** A task left its CPU of its own accord, or ended. */
  | {
    /** `yield` (sched_yield), `sleep`, `exit` or `fail`. */
    readonly kind: "yield" | "sleep" | "exit" | "fail";
    /** Machine cycle. */
    readonly cycle: number;
    /** The CPU. */
    readonly cpu: number;
    /** The task id. */
    readonly task: number;
    /** For `fail`: the error message. */
    readonly message?: string;
  }
  /** A timer tick on a CPU, and what it did. */
  | {
    /** Event kind. */
    readonly kind: "tick";
    /** Machine cycle. */
    readonly cycle: number;
    /** The CPU. */
    readonly cpu: number;
    /** The running task. */
    readonly task: number;
    /**
     * `preempt`: the task was switched out; `deferred-guard`: need-resched
     * is set and waits for the preempt count to return to 0;
     * `deferred-irq`: IRQs are disabled, the tick waits for them;
     * `alone`: nothing else is runnable on the CPU, the task runs on.
     */
    readonly outcome: "preempt" | "deferred-guard" | "deferred-irq" | "alone";
  }
  /** A task's preempt count changed (a guard was taken or released). */
  | {
    /** Event kind. */
    readonly kind: "guard";
    /** Machine cycle. */
    readonly cycle: number;
    /** The CPU. */
    readonly cpu: number;
    /** The task id. */
    readonly task: number;
    /** The preempt count after the change. */
    readonly count: number;
  }
  /** A CPU's IRQs were disabled or re-enabled. */
  | {
    /** Event kind. */
    readonly kind: "irq";
    /** Machine cycle. */
    readonly cycle: number;
    /** The CPU. */
    readonly cpu: number;
    /** The task id. */
    readonly task: number;
    /** Whether IRQs are enabled after the change. */
    readonly enabled: boolean;
  }
  | AccessEvent
  /** A task wrote a system register (a guest's `msr TPIDR_EL1`, say). */
  | {
    /** Event kind. */
    readonly kind: "sysreg";
    /** Machine cycle. */
    readonly cycle: number;
    /** The CPU. */
    readonly cpu: number;
    /** The task id. */
    readonly task: number;
    /** The register's name. */
    readonly reg: string;
    /** The value written. */
    readonly value: number;
  }
  /** Misuse the kernel would report: scheduling while atomic, underflow, … */
  | {
    /** Event kind. */
    readonly kind: "misuse";
    /** Machine cycle. */
    readonly cycle: number;
    /** The CPU. */
    readonly cpu: number;
    /** The task id. */
    readonly task: number;
    /** What went wrong, as a kernel message. */
    readonly message: string;
  };

const CODES: Record<SimEvent["kind"], number> = {
  dispatch: 1,
  preempt: 2,
  migrate: 3,
  yield: 4,
  sleep: 5,
  exit: 6,
  fail: 7,
  tick: 8,
  guard: 9,
  irq: 10,
  access: 11,
  sysreg: 12,
  misuse: 13,
  pull: 14,
};

/** What a tick did. */
type TickOutcome = Extract<SimEvent, { kind: "tick" }>["outcome"];
const TICK_OUTCOMES: Record<TickOutcome, number> = {
  "preempt": 0,
  "deferred-guard": 1,
  "deferred-irq": 2,
  "alone": 3,
};
const PULL_REASONS = { balance: 0, newidle: 1 } as const;

/**
 * Records events and hashes them. The hash covers every event whether or
 * not events are kept, so a long run can be fingerprinted cheaply.
 */
export class Trace {
  /** The events, in order; `null` when recording is off. */
  readonly events: SimEvent[] | null;
  readonly #hasher = new Hasher();

  /**
   * Creates an empty trace.
   *
   * @param record Whether to keep the events (the hash is always kept).
   */
  constructor(record: boolean) {
    this.events = record ? [] : null;
  }

  /** A 16-hex-digit hash of every event so far. */
  get hash(): string {
    return this.#hasher.hex;
  }

  #mix(code: number, cycle: number, cpu: number, task: number, payload: number): void {
    const hasher = this.#hasher;
    hasher.words3(code | (cpu << 5) | (task << 12), cycle, payload);
    // Payloads beyond 32 bits (large addresses, register values) add their high part.
    if ((payload | 0) !== payload) hasher.number(payload);
  }

  #keep(event: SimEvent): void {
    this.events!.push(event);
  }

  /**
   * A task was put on a CPU.
   *
   * @param cycle Machine cycle.
   * @param cpu The CPU.
   * @param task The task.
   */
  dispatch(cycle: number, cpu: number, task: number): void {
    this.#mix(CODES.dispatch, cycle, cpu, task, 0);
    if (this.events) this.#keep({ kind: "dispatch", cycle, cpu, task });
  }

  /**
   * A tick took a task off its CPU.
   *
   * @param cycle Machine cycle.
   * @param cpu The CPU.
   * @param task The task.
   * @param target The CPU whose queue it joined.
   */
  preempt(cycle: number, cpu: number, task: number, target: number): void {
    this.#mix(CODES.preempt, cycle, cpu, task, target);
    if (this.events) this.#keep({ kind: "preempt", cycle, cpu, task, target });
  }

  /**
   * A queued task moved to another CPU's queue.
   *
   * @param cycle Machine cycle.
   * @param cpu The pulling CPU.
   * @param task The task.
   * @param from The CPU whose queue it left.
   * @param reason Periodic balancing or newidle.
   */
  pull(
    cycle: number,
    cpu: number,
    task: number,
    from: number,
    reason: "balance" | "newidle",
  ): void {
    this.#mix(CODES.pull, cycle, cpu, task, from * 2 + PULL_REASONS[reason]);
    if (this.events) this.#keep({ kind: "pull", cycle, cpu, task, from, reason });
  }

  /**
   * A task runs on a different CPU than last time.
   *
   * @param cycle Machine cycle.
   * @param cpu The new CPU.
   * @param task The task.
   * @param from The CPU it last ran on.
   */
  migrate(cycle: number, cpu: number, task: number, from: number): void {
    this.#mix(CODES.migrate, cycle, cpu, task, from);
    if (this.events) this.#keep({ kind: "migrate", cycle, cpu, task, from });
  }

  /**
   * A task yielded, slept, exited or failed.
   *
   * @param kind Which.
   * @param cycle Machine cycle.
   * @param cpu The CPU.
   * @param task The task.
   * @param message For `fail`, the error message.
   */
  leave(
    kind: "yield" | "sleep" | "exit" | "fail",
    cycle: number,
    cpu: number,
    task: number,
    message?: string,
  ): void {
    this.#mix(CODES[kind], cycle, cpu, task, 0);
    if (this.events) {
      this.#keep(
        message === undefined ? { kind, cycle, cpu, task } : { kind, cycle, cpu, task, message },
      );
    }
  }

  /**
   * A timer tick.
   *
   * @param cycle Machine cycle.
   * @param cpu The CPU.
   * @param task The running task.
   * @param outcome What it did.
   */
  tick(cycle: number, cpu: number, task: number, outcome: TickOutcome): void {
    this.#mix(CODES.tick, cycle, cpu, task, TICK_OUTCOMES[outcome]);
    if (this.events) this.#keep({ kind: "tick", cycle, cpu, task, outcome });
  }

  /**
   * A preempt count changed.
   *
   * @param cycle Machine cycle.
   * @param cpu The CPU.
   * @param task The task.
   * @param count The new count.
   */
  guard(cycle: number, cpu: number, task: number, count: number): void {
    this.#mix(CODES.guard, cycle, cpu, task, count);
    if (this.events) this.#keep({ kind: "guard", cycle, cpu, task, count });
  }

  /**
   * IRQs were disabled or enabled.
   *
   * @param cycle Machine cycle.
   * @param cpu The CPU.
   * @param task The task.
   * @param enabled The new state.
   */
  irq(cycle: number, cpu: number, task: number, enabled: boolean): void {
    this.#mix(CODES.irq, cycle, cpu, task, enabled ? 1 : 0);
    if (this.events) this.#keep({ kind: "irq", cycle, cpu, task, enabled });
  }

  /**
   * A system register was written.
   *
   * @param cycle Machine cycle.
   * @param cpu The CPU.
   * @param task The task.
   * @param reg The register.
   * @param value The value.
   */
  sysreg(cycle: number, cpu: number, task: number, reg: string, value: number): void {
    this.#mix(CODES.sysreg, cycle, cpu, task, value);
    if (this.events) this.#keep({ kind: "sysreg", cycle, cpu, task, reg, value });
  }

  /**
   * The kernel reported misuse.
   *
   * @param cycle Machine cycle.
   * @param cpu The CPU.
   * @param task The task.
   * @param message The report.
   */
  misuse(cycle: number, cpu: number, task: number, message: string): void {
    this.#mix(CODES.misuse, cycle, cpu, task, 0);
    if (this.events) this.#keep({ kind: "misuse", cycle, cpu, task, message });
  }

  /**
   * A memory access by an access sequence: the simulator's hottest path, so
   * no object is built unless recording.
   *
   * @param cycle Machine cycle.
   * @param cpu Executing CPU.
   * @param task Task id.
   * @param address Simulated address.
   * @param hitCpu Area owner, or −1.
   * @param write Whether it is a store.
   * @param text The instruction.
   * @param remote A deliberate remote access.
   * @param wrong A violation.
   */
  access(
    cycle: number,
    cpu: number,
    task: number,
    address: number,
    hitCpu: number,
    write: boolean,
    text: string,
    remote: boolean,
    wrong: boolean,
  ): void {
    this.#mix(CODES.access, cycle, cpu, task, address * 4 + (write ? 2 : 0) + (wrong ? 1 : 0));
    if (this.events) {
      this.#keep({ kind: "access", cycle, cpu, task, address, hitCpu, write, text, remote, wrong });
    }
  }
}
