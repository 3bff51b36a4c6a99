/**
 * The session the playground drives: the one seam between the page and the
 * explorer's session API (`createSession` and its types, as specified for
 * `sched/explore/session.ts`). Everything in the page goes through here.
 *
 * Until that module is on this branch, this re-exports the temporary
 * stand-in `./_temp_session.ts`. With the real module, this file becomes:
 *
 * ```ts ignore
 * import { createSession, scheduleSteps } from "../../sched/explore/session.ts";
 * import type { Session, StepAnswers } from "../../sched/explore/session.ts";
 * import { decodeSchedule } from "../../sched/explore/schedule.ts";
 * import type { ExploreTest } from "../../sched/explore/explore.ts";
 * export { createSession };
 * export type { Session, SessionOptions, StepAnswers } from "../../sched/explore/session.ts";
 * export function openSession(test: ExploreTest, schedule?: string): {
 *   session: Session;
 *   steps: readonly { cpu: number; answers: StepAnswers }[];
 * } {
 *   if (schedule === undefined) return { session: createSession({ test }), steps: [] };
 *   // The steps first: reading them runs the schedule on the test's system.
 *   const steps = scheduleSteps(test, schedule);
 *   // The schedule's own bound, so that the run's string is the one loaded.
 *   const { maxPreemptions } = decodeSchedule(schedule);
 *   return { session: createSession({ test, maxPreemptions }), steps };
 * }
 * export function replayableByCli(_schedule: string): boolean {
 *   return true;
 * }
 * ```

 *
 * and `_temp_session.ts` (with `tests/playground_temp_session_test.ts`) goes.
 *
 * @module
 */

export { createSession, openSession } from "./_temp_session.ts";
export type { Session, SessionOptions, StepAnswers } from "./_temp_session.ts";

/**
 * Whether `cli.ts sim --replay` can replay a schedule string of this
 * session. The stand-in's own `t1.` strings replay in the page only; with
 * the real session every schedule replays in the CLI.
 *
 * @param schedule A string from `session.schedule()`.
 * @returns Whether the page may offer the CLI command for it.
 */
export function replayableByCli(schedule: string): boolean {
  return !schedule.startsWith("t1.");
}
