/**
 * Human-readable reports of simulations: the verdict, the counts, and the
 * instruction sequence of one increment with the instruction that samples
 * the per-CPU register marked.
 *
 * @module
 */

import type { AccessOp } from "../../lib/isa/access_program.ts";
import { hex } from "../../lib/_describe.ts";
import { createPercpu } from "../../lib/percpu.ts";
import { u64 } from "../../lib/types.ts";
import { programOf } from "../../lib/_port.ts";
import type { AccessMode } from "../scenario/scenario.ts";
import type { ResolvedSimOptions } from "../scenario/sim_options.ts";
import type { SimResult } from "../scenario/simulate.ts";
import { plural } from "./_plural.ts";
import { printable } from "./_printable.ts";

/** One instruction of a listing. */
export interface ListingLine {
  /** The assembly. */
  readonly text: string;
  /** It reads the per-CPU register: from here on, the CPU is fixed. */
  readonly samples: boolean;
  /** It reads or writes memory. */
  readonly memory: boolean;
}

const OPS: Record<AccessMode, readonly AccessOp[]> = {
  "with-current": ["with-current"],
  "read-write": ["read", "write"],
  "add": ["add"],
};

/**
 * The instructions of one increment of the `counter` scenario, as the
 * simulator executes them.
 *
 * @param options Arch, features and access mode.
 * @returns One line per instruction.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { incrementListing } from "./sim_report.ts";
 * const lines = incrementListing({ arch: "x86_64", features: [], access: "add" });
 * assert.deepEqual(lines.map((l) => l.text), ["add qword ptr gs:[offset __PERCPU_COUNTER], rdx"]);
 * ```
 */
export function incrementListing(
  options: Pick<ResolvedSimOptions, "arch" | "features" | "access">,
): ListingLine[] {
  const percpu = createPercpu({ arch: options.arch, features: options.features });
  const counter = percpu.defPercpu("COUNTER", u64, 0n);
  return OPS[options.access].flatMap((op) =>
    programOf(counter, op, { fn: "increment" }).instructions.map((i) => ({
      text: i.text,
      samples: i.samplesPercpuReg,
      memory: i.accessesMemory,
    }))
  );
}

function features(result: ResolvedSimOptions): string {
  return result.features.length === 0 ? "no features" : `features ${result.features.join(", ")}`;
}

const STOP_REASONS: Record<Exclude<SimResult["stopReason"], "completed">, string> = {
  "cycle-limit": "stopped at the cycle limit",
  "system-reinitialized": "the per-CPU system was initialised again during the run",
  "stopped": "stopped before the tasks ended",
};

/**
 * Formats a simulation result for a terminal. Task names and messages are
 * printed with control characters escaped.
 *
 * @param result What `simulate()` returned.
 * @returns Lines of text, ending with a newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSimReport, simulate } from "@percpu/percpu/sched";
 * const text = formatSimReport(simulate({ arch: "x86_64", access: "add" }));
 * assert.match(text, /OK: every increment landed/);
 * const cut = formatSimReport(simulate({ arch: "x86_64", maxCycles: 50 }));
 * assert.match(cut, /INCOMPLETE: stopped at the cycle limit/);
 * ```
 */
export function formatSimReport(result: SimResult): string {
  // A replayed schedule makes every scheduling choice: policy, quantum and
  // seed played no part, so the report does not name them.
  const schedule = result.schedule;
  const policy = schedule !== undefined
    ? "replaying a schedule"
    : result.policy === "cooperative"
    ? "cooperative"
    : `${result.policy} (tick every ~${result.quantum} instructions)`;
  const out: string[] = [
    `percpu sim: ${result.scenario} on ${result.arch}, ${features(result)}, ${policy}`,
    `  ${plural(result.cpus, "CPU")}, ${plural(result.tasks, "task")} × ${
      plural(result.iters, "increment")
    } (${result.access})${schedule === undefined ? `, seed ${result.seed}` : ""}`,
    ...(schedule === undefined ? [] : [`  schedule ${schedule}`]),
    "",
  ];
  const rows: [string, number | string][] = [
    ["expected", result.expected],
    ["observed", result.observed],
    ["lost updates", result.lostUpdates ?? "undecided (incomplete run)"],
    ["wrong-CPU accesses", result.wrongCpuAccesses],
    ["preemptions", result.preemptions],
    ["migrations", result.migrations],
    ["pulls", result.pulls],
    ["context switches", result.contextSwitches],
    ["instructions", result.instructions],
    ["cycles", result.cycles],
    ["trace hash", result.traceHash],
  ];
  for (const [label, value] of rows) out.push(`  ${label.padEnd(20)} ${value}`);
  out.push("");
  const name = (task: number) => printable(result.taskNames[task] ?? `task${task}`);
  if (result.stopReason !== "completed") {
    out.push(
      `INCOMPLETE: ${STOP_REASONS[result.stopReason]} after ${result.cycles} cycles; ` +
        "no verdict on the counter.",
    );
    if (result.stopReason === "cycle-limit") {
      out.push(`  raise maxCycles (now ${result.maxCycles}) or do less work (tasks × iters).`);
    }
    if (result.wrongCpuAccesses > 0) {
      out.push(`  ${result.wrongCpuAccesses} accesses hit another CPU's area before the stop.`);
    }
  } else if (result.corrupted) {
    const why: string[] = [];
    const lost = result.lostUpdates ?? 0;
    if (lost !== 0) {
      why.push(
        lost > 0
          ? `${plural(lost, "increment was", "increments were")} lost`
          : `${
            plural(-lost, "increment was", "increments were")
          } counted twice (stale values stored)`,
      );
    }
    if (result.wrongCpuAccesses > 0) {
      why.push(`${plural(result.wrongCpuAccesses, "access", "accesses")} hit another CPU's area`);
    }
    out.push(`CORRUPTED: ${why.join("; ")}.`);
  } else {
    out.push("OK: every increment landed, and every access hit the running CPU's own area.");
  }
  const first = result.firstViolation;
  if (first) {
    const where = first.hitCpu < 0
      ? "memory outside every per-CPU area"
      : `CPU ${first.hitCpu}'s area`;
    out.push(
      `  first: cycle ${first.cycle}, ${
        name(first.task)
      } running on CPU ${first.cpu} executed \`${first.text}\` at ${
        hex(first.address)
      }, in ${where}.`,
    );
  }
  for (const misuse of result.misuses) {
    out.push(
      `  kernel: ${printable(misuse.message)} (cycle ${misuse.cycle}, CPU ${misuse.cpu})`,
    );
  }
  for (const failure of result.failures) {
    out.push(
      `  ${printable(failure.task)} failed on CPU ${failure.cpu}: ${printable(failure.message)}`,
    );
  }
  if (result.scenario === "counter") {
    out.push("", `One increment (${result.access}) on ${result.arch}:`);
    for (const line of incrementListing(result)) {
      const note = line.samples
        ? "  <- samples the per-CPU register"
        : line.memory
        ? "  <- memory"
        : "";
      out.push(note ? `    ${line.text.padEnd(52)}${note}` : `    ${line.text}`);
    }
  }
  return out.join("\n") + "\n";
}
