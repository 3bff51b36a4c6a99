/**
 * The CLI's exit codes, and the verdict each run's code comes from.
 *
 * @module
 */

/** The CLI's exit codes by meaning. */
export interface ExitCodes {
  /** The command ran; with `--fail-on-violation`, nothing was violated. */
  readonly ok: 0;
  /** `--fail-on-violation` and a run was corrupted, or a schedule violated the test. */
  readonly violation: 1;
  /** A bad command line: unknown command or flag, bad value, missing permission. */
  readonly usage: 2;
  /**
   * `--fail-on-violation` and the verdict is undecided: a run or a search
   * stopped before it finished.
   */
  readonly incomplete: 3;
  /** A bug in percpu: the message asks for a report. */
  readonly internal: 70;
}

/**
 * The exit codes, documented in `--help` and the README.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_CODES, main } from "@percpu/percpu/cli";
 * const code = await main(["sim", "--arch", "riscv64", "--fail-on-violation"], {
 *   out: () => {},
 *   err: () => {},
 * });
 * assert.equal(code, EXIT_CODES.violation); // riscv64 without `preempt`: corrupted
 * ```
 */
export const EXIT_CODES: ExitCodes = Object.freeze({
  /** The command ran; with `--fail-on-violation`, nothing was violated. */
  ok: 0,
  /** `--fail-on-violation` and a run was corrupted, or a schedule violated the test. */
  violation: 1,
  /** A bad command line: unknown command or flag, bad value, missing permission. */
  usage: 2,
  /**
   * `--fail-on-violation` and the verdict is undecided: a run or a search
   * stopped before it finished.
   */
  incomplete: 3,
  /** A bug in percpu: the message asks for a report. */
  internal: 70,
});

/** What a command found. */
export type Verdict = "ok" | "violation" | "incomplete";

/**
 * The exit code of a command that ran.
 *
 * @param verdict What it found.
 * @param failOnViolation Whether the user asked for the verdict in the exit code.
 * @returns The exit code.
 */
export function exitCodeOf(verdict: Verdict, failOnViolation: boolean): number {
  return failOnViolation ? EXIT_CODES[verdict] : EXIT_CODES.ok;
}

/** The help text's table of exit codes. */
export const EXIT_HELP = `Exit codes:
  0   the command ran (with --fail-on-violation: and found no violation)
  1   --fail-on-violation, and a violation was found
  2   bad command line: unknown command or option, bad value, missing permission,
      or work that cannot finish within the simulator's cycle limit
  3   --fail-on-violation, and the verdict is undecided: a run stopped at the
      cycle limit before its tasks finished, or a search stopped before it
      covered its space (budget, time limit, a failed or missing shard)
  70  internal error: a bug in percpu (please report it with the command line)
`;
