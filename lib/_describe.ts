/**
 * Short renderings of values for error messages.
 *
 * @module
 */

/**
 * Describes a value for an error message: its type and a short rendering.
 *
 * @param value Anything.
 * @returns e.g. `number 1.5`, `string "a"`, `undefined`.
 */
export function valueText(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "undefined":
      return "undefined";
    case "string":
      return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
    case "bigint":
      return `bigint ${value}n`;
    case "number":
    case "boolean":
      return `${typeof value} ${String(value)}`;
    case "function":
      return "a function";
    case "symbol":
      return `symbol ${String(value)}`;
    default:
      if (isRevokedProxy(value)) return "a revoked Proxy";
      // A Proxy's `length` may throw: a message about a bad value must not.
      try {
        return Array.isArray(value) ? `an array of length ${value.length}` : "an object";
      } catch {
        return "an object";
      }
  }
}

/**
 * Tells whether a value is a revoked Proxy, which every operation refuses
 * with a raw `TypeError`; checks call this first to refuse it in their own
 * words.
 *
 * @param value Anything.
 * @returns `true` for a revoked Proxy.
 */
export function isRevokedProxy(value: unknown): boolean {
  if (typeof value !== "object" && typeof value !== "function") return false;
  try {
    // Array.isArray throws only for a revoked Proxy, and runs no user code.
    Array.isArray(value);
    return false;
  } catch {
    return true;
  }
}

/**
 * Formats an address the way the crate's tests print them.
 *
 * @param address A non-negative integer.
 * @returns e.g. `0x80200000`.
 */
export function hex(address: number): string {
  return "0x" + address.toString(16);
}
