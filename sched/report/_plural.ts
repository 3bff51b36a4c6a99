/**
 * Counted nouns for reports: "1 preemption", "2 preemptions".
 *
 * @module
 */

/**
 * A count and its noun, singular for exactly one.
 *
 * @param count How many.
 * @param singular The noun for one.
 * @param plural The noun for any other count (default: `singular` + "s").
 * @returns e.g. `1 increment`, `0 increments`.
 */
export function plural(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}
