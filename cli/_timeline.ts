/**
 * `--svg`: a run's timeline, titled with its scenario and verdict.
 *
 * @module
 */

import { renderTimelineSvg, type SimEvent } from "../sched/mod.ts";
import { writeOutput } from "./_files.ts";
import type { CliIo } from "./_io.ts";
import type { ScenarioSettings } from "./_scenario.ts";

/**
 * Renders a recorded run and writes it to `path`.
 *
 * @param path The file (writable: checked before the run).
 * @param run The run's events and task names.
 * @param settings Its scenario.
 * @param verdict What the title says of it.
 * @param subtitle The second line (how it was scheduled).
 * @param io Where to say that it was written.
 * @throws {UsageError} When the file cannot be written.
 */
export function writeTimeline(
  path: string,
  run: { readonly events: readonly SimEvent[]; readonly taskNames: readonly string[] },
  settings: ScenarioSettings,
  verdict: string,
  subtitle: string,
  io: CliIo,
): void {
  const features = settings.features.length === 0 ? "no features" : settings.features.join(", ");
  const svg = renderTimelineSvg({
    events: run.events,
    taskNames: run.taskNames,
    cpus: settings.cpus,
    title: `${settings.scenario} on ${settings.arch} (${features}): ${verdict}`,
    subtitle,
  });
  writeOutput(path, svg, "--svg");
  io.err(`timeline written to ${path}\n`);
}
