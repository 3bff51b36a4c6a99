/**
 * The built-in scenarios: `counter` (tasks increment one per-CPU `u64`) and
 * `el2-guest` (hypervisor tasks count while guest vCPU tasks overwrite
 * `TPIDR_EL1`).
 *
 * @module
 */

import type { Arch, Feature } from "../../lib/arch.ts";
import type { Region } from "../../lib/_memory.ts";
import { createPercpu, type Percpu } from "../../lib/percpu.ts";
import type { ScalarPercpuVar } from "../../lib/percpu_var.ts";
import { u64 } from "../../lib/types.ts";
import { portOf } from "../../lib/_port.ts";
import type { Machine } from "../runtime/machine.ts";
import type { TaskBody } from "../runtime/task.ts";

/** How a counter task adds 1. */
export type AccessMode = "with-current" | "read-write" | "add";

/**
 * Every {@linkcode AccessMode}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ACCESS_MODES, simulate } from "@percpu/percpu/sched";
 * const safe = ACCESS_MODES.filter((access) => !simulate({ access, iters: 20 }).corrupted);
 * assert.deepEqual(safe, ["add"]); // on x86_64, one gs-relative add cannot be split
 * ```
 */
export const ACCESS_MODES: readonly AccessMode[] = Object.freeze([
  "with-current",
  "read-write",
  "add",
]);

/** A built-in scenario. */
export type ScenarioName = "counter" | "el2-guest";

/**
 * Every {@linkcode ScenarioName}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SCENARIOS, simulate } from "@percpu/percpu/sched";
 * const guest = simulate({ scenario: SCENARIOS[1], arch: "aarch64", features: ["preempt"] });
 * assert.ok(guest.wrongCpuAccesses > 0); // guests overwrote TPIDR_EL1 under the hypervisor
 * ```
 */
export const SCENARIOS: readonly ScenarioName[] = Object.freeze(["counter", "el2-guest"]);

/** What a scenario is built from. */
export interface ScenarioOptions {
  /** Architecture. */
  readonly arch: Arch;
  /** Crate features. */
  readonly features: readonly Feature[];
  /** Number of counting tasks (hypervisor tasks for `el2-guest`). */
  readonly tasks: number;
  /** Increments per task. */
  readonly iters: number;
  /** How each increment is done. */
  readonly access: AccessMode;
  /** Which scenario. */
  readonly scenario: ScenarioName;
}

/** A built scenario: its system and counter, ready to populate a machine. */
export interface Scenario {
  /** The per-CPU system (variables defined, not yet initialised). */
  readonly percpu: Percpu;
  /** The per-CPU `u64` counter. */
  readonly counter: ScalarPercpuVar<"u64">;
  /** Increments the tasks perform in all. */
  readonly expected: number;
  /** Spawns the scenario's tasks on a machine built over `percpu`. */
  spawn(machine: Machine): void;
  /** The counter summed over the machine's CPUs. */
  observe(machine: Machine): number;
}

/** The closure `withCurrent` applies; named so listings read `bl increment`. */
function increment(value: bigint): bigint {
  return value + 1n;
}

/**
 * A counting task. The access mode is tested inline rather than through a
 * helper generator: every `yield*` level is paid on each resume.
 */
function counterTask(counter: ScalarPercpuVar<"u64">, iters: number, access: AccessMode): TaskBody {
  return function* (ctx) {
    for (let i = 0; i < iters; i++) {
      if (access === "with-current") {
        yield* ctx.withCurrent(counter, increment);
      } else if (access === "add") {
        yield* ctx.add(counter, 1n);
      } else {
        const value = yield* ctx.read(counter);
        yield* ctx.write(counter, value + 1n);
      }
      for (let work = (i + ctx.id) % 3; work > 0; work--) yield;
      yield* ctx.schedYield();
    }
  };
}

/**
 * Builds a scenario.
 *
 * @param options Arch, features, task count, iterations, access mode,
 *   scenario: checked already (`resolveSimOptions`).
 * @returns The scenario.
 */
export function buildScenario(options: ScenarioOptions): Scenario {
  const percpu = createPercpu({ arch: options.arch, features: options.features });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  const { tasks, iters, access } = options;
  const guest = options.scenario === "el2-guest";
  let guestRam: Region | null = null;
  return {
    percpu,
    counter,
    expected: tasks * iters,
    spawn(machine) {
      for (let t = 0; t < tasks; t++) {
        machine.spawn(counterTask(counter, iters, access), {
          name: guest ? `hyp${t} (EL2)` : `task${t}`,
        });
      }
      if (!guest) return;
      const ram = guestRam ??= portOf(percpu).memory.allocate("guest RAM", 64 * machine.cpus);
      for (let v = 0; v < machine.cpus; v++) {
        const guestBase = ram.start + 64 * v;
        machine.spawn(function* (ctx) {
          for (let i = 0; i < iters; i++) {
            yield* ctx.writeSysreg("TPIDR_EL1", guestBase);
            yield* ctx.work(2);
            yield* ctx.schedYield();
          }
        }, { name: `vcpu${v} (EL1)`, cpu: v });
      }
    },
    observe(machine) {
      let sum = 0n;
      for (let cpu = 0; cpu < machine.cpus; cpu++) sum += counter.remoteRefRaw(cpu).value;
      return Number(sum);
    },
  };
}
