/**
 * The explorer at scale: one search across Workers on this machine
 * ({@linkcode checkDfsParallel}), or across machines as shards
 * (`checkDfs(test, { shard })` on each, then {@linkcode mergeExploreResults}
 * over their results, carried as JSON with {@linkcode exploreResultToJson}
 * and {@linkcode exploreResultFromJson}).
 *
 * @example Shards of one search, merged into one verdict
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfs, counterTest } from "@percpu/percpu/sched";
 * import { exploreResultFromJson, exploreResultToJson, mergeExploreResults } from "@percpu/percpu/sched/parallel";
 * const test = counterTest({ arch: "riscv64", features: ["preempt"], tasks: 2, iters: 1 });
 * const shards = [0, 1, 2].map((index) =>
 *   exploreResultToJson(checkDfs(test, { shard: { index, count: 3 } }))
 * );
 * const merged = mergeExploreResults(shards.map((json) => exploreResultFromJson(json)));
 * assert.equal(merged.stopReason, checkDfs(test).stopReason);
 * assert.equal(merged.violation, null);
 * ```
 *
 * @module
 */

export { checkDfsParallel } from "./explore/parallel.ts";
export type { ParallelOptions, TestSource } from "./explore/parallel.ts";
export {
  exploreResultFromJson,
  exploreResultToJson,
  mergeExploreResults,
} from "./explore/merge.ts";
