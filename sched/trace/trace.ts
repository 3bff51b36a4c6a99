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
    /** Preempted now, or deferred by a non-zero preempt count or disabled IRQs. */
    readonly outcome: "preempt" | "deferred-guard" | "deferred-irq";
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
};
const TICK_OUTCOMES = { "preempt": 0, "deferred-guard": 1, "deferred-irq": 2 } as const;

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
    hasher.word(code | (cpu << 5) | (task << 12));
    hasher.word(cycle);
    hasher.number(payload);
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
  tick(
    cycle: number,
    cpu: number,
    task: number,
    outcome: "preempt" | "deferred-guard" | "deferred-irq",
  ): void {
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
