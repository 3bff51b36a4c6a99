/**
 * Schedule strings: every choice made in one explored run, compactly, so the
 * run can be replayed exactly. Only non-default choices are written, with
 * their position among all choice points:
 *
 *     s2.<test>.<bound>.<steps>.<choice points>.<position>=<choice>,….<check>
 *
 * - `<test>`: the fingerprint of the test the run belongs to (its name,
 *   arch, features, CPUs and variables);
 * - `<bound>`: the preemption bound in decimal, or `inf`; it is part of the
 *   string because it decides where a tick is offered;
 * - `<steps>`: how many steps the run took (a prefix of a run stops there);
 * - `<choice points>` and the pairs: base 36, positions ascending, choices
 *   other than 0;
 * - `<check>`: a CRC-32 of everything before it (7 base-36 digits) followed
 *   by that text's length (base 36). Every single-character change,
 *   deletion, insertion or truncation is refused: a change of one character
 *   is a burst of at most 8 bits, which CRC-32 always detects, and one
 *   more or less character changes the length.
 *
 * Decoding looks at nothing but the string and allocates in proportion to
 * its length; the string is refused unless it is exactly what
 * {@linkcode encodeSchedule} writes for its choices (canonical numbers,
 * ordered positions, no 0 choice written).
 *
 * `s1.` strings were written by earlier versions, whose explorer drove the
 * `stress` scheduler in lock step; this one drives the Linux-like scheduler
 * one CPU step at a time, so no `s1.` string names a run of it: they are
 * refused with a message that says so.
 *
 * @module
 */

import { valueText } from "../../lib/_describe.ts";

/** A decoded schedule; its choices are kept sparse (a run may have millions of choice points). */
export interface Schedule {
  /** Which test it was recorded for. */
  readonly fingerprint: string;
  /** The preemption bound of the run (`Infinity`: unbounded). */
  readonly maxPreemptions: number;
  /** How many steps the run took. */
  readonly steps: number;
  /** How many choice points the run met. */
  readonly length: number;
  /** Positions of the non-default choices, ascending. */
  readonly positions: readonly number[];
  /** The choice at each of `positions` (each ≥ 1). */
  readonly values: readonly number[];
}

