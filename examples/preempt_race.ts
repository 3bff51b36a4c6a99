/**
 * Why per-CPU access needs preemption disabled, on every architecture.
 *
 *     deno run examples/preempt_race.ts      (or: deno task demo)
 *
 * Tasks on simulated CPUs each add 1 to a per-CPU `u64` counter, executing
 * the real instruction sequence of each architecture one instruction per
 * step. Without the `preempt` feature a timer tick can fall between the
 * instruction that reads the per-CPU register and its last memory access:
 * another task on the same CPU then increments the same copy, or the load
 * balancer moves the preempted task to the other CPU, where it finishes the
 * increment with the old CPU's address. The table sums several seeds per
 * row; the explanation under it is computed from the instruction listings
 * and from the table itself, so it says what this run printed. No permission
 * is needed.
 *
 * @module
 */

import { ARCHES, createPercpu, type Feature, u64 } from "../mod.ts";
import { type AccessMode, type SimOptions, simulate } from "../sched/mod.ts";
import { type AccessOp, accessProgram } from "../lib/isa/mod.ts";

const SEEDS = [1, 2, 3, 4, 5];
const BASE: SimOptions = { cpus: 2, tasks: 3, iters: 100, quantum: 10 };

interface Totals {
  readonly corrupted: number;
  readonly lost: number;
  readonly wrong: number;
  readonly preemptions: number;
  readonly migrations: number;
}

