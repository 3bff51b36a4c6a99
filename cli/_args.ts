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
  /**
   * A string flag that also takes the arguments that are not options
   * (`--merge a.json b.json`, as a shell expands `shard-*.json`); without
   * such a flag a command takes no positional argument.
   */
  readonly rest?: boolean;
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
  readonly #positionals: readonly string[];

  /**
   * @param values What `parseArgs` returned.
   * @param flags The command's flags.
   * @param positionals The arguments that are not options (for a `rest` flag).
   */
  constructor(
    values: Readonly<Record<string, string | boolean | undefined>>,
    flags: Flags,
    positionals: readonly string[] = [],
  ) {
    this.#values = values;
    this.#flags = flags;
    this.#positionals = positionals;
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
      if (value === true) return [`--${name}`];
      return this.#flags[name].rest
        ? [`--${name}`, value, ...this.#positionals]
        : [`--${name}`, value];
    });
  }

  /** The flags given, by name, in the table's order. */
  given(): string[] {
    return Object.keys(this.#flags).filter((name) => this.has(name));
  }

  /**
   * A `rest` flag's values: its own and the arguments that are not options.
   *
   * @returns e.g. `["a.json", "b.json"]`, or `undefined` when not given.
   */
  values(name: string): string[] | undefined {
    const first = this.string(name);
    return first === undefined ? undefined : [first, ...this.#positionals];
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
   * An integer flag that also accepts `inf` (no limit).
   *
   * @returns The number, `Infinity` for `inf`, or `undefined`.
   * @throws {UsageError} When it is neither `inf` nor an integer from `min` to `max`.
   */
  integerOrInfinity(name: string, min: number, max: number): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    if (text.trim() === "inf") return Infinity;
    const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new UsageError(
        `--${name} must be an integer from ${min} to ${max}, or inf (no limit), got ${
          JSON.stringify(text)
        }`,
      );
    }
    return value;
  }

  /**
   * A positive number of seconds (`30`, `0.5`).
   *
   * @returns The seconds, or `undefined`.
   * @throws {UsageError} When it is not a decimal number above 0 and at most `max`.
   */
  seconds(name: string, max: number): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const value = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text) ? Number(text) : NaN;
    if (!(value > 0 && value <= max)) {
      throw new UsageError(
        `--${name} must be a number of seconds above 0 and at most ${max} (e.g. 30 or 0.5), got ${
          JSON.stringify(text)
        }`,
      );
    }
    return value;
  }

  /**
   * A part of a whole, `i/n`: part `i` (from 0) of `n`.
   *
   * @returns `{ index, count }`, or `undefined`.
   * @throws {UsageError} When it is not `i/n` with `0 ≤ i < n ≤ max`.
   */
  part(name: string, max: number): { index: number; count: number } | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
    const index = match === null ? NaN : Number(match[1]);
    const count = match === null ? NaN : Number(match[2]);
    if (
      !(Number.isSafeInteger(index) && Number.isSafeInteger(count) && index < count && count <= max)
    ) {
      throw new UsageError(
        `--${name} must be i/n, part i (from 0) of n, with 0 ≤ i < n ≤ ${max} (e.g. 0/4), got ${
          JSON.stringify(text)
        }`,
      );
    }
    return { index, count };
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
   * A comma-separated list of values from `accepted` (`none` or empty: no
   * value, unless `nonEmpty`).
   *
   * @throws {UsageError} Naming the first value not in `accepted`, or an
   *   empty list when `nonEmpty`.
   */
  listOf<T extends string>(
    name: string,
    accepted: readonly T[],
    nonEmpty = false,
  ): T[] | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const items = text.split(",").map((s) => s.trim()).filter((s) => s !== "" && s !== "none");
    const what = `a comma-separated list of ${accepted.join(", ")}${nonEmpty ? "" : " (or none)"}`;
    for (const item of items) {
      if (!accepted.includes(item as T)) {
        throw new UsageError(`--${name} must be ${what}, got ${JSON.stringify(item)}`);
      }
    }
    if (nonEmpty && items.length === 0) {
      throw new UsageError(`--${name} must be ${what}, at least one, got ${JSON.stringify(text)}`);
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
      {
        type: flag.type,
        ...(flag.short === undefined ? {} : { short: flag.short }),
        ...(flag.rest ? { multiple: true } : {}),
      },
    ]),
  );
  const rest = Object.keys(flags).find((name) => flags[name].rest === true);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options,
      strict: true,
      allowPositionals: rest !== undefined,
    });
  } catch (error) {
    // node:util's messages are one line up to a suggestion meant for its own users.
    const message = String((error as Error).message).split("\n")[0]
      .replace(/\. To specify a positional argument.*$/, "")
      .replace(/\.$/, "");
    throw new UsageError(`${message}; see --help`);
  }
  const values = { ...parsed.values } as Record<string, string | string[] | boolean | undefined>;
  // A `rest` flag given several times (`--merge a --merge b`) takes every value.
  const many = rest === undefined ? undefined : values[rest] as string[] | undefined;
  const positionals = [...(many?.slice(1) ?? []), ...parsed.positionals];
  if (rest !== undefined) values[rest] = many?.[0];
  if (positionals.length > 0 && (rest === undefined || values[rest] === undefined)) {
    throw new UsageError(
      `Unexpected argument '${positionals[0]}'${
        rest === undefined ? "" : ` (only --${rest} takes several values)`
      }; see --help`,
    );
  }
  return new FlagValues(values as Record<string, string | boolean | undefined>, flags, positionals);
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
