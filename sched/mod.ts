/**
 * A simulated SMP machine that runs generator tasks over a per-CPU system
 * and executes every per-CPU access as the real instruction sequence of its
 * architecture, one instruction per step — so a preemption and migration in
 * the middle of an access can be watched corrupting a counter, and the
 * `preempt` feature's guard can be watched preventing it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simulate } from "@percpu/percpu/sched";
 * const result = simulate({ arch: "riscv64", policy: "cooperative" });
 * assert.equal(result.corrupted, false);
 * ```
 *
 * Four parts: the runtime ({@linkcode Machine}, tasks and their
 * {@linkcode TaskContext}), the built-in scenarios ({@linkcode simulate},
 * {@linkcode counterTest}), the schedule explorer ({@linkcode checkDfs},
 * {@linkcode checkRandom}, {@linkcode checkPct}, {@linkcode replay}) and
 * reports ({@linkcode formatSimReport}, {@linkcode formatExploreReport},
 * {@linkcode formatTraceExcerpt}, {@linkcode renderTimelineSvg}).
 *
 * @module
 */

export { Machine } from "./runtime/machine.ts";
export type { MachineOptions, SpawnOptions } from "./runtime/machine_options.ts";
export type { Misuse, RunStats, StopReason, TaskFailure } from "./runtime/run_stats.ts";
export { TaskContext } from "./runtime/task.ts";
export type { Step, StepOptions, TaskBody } from "./runtime/task.ts";
export { POLICIES } from "./runtime/decisions.ts";
export type { Decisions, Policy } from "./runtime/decisions.ts";
export { SimulationError } from "./errors.ts";
export type { AccessEvent, SimEvent } from "./trace/trace.ts";
export { simulate } from "./scenario/simulate.ts";
export type { SimResult } from "./scenario/simulate.ts";
export type { SimOptions } from "./scenario/sim_options.ts";
export { ACCESS_MODES, SCENARIOS } from "./scenario/scenario.ts";
export type { AccessMode, ScenarioName } from "./scenario/scenario.ts";
export { counterTest } from "./scenario/counter_test.ts";
export { checkDfs, checkPct, checkRandom, replay } from "./explore/explore.ts";
export type {
  ExploreMode,
  ExploreOptions,
  ExploreProgress,
  ExploreResult,
  ExploreStopReason,
  ExploreTest,
  Reduction,
  ReplayResult,
  Violation,
} from "./explore/explore.ts";
export { VIOLATION_KINDS } from "./explore/violations.ts";
export type { ViolationKind } from "./explore/violations.ts";
export { formatSimReport } from "./report/sim_report.ts";
export { formatExploreReport } from "./report/explore_report.ts";
export { renderTimelineSvg } from "./report/timeline_svg.ts";
export { formatTraceExcerpt } from "./report/trace_text.ts";
export type { TimelineInput } from "./report/timeline_svg.ts";
