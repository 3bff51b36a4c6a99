/**
 * `explore`: the schedule explorer on the counter scenario, its report, and
 * the command that replays what it found.
 *
 * @module
 */

import {
  checkDfs,
  checkPct,
  checkRandom,
  counterTest,
  EXPLORE_MODES,
  type ExploreMode,
  type ExploreOptions,
  type ExploreProgress,
  type ExploreResult,
  formatExploreReport,
  formatTraceExcerpt,
  replay,
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

/** Small, so that dfs finishes in moments. */
const SIZES: SizeDefaults = { cpus: 2, tasks: 3, iters: 1 };
const DEFAULT_MODE: ExploreMode = "dfs";
const DEFAULT_MAX_PREEMPTIONS = 2;
const MAX_PREEMPTIONS = 8;
const DEFAULT_SEED = 1;
/** The explorers' default budgets, named in the help. */
const BUDGET_HELP = "default 1000000 for dfs, 10000 otherwise";

const FLAGS: Flags = {
  "max-preemptions": {
    type: "string",
    value: "<k>",
    help: `preemption bound, 0-${MAX_PREEMPTIONS} (default ${DEFAULT_MAX_PREEMPTIONS})`,
  },
  mode: {
    type: "string",
    value: "<mode>",
    help: `${EXPLORE_MODES.join(" | ")} (default ${DEFAULT_MODE})`,
  },
  budget: { type: "string", value: "<n>", help: `stop after n schedules (${BUDGET_HELP})` },
  seed: {
    type: "string",
    value: "<n>",
    help: `seed of the random and pct modes (default ${DEFAULT_SEED})`,
  },
  ...scenarioFlags(SIZES),
  ...OUTPUT_FLAGS,
};

const SEARCHES: Readonly<
  Record<ExploreMode, (test: ReturnType<typeof counterTest>, o: ExploreOptions) => ExploreResult>
> = { dfs: checkDfs, random: checkRandom, pct: checkPct };

/**
 * An exploration's verdict.
 *
 * @param result What the explorer returned.
 * @returns The verdict.
 */
export function exploreVerdict(result: ExploreResult): Verdict {
  if (result.violation !== null) return "violation";
  return result.complete || result.mode !== "dfs" ? "ok" : "incomplete";
}

function run(values: FlagValues, context: CommandContext): number {
  const { io, palette } = context;
  const settings = scenarioSettings(values, SIZES);
  const mode = values.oneOf("mode", EXPLORE_MODES) ?? DEFAULT_MODE;
  const maxPreemptions = values.integer("max-preemptions", 0, MAX_PREEMPTIONS) ??
    DEFAULT_MAX_PREEMPTIONS;
  const budget = values.integer("budget", 1, Number.MAX_SAFE_INTEGER);
  if (mode === "dfs" && values.has("seed")) {
    throw new UsageError(
      "--seed applies to --mode random and pct only: dfs makes no random choice",
    );
  }
  const seed = values.integer("seed", ...RANGES.seed) ?? DEFAULT_SEED;
  const test = userInput(() => counterTest(settings));
  const svg = values.string("svg");
  if (svg !== undefined) {
    ensureWritable(
      svg,
      "--svg",
      () =>
        [context.launch([`--allow-write=${svg}`]), "explore", ...values.args().map(shellWord)]
          .join(" "),
    );
  }
  // One schedule runs the whole scenario: it must fit the cycle limit too.
  const warning = checkCycleBudget({ ...settings, seed }, settings.iters);
  if (warning !== null) io.err(palette.yellow(warning) + "\n");

  const onProgress = io.progress
    ? (p: ExploreProgress) =>
      io.err(
        `\r  ${p.mode}: ${p.schedulesExplored} schedules, ${
          Math.round(p.schedulesExplored / p.elapsedMs * 1000)
        }/s${p.mode === "dfs" ? `, bound ${p.bound}` : ""}…`,
      )
    : undefined;
  const result = SEARCHES[mode](test, {
    maxPreemptions,
    ...(budget === undefined ? {} : { budget }),
    ...(mode === "dfs" ? {} : { seed }),
    ...(onProgress === undefined ? {} : { onProgress }),
  });
  if (onProgress !== undefined && result.elapsedMs >= 1000) io.err("\r\x1b[K");

  const violation = result.violation;
  const wantTrace = values.boolean("trace");
  const replayed = violation !== null && (wantTrace || svg !== undefined)
    ? replay(test, violation.schedule, { record: true })
    : null;
  const traceText = wantTrace && replayed !== null
    ? formatTraceExcerpt({ events: replayed.events!, taskNames: replayed.taskNames })
    : null;
  const replayCommand = violation === null ? null : [
    context.launch(),
    "sim",
    "--replay",
    violation.schedule,
    ...scenarioArgs(settings),
  ].map((word, i) => i === 0 ? word : shellWord(word)).join(" ");

  if (values.boolean("json")) {
    io.out(
      JSON.stringify(exploreJson(settings, result, seed, replayCommand, traceText), null, 2) +
        "\n",
    );
  } else {
    io.out(paintReport(formatExploreReport(result, settings), palette));
    if (replayCommand !== null) io.out(`  replay    ${replayCommand}\n`);
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
        `violation with ${plural(violation.preemptions, "preemption")}`,
        `schedule ${violation.schedule}`,
        io,
      );
    }
  }
  return exitCodeOf(exploreVerdict(result), values.boolean("fail-on-violation"));
}

/** The JSON `--json` prints: what applies to this mode, nothing else. */
function exploreJson(
  settings: ScenarioSettings,
  result: ExploreResult,
  seed: number,
  replayCommand: string | null,
  trace: string | null,
): Record<string, unknown> {
  const v = result.violation;
  const dfs = result.mode === "dfs";
  return {
    ...settings,
    mode: result.mode,
    maxPreemptions: result.maxPreemptions,
    ...(dfs ? {} : { seed }),
    schedulesExplored: result.schedulesExplored,
    complete: result.complete,
    ...(dfs ? { boundReached: result.boundReached } : {}),
    elapsedMs: Math.round(result.elapsedMs * 10) / 10,
    schedulesPerSecond: Math.round(result.schedulesExplored / result.elapsedMs * 1000),
    ...(dfs ? { pruned: result.pruned, statesCached: result.finalStates } : {}),
    violation: v && {
      schedule: v.schedule,
      preemptions: v.preemptions,
      steps: v.steps,
      lostUpdates: v.details.lostUpdates ?? 0,
      wrongCpuAccesses: v.wrongCpuAccesses,
      messages: v.messages,
      replay: replayCommand,
      ...(trace === null ? {} : { trace }),
    },
  };
}

/** The `explore` command. */
export const EXPLORE: Command = {
  name: "explore",
  summary: "search the schedules for the minimal failing interleaving",
  description: `Runs the scenario under many schedules of the simulated machine (which task
runs, where a tick preempts, where a preempted task migrates) to find an
interleaving that corrupts the counter. dfs is exhaustive up to
--max-preemptions, trying 0 preemptions, then 1, then 2, so the schedule it
reports needs the fewest preemptions, then the fewest instructions; random and
pct sample schedules (never exhaustive).`,
  flags: FLAGS,
  notes: `The scenario options are sim's; --policy and --quantum do not apply (the
explorer makes every scheduling choice). Defaults are small so that dfs
finishes quickly: --cpus ${SIZES.cpus} --tasks ${SIZES.tasks} --iters ${SIZES.iters}.
`,
  run,
};
