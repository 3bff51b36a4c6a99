/**
 * Up-front check that the requested work fits the simulator's cycle limit,
 * so that a user hears "too big" before waiting for a run that cannot
 * finish, not after.
 *
 * @module
 */

import { type SimOptions, simulate } from "../sched/mod.ts";
import { UsageError } from "./_args.ts";
import { plural } from "./_io.ts";

/**
 * The machine's default `maxCycles`, which `simulate()` and the explorer
 * use: a run stops there, finished or not. A test checks that they agree.
 */
export const CYCLE_LIMIT = 10_000_000;

/** The pilot run's increments per task: enough to average over scheduling noise. */
const PILOT_ITERS = 16;
/** Refuse above this multiple of the limit (the pilot overestimates a little, never by 50%). */
const REFUSE_ABOVE = 1.5;
/** Warn above this fraction of the limit. */
const WARN_ABOVE = 0.8;

/**
 * Estimates the cycles a run needs from a pilot run with fewer increments
 * (cycles grow linearly with increments per task), refuses work that cannot
 * fit and warns about work that may not.
 *
 * @param options The run's options (every field given).
 * @param iters The increments per task asked for.
 * @returns A warning to print, or `null`.
 * @throws {UsageError} When the run cannot finish within the cycle limit.
 */
export function checkCycleBudget(
  options: SimOptions & { readonly cpus: number; readonly tasks: number },
  iters: number,
): string | null {
  if (iters <= PILOT_ITERS) return null;
  const pilot = simulate({ ...options, iters: PILOT_ITERS, record: false, schedule: undefined });
  if (pilot.cycles >= CYCLE_LIMIT) {
    throw new UsageError(
      `these options cannot finish: even ${PILOT_ITERS} increments per task did not finish within the simulator's limit of ${
        millions(CYCLE_LIMIT)
      } cycles`,
    );
  }
  const estimate = pilot.cycles / PILOT_ITERS * iters;
  const need = `${options.tasks} tasks × ${iters} increments need about ${
    millions(estimate)
  } cycles on ${plural(options.cpus, "CPU")}`;
  if (estimate > REFUSE_ABOVE * CYCLE_LIMIT) {
    const most = Math.floor(CYCLE_LIMIT / (pilot.cycles / PILOT_ITERS) * 0.9);
    throw new UsageError(
      `${need}, more than the simulator's limit of ${
        millions(CYCLE_LIMIT)
      }: use --iters ${most} or less, fewer --tasks or more --cpus`,
    );
  }
  if (estimate > WARN_ABOVE * CYCLE_LIMIT) {
    return `warning: ${need}, close to the simulator's limit of ${
      millions(CYCLE_LIMIT)
    }: the run may stop before it finishes (its verdict is then "incomplete")`;
  }
  return null;
}

function millions(cycles: number): string {
  return `${(cycles / 1e6).toFixed(1)} M`;
}
