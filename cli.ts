/**
 * The `percpu` command line: simulate the per-CPU counter race on any
 * architecture, search the schedules for the smallest failing interleaving,
 * and gate a CI job on the verdict.
 *
 * ```sh
 * deno run jsr:@percpu/percpu/cli sim --arch aarch64 --seed 3
 * deno run jsr:@percpu/percpu/cli sim --arch aarch64 --features preempt --json
 * deno run jsr:@percpu/percpu/cli explore --arch riscv64 --trace
 * deno run jsr:@percpu/percpu/cli explore --features preempt --fail-on-violation
 * deno run jsr:@percpu/percpu/cli explore --shard 0/4 --json > shard-0.json
 * deno run --allow-read jsr:@percpu/percpu/cli explore --merge shard-*.json
 * deno run jsr:@percpu/percpu/cli help sim
 * ```
 *
 * Exit codes: 0 the command ran (with `--fail-on-violation`: and found no
 * violation); 1 `--fail-on-violation` and a violation was found; 2 a bad
 * command line (one line on stderr naming the option and what it accepts,
 * nothing on stdout); 3 `--fail-on-violation` and the verdict is undecided
 * (a run stopped at the cycle limit, or a search before it covered its
 * space); 70 an internal error (a bug). The CLI needs no permission, except
 * `--allow-write=<file>` for `--svg <file>` and `--allow-read` for
 * `explore --merge <files>`.
 *
 * @module
 */

import { COMMON_FLAGS, flagHelp, parseFlags, UsageError } from "./cli/_args.ts";
import { allFlags, type Command, type CommandContext, commandHelp } from "./cli/_command.ts";
import { EXIT_CODES, EXIT_HELP } from "./cli/_exit.ts";
import { type CliIo, consoleIo, paletteFor } from "./cli/_io.ts";
import { launchCommand } from "./cli/_invocation.ts";
import { VERSION } from "./cli/_version.ts";
import { EXPLORE } from "./cli/explore.ts";
import { SIM } from "./cli/sim.ts";

export type { CliIo } from "./cli/_io.ts";
export { EXIT_CODES } from "./cli/_exit.ts";
export type { ExitCodes } from "./cli/_exit.ts";

/** The commands, in the order the help lists them. */
const COMMANDS: readonly Command[] = [SIM, EXPLORE];

const CLI_URL = new URL("./cli.ts", import.meta.url).href;

function usage(launch: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), "help".length) + 3;
  const commands = [
    ...COMMANDS.map((c) => [c.name, c.summary]),
    ["help", "show the help of the CLI, or of a command: help <command>"],
  ];
  return `percpu ${VERSION} — per-CPU data and the SMP scheduler simulation

Usage: ${launch} <command> [options]

Commands:
${commands.map(([name, summary]) => `  ${name.padEnd(width)}${summary}`).join("\n")}

Options:
${
    flagHelp({
      ...COMMON_FLAGS,
      version: { type: "boolean", short: "V", help: "print the version" },
    })
  }
${EXIT_HELP}`;
}

function find(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    const names = [...COMMANDS.map((c) => c.name), "help"].join(", ");
    throw new UsageError(`unknown command ${JSON.stringify(name)}; accepted: ${names}`);
  }
  return command;
}

function dispatch(args: readonly string[], context: CommandContext): number | Promise<number> {
  const { io } = context;
  const [first, ...rest] = args;
  switch (first) {
    case undefined:
      io.err(usage(context.launch()));
      return EXIT_CODES.usage;
    case "--help":
    case "-h":
      io.out(usage(context.launch()));
      return EXIT_CODES.ok;
    case "--version":
    case "-V":
      io.out(`percpu ${VERSION}\n`);
      return EXIT_CODES.ok;
    case "help": {
      if (rest.length > 1) throw new UsageError("help takes at most one command name");
      io.out(
        rest.length === 0 ? usage(context.launch()) : commandHelp(find(rest[0]), context.launch()),
      );
      return EXIT_CODES.ok;
    }
  }
  const command = find(first);
  const values = parseFlags(rest, allFlags(command));
  if (values.boolean("help")) {
    io.out(commandHelp(command, context.launch()));
    return EXIT_CODES.ok;
  }
  return command.run(values, context);
}

/**
 * Runs the CLI.
 *
 * @param args The arguments after the script's name.
 * @param io Where to write (default: the console, with colour on a terminal
 *   unless `NO_COLOR` is set).
 * @returns The exit code: 0, 1 (`--fail-on-violation` and a violation), 2
 *   (a bad command line), 3 (`--fail-on-violation` and an undecided run) or
 *   70 (an internal error); see {@linkcode EXIT_CODES}.
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
export async function main(args: readonly string[], io: CliIo = consoleIo()): Promise<number> {
  let cwd: string | null = null;
  try {
    cwd = Deno.cwd();
  } catch {
    // No read permission for the working directory: hints use absolute paths.
  }
  const context: CommandContext = {
    io,
    palette: paletteFor(io.color ?? false),
    launch: (denoFlags = []) => launchCommand(CLI_URL, cwd, denoFlags),
  };
  try {
    return await dispatch(args, context);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\n`);
      return EXIT_CODES.usage;
    }
    const name = error instanceof Error ? error.name : typeof error;
    const message = error instanceof Error ? error.message : String(error);
    io.err(
      `internal error (a bug in percpu ${VERSION}; please report it with the command line): ${name}: ${message}\n`,
    );
    return EXIT_CODES.internal;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
