/**
 * The one place where arguments and options are checked: wrong JavaScript
 * types throw `TypeError`, values out of range `RangeError`, and every
 * message says what was checked, the value given and what is accepted.
 *
 * @module
 */

import { isRevokedProxy, valueText } from "./_describe.ts";

/**
 * Checks an integer argument or option.
 *
 * @param value The value given.
 * @param what What it is, for the message (e.g. `createPercpu: cpuNum`).
 * @param min The smallest accepted value.
 * @param max The largest accepted value (default: the largest safe integer).
 * @returns `value`, typed.
 * @throws {TypeError} When `value` is not a number.
 * @throws {RangeError} When it is not an integer from `min` to `max`.
 */
export function checkInteger(
  value: unknown,
  what: string,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== "number") {
    throw new TypeError(`${what} must be a number, got ${valueText(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new RangeError(`${what} must be an integer ${range}, got ${valueText(value)}`);
  }
  return value;
}

/**
 * Checks that a value is one of a list of names.
 *
 * @param value The value given.
 * @param accepted The accepted names.
 * @param what What it is, for the message.
 * @returns `value`, typed.
 * @throws {TypeError} When `value` is not a string.
 * @throws {RangeError} When it is not one of `accepted`.
 */
export function checkOneOf<T extends string>(
  value: unknown,
  accepted: readonly T[],
  what: string,
): T {
  if (typeof value !== "string") {
    throw new TypeError(
      `${what} must be one of ${accepted.join(", ")}, got ${valueText(value)}`,
    );
  }
  if (!(accepted as readonly string[]).includes(value)) {
    throw new RangeError(
      `${what} must be one of ${accepted.join(", ")}, got ${valueText(value)}`,
    );
  }
  return value as T;
}

/**
 * Checks an options object: `undefined` means none, anything but a plain
 * object is refused, and so is a key outside `keys` (a misspelt option
 * would otherwise be ignored silently).
 *
 * @param value The options given.
 * @param keys The accepted option names.
 * @param what Whose options, for the message (e.g. `createPercpu`).
 * @returns The options, or an empty object for `undefined`.
 * @throws {TypeError} On a non-object or an unknown key.
 */
export function checkOptions<T extends object>(
  value: T | undefined,
  keys: readonly string[],
  what: string,
): Partial<T> {
  if (value === undefined) return {};
  if (
    typeof value !== "object" || value === null || isRevokedProxy(value) || Array.isArray(value)
  ) {
    throw new TypeError(`${what} options must be an object, got ${valueText(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new TypeError(
        `unknown ${what} option ${JSON.stringify(key)}; accepted: ${keys.join(", ")}`,
      );
    }
  }
  return value;
}
