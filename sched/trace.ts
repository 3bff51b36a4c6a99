/**
 * What happened during a simulation: a list of events (when recorded) and a
 * hash over all of them, so two runs can be compared exactly without keeping
 * their events.
 *
 * @module
 */

/** A task was put on a CPU. */
export interface DispatchEvent {
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
export interface PreemptEvent {
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
export interface MigrateEvent {
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
export interface LeaveEvent {
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
export interface TickEvent {
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
export interface GuardEvent {
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
export interface IrqEvent {
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

/** A task wrote a system register (a guest's `msr TPIDR_EL1`, say). */
export interface SysregEvent {
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
export interface MisuseEvent {
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
}

/** Every event a simulation records. */
export type SimEvent =
  | DispatchEvent
  | PreemptEvent
  | MigrateEvent
  | LeaveEvent
  | TickEvent
  | GuardEvent
  | IrqEvent
  | AccessEvent
  | SysregEvent
  | MisuseEvent;

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
  #h1 = 0x811c9dc5;
  #h2 = 0x050c5d1f;

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
    return (this.#h1 >>> 0).toString(16).padStart(8, "0") +
      (this.#h2 >>> 0).toString(16).padStart(8, "0");
  }

  #mix(code: number, cycle: number, cpu: number, task: number, payload: number): void {
    this.#word(code);
    this.#word(cycle);
    this.#word(cpu);
    this.#word(task);
    this.#word(payload % 0x1_0000_0000);
    this.#word(payload / 0x1_0000_0000);
  }

  #word(value: number): void {
    const w = value | 0;
    this.#h1 = Math.imul(this.#h1 ^ w, 0x01000193);
    const h2 = Math.imul(this.#h2 ^ w, 0x5bd1e995);
    this.#h2 = h2 ^ (h2 >>> 15);
  }

  /**
   * Hashes an event and keeps it when recording.
   *
   * @param event The event, built only when `events` is not `null`.
   */
  push(event: SimEvent): void {
    this.#mix(CODES[event.kind], event.cycle, event.cpu, event.task, payloadOf(event));
    this.events?.push(event);
  }

  /**
   * Hashes a memory access without building an event object unless recording:
   * the simulator's hottest path.
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
    this.events?.push({
      kind: "access",
      cycle,
      cpu,
      task,
      address,
      hitCpu,
      write,
      text,
      remote,
      wrong,
    });
  }
}

function payloadOf(event: SimEvent): number {
  switch (event.kind) {
    case "preempt":
      return event.target;
    case "migrate":
      return event.from;
    case "tick":
      return TICK_OUTCOMES[event.outcome];
    case "guard":
      return event.count;
    case "irq":
      return event.enabled ? 1 : 0;
    case "access":
      return event.address;
    case "sysreg":
      return event.value;
    default:
      return 0;
  }
}
