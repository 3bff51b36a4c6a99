/**
 * Human-readable reports of explorations: what was searched, why the search
 * stopped and what that covers, and each kind of violation found with its
 * minimal schedule string.
 *
 * @module
 */

import type { ExploreResult, Violation } from "../explore/explore.ts";
import { VIOLATION_KINDS, type ViolationKind } from "../explore/violations.ts";
import { resolveSimOptions, type SimOptions } from "../scenario/sim_options.ts";
import { plural } from "./_plural.ts";
import { printable } from "./_printable.ts";

/** Each violation kind in words: what the schedule broke. */
const KIND_TEXT: Readonly<Record<ViolationKind, string>> = {
  "lost-update": "the test's invariant failed: updates were lost",
  "wrong-cpu": "a local per-CPU access hit another CPU's area",
  "scheduling-while-atomic": "a task yielded or slept with preemption disabled",
  "preempt-underflow": "preemption was enabled more often than it was disabled",
  "exit-preempt-count": "a task ended holding a preempt count (a guard leaked)",
  "irqs-disabled": "a task gave up its CPU or ended with local IRQs disabled",
  "task-error": "a task failed: it threw, or yielded something that is not an operation",
};

function featureText(features: readonly string[]): string {
  return features.length === 0 ? "no features" : features.join(", ");
}

/** `up to 2 preemptions`, `unbounded`. */
function boundText(bound: number): string {
  return bound === Infinity ? "unbounded" : `up to ${plural(bound, "preemption")}`;
}

/** What the schedules covered: `every schedule with ≤ 2 preemptions`. */
function coverText(bound: number): string {
  return bound === Infinity
    ? "every schedule (unbounded)"
    : `every schedule with ≤ ${plural(bound, "preemption")}`;
}

/**
 * Why the search stopped and what that covers, in one line: `complete: …`
 * or `incomplete: …` for DFS, `randomized: …` otherwise.
 */
function searchText(result: ExploreResult): string {
  const n = plural(result.schedulesExplored, "schedule");
  if (result.mode !== "dfs") {
    const why = result.stopReason === "time" ? "the time limit" : "the budget";
    const cut = result.cutOff > 0
      ? `; ${plural(result.cutOff, "run")} cut off by the cycle limit (undecided)`
      : "";
    return result.violation === null
      ? `randomized: ${n} sampled, stopped by ${why} (a sample, never complete)${cut}`
      : `randomized: stopped at the first violating schedule, after ${n}${cut}`;
  }
  const part = result.shard === null
    ? ""
    : ` (shard ${result.shard.index}/${result.shard.count}: its part only; merge the ${result.shard.count} shards for the whole search)`;
  const covered = result.boundReached >= 0
    ? `; ${coverText(result.boundReached)} was covered${part}`
    : "";
  if (result.stopReason === "complete" && result.cutOff > 0) {
    return `incomplete: ${
      plural(result.cutOff, "schedule")
    } cut off by the cycle limit (undecided)`;
  }
  switch (result.stopReason) {
    case "complete": {
      const equivalence = result.reduction === "dpor" ? ", up to equivalence" : "";
      const early = result.violation !== null && result.boundReached < result.maxPreemptions
        ? "; stopped at the first bound with a violation"
        : "";
      return `complete: ${coverText(result.boundReached)}${equivalence}${part}${early}`;
    }
    case "budget":
      return `incomplete: stopped by the budget after ${n}${covered}`;
    case "time":
      return `incomplete: stopped by the time limit after ${n}${covered}`;
    case "failed":
      return `incomplete: a part of the search failed or is missing${covered}`;
  }
}

/** One violation kind: what broke, where, its messages and schedule. */
function violationText(v: Violation): string[] {
  const where = v.kind === "lost-update"
    ? `judged at the end of the run (${plural(v.steps, "instruction")})`
    : `at instruction ${v.steps}`;
  return [
    `  ${v.kind}: ${KIND_TEXT[v.kind]}`,
    `    ${plural(v.preemptions, "preemption")}, ${where}`,
    ...v.messages.map((m) => `    - ${printable(m)}`),
    `    schedule  ${v.schedule}`,
  ];
}

