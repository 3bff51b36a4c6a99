/**
 * How references and views show themselves to `console.log`: as their value,
 * the way Rust's `Debug` prints a `&T` as the `T`. Deno and Node each look
 * for their own symbol.
 *
 * @module
 */

/** The method Deno's `console.log` and `Deno.inspect` call: `(inspect, options)`. */
export const DENO_INSPECT: unique symbol = Symbol.for("Deno.customInspect") as never;

/** The method Node's `util.inspect` calls: `(depth, options, inspect)`. */
export const NODE_INSPECT: unique symbol = Symbol.for("nodejs.util.inspect.custom") as never;

/** Inspects a value with the runtime's own inspector. */
export type Inspect = (value: unknown, options?: unknown) => string;

/**
 * Makes an object show `snapshot()` in `console.log` under Deno and Node.
 * The methods are non-enumerable, so copies and comparisons do not see them.
 *
 * @param target The object (a view, or a Proxy's target).
 * @param snapshot What to show, computed when it is shown.
 */
export function showAs(target: object, snapshot: () => unknown): void {
  Object.defineProperty(target, DENO_INSPECT, {
    configurable: true,
    value: (inspect: Inspect, options: unknown) => inspect(snapshot(), options),
  });
  Object.defineProperty(target, NODE_INSPECT, {
    configurable: true,
    value: (_depth: number, options: unknown, inspect: Inspect) => inspect(snapshot(), options),
  });
}
