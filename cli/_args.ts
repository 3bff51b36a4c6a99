/**
 * Flags: one table per command gives the parser, the values' checks and the
 * help text, so adding a flag is adding one entry.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** A bad command line: the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  /** The error's name. */
  override readonly name = "UsageError";
}

/** One flag of a command. */
export interface Flag {
  /** `string` takes a value (`--arch x86_64`); `boolean` does not (`--json`). */
  readonly type: "string" | "boolean";
  /** A one-letter alias (`-h`). */
  readonly short?: string;
  /** The value's placeholder in the help (`<arch>`). */
  readonly value?: string;
  /** What it does, and its default: one line of the help. */
  readonly help: string;
}

/** A command's flags by name (without the leading `--`). */
export type Flags = Readonly<Record<string, Flag>>;

/** The flags every command accepts. */
export const COMMON_FLAGS: Flags = {
  help: { type: "boolean", short: "h", help: "show this help" },
};

/** What the user gave, by flag name. */
export class FlagValues {
  readonly #values: Readonly<Record<string, string | boolean | undefined>>;
  readonly #flags: Flags;

  /**
   * @param values What `parseArgs` returned.
   * @param flags The command's flags.
   */
  constructor(values: Readonly<Record<string, string | boolean | undefined>>, flags: Flags) {
    this.#values = values;
    this.#flags = flags;
  }

  /**
   * The flags given, as arguments again (in the table's order): to print a
   * command line that repeats this one.
   *
   * @param except Flags to leave out.
   * @returns e.g. `["--arch", "aarch64", "--json"]`.
   */
  args(except: readonly string[] = []): string[] {
    return Object.keys(this.#flags).flatMap((name) => {
      const value = this.#values[name];
      if (value === undefined || value === false || except.includes(name)) return [];
      return value === true ? [`--${name}`] : [`--${name}`, value];
    });
  }

  /** Whether the flag was given. */
  has(name: string): boolean {
    return this.#values[name] !== undefined;
  }

  /** A boolean flag: `true` when given. */
  boolean(name: string): boolean {
    return this.#values[name] === true;
  }

  /** A string flag's value, or `undefined`. */
  string(name: string): string | undefined {
    const value = this.#values[name];
    return typeof value === "string" ? value : undefined;
  }

  /**
   * An integer flag, checked against its range.
   *
   * @throws {UsageError} When it is not an integer from `min` to `max`.
   */
  integer(name: string, min: number, max: number): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new UsageError(
        `--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`,
      );
    }
    return value;
  }

  /**
   * A flag whose value is one of a list.
   *
   * @throws {UsageError} When it is not one of `accepted`.
   */
  oneOf<T extends string>(name: string, accepted: readonly T[]): T | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    if (!accepted.includes(text as T)) {
      throw new UsageError(
        `--${name} must be one of ${accepted.join(", ")}, got ${JSON.stringify(text)}`,
      );
    }
    return text as T;
  }

  /**
   * A comma-separated list of values from `accepted` (`none` or empty: no value).
   *
   * @throws {UsageError} Naming the first value not in `accepted`.
   */
  listOf<T extends string>(name: string, accepted: readonly T[]): T[] | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const items = text.split(",").map((s) => s.trim()).filter((s) => s !== "" && s !== "none");
    for (const item of items) {
      if (!accepted.includes(item as T)) {
        throw new UsageError(
          `--${name} must be a comma-separated list of ${accepted.join(", ")} (or none), got ${
            JSON.stringify(item)
          }`,
        );
      }
    }
    return [...new Set(items)] as T[];
  }
}

/**
 * Parses a command's arguments.
 *
 * @param args The arguments after the command's name.
 * @param flags The command's flags.
 * @returns The values given.
 * @throws {UsageError} On an unknown flag, a missing value or a positional argument.
 */
export function parseFlags(args: readonly string[], flags: Flags): FlagValues {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, flag]) => [
      name,
      flag.short === undefined ? { type: flag.type } : { type: flag.type, short: flag.short },
    ]),
  );
  try {
    const { values } = parseArgs({ args: [...args], options, strict: true });
    return new FlagValues(values as Record<string, string | boolean | undefined>, flags);
  } catch (error) {
    // node:util's messages are one line up to a suggestion meant for its own users.
    const message = String((error as Error).message).split("\n")[0]
      .replace(/\. To specify a positional argument.*$/, "")
      .replace(/\.$/, "");
    throw new UsageError(`${message}; see --help`);
  }
}

/**
 * The options part of a command's help, one aligned line per flag.
 *
 * @param flags The command's flags.
 * @returns Lines of text.
 */
export function flagHelp(flags: Flags): string {
  const lines = Object.entries(flags).map(([name, flag]) => {
    const names = `${flag.short === undefined ? "" : `-${flag.short}, `}--${name}`;
    return [flag.value === undefined ? names : `${names} ${flag.value}`, flag.help] as const;
  });
  const width = Math.max(...lines.map(([left]) => left.length)) + 2;
  return lines.map(([left, help]) => `  ${left.padEnd(width)}${help}\n`).join("");
}
