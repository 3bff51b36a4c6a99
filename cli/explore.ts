/**
 * `explore`: the schedule explorer on the counter scenario, its report, and
 * the command that replays what it found; `--shard i/n` runs a part of the
 * search and `--merge` draws one verdict from the parts' JSON.
 *
 * @module
 */

import { type Arch, ARCHES, type Feature, FEATURES } from "../mod.ts";
import {
  ACCESS_MODES,
  type AccessMode,
  checkDfs,
  checkPct,
  checkRandom,
  counterTest,
  type ExploreMode,
  type ExploreOptions,
  type ExploreProgress,
  type ExploreResult,
  type ExploreTest,
  formatExploreReport,
  formatTraceExcerpt,
  type Reduction,
  replay,
  type ScenarioName,
  SCENARIOS,
  type Violation,
  VIOLATION_KINDS,
} from "../sched/mod.ts";
import {
  checkDfsParallel,
  exploreResultFromJson,
  exploreResultToJson,
  mergeExploreResults,
} from "../sched/parallel.ts";
import { type Flags, type FlagValues, UsageError } from "./_args.ts";
import { type Command, type CommandContext, userInput } from "./_command.ts";
import { exitCodeOf, type Verdict } from "./_exit.ts";
import { ensureReadable, ensureWritable } from "./_files.ts";
import { plural } from "./_io.ts";
import { shellWord } from "./_invocation.ts";
import { checkCycleBudget } from "./_limits.ts";
import { paintReport } from "./_paint.ts";
import {
  RANGES,
  scenarioArgs,
  scenarioFlags,
  type ScenarioSettings,
  scenarioSettings,
  type SizeDefaults,
} from "./_scenario.ts";
import { OUTPUT_FLAGS } from "./sim.ts";
import { writeTimeline } from "./_timeline.ts";

/** The search modes, each with its help (a record, so that none is left out). */
const MODES: Readonly<Record<ExploreMode, string>> = {
  dfs: "exhaustive up to the bound",
  random: "random schedules",
  pct: "probabilistic concurrency testing",
};
const EXPLORE_MODES = Object.keys(MODES) as ExploreMode[];

/** The reductions of dfs, each with its help. */
const REDUCTION_HELP: Readonly<Record<Reduction, string>> = {
  dpor: "one schedule per class of equivalent ones",
  none: "every interleaving, for comparison",
};
const REDUCTIONS = Object.keys(REDUCTION_HELP) as Reduction[];

/** The library's explore sizes: a space dfs covers in moments. */
const SIZES: SizeDefaults = { cpus: 2, tasks: 3, iters: 1 };
const DEFAULT_MODE: ExploreMode = "dfs";
const DEFAULT_MAX_PREEMPTIONS = 2;
const MAX_PREEMPTIONS = 1000;
const DEFAULT_SEED = 1;
/** The library's largest shard count. */
const MAX_SHARDS = 1_000_000;
const MAX_WORKERS = 256;
/** A week: longer is a typo. */
const MAX_SECONDS = 7 * 24 * 3600;
/** The explorers' default budgets, named in the help. */
const BUDGET_HELP = "default 1000000 for dfs, 10000 otherwise";

const FLAGS: Flags = {
  "max-preemptions": {
    type: "string",
    value: "<k|inf>",
    help:
      `preemption bound, 0-${MAX_PREEMPTIONS} or inf (default ${DEFAULT_MAX_PREEMPTIONS}; pct: the bug depth)`,
  },
  mode: {
    type: "string",
    value: "<mode>",
    help: `${
      EXPLORE_MODES.map((mode) => `${mode} (${MODES[mode]})`).join(" | ")
    }; default ${DEFAULT_MODE}`,
  },
  reduction: {
    type: "string",
    value: "<r>",
    help: `dfs: ${REDUCTIONS.map((r) => `${r} (${REDUCTION_HELP[r]})`).join(" | ")}; default dpor`,
  },
  violations: {
    type: "string",
    value: "<a,b>",
    help: `the kinds that count (default all): ${VIOLATION_KINDS.join(", ")}`,
  },
  exhaustive: {
    type: "boolean",
    help: "dfs: search the whole bound even after a violation, for every kind",
  },
  budget: { type: "string", value: "<n|inf>", help: `stop after n schedules (${BUDGET_HELP})` },
  "time-limit": {
    type: "string",
    value: "<seconds>",
    help: "stop after this many seconds (default: no limit)",
  },
  seed: {
    type: "string",
    value: "<n>",
    help: `seed of the random and pct modes (default ${DEFAULT_SEED})`,
  },
  shard: {
    type: "string",
    value: "<i/n>",
    help: "dfs: explore part i (from 0) of n; --json writes what --merge reads",
  },
  workers: {
    type: "string",
    value: "<n>",
    help: `dfs: split the search across n Workers, 1-${MAX_WORKERS} (default: none)`,
  },
  merge: {
    type: "string",
    value: "<file…>",
    rest: true,
    help: "one verdict from the --shard i/n --json files of one search (needs --allow-read)",
  },
  ...scenarioFlags(SIZES),
  ...OUTPUT_FLAGS,
};