interface Row {
  readonly label: string;
  readonly options: SimOptions;
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

/** The shape of one access as the simulator runs it: what the schedule depends on. */
interface Shape {
  /** Instructions. */
  readonly length: number;
  /** 1-based position of the first instruction that reads the per-CPU register. */
  readonly sample: number;
  /** 1-based positions of the instructions that access memory. */
  readonly memory: readonly number[];
}

const OPS: Readonly<Record<AccessMode, AccessOp[]>> = {
  "with-current": ["with-current"],
  "add": ["add"],
  "read-write": ["read", "write"],
};

function shapeOf(arch: SimOptions["arch"], access: AccessMode, features: Feature[] = []): Shape {
  const counter = createPercpu({ arch, features }).defPercpu("COUNTER", u64, 0n);
  const listing = OPS[access].flatMap((op) => accessProgram(counter, op).instructions);
  const positions = (test: (i: (typeof listing)[number]) => boolean) =>
    listing.flatMap((instruction, i) => test(instruction) ? [i + 1] : []);
  return {
    length: listing.length,
    sample: positions((i) => i.samplesPercpuReg)[0],
    memory: positions((i) => i.accessesMemory),
  };
}

/** Boundaries between the register read and the last memory access: where a tick hurts. */
const windowOf = (shape: Shape) => shape.memory[shape.memory.length - 1] - shape.sample;

const color = Deno.stdout.isTerminal() && !Deno.noColor;
const paint = (code: number, text: string) => color ? `\x1b[${code}m${text}\x1b[0m` : text;

const HEADER = ["", "runs corrupted", "lost updates", "wrong-CPU", "preemptions", "migrations"];
const WIDTHS = [50, 15, 13, 10, 12, 11];

function line(cells: readonly string[]): string {
  return cells.map((cell, i) => i === 0 ? cell.padEnd(WIDTHS[i]) : cell.padStart(WIDTHS[i]))
    .join(" ");
}

function printRow(row: Row): Totals {
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
  return t;
}

function section(title: string, rows: readonly Row[]): Totals[] {
  console.log(paint(1, title));
  const totals = rows.map(printRow);
  console.log();
  return totals;
}

console.log(
  `Per-CPU counter race: ${BASE.cpus} CPUs, ${BASE.tasks} tasks × ${BASE.iters} increments, ` +
    `timer tick every ~${BASE.quantum} instructions, ${SEEDS.length} seeds per row\n`,
);
console.log(paint(2, line(HEADER)));

/** What the explanation reads: each unguarded access, its shape and its result. */
interface Case {
  readonly arch: string;
  readonly op: string;
  readonly shape: Shape;
  readonly unguarded: Totals;
}
const cases: Case[] = [];
const blocks = new Map<string, { shape: Shape; totals: Totals[] }>();

for (const arch of ARCHES) {
  const shape = shapeOf(arch, "with-current");
  const totals = section(
    `${arch}: with_current is ${shape.length} instructions, the register is read by #${shape.sample}`,
    [
      {
        label: "  cooperative (switch only at sched_yield)",
        options: { arch, policy: "cooperative" },
      },
      { label: "  preemptive, with_current, no `preempt`", options: { arch } },
      { label: "  preemptive, with_current, `preempt`", options: { arch, features: ["preempt"] } },
    ],
  );
  cases.push({ arch, op: "with_current", shape, unguarded: totals[1] });
  blocks.set(arch, { shape, totals });
}

/** `lui, add, ld, add, sd`, or the one instruction's mnemonic. */
function addListing(arch: SimOptions["arch"]): string {
  const counter = createPercpu({ arch }).defPercpu("C", u64, 0n);
  const mnemonics = accessProgram(counter, "add").instructions.map((i) => i.text.split(" ")[0]);
  return mnemonics.length === 1 ? `${mnemonics[0]} (one instruction)` : mnemonics.join(", ");
}

const addArches = ["x86_64", "riscv64"] as const;
const addTotals = section(
  "this_cpu_add, no `preempt`",
  addArches.map((arch) => ({
    label: `  ${arch}: ${addListing(arch)}`,
    options: { arch, access: "add" },
  })),
);
addArches.forEach((arch, i) =>
  cases.push({ arch, op: "this_cpu_add", shape: shapeOf(arch, "add"), unguarded: addTotals[i] })
);

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

/** Breaks prose at spaces; indented lines (the per-access list) stay whole. */
function wrap(text: string, width: number): string[] {
  if (text.length <= width || text.startsWith(" ")) return [text];
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

// The explanation, from the listings and the totals above.
const list = (items: readonly string[]) =>
  items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
const why: string[] = [
  "Why: a timer tick can preempt a task at any instruction boundary, and the task may resume",
  "on another CPU. An unguarded access is exposed at every boundary between the instruction",
  "that reads the per-CPU register and its last memory access:",
];
for (const c of cases) {
  const window = windowOf(c.shape);
  const where = c.shape.length === 1
    ? "one instruction reads the register and updates memory: no boundary"
    : `register read by #${c.shape.sample}, last memory access #${
      c.shape.memory[c.shape.memory.length - 1]
    }: ${window} ${window === 1 ? "boundary" : "boundaries"}`;
  const result = c.unguarded.corrupted === 0
    ? "safe in every run"
    : `corrupted in ${c.unguarded.corrupted}/${SEEDS.length}`;
  why.push(`  ${c.arch.padEnd(12)} ${c.op.padEnd(13)} ${where} → ${result}`);
}
const exposed = cases.filter((c) => windowOf(c.shape) > 0);
const sheltered = cases.filter((c) => windowOf(c.shape) === 0);
const agrees = exposed.every((c) => c.unguarded.corrupted > 0) &&
  sheltered.every((c) => c.unguarded.corrupted === 0);
why.push(
  "A tick inside that window lets another task on the same CPU increment the same copy (lost",
  "updates), or the load balancer moves the preempted task to the other CPU, where the",
  "instructions left use the old CPU's address (wrong-CPU accesses). Three tasks on two CPUs",
  "keep the balancer busy, as Linux balances for fairness; `--policy stress` migrates at every",
  "tick instead.",
);
if (agrees) {
  why.push(
    `So every access with a window was corrupted${
      exposed.some((c) => c.arch === "x86_64") ? ", x86_64's with_current included" : ""
    }, and ${
      list(sheltered.map((c) => `${c.arch}'s ${c.op}`))
    }, with none, was safe without \`preempt\`.`,
  );
} else {
  why.push(
    "This run does not follow that rule everywhere: " +
      list(
        cases.filter((c) => (windowOf(c.shape) > 0) !== (c.unguarded.corrupted > 0))
          .map((c) => `${c.arch}'s ${c.op}`),
      ) + " (more seeds may tell).",
  );
}
why.push(
  "With `preempt`, the access holds a NoPreempt guard: the tick only sets need-resched, and",
  "the switch happens when the guard is released, after the store.",
);

// Blocks with identical numbers: say why, when their shapes match.
const sameShape = (a: Shape, b: Shape) =>
  a.length === b.length && a.sample === b.sample && a.memory.join() === b.memory.join();
const groups: string[][] = [];
for (const [arch, block] of blocks) {
  const group = groups.find((g) => {
    const other = blocks.get(g[0])!;
    return JSON.stringify(other.totals) === JSON.stringify(block.totals);
  });
  if (group) group.push(arch);
  else groups.push([arch]);
}
for (const group of groups.filter((g) => g.length > 1)) {
  const shapes = group.map((arch) => blocks.get(arch)!.shape);
  const s = shapes[0];
  why.push("");
  if (shapes.every((shape) => sameShape(shape, s))) {
    why.push(
      `${list(group)} print the same numbers: with_current is ${s.length} instructions on each,`,
      `the register read by #${s.sample} and memory accessed by #${
        s.memory.join(" and #")
      }. The scheduler's choices depend on`,
      "instruction counts, not on what the instructions are, so the same seeds give the same runs.",
    );
  } else {
    why.push(`${list(group)} print the same numbers, though their sequences differ.`);
  }
}
why.push("", "One run, cycle by cycle: deno task cli sim --arch aarch64 --seed 3 --trace");
console.log(why.flatMap((text) => wrap(text, 92)).join("\n"));
