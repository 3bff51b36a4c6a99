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
type Inspect = (value: unknown, options?: unknown) => string;

/**
 * Renders what an object stands for, for Deno.
 *
 * @param value What to show instead of the object.
 * @param inspect Deno's inspector, as it passes it.
 * @param options Deno's options, as it passes them.
 * @returns The rendering.
 */
export function denoInspect(value: unknown, inspect: Inspect, options: unknown): string {
  return inspect(value, options);
}

/**
 * Renders what an object stands for, for Node.
 *
 * @param value What to show instead of the object.
 * @param options Node's options, as it passes them.
 * @param inspect Node's inspector, as it passes it.
 * @returns The rendering.
 */
export function nodeInspect(value: unknown, options: unknown, inspect: Inspect): string {
  return inspect(value, options);
}

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
    value: (inspect: Inspect, options: unknown) => denoInspect(snapshot(), inspect, options),
  });
  Object.defineProperty(target, NODE_INSPECT, {
    configurable: true,
    value: (_depth: number, options: unknown, inspect: Inspect) =>
      nodeInspect(snapshot(), options, inspect),
  });
}