/** The flags that apply to dfs alone. */
const DFS_ONLY = ["reduction", "exhaustive", "shard", "workers"] as const;
/** The flags that apply with `--merge`: what to do with the merged verdict. */
const WITH_MERGE = ["merge", "json", "trace", "svg", "fail-on-violation", "help"];

const SEARCHES: Readonly<
  Record<ExploreMode, (test: ExploreTest, o: ExploreOptions) => ExploreResult>
> = { dfs: checkDfs, random: checkRandom, pct: checkPct };

/**
 * An exploration's verdict: a violation found is one; otherwise a DFS that
 * did not cover its whole space (budget, time limit, a failed or missing
 * part, a schedule cut off by the cycle limit) is undecided, and so is a
 * randomized search with a run cut off.
 *
 * @param result What the explorer (or a merge) returned.
 * @returns The verdict.
 */
export function exploreVerdict(result: ExploreResult): Verdict {
  if (result.violation !== null) return "violation";
  if (result.cutOff > 0) return "incomplete";
  if (result.mode !== "dfs") return "ok";
  return result.complete && result.stopReason === "complete" ? "ok" : "incomplete";
}

/** Every search option, checked: the flags' values and the rules between them. */
function searchOptions(
  values: FlagValues,
): { mode: ExploreMode; seed: number; workers: number | undefined; options: ExploreOptions } {
  const mode = values.oneOf("mode", EXPLORE_MODES) ?? DEFAULT_MODE;
  if (mode !== "dfs") {
    const given = DFS_ONLY.filter((name) => values.has(name));
    if (given.length > 0) {
      throw new UsageError(
        `${given.map((name) => `--${name}`).join(", ")} ${
          given.length === 1 ? "applies" : "apply"
        } to --mode dfs only, not ${mode}`,
      );
    }
  }
  if (mode === "dfs" && values.has("seed")) {
    throw new UsageError(
      "--seed applies to --mode random and pct only: dfs makes no random choice",
    );
  }
  const maxPreemptions = values.integerOrInfinity("max-preemptions", 0, MAX_PREEMPTIONS) ??
    DEFAULT_MAX_PREEMPTIONS;
  if (mode === "pct" && maxPreemptions === Infinity) {
    throw new UsageError(
      "--max-preemptions inf does not apply to --mode pct: pct needs a bug depth, an integer from 0 to " +
        MAX_PREEMPTIONS,
    );
  }
  const reduction = values.oneOf("reduction", REDUCTIONS);
  const violations = values.listOf("violations", VIOLATION_KINDS, true);
  const budget = values.integerOrInfinity("budget", 1, Number.MAX_SAFE_INTEGER);
  const seconds = values.seconds("time-limit", MAX_SECONDS);
  const seed = values.integer("seed", ...RANGES.seed) ?? DEFAULT_SEED;
  const shard = values.part("shard", MAX_SHARDS);
  const workers = values.integer("workers", 1, MAX_WORKERS);
  if (workers !== undefined && shard !== undefined) {
    throw new UsageError(
      "--workers and --shard do not combine: run each shard in a process of its own",
    );
  }
  return {
    mode,
    seed,
    workers,
    options: {
      maxPreemptions,
      ...(reduction === undefined ? {} : { reduction }),
      ...(violations === undefined ? {} : { violations }),
      ...(values.boolean("exhaustive") ? { exhaustive: true } : {}),
      ...(budget === undefined ? {} : { budget }),
      ...(seconds === undefined ? {} : { timeLimitMs: seconds * 1000 }),
      ...(mode === "dfs" ? {} : { seed }),
      ...(shard === undefined ? {} : { shard }),
    },
  };
}

/** Live progress on a terminal: one line of stderr, overwritten. */
class ProgressLine {
  readonly #context: CommandContext;
  #shown = false;

  constructor(context: CommandContext) {
    this.#context = context;
  }

