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
 * @module
 */

export * from "./prng.ts";
export * from "./trace.ts";
export * from "./errors.ts";
export * from "./decisions.ts";
export * from "./task.ts";
export * from "./machine.ts";
export * from "./scenario.ts";
export * from "./simulate.ts";
export * from "./report.ts";
export * from "./hasher.ts";
export * from "./schedule.ts";
export * from "./choices.ts";
export * from "./explorer.ts";
export * from "./timeline_svg.ts";
