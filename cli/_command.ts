/**
 * What a command is: its flags, its help and how it runs. `cli.ts` lists the
 * commands; adding one is writing one of these.
 *
 * @module
 */

import { COMMON_FLAGS, flagHelp, type Flags, type FlagValues, UsageError } from "./_args.ts";
import { EXIT_HELP } from "./_exit.ts";
import type { CliIo, Palette } from "./_io.ts";

/** What a command runs with. */
export interface CommandContext {
  /** Where to write. */
  readonly io: CliIo;
  /** Colours, or none. */
  readonly palette: Palette;
  /**
   * The command line that runs this CLI, for hints.
   *
   * @param denoFlags Deno flags the suggested command needs.
   */
  launch(denoFlags?: readonly string[]): string;
}

/** A command of the CLI. */
export interface Command {
  /** Its name: the first argument. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** What it does, for its help (after the usage line). */
  readonly description: string;
  /** Its flags (`--help` is added to every command). */
  readonly flags: Flags;
  /** The help's closing notes (defaults, examples). */
  readonly notes?: string;
  /**
   * Runs the command.
   *
   * @returns The exit code (a promise for work that waits: files, Workers).
   * @throws {UsageError} On a bad command line.
   */
  run(values: FlagValues, context: CommandContext): number | Promise<number>;
}

/** A command's flags including the common ones. */
export function allFlags(command: Command): Flags {
  return { ...command.flags, ...COMMON_FLAGS };
}

/**
 * A command's help.
 *
 * @param command The command.
 * @param launch How the CLI is run.
 * @returns The help text.
 */
export function commandHelp(command: Command, launch: string): string {
  return [
    `Usage: ${launch} ${command.name} [options]\n`,
    `${command.description}\n`,
    `Options:\n${flagHelp(allFlags(command))}`,
    ...(command.notes === undefined ? [] : [command.notes]),
    EXIT_HELP,
  ].join("\n");
}

/**
 * Runs a library call whose errors are the user's: option checks and the
 * like. Their documented errors (`TypeError`, `RangeError`, `SyntaxError`)
 * become usage errors; engine errors (a stack overflow, say) stay what
 * they are, bugs.
 *
 * @param call The call.
 * @returns What it returned.
 * @throws {UsageError} With the library's message.
 */
export function userInput<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (
      (error instanceof RangeError || error instanceof TypeError ||
        error instanceof SyntaxError) && !isEngineError(error)
    ) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

/** Errors JavaScript itself throws: never a message of this library's. */
function isEngineError(error: Error): boolean {
  return /^(Maximum call stack size exceeded|Invalid (typed )?array length|Array buffer allocation failed|Cannot (read|set) properties of)/
    .test(error.message) || / is not (a function|iterable|a constructor)$/.test(error.message);
}