  show = (p: ExploreProgress): void => {
    this.#shown = true;
    const rate = Math.round(p.schedulesExplored / p.elapsedMs * 1000);
    const bound = p.mode !== "dfs"
      ? ""
      : p.bound === Infinity
      ? ", unbounded"
      : `, bound ${p.bound}`;
    this.#context.io.err(
      `\r\x1b[K  ${p.mode}: ${p.schedulesExplored} schedules, ${rate}/s${bound}, ${
        (p.elapsedMs / 1000).toFixed(0)
      } s…`,
    );
  };

  clear(): void {
    if (this.#shown) this.#context.io.err("\r\x1b[K");
  }
}

function run(values: FlagValues, context: CommandContext): number | Promise<number> {
  if (values.has("merge")) return runMerge(values, context);
  const { io, palette } = context;
  const settings = scenarioSettings(values, SIZES);
  const { mode, seed, workers, options } = searchOptions(values);
  const test = userInput(() => counterTest(settings));
  checkSvg(values, context);
  // One schedule runs the whole scenario: it must fit the cycle limit too.
  const warning = checkCycleBudget({ ...settings, seed }, settings.iters);
  if (warning !== null) io.err(palette.yellow(warning) + "\n");

  const progress = io.progress && !values.boolean("json") ? new ProgressLine(context) : null;
  const withProgress = progress === null ? options : { ...options, onProgress: progress.show };
  const seedShown = mode === "dfs" ? null : seed;
  if (workers !== undefined) {
    return runParallel(values, context, settings, test, withProgress, workers, progress);
  }
  let result: ExploreResult;
  try {
    result = userInput(() => SEARCHES[mode](test, withProgress));
  } finally {
    progress?.clear();
  }
  return finish(values, context, settings, test, result, seedShown);
}

/**
 * `--workers n`: the Workers load the counter test from this package's
 * `sched` entry point, with the scenario options as its argument.
 */
async function runParallel(
  values: FlagValues,
  context: CommandContext,
  settings: ScenarioSettings,
  test: ExploreTest,
  options: ExploreOptions,
  workers: number,
  progress: ProgressLine | null,
): Promise<number> {
  const module = new URL("../sched/mod.ts", import.meta.url);
  if (module.protocol === "file:") {
    // The package's directory: file:///C:/x on Windows is the path C:/x.
    const root = decodeURIComponent(new URL("..", module).pathname)
      .replace(/^\/([A-Za-z]:\/)/, "$1").replace(/\/$/, "");
    ensureReadable(
      root,
      "--workers",
      `to read ${root} (its Workers load the package's modules from there)`,
      (path) => rerun(context, values, [`--allow-read=${path}`]),
    );
  }
  let result: ExploreResult;
  try {
    result = await checkDfsParallel(
      { module, export: "counterTest", args: { ...settings, features: [...settings.features] } },
      { ...options, workers },
    );
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      throw new UsageError(error.message);
    }
    throw error;
  } finally {
    progress?.clear();
  }
  return finish(values, context, settings, test, result, null);
}

/** This command line again, with Deno flags added. */
function rerun(context: CommandContext, values: FlagValues, denoFlags: readonly string[]): string {
  return [context.launch(denoFlags), "explore", ...values.args().map(shellWord)].join(" ");
}

/** The `--svg` file must be writable before any work is done. */
function checkSvg(values: FlagValues, context: CommandContext): void {
  const svg = values.string("svg");
  if (svg === undefined) return;
  ensureWritable(svg, "--svg", () => rerun(context, values, [`--allow-write=${svg}`]));
}

/** The report or JSON, trace, timeline and exit code of a result. */
function finish(
  values: FlagValues,
  context: CommandContext,
  settings: ScenarioSettings,
  test: ExploreTest,
  result: ExploreResult,
  seed: number | null,
): number {
  const { io, palette } = context;
  const svg = values.string("svg");
  const violation = result.violation;
  const wantTrace = values.boolean("trace");
  const replayed = violation !== null && (wantTrace || svg !== undefined)
    ? replay(test, violation.schedule, { record: true })
    : null;
  const traceText = wantTrace && replayed !== null
    ? formatTraceExcerpt({ events: replayed.events!, taskNames: replayed.taskNames })
    : null;
  const replayCommand = (v: Violation) =>
    [
      context.launch(),
      "sim",
      "--replay",
      v.schedule,
      ...scenarioArgs(settings),
    ].map((word, i) => i === 0 ? word : shellWord(word)).join(" ");

  if (values.boolean("json")) {
    io.out(
      JSON.stringify(exploreJson(settings, result, seed, replayCommand, traceText), null, 2) +
        "\n",
    );
  } else {
    io.out(paintReport(formatExploreReport(result, settings), palette));
    if (violation !== null) io.out(`\n  replay    ${replayCommand(violation)}\n`);
    if (traceText !== null) io.out("\n" + traceText);
    else if (wantTrace) io.out("\nNo violation: no trace to show.\n");
  }
  if (svg !== undefined) {
    if (replayed === null || violation === null) {
      io.err("no violation found: no timeline written\n");
    } else {
      writeTimeline(
        svg,
        { events: replayed.events!, taskNames: replayed.taskNames },
        settings,
        `${violation.kind} with ${plural(violation.preemptions, "preemption")}`,
        `schedule ${violation.schedule}`,
        io,
      );
    }
  }
  return exitCodeOf(exploreVerdict(result), values.boolean("fail-on-violation"));
}

