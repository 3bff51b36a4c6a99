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
  EXPLORE_MODES,
  type ExploreMode,
  type ExploreOptions,
  type ExploreProgress,
  type ExploreResult,
  type ExploreTest,
  formatExploreReport,
  formatTraceExcerpt,
  REDUCTIONS,
  replay,
  type ScenarioName,
  SCENARIOS,
  type Violation,
  VIOLATION_KINDS,
} from "../sched/mod.ts";
import { type Flags, type FlagValues, UsageError } from "./_args.ts";
import { type Command, type CommandContext, userInput } from "./_command.ts";
import { exitCodeOf, type Verdict } from "./_exit.ts";
import { ensureWritable } from "./_files.ts";
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
    help: `${EXPLORE_MODES.join(" | ")} (default ${DEFAULT_MODE})`,
  },
  reduction: {
    type: "string",
    value: "<r>",
    help: `dfs: ${
      REDUCTIONS.join(" | ")
    } (default dpor: one schedule per class of equivalent ones)`,
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
  if (workers !== undefined) {
    throw new UsageError("--workers is not available in this version");
  }
  let result: ExploreResult;
  try {
    result = userInput(() => SEARCHES[mode](test, withProgress));
  } finally {
    progress?.clear();
  }
  return finish(values, context, settings, test, result, mode === "dfs" ? null : seed);
}

/** The `--svg` file must be writable before any work is done. */
function checkSvg(values: FlagValues, context: CommandContext): void {
  const svg = values.string("svg");
  if (svg === undefined) return;
  ensureWritable(
    svg,
    "--svg",
    () =>
      [context.launch([`--allow-write=${svg}`]), "explore", ...values.args().map(shellWord)]
        .join(" "),
  );
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

/** `Infinity` as JSON can say it. */
function inf(n: number): number | "inf" {
  return n === Infinity ? "inf" : n;
}

/**
 * The JSON `--json` prints: the scenario, the result (as `--merge` reads it
 * back), and for each violation the command that replays it; what does not
 * apply to the mode is left out.
 */
function exploreJson(
  settings: ScenarioSettings,
  result: ExploreResult,
  seed: number | null,
  replayCommand: (v: Violation) => string,
  trace: string | null,
): Record<string, unknown> {
  const dfs = result.mode === "dfs";
  const violation = (v: Violation) => ({
    kind: v.kind,
    schedule: v.schedule,
    preemptions: v.preemptions,
    steps: v.steps,
    wrongCpuAccesses: v.wrongCpuAccesses,
    messages: [...v.messages],
    details: { ...v.details },
    traceHash: v.traceHash,
    lostUpdates: v.details.lostUpdates ?? 0,
    replay: replayCommand(v),
  });
  return {
    ...settings,
    mode: result.mode,
    reduction: result.reduction,
    maxPreemptions: inf(result.maxPreemptions),
    ...(seed === null ? {} : { seed }),
    schedulesExplored: result.schedulesExplored,
    complete: result.complete,
    stopReason: result.stopReason,
    ...(dfs ? { boundReached: inf(result.boundReached) } : {}),
    elapsedMs: Math.round(result.elapsedMs * 10) / 10,
    schedulesPerSecond: result.elapsedMs > 0
      ? Math.round(result.schedulesExplored / result.elapsedMs * 1000)
      : 0,
    ...(dfs
      ? {
        pruned: result.pruned,
        equivalenceClasses: result.equivalenceClasses,
        statesCached: result.finalStates,
      }
      : {}),
    cutOff: result.cutOff,
    shard: result.shard,
    test: result.test,
    violation: result.violation && {
      ...violation(result.violation),
      ...(trace === null ? {} : { trace }),
    },
    violations: result.violations.map(violation),
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
  void context;
  throw new UsageError("--merge is not available in this version");
}

/** The scenario a shard file names (the fields `explore --json` writes). */
export function scenarioOfJson(json: Record<string, unknown>, file: string): ScenarioSettings {
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
