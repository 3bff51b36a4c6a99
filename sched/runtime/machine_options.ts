/**
 * The options of a {@linkcode Machine} and of its tasks, and how they are
 * filled in and checked.
 *
 * @module
 */

import { checkInteger, checkOneOf, checkOptions } from "../../lib/_check.ts";
import { describeSafely } from "../_safe.ts";
import type { Percpu } from "../../lib/percpu.ts";
import { type CorePort, portOf } from "../../lib/_port.ts";
import { type Decisions, POLICIES, type Policy, SeededPolicy } from "./decisions.ts";

/** Options of {@linkcode Machine}. */
export interface MachineOptions {
  /** The per-CPU system; its variables must be defined already (the machine calls `init`). */
  readonly percpu: Percpu;
  /** Number of CPUs, up to what the system supports (default 2, or 1 if that is its limit). */
  readonly cpus?: number;
  /** `preemptive` (default, Linux-like), `cooperative` or `stress`. */
  readonly policy?: Policy;
  /** Mean instructions between timer ticks on a CPU (default 10). */
  readonly quantum?: number;
  /** PRNG seed, any safe integer (default 1): same options and seed, same trace. */
  readonly seed?: number;
  /** `stress`: probability that a preempted task is queued on another CPU (default 0.5). */
  readonly migration?: number;
  /** Probability that an idle CPU pulls a waiting task at a step (default 0.5). */
  readonly steal?: number;
  /**
   * Keep every event in memory for timelines and `machine.events` (default
   * `false`: only the trace hash is kept). Costs about 100 bytes per event,
   * and a run makes about 0.8 events per instruction: a 10M-instruction run
   * keeps about 800 MB.
   */
  readonly record?: boolean;
  /** Stop after this many cycles (default 10 000 000). */
  readonly maxCycles?: number;
  /**
   * Makes the scheduling choices instead of the timer and the seeded PRNG
   * (the schedule explorer uses this); `quantum`, `seed`, `migration` and
   * `steal` then do not apply. `policy` still says which choices exist.
   */
  readonly decisions?: Decisions;
}

/** Options of {@linkcode Machine.spawn}. */
export interface SpawnOptions {
  /** A name for reports (default `task<id>`). */
  readonly name?: string;
  /** The CPU whose run queue it starts on (default: round robin). */
  readonly cpu?: number;
}

/** Every {@linkcode MachineOptions} key. */
const MACHINE_KEYS = [
  "percpu",
  "cpus",
  "policy",
  "quantum",
  "seed",
  "migration",
  "steal",
  "record",
  "maxCycles",
  "decisions",
] as const;

const DECISION_METHODS = ["tick", "pick", "balance", "newidle", "migrate"] as const;

/** The options a machine runs with. */
export interface ResolvedMachineOptions {
  readonly percpu: Percpu;
  readonly port: CorePort;
  readonly cpus: number;
  readonly policy: Policy;
  readonly record: boolean;
  readonly maxCycles: number;
  readonly decisions: Decisions;
}

/** The most CPUs a machine simulates. */
export const MAX_MACHINE_CPUS = 64;

/**
 * Fills in and checks a machine's options.
 *
 * @param options The options given.
 * @returns Every option with its value, and the decisions to use.
 * @throws {TypeError} On a missing system, a wrong type or an unknown option.
 * @throws {RangeError} On a value out of range.
 */
export function resolveMachineOptions(options: MachineOptions): ResolvedMachineOptions {
  const given = checkOptions(options, MACHINE_KEYS, "Machine");
  let port: CorePort;
  try {
    port = portOf(given.percpu);
  } catch {
    throw new TypeError(
      `Machine: percpu must be a per-CPU system made by createPercpu(), got ${
        describeSafely(given.percpu)
      }`,
    );
  }
  const percpu = given.percpu!;
  const limit = Math.min(MAX_MACHINE_CPUS, port.cpuLimit);
  const cpus = given.cpus ?? Math.min(2, limit);
  if (
    limit < MAX_MACHINE_CPUS && typeof cpus === "number" && Number.isSafeInteger(cpus) &&
    cpus > limit
  ) {
    throw new RangeError(
      `Machine: cpus must be an integer from 1 to ${limit} (this system has at most ${limit} CPU${
        limit === 1 ? "" : "s"
      }), got ${describeSafely(cpus)}`,
    );
  }
  checkInteger(cpus, "Machine: cpus", 1, limit);
  const policy = checkOneOf(given.policy ?? "preemptive", POLICIES, "Machine: policy");
  const record = given.record ?? false;
  if (typeof record !== "boolean") {
    throw new TypeError(`Machine: record must be a boolean, got ${describeSafely(record)}`);
  }
  const maxCycles = checkInteger(given.maxCycles ?? 10_000_000, "Machine: maxCycles", 1);
  let decisions = given.decisions;
  if (decisions === undefined) {
    const seed = checkInteger(given.seed ?? 1, "Machine: seed", Number.MIN_SAFE_INTEGER);
    decisions = new SeededPolicy({
      policy,
      quantum: checkInteger(given.quantum ?? 10, "Machine: quantum", 1, 1_000_000),
      seed,
      migration: given.migration ?? 0.5,
      steal: given.steal ?? 0.5,
      cpus,
    });
  } else {
    checkDecisions(decisions);
  }
  return { percpu, port, cpus, policy, record, maxCycles, decisions };
}

function checkDecisions(decisions: unknown): asserts decisions is Decisions {
  if (typeof decisions !== "object" || decisions === null) {
    throw new TypeError(
      `Machine: decisions must be an object with ${DECISION_METHODS.join(", ")}, got ${
        describeSafely(decisions)
      }`,
    );
  }
  for (const method of DECISION_METHODS) {
    const value = (decisions as Record<string, unknown>)[method];
    if (typeof value !== "function") {
      throw new TypeError(
        `Machine: decisions.${method} must be a function, got ${describeSafely(value)}`,
      );
    }
  }
}

/**
 * Checks a task's spawn options.
 *
 * @param options The options given.
 * @param id The task's id (for the default name).
 * @param cpus The machine's CPU count.
 * @returns The name and the starting CPU.
 * @throws {TypeError} On a wrong type or an unknown option.
 * @throws {RangeError} On a CPU out of range.
 */
export function resolveSpawnOptions(
  options: SpawnOptions | undefined,
  id: number,
  cpus: number,
): { name: string; cpu: number } {
  const given = checkOptions(options, ["name", "cpu"], "spawn");
  const name = given.name ?? `task${id}`;
  if (typeof name !== "string") {
    throw new TypeError(`spawn: name must be a string, got ${describeSafely(name)}`);
  }
  const cpu = checkInteger(given.cpu ?? id % cpus, "spawn: cpu", 0, cpus - 1);
  return { name, cpu };
}