/** Keys the CLI adds to a violation's JSON, beside the library's. */
const CLI_VIOLATION_KEYS = ["lostUpdates", "replay", "trace"];
/** Keys of the library's JSON that apply to dfs alone. */
const DFS_KEYS = [
  "format",
  "reduction",
  "boundReached",
  "pruned",
  "equivalenceClasses",
  "finalStates",
];

/**
 * The JSON `--json` prints: the scenario, then the result as the library
 * writes it (`exploreResultToJson`, which `--merge` reads back), with the
 * rate, and for each violation its lost updates and the command that
 * replays it. A randomized search's JSON leaves out what applies to dfs
 * alone (it is never merged).
 */
function exploreJson(
  settings: ScenarioSettings,
  result: ExploreResult,
  seed: number | null,
  replayCommand: (v: Violation) => string,
  trace: string | null,
): Record<string, unknown> {
  const dfs = result.mode === "dfs";
  const json = exploreResultToJson(result);
  const withHints = (v: Record<string, unknown>, violation: Violation) => ({
    ...v,
    lostUpdates: violation.details.lostUpdates ?? 0,
    replay: replayCommand(violation),
  });
  const out: Record<string, unknown> = {
    ...settings,
    ...Object.fromEntries(Object.entries(json).filter(([key]) => dfs || !DFS_KEYS.includes(key))),
    ...(seed === null ? {} : { seed }),
    elapsedMs: Math.round(result.elapsedMs * 10) / 10,
    schedulesPerSecond: result.elapsedMs > 0
      ? Math.round(result.schedulesExplored / result.elapsedMs * 1000)
      : 0,
    ...(dfs ? { statesCached: result.finalStates } : {}),
    violation: result.violation && {
      ...withHints(json.violation as Record<string, unknown>, result.violation),
      ...(trace === null ? {} : { trace }),
    },
    violations: (json.violations as Record<string, unknown>[]).map((v, i) =>
      withHints(v, result.violations[i])
    ),
  };
  return out;
}

/** A shard file's result without what the CLI added to its violations. */
function libraryJson(json: Record<string, unknown>): Record<string, unknown> {
  const strip = (v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(
        Object.entries(v).filter(([key]) => !CLI_VIOLATION_KEYS.includes(key)),
      )
      : v;
  return {
    ...json,
    violation: strip(json.violation),
    violations: Array.isArray(json.violations) ? json.violations.map(strip) : json.violations,
  };
}

/** `--merge`: reads the shards' files and reports their merged verdict. */
function runMerge(values: FlagValues, context: CommandContext): number {
  const extra = values.given().filter((name) => !WITH_MERGE.includes(name));
  if (extra.length > 0) {
    throw new UsageError(
      `${extra.map((name) => `--${name}`).join(", ")} ${
        extra.length === 1 ? "does" : "do"
      } not apply with --merge: the shards' files say what was explored`,
    );
  }
  const files = values.values("merge")!;
  for (const file of files) {
    ensureReadable(
      file,
      "--merge",
      `to read ${file}`,
      () => rerun(context, values, [`--allow-read=${files.join(",")}`]),
    );
  }
  checkSvg(values, context);
  const parts = files.map((file) => readShard(file));
  let merged: ExploreResult;
  try {
    merged = mergeExploreResults(parts.map((p) => p.result));
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      // The library names results by index; the user knows them as files.
      throw new UsageError(
        `--merge: ${
          error.message.replace(/^mergeExploreResults: /, "").replace(
            /results\[(\d+)\]/g,
            (_, i) => files[Number(i)],
          )
        }`,
      );
    }
    throw error;
  }
  const { settings, test } = parts[0];
  return finish(values, context, settings, test, merged, null);
}

