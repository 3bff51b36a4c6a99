/**
 * The playground's settings: what the setup form edits and what a link
 * carries after `#`, in the CLI's own names and values, so that a link and
 * the `sim --replay` command that replays it always describe the same test.
 *
 * ```
 * #arch=aarch64&features=preempt&scenario=counter&access=with-current&cpus=2&tasks=3&iters=1&schedule=…
 * ```
 *
 * @module
 */

import { type Arch, ARCHES, type Feature, FEATURES } from "../../lib/arch.ts";
import { checkInteger, checkOneOf } from "../../lib/_check.ts";
import { valueText } from "../../lib/_describe.ts";
import type { ExploreTest } from "../../sched/explore/explore.ts";
import { counterTest } from "../../sched/scenario/counter_test.ts";
import {
  ACCESS_MODES,
  type AccessMode,
  type ScenarioName,
  SCENARIOS,
} from "../../sched/scenario/scenario.ts";

/** Everything that defines a playground run. */
export interface Settings {
  /** Architecture. */
  readonly arch: Arch;
  /** Crate features, in `FEATURES` order (`sp-naive` included when on). */
  readonly features: readonly Feature[];
  /** The simulator's scenario. */
  readonly scenario: ScenarioName;
  /** How tasks increment the counter. */
  readonly access: AccessMode;
  /** Simulated CPUs. */
  readonly cpus: number;
  /** Counting tasks (hypervisor tasks for `el2-guest`). */
  readonly tasks: number;
  /** Increments per task. */
  readonly iters: number;
}

/** The scenarios the setup offers: the simulator's, and `sp-naive` (the counter as a plain global). */
export type PageScenario = ScenarioName | "sp-naive";

/** Every {@linkcode PageScenario}, in the order the setup lists them. */
export const PAGE_SCENARIOS: readonly PageScenario[] = Object.freeze([...SCENARIOS, "sp-naive"]);

/** The settings a fresh page starts with: the aarch64 race, small enough to step by hand. */
export const DEFAULT_SETTINGS: Settings = Object.freeze({
  arch: "aarch64",
  features: Object.freeze([]),
  scenario: "counter",
  access: "with-current",
  cpus: 2,
  tasks: 3,
  iters: 1,
});

/**
 * What a page can step through by hand and draw: larger runs are for the
 * CLI. 10 000 increments per task over 16 tasks is a few million
 * instructions, still quick to run to the end and to rewind.
 */
export const LIMITS = Object.freeze({ cpus: 8, tasks: 16, iters: 10_000 });

/** Link keys, in the order links write them. */
const KEYS = ["arch", "features", "scenario", "access", "cpus", "tasks", "iters"] as const;

/**
 * The setup's scenario for settings.
 *
 * @param settings The settings.
 * @returns `sp-naive` for the counter over the `sp-naive` feature, else the scenario.
 */
export function pageScenario(settings: Settings): PageScenario {
  return settings.features.includes("sp-naive") ? "sp-naive" : settings.scenario;
}

/**
 * Checks settings field by field and builds their test: the simulator's own
 * checks decide what combinations exist (`el2-guest` needs aarch64,
 * `sp-naive` has one CPU).
 *
 * @param settings The settings.
 * @returns A fresh test (a fresh per-CPU system: one per session).
 * @throws {TypeError} On a field of the wrong type.
 * @throws {RangeError} On a value out of range, naming it and what is accepted.
 */
export function testOf(settings: Settings): ExploreTest {
  checkSettings(settings);
  return counterTest({ ...settings, features: [...settings.features] });
}

/**
 * Checks every field of settings against the simulator's names and the
 * page's limits.
 *
 * @param settings The settings.
 * @returns The same settings, typed.
 * @throws {TypeError} On a field of the wrong type.
 * @throws {RangeError} On a value out of range.
 */
export function checkSettings(settings: Settings): Settings {
  checkOneOf(settings.arch, ARCHES, "arch");
  if (!Array.isArray(settings.features)) {
    throw new TypeError(
      `features must be a list of ${FEATURES.join(", ")}, got ${valueText(settings.features)}`,
    );
  }
  for (const feature of settings.features) checkOneOf(feature, FEATURES, "features");
  checkOneOf(settings.scenario, SCENARIOS, "scenario");
  checkOneOf(settings.access, ACCESS_MODES, "access");
  checkInteger(settings.cpus, "cpus", 1, LIMITS.cpus);
  checkInteger(settings.tasks, "tasks", 1, LIMITS.tasks);
  checkInteger(settings.iters, "iters", 1, LIMITS.iters);
  return settings;
}

/** What a link's fragment holds. */
export interface Link {
  /** The settings it names (defaults for what it does not name). */
  readonly settings: Settings;
  /** The schedule to replay, when it has one. */
  readonly schedule?: string;
  /** What was wrong with it: each bad value was replaced by its default. */
  readonly problems: readonly string[];
}

/**
 * Reads a link's fragment. Never throws: a bad value is replaced by its
 * default and reported in `problems`.
 *
 * @param hash `location.hash`, with or without its `#`.
 * @returns The settings, the schedule and the problems found.
 */
