/**
 * Schedule strings: every choice the machine made in one run, compactly,
 * so a run can be replayed exactly. Only non-default choices are written,
 * with their position among all choice points:
 *
 *     s1.<test fingerprint>.<preemption bound>.<choice points>.<position>=<choice>,…
 *
 * The bound is part of it because it decides where preemptions are offered.
 * Numbers are base 36, e.g. `s1.k3v9x2.2.1c.7=1,8=1`.
 *
 * @module
 */

import { valueText } from "../../lib/_describe.ts";

/** A decoded schedule. */
export interface Schedule {
  /** Which test it was recorded for. */
  readonly fingerprint: string;
  /** The preemption bound of the run. */
  readonly maxPreemptions: number;
  /** How many choice points the run had. */
  readonly length: number;
  /** The choice at every position (0 where not written). */
  readonly choices: readonly number[];
}

const PREFIX = "s1";

/**
 * Encodes a run's choices.
 *
 * @param fingerprint The test's fingerprint.
 * @param maxPreemptions The run's preemption bound.
 * @param choices The choice made at each choice point.
 * @returns The schedule string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSchedule, encodeSchedule } from "./schedule.ts";
 * const text = encodeSchedule("abc", 2, [0, 0, 1, 0, 2]);
 * assert.equal(text, "s1.abc.2.5.2=1,4=2");
 * assert.deepEqual(decodeSchedule(text).choices, [0, 0, 1, 0, 2]);
 * ```
 */
export function encodeSchedule(
  fingerprint: string,
  maxPreemptions: number,
  choices: readonly number[],
): string {
  const pairs: string[] = [];
  choices.forEach((choice, position) => {
    if (choice !== 0) pairs.push(`${position.toString(36)}=${choice.toString(36)}`);
  });
  const bound = maxPreemptions.toString(36);
  return `${PREFIX}.${fingerprint}.${bound}.${choices.length.toString(36)}.${pairs.join(",")}`;
}

/**
 * Decodes a schedule string.
 *
 * @param text What {@linkcode encodeSchedule} produced.
 * @returns The schedule.
 * @throws {SyntaxError} When `text` is not a schedule string.
 */
export function decodeSchedule(text: string): Schedule {
  const fail = (why: string): never => {
    throw new SyntaxError(
      `not a schedule string (${why}): ${
        valueText(text)
      }; expected s1.<fingerprint>.<bound>.<n>.<pos>=<choice>,…`,
    );
  };
  if (typeof text !== "string") fail("not a string");
  const parts = text.trim().split(".");
  if (parts.length !== 5 || parts[0] !== PREFIX) fail("wrong format");
  const [, fingerprint, boundText, lengthText, pairsText] = parts;
  if (![fingerprint, boundText, lengthText].every((part) => /^[0-9a-z]+$/.test(part))) {
    fail("bad header");
  }
  const maxPreemptions = parseInt(boundText, 36);
  const length = parseInt(lengthText, 36);
  const choices = new Array<number>(length).fill(0);
  for (const pair of pairsText === "" ? [] : pairsText.split(",")) {
    const match = /^([0-9a-z]+)=([0-9a-z]+)$/.exec(pair);
    if (!match) fail(`bad pair "${pair}"`);
    const position = parseInt(match![1], 36);
    if (position >= length) fail(`position ${position} beyond ${length} choice points`);
    choices[position] = parseInt(match![2], 36);
  }
  return { fingerprint, maxPreemptions, length, choices };
}

/**
 * A short fingerprint of anything JSON-serialisable, to tie schedules to the
 * test they were recorded for.
 *
 * @param value The test's identity (options, names).
 * @returns Six base-36 digits.
 */
export function fingerprintOf(value: unknown): string {
  let h = 0x811c9dc5;
  for (const char of JSON.stringify(value)) h = Math.imul(h ^ char.charCodeAt(0), 0x01000193);
  return (h >>> 0).toString(36).padStart(7, "0").slice(-6);
}
