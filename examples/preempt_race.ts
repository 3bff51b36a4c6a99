/**
 * Why per-CPU access needs preemption disabled, on every architecture.
 *
 *     deno run examples/preempt_race.ts
 *
 * Tasks on simulated CPUs each add 1 to a per-CPU `u64` counter, executing
 * the real instruction sequence of each architecture one instruction per
 * step. Without the `preempt` feature a timer tick can fall between the
 * instruction that reads the per-CPU register and the store: another task
 * on the same CPU then increments the same copy, or the load balancer moves
 * the task to another CPU, where it finishes the increment in the old CPU's
 * area. The table sums several seeds per row.
 *
 * @module
 */

import { ARCHES, createPercpu, u64 } from "../mod.ts";
import { type SimOptions, simulate } from "../sched/mod.ts";
import { accessProgram } from "../lib/isa/mod.ts";

const SEEDS = [1, 2, 3, 4, 5];
const BASE: SimOptions = { cpus: 2, tasks: 3, iters: 100, quantum: 10 };

interface Row {
  readonly label: string;
  readonly options: SimOptions;
}

interface Totals {
  corrupted: number;
  lost: number;
  wrong: number;
  preemptions: number;
  migrations: number;
}

function run(options: SimOptions): Totals {
  const totals = { corrupted: 0, lost: 0, wrong: 0, preemptions: 0, migrations: 0 };
  for (const seed of SEEDS) {
    const r = simulate({ ...BASE, ...options, seed });
    totals.corrupted += r.corrupted ? 1 : 0;
    totals.lost += r.lostUpdates ?? 0;
    totals.wrong += r.wrongCpuAccesses;
    totals.preemptions += r.preemptions;
    totals.migrations += r.migrations;
  }
  return totals;
}

const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
const paint = (code: number, text: string) => color ? `\x1b[${code}m${text}\x1b[0m` : text;

const HEADER = ["", "runs corrupted", "lost updates", "wrong-CPU", "preemptions", "migrations"];
const WIDTHS = [50, 15, 13, 10, 12, 11];

function line(cells: readonly string[]): string {
  return cells.map((cell, i) => i === 0 ? cell.padEnd(WIDTHS[i]) : cell.padStart(WIDTHS[i]))
    .join(" ");
}

function printRow(row: Row): void {
  const t = run(row.options);
  const verdict = t.corrupted === 0 ? paint(32, "✓ safe") : paint(31, "✗ CORRUPTED");
  console.log(
    line([
      row.label,
      `${t.corrupted}/${SEEDS.length}`,
      String(t.lost),
      String(t.wrong),
      String(t.preemptions),
      String(t.migrations),
    ]) + `   ${verdict}`,
  );
}

function section(title: string, rows: readonly Row[]): void {
  console.log(paint(1, title));
  for (const row of rows) printRow(row);
  console.log();
}

console.log(
  `Per-CPU counter race: ${BASE.cpus} CPUs, ${BASE.tasks} tasks × ${BASE.iters} increments, ` +
    `timer tick every ~${BASE.quantum} instructions, ${SEEDS.length} seeds per row\n`,
);
console.log(paint(2, line(HEADER)));

for (const arch of ARCHES) {
  const counter = createPercpu({ arch }).defPercpu("COUNTER", u64, 0n);
  const listing = accessProgram(counter, "with-current").instructions;
  const sampler = listing.findIndex((i) => i.samplesPercpuReg) + 1;
  section(
    `${arch}: with_current is ${listing.length} instructions, the register is read by #${sampler}`,
    [
      {
        label: "  cooperative (switch only at sched_yield)",
        options: { arch, policy: "cooperative" },
      },
      { label: "  preemptive, with_current, no `preempt`", options: { arch } },
      { label: "  preemptive, with_current, `preempt`", options: { arch, features: ["preempt"] } },
    ],
  );
}

section("single instruction vs. load/add/store (this_cpu_add, no `preempt`)", [
  { label: "  x86_64: add qword ptr gs:[…], rdx", options: { arch: "x86_64", access: "add" } },
  { label: "  riscv64: lui, add gp, ld, add, sd", options: { arch: "riscv64", access: "add" } },
]);

section("sp-naive: one CPU, plain globals (preemption still interleaves)", [
  {
    label: "  x86_64 sp-naive, with_current",
    options: { arch: "x86_64", features: ["sp-naive"], cpus: 1 },
  },
  {
    label: "  x86_64 sp-naive + preempt",
    options: { arch: "x86_64", features: ["sp-naive", "preempt"], cpus: 1 },
  },
]);

section("arm-el2: guest vCPUs at EL1 write TPIDR_EL1, hypervisor tasks count at EL2", [
  {
    label: "  aarch64 + preempt (base in TPIDR_EL1)",
    options: { arch: "aarch64", scenario: "el2-guest", features: ["preempt"] },
  },
  {
    label: "  aarch64 + preempt + arm-el2 (TPIDR_EL2)",
    options: { arch: "aarch64", scenario: "el2-guest", features: ["preempt", "arm-el2"] },
  },
]);

section("two guarded calls are not one critical section", [
  {
    label: "  aarch64 + preempt, read_current; write_current",
    options: { arch: "aarch64", features: ["preempt"], access: "read-write" },
  },
]);

console.log(
  [
    "Why: an increment is a read-modify-write, and on every architecture but x86_64 even one",
    "access is several instructions, the per-CPU register read by one of the first. A tick in",
    "the middle lets another task on the same CPU increment the same copy (lost updates), and",
    "the load balancer may move the preempted task to the other CPU, where the rest of the",
    "access hits the old CPU's area (wrong-CPU). With `preempt`, the access holds a NoPreempt",
    "guard: the tick only sets need-resched, and the switch happens when the guard is released.",
    "Three tasks on two CPUs keep the balancer busy, as Linux balances for fairness;",
    "`--policy stress` migrates at every tick instead.",
    "",
    "Try: deno run cli.ts sim --arch aarch64 --tasks 3 --seed 3",
  ].join("\n"),
);
