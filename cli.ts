/**
 * The `percpu` command line.
 *
 * ```sh
 * deno run cli.ts sim --arch aarch64 --policy preemptive --seed 3
 * deno run cli.ts sim --arch aarch64 --features preempt --json
 * deno run cli.ts --help
 * ```
 *
 * Bad options exit with code 2 and one line on stderr naming the option and
 * the accepted values; nothing is printed on stdout then.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { ARCHES, FEATURES } from "./lib/arch_names.ts";
import { POLICIES } from "./sched/decisions.ts";
import { formatSimReport } from "./sched/report.ts";
import { ACCESS_MODES, SCENARIOS } from "./sched/scenario.ts";
import { type SimOptions, simulate } from "./sched/simulate.ts";

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
  help: { type: "boolean", short: "h" },
} as const;

const USAGE = `percpu — per-CPU data and the SMP scheduler simulation

Usage:
  deno run cli.ts <command> [options]

Commands:
  sim       simulate tasks incrementing a per-CPU counter; report corruption
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
  -h, --help             show this help
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

function sim(args: string[], io: CliIo): number {
  const { values } = parse(args, SIM_OPTIONS);
  if (values.help) {
    io.out(SIM_USAGE);
    return 0;
  }
  let result;
  try {
    result = simulate(simOptions(values));
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
  if (values.json) {
    const { events: _events, taskNames: _names, ...json } = result;
    io.out(JSON.stringify(json, null, 2) + "\n");
  } else {
    io.out(formatSimReport(result));
  }
  return 0;
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
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.out(USAGE);
        return Promise.resolve(command === undefined ? 2 : 0);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}; accepted: sim, help`);
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
