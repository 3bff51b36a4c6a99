/**
 * `sim`: one simulation of the counter scenario, its report, and optionally
 * its trace and timeline.
 *
 * @module
 */

import {
  counterTest,
  formatSimReport,
  formatTraceExcerpt,
  POLICIES,
  type Policy,
  type SimResult,
  simulate,
} from "../sched/mod.ts";
import { type Flags, type FlagValues, UsageError } from "./_args.ts";
import { type Command, type CommandContext, userInput } from "./_command.ts";
import { exitCodeOf, type Verdict } from "./_exit.ts";
import { ensureWritable } from "./_files.ts";
import { checkCycleBudget } from "./_limits.ts";
import { paintReport } from "./_paint.ts";
import { RANGES, scenarioFlags, scenarioSettings, SIM_SIZES } from "./_scenario.ts";
import { writeTimeline } from "./_timeline.ts";
import { shellWord } from "./_invocation.ts";

const DEFAULT_POLICY: Policy = "preemptive";
const DEFAULT_QUANTUM = 10;
const DEFAULT_SEED = 1;

/** The flags of a run's verdict and outputs, shared with `explore`. */
export const OUTPUT_FLAGS: Flags = {
  json: { type: "boolean", help: "print one JSON object instead of the report" },
  trace: {
    type: "boolean",
    help: "show the cycles around the first bad access, per CPU (keeps every event in memory)",
  },
  svg: {
    type: "string",
    value: "<file>",
    help: "write the timeline as SVG (needs --allow-write=<file>)",
  },
  "fail-on-violation": {
    type: "boolean",
    help: "exit 1 on a violation, 3 on an undecided run (see Exit codes)",
  },
};

const FLAGS: Flags = {
  ...scenarioFlags(SIM_SIZES),
  policy: {
    type: "string",
    value: "<policy>",
    help: `${POLICIES.join(" | ")} (default ${DEFAULT_POLICY})`,
  },
  quantum: {
    type: "string",
    value: "<n>",
    help: `mean instructions between timer ticks, ${RANGES.quantum[0]}-${
      RANGES.quantum[1]
    } (default ${DEFAULT_QUANTUM})`,
  },
  seed: {
    type: "string",
    value: "<n>",
    help: `PRNG seed (default ${DEFAULT_SEED}); same options and seed, same trace`,
  },
  replay: {
    type: "string",
    value: "<schedule>",
    help: "replay a schedule printed by `explore` (with its scenario options)",
  },
  ...OUTPUT_FLAGS,
};

/**
 * A run's verdict. A run that stopped before its tasks finished is
 * undecided unless it already saw a violation.
 *
 * @param result What `simulate()` returned.
 * @returns The verdict.
 */
export function simVerdict(result: SimResult): Verdict {
  if (result.corrupted) return "violation";
  if ("completed" in result && result.completed === false) return "incomplete";
  return "ok";
}

function run(values: FlagValues, context: CommandContext): number {
  const { io, palette } = context;
  const settings = scenarioSettings(values, SIM_SIZES);
  const schedule = values.string("replay");
  if (schedule !== undefined) {
    const extra = ["policy", "quantum", "seed"].filter((name) => values.has(name));
    if (extra.length > 0) {
      throw new UsageError(
        `${
          extra.map((name) => `--${name}`).join(", ")
        } do not apply with --replay: the schedule makes every scheduling choice`,
      );
    }
  }
  const options = {
    ...settings,
    policy: values.oneOf("policy", POLICIES) ?? DEFAULT_POLICY,
    quantum: values.integer("quantum", ...RANGES.quantum) ?? DEFAULT_QUANTUM,
    seed: values.integer("seed", ...RANGES.seed) ?? DEFAULT_SEED,
  };
  // Cross-option rules (sp-naive's one CPU, el2-guest's arch) are the
  // simulator's: building the scenario checks them without running it.
  userInput(() => counterTest(options));
  const svg = values.string("svg");
  const writeFlags = svg === undefined ? [] : [`--allow-write=${svg}`];
  if (svg !== undefined) ensureWritable(svg, "--svg", () => rerun(context, values, writeFlags));
  const trace = values.boolean("trace");
  const record = svg !== undefined || trace;

  let result: SimResult;
  if (schedule === undefined) {
    const warning = checkCycleBudget(options, settings.iters);
    if (warning !== null) io.err(palette.yellow(warning) + "\n");
    result = simulate({ ...options, record });
  } else {
    result = userInput(() => simulate({ ...settings, schedule, record }));
  }
  const verdict = simVerdict(result);
  const traceText = trace && verdict === "violation"
    ? formatTraceExcerpt({ events: result.events!, taskNames: result.taskNames })
    : null;

  if (values.boolean("json")) {
    io.out(JSON.stringify(simJson(result, traceText), null, 2) + "\n");
  } else {
    io.out(paintReport(formatSimReport(result), palette));
    if (traceText !== null) io.out("\n" + traceText);
    else if (trace) io.out("\nNo violation: no trace to show.\n");
    else if (verdict === "violation") {
      io.out(`\n  trace     ${rerun(context, values, writeFlags, ["--trace"])}\n`);
    }
  }
  if (svg !== undefined) {
    writeTimeline(
      svg,
      { events: result.events!, taskNames: result.taskNames },
      result,
      verdict === "violation" ? "CORRUPTED" : verdict,
      schedule ?? `${result.policy}, quantum ${result.quantum}, seed ${result.seed}`,
      io,
    );
  }
  return exitCodeOf(verdict, values.boolean("fail-on-violation"));
}

/** The JSON `--json` prints: the result without what does not apply to it. */
function simJson(result: SimResult, trace: string | null): Record<string, unknown> {
  const { events: _events, taskNames: _names, ...json } = result;
  if (result.schedule !== undefined) {
    const { policy: _policy, quantum: _quantum, seed: _seed, ...replayed } = json;
    return trace === null ? replayed : { ...replayed, trace };
  }
  return trace === null ? json : { ...json, trace };
}

/** This command line again, with Deno flags added and some flags more. */
function rerun(
  context: CommandContext,
  values: FlagValues,
  denoFlags: readonly string[],
  more: readonly string[] = [],
): string {
  return [context.launch(denoFlags), "sim", ...[...values.args(), ...more].map(shellWord)].join(
    " ",
  );
}

/** The `sim` command. */
export const SIM: Command = {
  name: "sim",
  summary: "simulate tasks incrementing a per-CPU counter; report corruption",
  description: `Simulates tasks that each add 1 to a per-CPU u64 counter --iters times on --cpus
simulated CPUs, executing every access as the architecture's real instruction
sequence, one instruction per step, and reports lost updates and wrong-CPU
accesses. Same options and seed, same trace hash.`,
  flags: FLAGS,
  run,
};
