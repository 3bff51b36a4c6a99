/**
 * The options of a simulation, and how they are filled in and checked.
 *
 * @module
 */

import { type Arch, ARCHES, type Feature, FEATURES } from "../../lib/arch.ts";
import { valueText } from "../../lib/_describe.ts";
import { POLICIES, type Policy } from "../runtime/decisions.ts";
import { ACCESS_MODES, type AccessMode, type ScenarioName, SCENARIOS } from "./scenario.ts";

/** Options of {@linkcode simulate}; every field has a default. */
export interface SimOptions {
  /** Architecture (default `x86_64`). */
  readonly arch?: Arch;
  /** Crate features (default none). */
  readonly features?: readonly Feature[];
  /** `cooperative` or `preemptive` (default). */
  readonly policy?: Policy;
  /** CPUs (default 2; 1 under `sp-naive`). */
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
  /** Keep the events for a timeline (default `false`). */
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
}

function oneOf<T extends string>(value: unknown, accepted: readonly T[], option: string): T {
  if (!accepted.includes(value as T)) {
    throw new RangeError(
      `--${option} must be one of ${accepted.join(", ")}, got ${valueText(value)}`,
    );
  }
  return value as T;
}

function count(value: unknown, option: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `--${option} must be an integer from ${min} to ${max}, got ${valueText(value)}`,
    );
  }
  return value;
}

/**
 * Fills in and checks simulation options.
 *
 * @param options The options given.
 * @returns Every option with its value.
 * @throws {RangeError} Naming the first bad option and what it accepts.
 */
export function resolveSimOptions(options: SimOptions = {}): ResolvedSimOptions {
  const arch = oneOf(options.arch ?? "x86_64", ARCHES, "arch");
  const features = options.features ?? [];
  if (!Array.isArray(features)) {
    throw new RangeError(
      `--features must be a list of ${FEATURES.join(", ")}, got ${valueText(features)}`,
    );
  }
  for (const feature of features) oneOf(feature, FEATURES, "features");
  const naive = features.includes("sp-naive");
  const cpus = count(options.cpus ?? (naive ? 1 : 2), "cpus", 1, 64);
  if (naive && cpus !== 1) {
    throw new RangeError(`--cpus must be 1 with sp-naive (one CPU, plain globals), got ${cpus}`);
  }
  const scenario = oneOf(options.scenario ?? "counter", SCENARIOS, "scenario");
  if (scenario === "el2-guest" && arch !== "aarch64") {
    throw new RangeError(`--scenario el2-guest needs --arch aarch64, got ${arch}`);
  }
  return {
    arch,
    features: FEATURES.filter((f) => features.includes(f)),
    policy: oneOf(options.policy ?? "preemptive", POLICIES, "policy"),
    cpus,
    tasks: count(options.tasks ?? 4, "tasks", 1, 1024),
    iters: count(options.iters ?? 100, "iters", 1, 10_000_000),
    quantum: count(options.quantum ?? 10, "quantum", 1, 1_000_000),
    seed: count(options.seed ?? 1, "seed", 0, Number.MAX_SAFE_INTEGER),
    access: oneOf(options.access ?? "with-current", ACCESS_MODES, "access"),
    scenario,
  };
}
