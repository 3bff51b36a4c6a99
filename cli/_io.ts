/**
 * Where the CLI writes, and how it colours what it writes.
 *
 * @module
 */

/** Where the CLI writes; replaceable, e.g. to capture the output in tests. */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /**
   * Colour the output. Default for the console: standard output is a
   * terminal and `NO_COLOR` is not set; `false` for any other `CliIo`.
   */
  readonly color?: boolean;
  /**
   * Show live progress on `err`. Default for the console: standard error is a
   * terminal; `false` for any other `CliIo`.
   */
  readonly progress?: boolean;
}

/**
 * Whether to colour: only for a terminal, and never when the user set
 * `NO_COLOR` (https://no-color.org: any non-empty value).
 *
 * @param isTerminal The stream is a terminal.
 * @param noColor `NO_COLOR` is set.
 * @returns Whether to emit colour codes.
 */
export function wantsColor(isTerminal: boolean, noColor: boolean): boolean {
  return isTerminal && !noColor;
}

/** The console: stdout and stderr, colour and progress decided from the streams. */
export function consoleIo(): CliIo {
  const encoder = new TextEncoder();
  return {
    out: (text) => void Deno.stdout.writeSync(encoder.encode(text)),
    err: (text) => void Deno.stderr.writeSync(encoder.encode(text)),
    // Deno.noColor reads NO_COLOR at startup without needing --allow-env.
    color: wantsColor(Deno.stdout.isTerminal(), Deno.noColor),
    progress: Deno.stderr.isTerminal(),
  };
}

/** Text styles; identity functions when colour is off. */
export interface Palette {
  /** Headings. */
  bold(text: string): string;
  /** Violations. */
  red(text: string): string;
  /** Passing verdicts. */
  green(text: string): string;
  /** Undecided verdicts and warnings. */
  yellow(text: string): string;
  /** Secondary text. */
  dim(text: string): string;
}

const sgr = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`;

const COLORS: Palette = {
  bold: sgr(1, 22),
  red: sgr(31, 39),
  green: sgr(32, 39),
  yellow: sgr(33, 39),
  dim: sgr(2, 22),
};

const plain = (text: string) => text;
const PLAIN: Palette = { bold: plain, red: plain, green: plain, yellow: plain, dim: plain };

/**
 * The palette for an output.
 *
 * @param color Whether to colour.
 * @returns Styles that colour, or leave text as it is.
 */
export function paletteFor(color: boolean): Palette {
  return color ? COLORS : PLAIN;
}

/**
 * `1 preemption`, `2 preemptions`.
 *
 * @param count How many.
 * @param singular The noun for one.
 * @param plural The noun for several (default: `singular` + "s").
 * @returns The count and the noun.
 */
export function plural(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}
