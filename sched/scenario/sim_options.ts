/**
 * The options of a simulation, and how they are filled in and checked.
 *
 * @module
 */

import { type Arch, ARCHES, type Feature, FEATURES } from "../../lib/arch.ts";
import { checkInteger, checkOneOf, checkOptions } from "../../lib/_check.ts";
import { describeSafely } from "../_safe.ts";
import { createPercpu } from "../../lib/percpu.ts";
import { portOf } from "../../lib/_port.ts";
import { POLICIES, type Policy } from "../runtime/decisions.ts";
import { MAX_MACHINE_CPUS } from "../runtime/machine_options.ts";
import { ACCESS_MODES, type AccessMode, type ScenarioName, SCENARIOS } from "./scenario.ts";

/** Options of {@linkcode simulate}; every field has a default. */
export interface SimOptions {
  /** Architecture (default `x86_64`). */
  readonly arch?: Arch;
  /** Crate features (default none). */
  readonly features?: readonly Feature[];
  /** `preemptive` (default, Linux-like), `cooperative` or `stress`. */
  readonly policy?: Policy;
  /** CPUs (default 2, or the system's limit when lower: 1 under `sp-naive`). */
  readonly cpus?: number;
  /** Counting tasks (default 4). */
  readonly tasks?: number;
  /** Increments per task (default 100). */
  readonly iters?: number;
  /** Mean instructions between timer ticks (default 10). */
  readonly quantum?: number;
  /** PRNG seed (default 1). */
  readonly seed?: number;
  /** How tasks increment (default `with-current`). */
  readonly access?: AccessMode;
  /** Which scenario (default `counter`). */
  readonly scenario?: ScenarioName;
  /** Stop after this many machine cycles (default 10 000 000): the run is then incomplete. */
  readonly maxCycles?: number;
  /**
   * Keep the events for a timeline (default `false`). Costs about 80 bytes
   * per instruction: a 10M-instruction run keeps about 800 MB.
   */
  readonly record?: boolean;
  /**
   * Replay this schedule string (from an exploration with the same
   * options) instead of using the timer: `policy`, `quantum` and `seed`
   * then do not apply.
   */
  readonly schedule?: string;
}

/** The options a simulation actually ran with. */
export interface ResolvedSimOptions {
  /** Architecture. */
  readonly arch: Arch;
  /** Features, in canonical order. */
  readonly features: readonly Feature[];
  /** Policy. */
  readonly policy: Policy;
  /** CPUs. */
  readonly cpus: number;
  /** Counting tasks. */
  readonly tasks: number;
  /** Increments per task. */
  readonly iters: number;
  /** Timer quantum. */
  readonly quantum: number;
  /** Seed. */
  readonly seed: number;
  /** Access mode. */
  readonly access: AccessMode;
  /** Scenario. */
  readonly scenario: ScenarioName;
  /** Cycle limit. */
  readonly maxCycles: number;
}

/** Every option of {@linkcode SimOptions}. */
export const SIM_OPTION_KEYS: readonly (keyof SimOptions)[] = [
  "arch",
  "features",
  "policy",
  "cpus",
  "tasks",
  "iters",
  "quantum",
  "seed",
  "access",
  "scenario",
  "maxCycles",
  "record",
  "schedule",
];

/**
 * Fills in and checks simulation options.
 *
 * @param options The options given.
 * @returns Every option with its value.
 * @throws {TypeError} On an option of the wrong type, or an unknown option.
 * @throws {RangeError} Naming the first option out of range and what it accepts.
 */
export function resolveSimOptions(options: SimOptions = {}): ResolvedSimOptions {
  const given = checkOptions(options, SIM_OPTION_KEYS, "simulation");
  const arch = checkOneOf(given.arch ?? "x86_64", ARCHES, "arch");
  const features = given.features ?? [];
  if (!Array.isArray(features)) {
    throw new TypeError(
      `features must be a list of ${FEATURES.join(", ")}, got ${describeSafely(features)}`,
    );
  }
  for (const feature of features) checkOneOf(feature, FEATURES, "features");
  const canonical = FEATURES.filter((f) => features.includes(f));
  const limit = Math.min(
    MAX_MACHINE_CPUS,
    portOf(createPercpu({ arch, features: canonical })).cpuLimit,
  );
  const cpus = given.cpus ?? Math.min(2, limit);
  if (limit < MAX_MACHINE_CPUS && Number.isSafeInteger(cpus) && (cpus as number) > limit) {
    throw new RangeError(
      `cpus must be an integer from 1 to ${limit} with features ${
        canonical.join(", ")
      } (at most ${limit} CPU${limit === 1 ? "" : "s"}), got ${describeSafely(cpus)}`,
    );
  }
  checkInteger(cpus, "cpus", 1, limit);
  const scenario = checkOneOf(given.scenario ?? "counter", SCENARIOS, "scenario");
  if (scenario === "el2-guest" && arch !== "aarch64") {
    throw new RangeError(
      `scenario el2-guest needs arch aarch64 (TPIDR_EL1 and TPIDR_EL2), got ${
        describeSafely(arch)
      }`,
    );
  }
  const record = given.record ?? false;
  if (typeof record !== "boolean") {
    throw new TypeError(`record must be a boolean, got ${describeSafely(record)}`);
  }
  if (given.schedule !== undefined && typeof given.schedule !== "string") {
    throw new TypeError(`schedule must be a string, got ${describeSafely(given.schedule)}`);
  }
  return {
    arch,
    features: canonical,
    policy: checkOneOf(given.policy ?? "preemptive", POLICIES, "policy"),
    cpus,
    tasks: checkInteger(given.tasks ?? 4, "tasks", 1, 1024),
    iters: checkInteger(given.iters ?? 100, "iters", 1, 10_000_000),
    quantum: checkInteger(given.quantum ?? 10, "quantum", 1, 1_000_000),
    seed: checkInteger(given.seed ?? 1, "seed", 0),
    access: checkOneOf(given.access ?? "with-current", ACCESS_MODES, "access"),
    scenario,
    maxCycles: checkInteger(given.maxCycles ?? 10_000_000, "maxCycles", 1),
  };
}