export function parseLink(hash: string): Link {
  const params = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
  const problems: string[] = [];
  const fields: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  const read = <T>(key: string, parse: (text: string) => T) => {
    const text = params.get(key);
    if (text === null) return;
    try {
      fields[key] = parse(text);
    } catch (error) {
      problems.push((error as Error).message);
    }
  };
  read("arch", (t) => checkOneOf(t, ARCHES, "arch"));
  read("scenario", (t) => checkOneOf(t, SCENARIOS, "scenario"));
  read("access", (t) => checkOneOf(t, ACCESS_MODES, "access"));
  read("features", (t) => {
    const given = t === "" ? [] : t.split(",");
    for (const feature of given) checkOneOf(feature, FEATURES, "features");
    return FEATURES.filter((f) => given.includes(f));
  });
  for (const key of ["cpus", "tasks", "iters"] as const) {
    read(key, (t) => checkInteger(/^\d{1,9}$/.test(t) ? Number(t) : t, key, 1, LIMITS[key]));
  }
  for (const key of params.keys()) {
    if (key !== "schedule" && !(KEYS as readonly string[]).includes(key)) {
      problems.push(`unknown setting ${JSON.stringify(key)}; accepted: ${KEYS.join(", ")}`);
    }
  }
  const schedule = params.get("schedule")?.trim();
  return {
    settings: fields as unknown as Settings,
    ...(schedule ? { schedule } : {}),
    problems,
  };
}

/**
 * Writes a link's fragment: every setting, then the schedule.
 *
 * @param settings The settings.
 * @param schedule A schedule string, if any.
 * @returns The fragment, starting with `#`.
 */
export function formatLink(settings: Settings, schedule?: string): string {
  const params = new URLSearchParams();
  params.set("arch", settings.arch);
  params.set("features", settings.features.join(","));
  params.set("scenario", settings.scenario);
  params.set("access", settings.access);
  params.set("cpus", String(settings.cpus));
  params.set("tasks", String(settings.tasks));
  params.set("iters", String(settings.iters));
  if (schedule !== undefined) params.set("schedule", schedule);
  // Commas and the schedule's characters need no escaping in a fragment.
  return "#" + params.toString().replaceAll("%2C", ",").replaceAll("%7E", "~");
}

/**
 * The `sim` command line that replays a schedule with these settings.
 *
 * @param settings The settings.
 * @param schedule The schedule string.
 * @returns e.g. `deno run cli.ts sim --replay s1.… --arch aarch64 … --json`.
 */
export function replayCommand(settings: Settings, schedule: string): string {
  return [
    "deno run cli.ts sim --replay",
    schedule,
    `--arch ${settings.arch}`,
    ...(settings.features.length > 0 ? [`--features ${settings.features.join(",")}`] : []),
    `--scenario ${settings.scenario}`,
    `--access ${settings.access}`,
    `--cpus ${settings.cpus} --tasks ${settings.tasks} --iters ${settings.iters} --json`,
  ].join(" ");
}

/**
 * `cli.ts sim`'s defaults: a `sim --replay` command names only the flags
 * that differ from them (a test checks they match the CLI).
 */
export const SIM_DEFAULTS: Settings = Object.freeze({
  arch: "x86_64",
  features: Object.freeze([]),
  scenario: "counter",
  access: "with-current",
  cpus: 2,
  tasks: 4,
  iters: 100,
});

/** Flags of a `sim` command that name settings, and the setting each names. */
const FLAG_KEYS: Readonly<Record<string, (typeof KEYS)[number]>> = {
  "--arch": "arch",
  "--features": "features",
  "--scenario": "scenario",
  "--access": "access",
  "--cpus": "cpus",
  "--tasks": "tasks",
  "--iters": "iters",
};

/**
 * Reads what a person pasted: a schedule string (run with the current
 * settings), or a whole `sim --replay <schedule> …` command as `explore`
 * prints it (its flags over `sim`'s defaults). Never throws.
 *
 * @param text The pasted text.
 * @param current The settings in use.
 * @returns The settings and schedule, and what was wrong (`schedule` is
 *   missing when there is none).
 */
export function parsePasted(text: string, current: Settings): Link {
  const words = text.trim().split(/\s+/).filter((w) => w !== "");
  const at = words.indexOf("--replay");
  if (at < 0) {
    if (words.length !== 1) {
      return {
        settings: current,
        problems: [
          "paste one schedule string (s1.…), or the whole `sim --replay <schedule> …` command",
        ],
      };
    }
    return { settings: current, schedule: words[0], problems: [] };
  }
  const params = new URLSearchParams();
  const defaults = SIM_DEFAULTS as unknown as Record<string, unknown>;
  for (const key of KEYS) params.set(key, String(defaults[key]));
  const problems: string[] = [];
  let schedule: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const [flag, inline] = words[i].split("=", 2) as [string, string | undefined];
    if (flag === "--replay" || flag in FLAG_KEYS) {
      const value = inline ?? words[++i];
      if (value === undefined) {
        problems.push(`${flag} needs a value`);
      } else if (flag === "--replay") {
        schedule = value;
      } else {
        params.set(FLAG_KEYS[flag], value);
      }
    } else if (flag === "--json" || flag === "--trace" || flag === "--fail-on-violation") {
      continue;
    } else if (flag.startsWith("--") && i > at) {
      problems.push(`${flag} does not name a setting; ignored`);
    }
  }
  // `sim` runs one CPU under sp-naive unless told otherwise.
  if (!words.some((w) => w.startsWith("--cpus"))) {
    const features = params.get("features") ?? "";
    if (features.split(",").includes("sp-naive")) params.set("cpus", "1");
  }
  const link = parseLink(params.toString());
  return {
    settings: link.settings,
    ...(schedule === undefined ? {} : { schedule }),
    problems: [...problems, ...link.problems],
  };
}
