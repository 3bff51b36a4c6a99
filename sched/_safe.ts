/**
 * Looking at values the simulator did not make — what a task threw or
 * yielded, options that may be Proxies with throwing traps — without ever
 * throwing.
 *
 * @module
 */

import { valueText } from "../lib/_describe.ts";

/**
 * Describes any value for a message; never throws.
 *
 * @param value Anything, hostile included.
 * @returns e.g. `number 42`, `an object`.
 */
export function describeSafely(value: unknown): string {
  try {
    return valueText(value);
  } catch {
    return "a value that cannot be inspected";
  }
}

/**
 * `value instanceof type`, `false` where asking throws (a Proxy whose
 * `getPrototypeOf` trap throws).
 *
 * @param value Anything.
 * @param type A class.
 * @returns Whether `value` is an instance.
 */
export function isInstance(
  value: unknown,
  type: abstract new (...args: never[]) => unknown,
): boolean {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

/**
 * The error to throw for options that could not be checked: a `TypeError`
 * or `RangeError` from the checks as it is, anything else (a getter or a
 * Proxy trap that threw) as a `TypeError` saying so.
 *
 * @param what Whose options (e.g. `Machine`).
 * @param error What checking them threw.
 * @returns The error to throw.
 */
export function optionsError(what: string, error: unknown): Error {
  if (isInstance(error, TypeError) || isInstance(error, RangeError)) return error as Error;
  return new TypeError(`${what}: the options could not be read: ${describeSafely(error)}`, {
    cause: error,
  });
}
