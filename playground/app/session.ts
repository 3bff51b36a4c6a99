/**
 * The session the playground drives: the one seam between the page and the
 * explorer's session API (`sched/explore/session.ts`). Everything in the
 * page goes through here.
 *
 * @module
 */

import { createSession, scheduleSteps } from "../../sched/explore/session.ts";
import type { Session, StepAnswers } from "../../sched/explore/session.ts";
import { decodeSchedule } from "../../sched/explore/schedule.ts";
import type { ExploreTest } from "../../sched/explore/explore.ts";

export { createSession };
export type { Session, SessionOptions, StepAnswers } from "../../sched/explore/session.ts";

/**
 * Opens a session on `test`: a fresh one, or one that holds a loaded
 * schedule's steps as moves ahead (the page steps through them with redo).
 *
 * @param test The test the page runs.
 * @param schedule A schedule string to load.
 * @returns The session, at the start, and the loaded schedule's steps.
 * @throws {SyntaxError} On a malformed or corrupted schedule string.
 * @throws {RangeError} When the schedule was made for another test or does not fit it.
 */
export function openSession(test: ExploreTest, schedule?: string): {
  session: Session;
  steps: readonly { cpu: number; answers: StepAnswers }[];
} {
  if (schedule === undefined) return { session: createSession({ test }), steps: [] };
  // The steps first: reading them runs the schedule on the test's system.
  const steps = scheduleSteps(test, schedule);
  // The schedule's own bound, so that the run's string is the one loaded.
  const { maxPreemptions } = decodeSchedule(schedule);
  return { session: createSession({ test, maxPreemptions }), steps };
}

/**
 * Whether `cli.ts sim --replay` can replay a schedule string of this
 * session: every string the session makes is an explorer schedule, so yes.
 *
 * @param _schedule A string from `session.schedule()`.
 * @returns `true`.
 */
export function replayableByCli(_schedule: string): boolean {
  return true;
}
