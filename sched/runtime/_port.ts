/**
 * The port into a machine for the schedule explorer and the playground:
 * what they need that users of {@linkcode Machine} never should — stepping
 * one CPU at a time with a description of each step, starting over with
 * new decisions, fingerprinting the state, and a read-only snapshot for a
 * UI. A machine opens its port when it is built; nothing here is
 * re-exported by `sched/mod.ts`.
 *
 * ## Stepping
 *
 * `machine.run()` steps every CPU once per machine cycle, CPU 0 first, then
 * ends the cycle. A driver can instead call {@linkcode MachinePort.step} for
 * the CPUs in any order and {@linkcode MachinePort.endCycle} whenever it
 * wants the clock to advance (sleeping tasks wake by the clock: a driver
 * that never ends a cycle never wakes them). What one step does is
 * described in `_scheduler.ts`: the scheduling at the CPU's next
 * instruction boundary (tick and its deferral, load balancing, preemption,
 * dispatch, newidle pull), then at most one instruction; every choice on
 * the way is asked of the machine's `Decisions`.
 *
 * @module
 */

import type { AccessProgram } from "../../lib/isa/access_program.ts";
import type { CpuContext } from "../../lib/_cpu_context.ts";
import type { Decisions } from "./decisions.ts";
import type { Machine } from "./machine.ts";
import type { RunStats } from "./run_stats.ts";
import type { RunState, SimCpu, TaskState } from "./_state.ts";
import type { StepOffers } from "./_step_offers.ts";
import type { StepRecord } from "./_step_record.ts";

export {
  STEP_BALANCE,
  STEP_DISPATCH,
  STEP_EXIT,
  STEP_IDLE,
  STEP_NEWIDLE,
  STEP_PREEMPT,
  STEP_RESUME,
  STEP_SLEEP,
  STEP_TICK,
  STEP_TICK_DEFERRED,
  STEP_YIELD,
  StepRecord,
} from "./_step_record.ts";
export { StepOffers } from "./_step_offers.ts";
export type { TaskState } from "./_state.ts";

/** One CPU, as a UI shows it. */
export interface CpuSnapshot {
  /** The CPU id. */
  readonly id: number;
  /** The running task's id, or −1 (idle). */
  readonly task: number;
  /** The running task's access under way, or `null` between accesses. */
  readonly program: AccessProgram | null;
  /** Index in `program` of the next instruction. */
  readonly pc: number;
  /** The per-CPU register's raw value. */
  readonly reg: number;
  /** The running task's preempt count (0 when idle). */
  readonly preemptCount: number;
  /** Need-resched is set. */
  readonly needResched: boolean;
  /** Local IRQs are enabled. */
  readonly irqEnabled: boolean;
  /** A tick arrived with IRQs disabled and waits for them (or is due now). */
  readonly pendingTick: boolean;
  /** The run queue, oldest first (task ids). */
  readonly queue: readonly number[];
}

/** One task, as a UI shows it. */
export interface TaskSnapshot {
  /** The task id. */
  readonly id: number;
  /** Its name (as given: escape it before display). */
  readonly name: string;
  /** Where it is in its life. */
  readonly state: TaskState;
  /** The CPU it runs on or last ran on, or −1. */
  readonly cpu: number;
  /** Its preempt count. */
  readonly preemptCount: number;
  /** Its access under way, or `null`. */
  readonly program: AccessProgram | null;
  /** Index in `program` of its next instruction. */
  readonly pc: number;
}

/** The machine at one instant, for a UI. */
export interface MachineSnapshot {
  /** Machine cycle. */
  readonly cycle: number;
  /** Instructions executed so far. */
  readonly instructions: number;
  /** Tasks that have not ended. */
  readonly live: number;
  /** Each CPU. */
  readonly cpus: readonly CpuSnapshot[];
  /** Each task, by id. */
  readonly tasks: readonly TaskSnapshot[];
}