/**
 * Formats an exploration of a built-in scenario for a terminal: the search
 * (mode, reduction, bound), the schedules run, why the search stopped and
 * what that covers, and the minimal schedule of each kind of violation.
 *
 * @param result What `checkDfs`, `checkRandom` or `checkPct` returned.
 * @param options The scenario options the test was built with (`counterTest(options)`).
 * @returns Lines of text, ending with a newline.
 * @throws {RangeError} On a bad option.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfs, counterTest, formatExploreReport } from "@percpu/percpu/sched";
 * const options = { arch: "riscv64" } as const;
 * const text = formatExploreReport(checkDfs(counterTest(options)), options);
 * assert.match(text, /^VIOLATION with 1 preemption/m);
 * assert.match(text, /wrong-cpu: a local per-CPU access hit another CPU's area/);
 * assert.match(text, /complete: every schedule with ≤ 1 preemption, up to equivalence/);
 * ```
 */
export function formatExploreReport(result: ExploreResult, options: SimOptions = {}): string {
  const resolved = resolveSimOptions(options);
  const dfs = result.mode === "dfs";
  const search = [
    result.mode,
    ...(dfs ? [result.reduction === "dpor" ? "dpor" : "no reduction"] : []),
    boundText(result.maxPreemptions),
    ...(result.shard === null ? [] : [`shard ${result.shard.index}/${result.shard.count}`]),
  ].join(", ");
  const rate = result.elapsedMs > 0
    ? ` (${Math.round(result.schedulesExplored / result.elapsedMs * 1000)}/s)`
    : "";
  const counts = dfs
    ? [
      ...(result.equivalenceClasses === null
        ? []
        : [plural(result.equivalenceClasses, "equivalence class", "equivalence classes")]),
      `${result.pruned} redundant`,
      ...(result.cutOff > 0 ? [`${result.cutOff} cut off`] : []),
    ]
    : result.cutOff > 0
    ? [`${result.cutOff} cut off`]
    : [];
  const out = [
    `percpu explore (${search}): ${resolved.scenario} on ${resolved.arch}, ${
      featureText(resolved.features)
    }`,
    `  ${plural(resolved.cpus, "CPU")}, ${plural(resolved.tasks, "task")} × ${
      plural(resolved.iters, "increment")
    } (${resolved.access})`,
    "",
    `  schedules  ${result.schedulesExplored} in ${result.elapsedMs.toFixed(0)} ms${rate}${
      counts.length === 0 ? "" : `: ${counts.join(", ")}`
    }`,
    `  search     ${searchText(result)}`,
    ...result.failures.map((f) => `  failed     ${printable(f)}`),
    ...(result.scope.violations.length === VIOLATION_KINDS.length
      ? []
      : [`  counting   ${result.scope.violations.join(", ")} (the other kinds are ignored)`]),
    "",
  ];
  const v = result.violation;
  if (v === null) {
    const complete = dfs && result.complete;
    out.push(
      complete
        ? `SAFE: no schedule${
          result.boundReached === Infinity
            ? ""
            : ` with at most ${plural(result.boundReached, "preemption")}`
        } violates the test${
          result.shard === null
            ? ""
            : ` in shard ${result.shard.index}/${result.shard.count}'s part`
        }${
          result.scope.violations.length === VIOLATION_KINDS.length
            ? ""
            : ` (counting ${result.scope.violations.join(", ")})`
        }.`
        : dfs
        ? `INCOMPLETE: no violation in ${plural(result.schedulesExplored, "schedule")}, ` +
          "but the search did not cover its space: no verdict."
        : `No violation found in ${
          plural(result.schedulesExplored, "schedule")
        } (randomized search: a sample, never a proof).`,
    );
    return out.join("\n") + "\n";
  }
  const kinds = result.violations.length;
  out.push(
    `VIOLATION with ${plural(v.preemptions, "preemption")} (${v.kind}): ${
      plural(kinds, "kind")
    } found, the ${dfs ? "minimal" : "first"} schedule of each${
      dfs ? " (fewest preemptions, then fewest instructions up to the violation)" : ""
    }:`,
  );
  for (const each of result.violations) out.push("", ...violationText(each));
  return out.join("\n") + "\n";
}
