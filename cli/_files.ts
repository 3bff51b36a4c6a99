/**
 * Output files (`--svg`): permission is checked before any work is done, so
 * a missing `--allow-write` costs the user nothing but the message.
 *
 * @module
 */

import { UsageError } from "./_args.ts";

/**
 * Makes sure the CLI may write `path`: granted already, or granted at the
 * prompt Deno shows on a terminal.
 *
 * @param path The file.
 * @param flag The CLI flag that names it (`--svg`).
 * @param rerun The command line to suggest, with the `--allow-write` it needs.
 * @throws {UsageError} When writing is not allowed, with the command that allows it.
 */
export function ensureWritable(path: string, flag: string, rerun: () => string): void {
  if (permission({ name: "write", path }, flag) !== "granted") {
    throw new UsageError(
      `${flag} needs permission to write ${path}: run ${rerun()}`,
    );
  }
}

/**
 * The state of a permission, asked for at Deno's prompt on a terminal.
 *
 * @throws {UsageError} When the path is not one Deno accepts (empty, say).
 */
function permission(
  descriptor: { readonly name: "read" | "write"; readonly path: string },
  flag: string,
): Deno.PermissionState {
  try {
    let state = Deno.permissions.querySync(descriptor).state;
    if (state === "prompt" && Deno.stdin.isTerminal()) {
      state = Deno.permissions.requestSync(descriptor).state;
    }
    return state;
  } catch (error) {
    throw new UsageError(
      `${flag}: ${JSON.stringify(descriptor.path)} is not a file name: ${(error as Error).message}`,
    );
  }
}

/**
 * Writes a text file.
 *
 * @param path The file.
 * @param text Its content.
 * @param flag The CLI flag that names it.
 * @throws {UsageError} When the file cannot be written (no such directory, …).
 */
export function writeOutput(path: string, text: string, flag: string): void {
  try {
    Deno.writeTextFileSync(path, text);
  } catch (error) {
    throw new UsageError(`${flag}: cannot write ${path}: ${(error as Error).message}`);
  }
}

/**
 * Makes sure the CLI may read `path`: granted already, or granted at the
 * prompt Deno shows on a terminal.
 *
 * @param path The file or directory.
 * @param flag The CLI flag that needs it (`--merge`).
 * @param why What reading is for, for the message.
 * @param rerun The command line to suggest, with the `--allow-read` it needs.
 * @throws {UsageError} When reading is not allowed, with the command that allows it.
 */
export function ensureReadable(
  path: string,
  flag: string,
  why: string,
  rerun: (path: string) => string,
): void {
  if (permission({ name: "read", path }, flag) !== "granted") {
    throw new UsageError(`${flag} needs permission ${why}: run ${rerun(path)}`);
  }
}
