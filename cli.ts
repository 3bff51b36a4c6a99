/**
 * The `percpu` command line.
 *
 * ```sh
 * deno run cli.ts sim --arch aarch64 --policy preemptive --seed 3
 * deno run cli.ts sim --arch aarch64 --features preempt --json
 * deno run cli.ts explore --arch aarch64 --max-preemptions 2
 * deno run cli.ts --help
 * ```
 *
 * Bad options exit with code 2 and one line on stderr naming the option and
 * the accepted values; nothing is printed on stdout then.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { ARCHES, FEATURES } from "./mod.ts";
import {
  ACCESS_MODES,
  checkDfs,
  checkPct,
  checkRandom,
  counterTest,
  EXPLORE_MODES,
  type ExploreMode,
  type ExploreProgress,
  formatExploreReport,
  formatSimReport,
  POLICIES,
  renderTimelineSvg,
  replay,
  SCENARIOS,
  type SimEvent,
  type SimOptions,
  simulate,
} from "./sched/mod.ts";
import { type ResolvedSimOptions, resolveSimOptions } from "./sched/scenario/sim_options.ts";

/** Where the CLI writes; replaceable for tests. */
export interface CliIo {
  /** Standard output. */
  out(text: string): void;
  /** Standard error. */
  err(text: string): void;
}

const CONSOLE_IO: CliIo = {
  out: (text) => void Deno.stdout.writeSync(new TextEncoder().encode(text)),
  err: (text) => void Deno.stderr.writeSync(new TextEncoder().encode(text)),
};

/** A bad command line: exit code 2. */
class UsageError extends Error {}

const SIM_OPTIONS = {
  arch: { type: "string" },
  features: { type: "string" },
  policy: { type: "string" },
  cpus: { type: "string" },
  tasks: { type: "string" },
  iters: { type: "string" },
  quantum: { type: "string" },
  seed: { type: "string" },
  access: { type: "string" },
  scenario: { type: "string" },
  json: { type: "boolean" },
  svg: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const SIM_ONLY_OPTIONS = { ...SIM_OPTIONS, replay: { type: "string" } } as const;

const EXPLORE_OPTIONS = {
  ...SIM_OPTIONS,
  "max-preemptions": { type: "string" },
  mode: { type: "string" },
  budget: { type: "string" },
} as const;

const USAGE = `percpu — per-CPU data and the SMP scheduler simulation

Usage:
  deno run cli.ts <command> [options]

Commands:
  sim       simulate tasks incrementing a per-CPU counter; report corruption
  explore   search the schedules for the minimal failing interleaving
  help      show this help (also: --help, or <command> --help)
`;

const SIM_USAGE = `Usage: deno run cli.ts sim [options]

Simulates tasks that each add 1 to a per-CPU u64 counter --iters times, on
--cpus simulated CPUs, executing every access as ${ARCHES.length} architectures' real
instruction sequences, and reports lost updates and wrong-CPU accesses.

Options:
  --arch <arch>          ${ARCHES.join(" | ")} (default x86_64)
  --features <a,b>       ${FEATURES.join(", ")} (default none)
  --policy <policy>      ${POLICIES.join(" | ")} (default preemptive)
  --cpus <n>             simulated CPUs, 1-64 (default 2; 1 with sp-naive)
  --tasks <n>            counting tasks, 1-1024 (default 4)
  --iters <n>            increments per task (default 100)
  --quantum <n>          mean instructions between timer ticks (default 10)
  --seed <n>             PRNG seed (default 1); same seed, same trace
  --access <mode>        ${ACCESS_MODES.join(" | ")} (default with-current)
  --scenario <name>      ${SCENARIOS.join(" | ")} (default counter; el2-guest needs aarch64)
  --json                 print one JSON object instead of the report
  --replay <schedule>    replay a schedule printed by \`explore\` (same options)
  --svg <file>           write the run's timeline as SVG (needs --allow-write)
  -h, --help             show this help
`;

const EXPLORE_USAGE = `Usage: deno run cli.ts explore [options]

Runs the scenario under many schedules of the simulated machine (which
task runs, where a tick preempts, where a preempted task migrates) to find
an interleaving that corrupts the counter. dfs is exhaustive up to
--max-preemptions, trying 0 preemptions, then 1, then 2, so the schedule it
reports needs the fewest preemptions, then the fewest instructions.

Options:
  --max-preemptions <k>  preemption bound, 0-8 (default 2)
  --mode <mode>          ${EXPLORE_MODES.join(" | ")} (default dfs)
  --budget <n>           stop after n schedules (default 1000000 dfs, 10000 otherwise)
  --seed <n>             seed of the random and pct modes (default 1)
  --svg <file>           write the violating run's timeline as SVG (needs --allow-write)
  --json                 print one JSON object instead of the report
  and the scenario options of sim: --arch --features --cpus --tasks --iters
  --access --scenario (--policy and --quantum do not apply: the explorer
  makes every scheduling choice)

Defaults are small so dfs finishes quickly: --cpus 2 --tasks 2 --iters 1.
`;

function integer(raw: string | undefined): number | string | undefined {
  if (raw === undefined) return undefined;
  return /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
}

function list(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  return raw.split(",").map((s) => s.trim()).filter((s) => s !== "" && s !== "none");
}

function parse<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (error) {
    const message = (error as Error).message.split("\n")[0];
    throw new UsageError(`${message.replace(/\. To specify.*$/, "")}; see --help`);
  }
}