/** One shard file: its result, checked, and the scenario it names. */
function readShard(
  file: string,
): { result: ExploreResult; settings: ScenarioSettings; test: ExploreTest } {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    throw new UsageError(`--merge: cannot read ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `--merge: ${file} is not JSON (${
        (error as Error).message
      }): give the files explore --shard i/n --json wrote`,
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new UsageError(
      `--merge: ${file} holds no explore result: give the files explore --shard i/n --json wrote`,
    );
  }
  const object = json as Record<string, unknown>;
  if (object.mode !== "dfs") {
    throw new UsageError(
      `--merge: ${file} holds ${
        typeof object.mode === "string"
          ? `a ${JSON.stringify(object.mode)} search`
          : "no dfs search"
      }: only the files explore --shard i/n --json wrote (dfs) can be merged`,
    );
  }
  let result: ExploreResult;
  try {
    result = exploreResultFromJson(libraryJson(object));
  } catch (error) {
    if (
      error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError
    ) {
      throw new UsageError(
        `--merge: ${file}: ${error.message.replace(/^explore result JSON(\.|: ?| )/, "")}`,
      );
    }
    throw error;
  }
  const settings = scenarioOfJson(object, file);
  const test = userInput(() => counterTest(settings));
  // The file's scenario must be the one its result was explored on: the
  // report, the replay command and --trace are built from it.
  const fingerprint = checkDfs(test, { maxPreemptions: 0, budget: 1 }).test;
  if (fingerprint !== result.test) {
    throw new UsageError(
      `--merge: ${file}: its scenario fields (arch, features, cpus, tasks, iters, access, scenario) are not those of its result's test (fingerprint ${result.test}): the file was edited`,
    );
  }
  return { result, settings, test };
}

/** The scenario a shard file names (the fields `explore --json` writes). */
function scenarioOfJson(json: Record<string, unknown>, file: string): ScenarioSettings {
  const bad = (key: string, accepted: string) =>
    new UsageError(
      `--merge: ${file}: ${key} must be ${accepted}, got ${
        JSON.stringify(json[key]) ?? "nothing"
      } (write shards with explore --shard i/n --json)`,
    );
  const oneOf = <T extends string>(key: string, accepted: readonly T[]): T => {
    if (!accepted.includes(json[key] as T)) throw bad(key, `one of ${accepted.join(", ")}`);
    return json[key] as T;
  };
  const integer = (key: "cpus" | "tasks" | "iters"): number => {
    const value = json[key];
    const [min, max] = RANGES[key];
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
      throw bad(key, `an integer from ${min} to ${max}`);
    }
    return value as number;
  };
  const features = json.features;
  if (
    !Array.isArray(features) || features.some((f) => !FEATURES.includes(f)) ||
    FEATURES.filter((f) => features.includes(f)).join() !== features.join()
  ) {
    throw bad("features", `a list of ${FEATURES.join(", ")} in that order`);
  }
  return {
    arch: oneOf<Arch>("arch", ARCHES),
    features: features as Feature[],
    cpus: integer("cpus"),
    tasks: integer("tasks"),
    iters: integer("iters"),
    access: oneOf<AccessMode>("access", ACCESS_MODES),
    scenario: oneOf<ScenarioName>("scenario", SCENARIOS),
  };
}

/** The `explore` command. */
export const EXPLORE: Command = {
  name: "explore",
  summary: "search the schedules for the minimal failing interleaving",
  description: `Runs the scenario under many schedules of the simulated machine (which CPU
steps next, where a tick preempts, which task load balancing or an idle CPU
pulls) to find one that breaks it, and reports each kind of violation found
with its minimal schedule. dfs is exhaustive up to --max-preemptions, trying 0
preemptions, then 1, then 2, with partial-order reduction (one schedule per
class of equivalent interleavings), so a violation it reports needs the fewest
preemptions, then the fewest instructions; random and pct sample schedules
(never exhaustive). The report says why the search stopped and what a
"complete" search covered.`,
  flags: FLAGS,
  notes: `The scenario options are sim's; --policy and --quantum do not apply (the
explorer makes every scheduling choice). Defaults are small so that dfs
finishes quickly: --cpus ${SIZES.cpus} --tasks ${SIZES.tasks} --iters ${SIZES.iters}.

Sharding (any batch engine: a CI matrix, Kubernetes Jobs): job i of 4 runs
  explore --shard i/4 --json > shard-i.json
and one job draws the verdict (exit 3 with --fail-on-violation if a shard is
missing or did not finish; reading the files needs --allow-read):
  explore --merge shard-*.json --fail-on-violation
`,
  run,
};
