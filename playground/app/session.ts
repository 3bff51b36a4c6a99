/**
 * The session the playground drives: the one seam between the page and the
 * explorer's session API (`createSession` and its types, as specified for
 * `sched/explore/session.ts`). Everything in the page goes through here.
 *
 * Until that module is on this branch, this re-exports the temporary
 * stand-in `./_temp_session.ts`. To use the real one, point the two lines
 * below at `../../sched/explore/session.ts`, make `replayableByCli` always
 * true, and delete `_temp_session.ts`.
 *
 * @module
 */

export { createSession } from "./_temp_session.ts";
export type { Session, SessionOptions, StepAnswers } from "./_temp_session.ts";

/**
 * Whether `cli.ts sim --replay` can replay a schedule string of this
 * session. The stand-in's own `t1.` strings replay in the page only; with
 * the real session every schedule replays in the CLI (make this `true`).
 *
 * @param schedule A string from `session.schedule()`.
 * @returns Whether the page may offer the CLI command for it.
 */
export function replayableByCli(schedule: string): boolean {
  return !schedule.startsWith("t1.");
}
