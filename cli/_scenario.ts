/**
 * The flags that pick a built-in scenario, shared by `sim` and `explore`,
 * with the CLI's defaults. The CLI passes every option explicitly, so what
 * it prints (help, JSON, replay commands) is exactly what ran.
 *
 * @module
 */

import { type Arch, ARCHES, type Feature, FEATURES } from "../mod.ts";
import { ACCESS_MODES, type AccessMode, type ScenarioName, SCENARIOS } from "../sched/mod.ts";
import type { Flags, FlagValues } from "./_args.ts";

/** A scenario, every option filled in. */
export interface ScenarioSettings {
  /** Architecture. */
  readonly arch: Arch;
  /** Features, in the order of `FEATURES`. */
  readonly features: readonly Feature[];
  /** Simulated CPUs. */
  readonly cpus: number;
  /** Counting tasks. */
  readonly tasks: number;
  /** Increments per task. */
  readonly iters: number;
  /** How tasks increment. */
  readonly access: AccessMode;
  /** Which scenario. */
  readonly scenario: ScenarioName;
}

/** Where a command's defaults differ: how many CPUs, tasks and increments. */
export interface SizeDefaults {
  /** CPUs (1 under `sp-naive`, whatever this says). */
  readonly cpus: number;
  /** Counting tasks. */
  readonly tasks: number;
  /** Increments per task. */
  readonly iters: number;
}

/** Ranges of the integer flags; a test checks that the simulator agrees. */
export const RANGES = {
  cpus: [1, 64],
  tasks: [1, 1024],
  iters: [1, 10_000_000],
  quantum: [1, 1_000_000],
  seed: [0, Number.MAX_SAFE_INTEGER],
} as const satisfies Record<string, readonly [number, number]>;

const DEFAULTS = { arch: "x86_64", access: "with-current", scenario: "counter" } as const;

/** `sim`'s sizes; `replayFlags` names only what differs from them. */
export const SIM_SIZES: SizeDefaults = { cpus: 2, tasks: 4, iters: 100 };

/**
 * The scenario flags' help, with a command's defaults.
 *
 * @param sizes The command's default sizes.
 * @returns The flags.
 */
export function scenarioFlags(sizes: SizeDefaults): Flags {
  const range = (name: keyof typeof RANGES) => `${RANGES[name][0]}-${RANGES[name][1]}`;
  return {
    arch: {
      type: "string",
      value: "<arch>",
      help: `${ARCHES.join(" | ")} (default ${DEFAULTS.arch})`,
    },
    features: {
      type: "string",
      value: "<a,b>",
      help: `${FEATURES.join(", ")} (default none)`,
    },
    cpus: {
      type: "string",
      value: "<n>",
      help: `simulated CPUs, ${range("cpus")} (default ${sizes.cpus}; 1 with sp-naive)`,
    },
    tasks: {
      type: "string",
      value: "<n>",
      help: `counting tasks, ${range("tasks")} (default ${sizes.tasks})`,
    },
    iters: {
      type: "string",
      value: "<n>",
      help: `increments per task, ${range("iters")} (default ${sizes.iters})`,
    },
    access: {
      type: "string",
      value: "<mode>",
      help: `${ACCESS_MODES.join(" | ")} (default ${DEFAULTS.access})`,
    },
    scenario: {
      type: "string",
      value: "<name>",
      help: `${SCENARIOS.join(" | ")} (default ${DEFAULTS.scenario}; el2-guest needs aarch64)`,
    },
  };
}

/**
 * Reads the scenario flags, filling in the command's defaults.
 *
 * @param values What the user gave.
 * @param sizes The command's default sizes.
 * @returns Every scenario option.
 * @throws {UsageError} On a value a flag does not accept.
 */
export function scenarioSettings(values: FlagValues, sizes: SizeDefaults): ScenarioSettings {
  const given = values.listOf("features", FEATURES) ?? [];
  const features = FEATURES.filter((feature) => given.includes(feature));
  const naive = features.includes("sp-naive");
  return {
    arch: values.oneOf("arch", ARCHES) ?? DEFAULTS.arch,
    features,
    cpus: values.integer("cpus", ...RANGES.cpus) ?? (naive ? 1 : sizes.cpus),
    tasks: values.integer("tasks", ...RANGES.tasks) ?? sizes.tasks,
    iters: values.integer("iters", ...RANGES.iters) ?? sizes.iters,
    access: values.oneOf("access", ACCESS_MODES) ?? DEFAULTS.access,
    scenario: values.oneOf("scenario", SCENARIOS) ?? DEFAULTS.scenario,
  };
}

/**
 * The `sim` flags that select the same scenario: only those that differ
 * from `sim`'s defaults.
 *
 * @param settings The scenario.
 * @returns Flags and values, e.g. `["--arch", "aarch64", "--tasks", "2"]`.
 */
export function scenarioArgs(settings: ScenarioSettings): string[] {
  const args: string[] = [];
  const add = (name: string, value: string, fallback: string) => {
    if (value !== fallback) args.push(`--${name}`, value);
  };
  add("arch", settings.arch, DEFAULTS.arch);
  add("features", settings.features.join(","), "");
  const naive = settings.features.includes("sp-naive");
  add("cpus", String(settings.cpus), String(naive ? 1 : SIM_SIZES.cpus));
  add("tasks", String(settings.tasks), String(SIM_SIZES.tasks));
  add("iters", String(settings.iters), String(SIM_SIZES.iters));
  add("access", settings.access, DEFAULTS.access);
  add("scenario", settings.scenario, DEFAULTS.scenario);
  return args;
}