/** A machine's internals, as the explorer and the playground see them. */
export interface MachinePort {
  /**
   * Steps one CPU: the scheduling at its next instruction boundary, then at
   * most one instruction. Installs the machine as the `KernelGuardIf` and
   * the CPU's registers as the system's current ones for the step.
   *
   * @param cpu A CPU id.
   * @param record A record to describe the step in, or `null` (nothing is
   *   allocated either way).
   * @throws {SimulationError} When the machine is running already, or its
   *   per-CPU system was initialised again since it was built.
   */
  step(cpu: number, record: StepRecord | null): void;
  /**
   * Ends a machine cycle: the clock advances, due sleepers are queued.
   *
   * @param record A record noting the queues woken tasks join (its other
   *   fields are left alone), or `null`.
   */
  endCycle(record: StepRecord | null): void;
  /**
   * What the next step of a CPU would meet, without taking it (read only;
   * also callable from inside a step's decisions).
   *
   * @param cpu A CPU id.
   * @param out Where to write.
   */
  offers(cpu: number, out: StepOffers): void;
  /** Machine cycles ended so far. */
  readonly cycle: number;
  /** Tasks that have not ended. */
  readonly live: number;
  /** Tasks spawned in this run (a task may spawn others). */
  readonly tasks: number;
  /** Tasks sleeping (they wake by the clock: {@linkcode MachinePort.endCycle}). */
  readonly sleeping: number;
  /**
   * How many things went wrong so far: wrong-CPU accesses, kernel misuse
   * reports and task failures, counted together. It only grows during a run,
   * so a driver notices a new one with one comparison per step and reads
   * {@linkcode MachinePort.stats} only then.
   */
  readonly issues: number;
  /** What the run has done so far (`stopped` while tasks remain). */
  stats(): RunStats;
  /** The state of every CPU and task, copied. */
  snapshot(): MachineSnapshot;
  /**
   * Starts over with no tasks and new decisions: re-initialises the areas
   * (the template is copied again), resets every CPU, the trace and the
   * counters, and turns on the hashing that {@linkcode MachinePort.stateHash}
   * needs.
   */
  reset(decisions: Decisions): void;
  /** A 53-bit fingerprint of everything that decides what happens next (after `reset`). */
  stateHash(extra: number): number;
  /** Changes whenever a run queue gains a task. */
  readonly queueEpoch: number;
  /** Each simulated CPU's registers. */
  readonly cpuContexts: readonly CpuContext[];
}

/**
 * Copies the state of every CPU and task (a UI's view; allocates).
 *
 * @param state The run.
 * @param cpus The CPUs.
 * @returns The snapshot.
 */
export function snapshotOf(state: RunState, cpus: readonly SimCpu[]): MachineSnapshot {
  return {
    cycle: state.cycle,
    instructions: state.instructions,
    live: state.live,
    cpus: cpus.map((cpu) => {
      const task = cpu.current;
      return {
        id: cpu.id,
        task: task?.id ?? -1,
        program: task?.request?.entry.program ?? null,
        pc: task?.request ? task.pc : 0,
        reg: cpu.context.reg,
        preemptCount: task?.preemptCount ?? 0,
        needResched: cpu.needResched,
        irqEnabled: cpu.irqEnabled,
        pendingTick: cpu.pendingTick || cpu.tickDue,
        queue: cpu.queue.map((t) => t.id),
      };
    }),
    tasks: state.tasks.map((task) => ({
      id: task.id,
      name: task.name,
      state: task.state,
      cpu: task.lastCpu,
      preemptCount: task.preemptCount,
      program: task.request?.entry.program ?? null,
      pc: task.request ? task.pc : 0,
    })),
  };
}

const ports = new WeakMap<Machine, MachinePort>();

/**
 * Registers a machine's port (called once, by its constructor).
 *
 * @param machine The machine.
 * @param port Its internals.
 */
export function openMachinePort(machine: Machine, port: MachinePort): void {
  ports.set(machine, port);
}

/**
 * The port of a machine.
 *
 * @param machine A machine.
 * @returns Its internals.
 */
export function machinePort(machine: Machine): MachinePort {
  return ports.get(machine)!;
}