function simOptions(values: Record<string, string | boolean | undefined>): SimOptions {
  const text = (key: string) => values[key] as string | undefined;
  return {
    arch: text("arch") as SimOptions["arch"],
    features: list(text("features")) as SimOptions["features"],
    policy: text("policy") as SimOptions["policy"],
    cpus: integer(text("cpus")) as number,
    tasks: integer(text("tasks")) as number,
    iters: integer(text("iters")) as number,
    quantum: integer(text("quantum")) as number,
    seed: integer(text("seed")) as number,
    access: text("access") as SimOptions["access"],
    scenario: text("scenario") as SimOptions["scenario"],
  };
}

/** Runs a library call, turning option errors into usage errors (exit 2). */
function checked<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError || error instanceof SyntaxError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

/** Writes an SVG file; returns an exit code (1 when writing is not allowed or fails). */
function writeSvg(path: string, svg: string, io: CliIo): number {
  try {
    Deno.writeTextFileSync(path, svg);
  } catch (error) {
    const denied = error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied;
    io.err(
      denied
        ? `error: --svg needs permission to write ${path}: run with --allow-write=${path}\n`
        : `error: cannot write ${path}: ${(error as Error).message}\n`,
    );
    return 1;
  }
  io.err(`timeline written to ${path}\n`);
  return 0;
}

/** Renders a run's timeline, titled with its scenario and verdict, and writes it. */
function writeTimeline(
  path: string,
  resolved: ResolvedSimOptions,
  run: { events: readonly SimEvent[]; taskNames: readonly string[] },
  verdict: string,
  subtitle: string,
  io: CliIo,
): number {
  const svg = renderTimelineSvg({
    events: run.events,
    taskNames: run.taskNames,
    cpus: resolved.cpus,
    title: `${resolved.scenario} on ${resolved.arch} (${
      featureText(resolved.features)
    }): ${verdict}`,
    subtitle,
  });
  return writeSvg(path, svg, io);
}

function featureText(features: readonly string[]): string {
  return features.length === 0 ? "no features" : features.join(", ");
}

function sim(args: string[], io: CliIo): number {
  const { values } = parse(args, SIM_ONLY_OPTIONS);
  if (values.help) {
    io.out(SIM_USAGE);
    return 0;
  }
  const options = simOptions(values);
  const svg = values.svg as string | undefined;
  const schedule = values.replay as string | undefined;
  const result = checked(() =>
    schedule === undefined
      ? simulate({ ...options, record: svg !== undefined })
      : simulate({ ...options, schedule, record: svg !== undefined })
  );
  if (values.json) {
    const { events: _events, taskNames: _names, ...json } = result;
    io.out(JSON.stringify(schedule === undefined ? json : { ...json, schedule }, null, 2) + "\n");
  } else {
    io.out(formatSimReport(result));
    if (schedule !== undefined) io.out(`\nreplayed schedule ${schedule}\n`);
  }
  if (svg === undefined) return 0;
  return writeTimeline(
    svg,
    result,
    { events: result.events!, taskNames: result.taskNames },
    result.corrupted ? "CORRUPTED" : "ok",
    schedule ?? `${result.policy}, quantum ${result.quantum}, seed ${result.seed}`,
    io,
  );
}

const EXPLORE_DEFAULTS: SimOptions = { cpus: 2, tasks: 2, iters: 1 };

