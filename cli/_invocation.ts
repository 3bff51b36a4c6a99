/**
 * How to run this CLI again: the command its hints print, so that a user
 * can paste them whether the CLI came from JSR or from a clone.
 *
 * @module
 */

/** The JSR package's name: `@scope/name`. */
export const PACKAGE = "@percpu/percpu";

/**
 * The command that runs the CLI, for a CLI module at `cliUrl`: `deno run
 * jsr:@percpu/percpu@<version>/cli` when it came from a JSR registry, else
 * `deno run <path>` (relative to `cwd` when it lies below it).
 *
 * @param cliUrl The URL of `cli.ts`.
 * @param cwd The working directory, if known.
 * @param denoFlags Deno flags the command needs (`--allow-write=race.svg`).
 * @returns A command line a shell can run, ending before the CLI's arguments.
 */
export function launchCommand(
  cliUrl: string,
  cwd: string | null,
  denoFlags: readonly string[] = [],
): string {
  const url = new URL(cliUrl);
  let target = url.href;
  const published = new RegExp(`/${PACKAGE}/([^/]+)/cli\\.ts$`).exec(url.pathname);
  if (url.protocol !== "file:" && published) {
    target = `jsr:${PACKAGE}@${published[1]}/cli`;
  } else if (url.protocol === "file:") {
    // file:///C:/x on Windows is the path C:/x.
    target = decodeURIComponent(url.pathname).replace(/^\/([A-Za-z]:\/)/, "$1");
    if (cwd !== null) {
      const base = cwd.endsWith("/") ? cwd : `${cwd}/`;
      if (target.startsWith(base)) target = target.slice(base.length);
    }
  }
  return ["deno", "run", ...denoFlags, target].map(shellWord).join(" ");
}

/**
 * Quotes a word for a POSIX shell when it needs it.
 *
 * @param word Any text.
 * @returns The word, single-quoted if it holds anything but safe characters.
 */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