const PREFIX = "s2";
/** The longest string decoded: far beyond any schedule the explorer writes. */
const MAX_LENGTH = 4_000_000;
/** Base-36 numbers of at most 10 digits stay below 2^53. */
const BASE36 = /^(0|[1-9a-z][0-9a-z]{0,9})$/;
const BOUND = /^(inf|0|[1-9][0-9]{0,14})$/;
const FINGERPRINT = /^[0-9a-z]{6}$/;
const FORMAT = "s2.<test>.<bound>.<steps>.<choice points>.<position>=<choice>,….<check>";

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE) of an ASCII string. */
function crc32(text: string): number {
  const table = crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    crc = table[(crc ^ text.charCodeAt(i)) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function checkOf(body: string): string {
  return crc32(body).toString(36).padStart(7, "0") + body.length.toString(36);
}

/**
 * Encodes a run's choices.
 *
 * @param fingerprint The test's fingerprint.
 * @param maxPreemptions The run's preemption bound (`Infinity`: unbounded).
 * @param steps How many steps the run took.
 * @param choices The choice made at each choice point, in order.
 * @returns The schedule string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSchedule, encodeSchedule } from "./schedule.ts";
 * const text = encodeSchedule("abcdef", 2, 9, [0, 0, 1, 0, 2]);
 * assert.match(text, /^s2\.abcdef\.2\.9\.5\.2=1,4=2\.[0-9a-z]{8,}$/);
 * const decoded = decodeSchedule(text);
 * assert.deepEqual([decoded.positions, decoded.values], [[2, 4], [1, 2]]);
 * assert.throws(() => decodeSchedule(text.replace("2=1", "2=2")), SyntaxError);
 * ```
 */
export function encodeSchedule(
  fingerprint: string,
  maxPreemptions: number,
  steps: number,
  choices: readonly number[],
): string {
  const pairs: string[] = [];
  for (let position = 0; position < choices.length; position++) {
    const choice = choices[position];
    if (choice !== 0) pairs.push(`${position.toString(36)}=${choice.toString(36)}`);
  }
  const bound = maxPreemptions === Infinity ? "inf" : String(maxPreemptions);
  const body = `${PREFIX}.${fingerprint}.${bound}.${steps.toString(36)}.${
    choices.length.toString(36)
  }.${pairs.join(",")}`;
  return `${body}.${checkOf(body)}`;
}

/**
 * Decodes a schedule string.
 *
 * @param text What {@linkcode encodeSchedule} wrote (surrounding white space is ignored).
 * @returns The schedule.
 * @throws {TypeError} When `text` is not a string.
 * @throws {RangeError} For an `s1.` string (an earlier version's).
 * @throws {SyntaxError} When `text` is not exactly a schedule string: malformed,
 *   not canonical, or failing its check (corrupted or truncated).
 */
export function decodeSchedule(text: string): Schedule {
  if (typeof text !== "string") {
    throw new TypeError(`a schedule must be a string, got ${valueText(text)}`);
  }
  const shown = () =>
    text.length > 80
      ? `${JSON.stringify(text.slice(0, 80))}… (${text.length} characters)`
      : JSON.stringify(text);
  const fail = (why: string): never => {
    throw new SyntaxError(`not a schedule string (${why}): ${shown()}; expected ${FORMAT}`);
  };
  if (text.length > MAX_LENGTH) fail(`longer than ${MAX_LENGTH} characters`);
  const trimmed = text.trim();
  if (trimmed.startsWith("s1.")) {
    throw new RangeError(
      `${shown()} is an s1 schedule string, written by an earlier version of the explorer, which drove the stress scheduler in lock step; this version explores the Linux-like scheduler one CPU step at a time and cannot replay it faithfully: explore again to get an s2 string`,
    );
  }
  if (!/^[!-~]*$/.test(trimmed)) fail("only printable ASCII characters are used");
  const dot = trimmed.lastIndexOf(".");
  const body = trimmed.slice(0, dot);
  if (dot < 0 || !body.startsWith(`${PREFIX}.`)) fail("it must start with s2.");
  if (trimmed.slice(dot + 1) !== checkOf(body)) {
    fail("its check does not match: it was changed or cut short");
  }
  const parts = body.split(".");
  if (parts.length !== 6) fail("wrong number of fields");
  const [, fingerprint, boundText, stepsText, lengthText, pairsText] = parts;
  if (!FINGERPRINT.test(fingerprint)) fail("bad test fingerprint");
  if (!BOUND.test(boundText)) fail("bad preemption bound");
  if (!BASE36.test(stepsText) || !BASE36.test(lengthText)) fail("bad step or choice count");
  const steps = parseInt(stepsText, 36);
  const length = parseInt(lengthText, 36);
  const positions: number[] = [];
  const values: number[] = [];
  if (pairsText !== "") {
    for (const pair of pairsText.split(",")) {
      const equals = pair.indexOf("=");
      const positionText = pair.slice(0, equals);
      const valueText = pair.slice(equals + 1);
      if (equals < 0 || !BASE36.test(positionText) || !BASE36.test(valueText)) {
        fail(`bad pair ${JSON.stringify(pair)}`);
      }
      const position = parseInt(positionText, 36);
      const value = parseInt(valueText, 36);
      if (position >= length) fail(`position ${position} beyond ${length} choice points`);
      if (positions.length > 0 && position <= positions[positions.length - 1]) {
        fail("positions out of order or repeated");
      }
      if (value === 0) fail("a 0 choice is never written");
      positions.push(position);
      values.push(value);
    }
  }
  const maxPreemptions = boundText === "inf" ? Infinity : Number(boundText);
  return { fingerprint, maxPreemptions, steps, length, positions, values };
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