function explore(args: string[], io: CliIo): number {
  const { values } = parse(args, EXPLORE_OPTIONS);
  if (values.help) {
    io.out(EXPLORE_USAGE);
    return 0;
  }
  const given = simOptions(values);
  const options: SimOptions = {
    ...given,
    cpus: given.cpus ?? (given.features?.includes("sp-naive") ? 1 : EXPLORE_DEFAULTS.cpus),
    tasks: given.tasks ?? EXPLORE_DEFAULTS.tasks,
    iters: given.iters ?? EXPLORE_DEFAULTS.iters,
  };
  const mode = (values.mode ?? "dfs") as ExploreMode;
  if (!EXPLORE_MODES.includes(mode)) {
    throw new UsageError(`--mode must be one of ${EXPLORE_MODES.join(", ")}, got "${mode}"`);
  }
  const maxPreemptions = integer(values["max-preemptions"] as string | undefined) ?? 2;
  if (typeof maxPreemptions !== "number" || maxPreemptions < 0 || maxPreemptions > 8) {
    throw new UsageError(
      `--max-preemptions must be an integer from 0 to 8, got ${JSON.stringify(maxPreemptions)}`,
    );
  }
  const budget = integer(values.budget as string | undefined);
  if (budget !== undefined && (typeof budget !== "number" || budget < 1)) {
    throw new UsageError(`--budget must be a positive integer, got ${JSON.stringify(budget)}`);
  }
  const test = checked(() => counterTest(options));
  const resolved = checked(() => resolveSimOptions(options));
  const progress = Deno.stderr.isTerminal()
    ? (p: ExploreProgress) =>
      io.err(
        `\r  ${p.mode}: ${p.schedulesExplored} schedules, ${
          Math.round(p.schedulesExplored / p.elapsedMs * 1000)
        }/s, bound ${p.bound}…`,
      )
    : undefined;
  const explorerOptions = {
    maxPreemptions,
    budget: budget as number | undefined,
    seed: resolved.seed,
    onProgress: progress,
  };
  const search = mode === "dfs" ? checkDfs : mode === "random" ? checkRandom : checkPct;
  const result = checked(() => search(test, explorerOptions));
  if (progress && result.elapsedMs >= 1000) io.err("\r\x1b[K");
  const violation = result.violation;
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          ...resolved,
          mode: result.mode,
          maxPreemptions: result.maxPreemptions,
          schedulesExplored: result.schedulesExplored,
          complete: result.complete,
          boundReached: result.boundReached,
          elapsedMs: Math.round(result.elapsedMs * 10) / 10,
          schedulesPerSecond: Math.round(result.schedulesExplored / result.elapsedMs * 1000),
          pruned: result.pruned,
          statesCached: result.statesCached,
          violation: violation && {
            schedule: violation.schedule,
            preemptions: violation.preemptions,
            steps: violation.steps,
            lostUpdates: violation.details.lostUpdates ?? 0,
            wrongCpuAccesses: violation.wrongCpuAccesses,
            messages: violation.messages,
          },
        },
        null,
        2,
      ) + "\n",
    );
  } else {
    io.out(formatExploreReport(result, resolved));
    if (violation !== null) {
      io.out(
        `  replay    deno run cli.ts sim --replay ${violation.schedule} ${replayFlags(resolved)}\n`,
      );
    }
  }
  if (values.svg === undefined || violation === null) {
    if (values.svg !== undefined) io.err("no violation found: no timeline written\n");
    return 0;
  }
  const run = replay(test, violation.schedule, { record: true });
  return writeTimeline(
    values.svg as string,
    resolved,
    { events: run.events!, taskNames: run.taskNames },
    `violation with ${violation.preemptions} preemption(s)`,
    `schedule ${violation.schedule}`,
    io,
  );
}

function replayFlags(resolved: ResolvedSimOptions): string {
  const flags = [
    `--arch ${resolved.arch}`,
    `--cpus ${resolved.cpus}`,
    `--tasks ${resolved.tasks}`,
    `--iters ${resolved.iters}`,
    `--access ${resolved.access}`,
  ];
  if (resolved.features.length > 0) flags.push(`--features ${resolved.features.join(",")}`);
  if (resolved.scenario !== "counter") flags.push(`--scenario ${resolved.scenario}`);
  return flags.join(" ");
}

/**
 * Runs the CLI.
 *
 * @param args The arguments after the script name.
 * @param io Where to write (default: stdout and stderr).
 * @returns The exit code: 0, or 2 for a bad command line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "@percpu/percpu/cli";
 * let out = "";
 * const code = await main(["sim", "--arch", "riscv64", "--json"], {
 *   out: (text) => void (out += text),
 *   err: () => {},
 * });
 * assert.equal(code, 0);
 * assert.equal(JSON.parse(out).arch, "riscv64");
 * ```
 */
export function main(args: readonly string[], io: CliIo = CONSOLE_IO): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "sim":
        return Promise.resolve(sim(rest, io));
      case "explore":
        return Promise.resolve(explore(rest, io));
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.out(USAGE);
        return Promise.resolve(command === undefined ? 2 : 0);
      default:
        throw new UsageError(
          `unknown command ${JSON.stringify(command)}; accepted: sim, explore, help`,
        );
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\n`);
      return Promise.resolve(2);
    }
    throw error;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
