/**
 * Human-readable reports of explorations: what was searched, how far, and
 * the verdict with its schedule string.
 *
 * @module
 */

import type { ExploreResult } from "../explore/explore.ts";
import { resolveSimOptions, type SimOptions } from "../scenario/sim_options.ts";
import { plural } from "./_plural.ts";
import { printable } from "./_printable.ts";

function featureText(features: readonly string[]): string {
  return features.length === 0 ? "no features" : features.join(", ");
}

/**
 * Formats an exploration of a built-in scenario for a terminal.
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
 * const options = { arch: "riscv64", tasks: 2, iters: 1 } as const;
 * const text = formatExploreReport(checkDfs(counterTest(options)), options);
 * assert.match(text, /VIOLATION with 1 preemption/);
 * ```
 */
export function formatExploreReport(result: ExploreResult, options: SimOptions = {}): string {
  const resolved = resolveSimOptions(options);
  const out = [
    `percpu explore (${result.mode}, up to ${
      plural(result.maxPreemptions, "preemption")
    }): ${resolved.scenario} on ${resolved.arch}, ${featureText(resolved.features)}`,
    `  ${plural(resolved.cpus, "CPU")}, ${plural(resolved.tasks, "task")} × ${
      plural(resolved.iters, "increment")
    } (${resolved.access})`,
    "",
    `  schedules explored  ${result.schedulesExplored} in ${result.elapsedMs.toFixed(0)} ms (${
      Math.round(result.schedulesExplored / result.elapsedMs * 1000)
    }/s)${
      result.mode === "dfs"
        ? `, ${result.pruned} redundant`
        : ""
    }`,
    "",
  ];
  const v = result.violation;
  if (v === null) {
    out.push(
      result.complete
        ? `SAFE: no schedule with at most ${
          plural(result.boundReached, "preemption")
        } corrupts the counter (exhaustive).`
        : `No violation found in ${plural(result.schedulesExplored, "schedule")} (${
          result.mode === "dfs" ? "budget exhausted: not exhaustive" : "randomized search"
        }).`,
    );
    return out.join("\n") + "\n";
  }
  out.push(
    `VIOLATION with ${plural(v.preemptions, "preemption")}, ${plural(v.steps, "instruction")}${
      result.mode === "dfs" ? " (minimal)" : ""
    }:`,
    ...v.messages.map((m) => `  - ${printable(m)}`),
    "",
    `  schedule  ${v.schedule}`,
  );
  return out.join("\n") + "\n";
}
