/**
 * One per-CPU variable on every architecture: which register holds the
 * per-CPU base and what the crate's macro compiles `read_current()`,
 * `write_current(v)` and `current_ptr()` to.
 *
 *     deno run examples/arch_tour.ts
 *
 * Lines marked `*` read the per-CPU register. Where that instruction sits
 * matters under preemption: on x86_64 a read or a write is one `gs:`-relative
 * instruction, so nothing can come between sampling the register and the
 * access; elsewhere the base is computed first and used later, so a task
 * migrated in between touches the old CPU's copy unless the access runs with
 * preemption disabled (the `preempt` feature). AArch64 is shown twice: with
 * `arm-el2` a hypervisor keeps its base in `TPIDR_EL2`, out of the guest's
 * `TPIDR_EL1`.
 *
 * @module
 */

import { type AccessOp, type Arch, ARCHES, createPercpu, type Feature, u64 } from "../mod.ts";
import { accessProgram, type Instruction } from "../lib/isa/mod.ts";

const OPS: AccessOp[] = ["read", "write", "ptr"];

const targets: [Arch, Feature[]][] = ARCHES.flatMap((arch): [Arch, Feature[]][] =>
  arch === "aarch64" ? [[arch, []], [arch, ["arm-el2"]]] : [[arch, []]]
);

const summary: string[][] = [];
for (const [arch, features] of targets) {
  const p = createPercpu({ arch, features });
  // #[def_percpu] static COUNTER: u64 = 0;
  const COUNTER = p.defPercpu("COUNTER", u64, 0n);
  const columns = OPS.map((op) => accessProgram(COUNTER, op).instructions.map(render));
  const title = [arch, ...features].join(" + ");
  console.log(`── ${title} ── per-CPU register: ${p.percpuReg} `.padEnd(72, "─"));
  printColumns(OPS.map((op) => `COUNTER.${opCall(op)}`), columns);
  console.log();
  summary.push([title, p.percpuReg, ...columns.map((c) => String(c.length))]);
}

console.log("Instructions per access (fewer is not the point: where `*` sits is)");
printColumns(["target", "register", ...OPS], summary[0].map((_, i) => summary.map((r) => r[i])));

function render(instruction: Instruction): string {
  return `${instruction.samplesPercpuReg ? "*" : " "} ${instruction.text}`;
}

function opCall(op: AccessOp): string {
  return op === "read" ? "readCurrent()" : op === "write" ? "writeCurrent(v)" : "currentPtr()";
}

/** Prints lists side by side under their headings, each column padded to its widest line. */
function printColumns(headings: string[], columns: string[][]): void {
  const widths = columns.map((lines, i) =>
    Math.max(headings[i].length, ...lines.map((l) => l.length))
  );
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  │ ").trimEnd();
  console.log(row(headings));
  console.log(widths.map((w) => "─".repeat(w)).join("──┼─"));
  const height = Math.max(...columns.map((c) => c.length));
  for (let line = 0; line < height; line++) console.log(row(columns.map((c) => c[line] ?? "")));
}
