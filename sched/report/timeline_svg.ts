/**
 * Timelines of simulated runs as standalone SVG: one lane per CPU, a slice
 * per stretch a task ran (coloured per task), shaded regions where
 * preemption or IRQs were disabled, a mark at each preemption, an arrow at
 * each migration, and the violating accesses highlighted with the
 * instruction that made them. No dependencies; opens in any browser.
 *
 * Output is bounded whatever the run's length: a run too long to draw
 * event by event (more than a few thousand cycles or drawn marks) is drawn
 * in columns of equal cycle spans, each showing the task that ran longest
 * in it, how much of it ran with preemption or IRQs disabled, and how many
 * preemptions, migrations, deferred ticks and wrong-CPU accesses fell in it.
 * A ten-million-instruction run renders in well under 2 MB.
 *
 * @module
 */

import { checkInteger } from "../../lib/_check.ts";
import { hex } from "../../lib/_describe.ts";
import { describeSafely } from "../_safe.ts";
import type { SimEvent } from "../trace/trace.ts";
import { printable } from "./_printable.ts";

/** What a timeline shows. */
export interface TimelineInput {
  /** The run's events (record them: `record: true`). */
  readonly events: readonly SimEvent[];
  /** Task names by id. */
  readonly taskNames: readonly string[];
  /** Number of CPUs (lanes). */
  readonly cpus: number;
  /** The title line (e.g. arch, features, verdict). */
  readonly title: string;
  /** A second line (e.g. the schedule string). */
  readonly subtitle?: string;
}

const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#9c755f",
  "#ff9da7",
  "#bab0ac",
  "#86bcb6",
  "#d37295",
  "#a0cbe8",
];
const LANE = 68;
const SLICE = 30;
const LEFT = 70;
const TOP = 96;
const RIGHT = 24;
const MAX_LABELS = 6;
/** Width of one character of the 11px monospace labels. */
const CHAR_WIDTH = 7;
/** Drawn event by event up to this many cycles… */
const DETAIL_CYCLES = 4000;
/** …and this many drawn elements; beyond, in columns. */
const DETAIL_ELEMENTS = 6000;
/** Width of the cycle axis in column mode. */
const COLUMNS_WIDTH = 1400;
/** Columns over all lanes together, so the document stays small with many CPUs. */
const COLUMN_BUDGET = 1600;
/** Legend entries drawn; the rest are counted. */
const MAX_LEGEND = 60;
const LEGEND_PER_ROW = 6;

const XML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/**
 * Escapes text for SVG content and attributes, control characters included.
 *
 * @param text Any text.
 * @returns Valid XML character data.
 */
function escapeXml(text: string): string {
  return printable(text).replace(/[&<>"']/g, (c) => XML_ESCAPES[c]);
}

/** Ends a stretch of a CPU's time: the events that take the running task off it. */
function endsRun(e: SimEvent): boolean {
  return e.kind === "preempt" || e.kind === "yield" || e.kind === "sleep" || e.kind === "exit" ||
    e.kind === "fail";
}

/** Counts of what a run's events would draw, and its length. */
interface Survey {
  cycles: number;
  elements: number;
}

/** Checks the input and measures the run in one pass. */
function survey(input: TimelineInput): Survey {
  const events = input.events;
  if (!Array.isArray(events)) {
    throw new TypeError(
      `renderTimelineSvg: events must be an array, got ${describeSafely(events)}`,
    );
  }
  if (!Array.isArray(input.taskNames)) {
    throw new TypeError(
      `renderTimelineSvg: taskNames must be an array, got ${describeSafely(input.taskNames)}`,
    );
  }
  const cpus = checkInteger(input.cpus, "renderTimelineSvg: cpus", 1, 1024);
  if (typeof input.title !== "string") {
    throw new TypeError(
      `renderTimelineSvg: title must be a string, got ${describeSafely(input.title)}`,
    );
  }
  if (input.subtitle !== undefined && typeof input.subtitle !== "string") {
    throw new TypeError(
      `renderTimelineSvg: subtitle must be a string, got ${describeSafely(input.subtitle)}`,
    );
  }
  let cycles = 1;
  let elements = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const cycle = e?.cycle;
    const cpu = e?.cpu;
    if (
      !Number.isSafeInteger(cycle) || cycle < 0 || !Number.isInteger(cpu) || cpu < 0 || cpu >= cpus
    ) {
      throw new RangeError(
        `renderTimelineSvg: events[${i}] is not an event of a ${cpus}-CPU run (cycle ${
          describeSafely(cycle)
        }, cpu ${describeSafely(cpu)})`,
      );
    }
    if (cycle + 1 > cycles) cycles = cycle + 1;
    switch (e.kind) {
      case "dispatch":
      case "preempt":
      case "migrate":
      case "misuse":
      case "fail":
        elements++;
        break;
      case "tick":
        if (e.outcome === "deferred-guard" || e.outcome === "deferred-irq") elements++;
        break;
      case "access":
        if (e.wrong) elements++;
        break;
      case "guard":
        if (e.count === 1) elements++;
        break;
      case "irq":
        if (!e.enabled) elements++;
        break;
    }
  }
  return { cycles, elements };
}

/** The task name for display (the id when it has none). */
function nameOf(names: readonly string[], task: number): string {
  const name = names[task];
  return typeof name === "string" ? name : `task${task}`;
}

/** The document's head: size, title, patterns and the key. */
function head(input: TimelineInput, width: number, height: number, note: string): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${
      width.toFixed(0)
    }" height="${height}" viewBox="0 0 ${
      width.toFixed(0)
    } ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11">`,
    `<title>${escapeXml(input.title)}</title>`,
    "<defs>",
    '<pattern id="guard" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#000" fill-opacity="0.28"/></pattern>',
    '<marker id="arrow" markerWidth="8" markerHeight="8" refX="6" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker>',
    "</defs>",
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="14" font-weight="bold">${escapeXml(input.title)}</text>`,
  ];
  const subtitle = [input.subtitle, note].filter((s) => s).join(" — ");
  if (subtitle) out.push(`<text x="${LEFT}" y="40" fill="#444">${escapeXml(subtitle)}</text>`);
  return out;
}

/** The key, the legend and the closing tag. */
function tail(input: TimelineInput, out: string[]): void {
  const { taskNames, cpus } = input;
  const legendY = TOP + cpus * LANE + 26;
  const shown = Math.min(taskNames.length, MAX_LEGEND);
  for (let task = 0; task < shown; task++) {
    const lx = LEFT + (task % LEGEND_PER_ROW) * 150;
    const ly = legendY + Math.floor(task / LEGEND_PER_ROW) * 18;
    out.push(
      `<rect x="${lx}" y="${ly - 9}" width="12" height="12" fill="${
        PALETTE[task % PALETTE.length]
      }"/>`,
      `<text x="${lx + 16}" y="${ly + 1}">${escapeXml(nameOf(taskNames, task))}</text>`,
    );
  }
  if (taskNames.length > shown) {
    const ly = legendY + Math.ceil(shown / LEGEND_PER_ROW) * 18;
    out.push(`<text x="${LEFT}" y="${ly + 1}">… and ${taskNames.length - shown} more tasks</text>`);
  }
  const keyY = 60;
  out.push(
    `<rect x="${LEFT}" y="${keyY - 9}" width="14" height="12" fill="url(#guard)" stroke="#999"/>`,
    `<text x="${LEFT + 18}" y="${keyY + 1}">preemption disabled</text>`,
    `<path d="M${LEFT + 166},${keyY - 8} L${LEFT + 176},${keyY - 8} L${
      LEFT + 171
    },${keyY} z" fill="#222"/>`,
    `<text x="${LEFT + 182}" y="${keyY + 1}">preempted</text>`,
    `<line x1="${LEFT + 262}" y1="${keyY - 9}" x2="${LEFT + 262}" y2="${
      keyY + 2
    }" stroke="#555" stroke-dasharray="3,2" marker-end="url(#arrow)"/>`,
    `<text x="${LEFT + 270}" y="${keyY + 1}">migrated</text>`,
    `<circle cx="${LEFT + 346}" cy="${keyY - 3}" r="5" fill="#e3001b"/>`,
    `<text x="${LEFT + 356}" y="${keyY + 1}">access hit another CPU's area</text>`,
    `<line x1="${LEFT + 566}" y1="${keyY - 8}" x2="${LEFT + 566}" y2="${
      keyY - 2
    }" stroke="#999" stroke-width="2"/>`,
    `<text x="${LEFT + 572}" y="${keyY + 1}">tick deferred</text>`,
    "</svg>",
  );
}

function heightOf(input: TimelineInput): number {
  const legendRows = Math.ceil(Math.min(input.taskNames.length, MAX_LEGEND) / LEGEND_PER_ROW) +
    (input.taskNames.length > MAX_LEGEND ? 1 : 0);
  return TOP + input.cpus * LANE + 44 + legendRows * 18;
}

/** The smallest of 5, 10, 20, 50, 100, 200, … cycles at least `min` apart. */
function niceStep(min: number): number {
  let step = 5;
  for (let k = 0; step < min; k++) step *= k % 3 === 1 ? 2.5 : 2;
  return step;
}

/** The cycle axis and the empty lanes. */
function axis(out: string[], cpus: number, cycles: number, scale: number): void {
  const x = (cycle: number) => (LEFT + cycle * scale).toFixed(1);
  const axisY = TOP - 10;
  const step = niceStep(60 / scale);
  for (let c = 0; c <= cycles; c += step) {
    out.push(
      `<line x1="${x(c)}" y1="${axisY}" x2="${x(c)}" y2="${TOP + cpus * LANE - 8}" stroke="#eee"/>`,
      `<text x="${x(c)}" y="${axisY - 4}" fill="#888" text-anchor="middle">${c}</text>`,
    );
  }
  out.push(`<text x="${LEFT - 8}" y="${axisY - 4}" fill="#888" text-anchor="end">cycle</text>`);
  for (let cpu = 0; cpu < cpus; cpu++) {
    const y = TOP + cpu * LANE;
    out.push(
      `<rect x="${LEFT}" y="${y}" width="${
        (cycles * scale).toFixed(1)
      }" height="${SLICE}" fill="#f6f6f6"/>`,
      `<text x="${LEFT - 8}" y="${
        y + SLICE / 2 + 4
      }" text-anchor="end" font-weight="bold">CPU ${cpu}</text>`,
    );
  }
}

/**
 * Renders a run as an SVG document: event by event when it is short, in
 * columns when it is long, so the document stays small either way.
 *
 * @param input The events, task names, CPU count and titles.
 * @returns The SVG text, a complete standalone document.
 * @throws {TypeError} On an input of the wrong type.
 * @throws {RangeError} On a CPU count out of range, or an event of a CPU
 *   beyond it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderTimelineSvg, simulate } from "@percpu/percpu/sched";
 * const run = simulate({ arch: "aarch64", iters: 5, record: true });
 * const svg = renderTimelineSvg({
 *   events: run.events!, taskNames: run.taskNames, cpus: run.cpus, title: "aarch64",
 * });
 * assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
 * ```
 */
export function renderTimelineSvg(input: TimelineInput): string {
  const { cycles, elements } = survey(input);
  const out = cycles <= DETAIL_CYCLES && elements <= DETAIL_ELEMENTS
    ? detailed(input, cycles)
    : columns(input, cycles);
  return out.join("\n") + "\n";
}

/** Every stretch, mark and label, one SVG element each. */
function detailed(input: TimelineInput, cycles: number): string[] {
  const { events, taskNames, cpus } = input;
  const scale = Math.max(1.5, Math.min(56, COLUMNS_WIDTH / cycles));
  const width = Math.max(LEFT + cycles * scale + RIGHT, 860);
  const x = (cycle: number) => (LEFT + cycle * scale).toFixed(1);
  const laneY = (cpu: number) => TOP + cpu * LANE;
  const color = (task: number) => PALETTE[task % PALETTE.length];
  const name = (task: number) => nameOf(taskNames, task);
  const out = head(input, width, heightOf(input), "");
  axis(out, cpus, cycles, scale);

  const slice = (cpu: number, task: number, from: number, to: number) => {
    const w = (to - from) * scale;
    out.push(
      `<rect x="${x(from)}" y="${laneY(cpu)}" width="${w.toFixed(1)}" height="${SLICE}" fill="${
        color(task)
      }" stroke="#fff" stroke-width="0.5"><title>${
        escapeXml(`${name(task)} on CPU ${cpu}, cycles ${from}–${to - 1}`)
      }</title></rect>`,
    );
    const label = printable(name(task));
    if (w > label.length * CHAR_WIDTH + 6) {
      out.push(
        `<text x="${(LEFT + from * scale + 4).toFixed(1)}" y="${laneY(cpu) + 19}" fill="#fff">${
          escapeXml(label)
        }</text>`,
      );
    }
  };
  const shade = (kind: "guard" | "irq", cpu: number, task: number, from: number, to: number) => {
    const w = ((to - from) * scale).toFixed(1);
    out.push(
      kind === "guard"
        ? `<rect x="${x(from)}" y="${
          laneY(cpu)
        }" width="${w}" height="${SLICE}" fill="url(#guard)"><title>preemption disabled (${
          escapeXml(name(task))
        })</title></rect>`
        : `<rect x="${x(from)}" y="${
          laneY(cpu) + SLICE - 5
        }" width="${w}" height="5" fill="#c0392b" fill-opacity="0.7"><title>IRQs disabled</title></rect>`,
    );
  };

  // Stretches: a task runs on a CPU from its dispatch to the event taking it off.
  const running = new Map<number, { task: number; from: number }>();
  const guarded = new Map<number, { task: number; from: number }>();
  const masked = new Map<number, { task: number; from: number }>();
  for (const e of events) {
    if (endsRun(e)) {
      const open = running.get(e.cpu);
      if (open) slice(e.cpu, open.task, open.from, e.cycle + 1);
      running.delete(e.cpu);
    } else if (e.kind === "dispatch" && !running.has(e.cpu)) {
      running.set(e.cpu, { task: e.task, from: e.cycle });
    }
    if (e.kind === "guard") {
      const open = guarded.get(e.cpu);
      if (e.count === 0 && open) {
        shade("guard", e.cpu, open.task, open.from, e.cycle + 1);
        guarded.delete(e.cpu);
      } else if (e.count === 1 && !open) {
        guarded.set(e.cpu, { task: e.task, from: e.cycle });
      }
    } else if (e.kind === "irq") {
      const open = masked.get(e.cpu);
      if (e.enabled && open) {
        shade("irq", e.cpu, open.task, open.from, e.cycle + 1);
        masked.delete(e.cpu);
      } else if (!e.enabled && !open) {
        masked.set(e.cpu, { task: e.task, from: e.cycle });
      }
    }
  }
  for (const [cpu, open] of running) slice(cpu, open.task, open.from, cycles);
  for (const [cpu, open] of guarded) shade("guard", cpu, open.task, open.from, cycles);
  for (const [cpu, open] of masked) shade("irq", cpu, open.task, open.from, cycles);

  let labels = 0;
  const labelEnds: number[][] = [];
  for (const e of events) {
    const y = laneY(e.cpu);
    if (e.kind === "preempt") {
      const px = LEFT + (e.cycle + 1) * scale;
      out.push(
        `<path d="M${(px - 5).toFixed(1)},${y - 9} L${(px + 5).toFixed(1)},${y - 9} L${
          px.toFixed(1)
        },${y - 1} z" fill="#222"><title>${
          escapeXml(`cycle ${e.cycle}: ${name(e.task)} preempted, queued on CPU ${e.target}`)
        }</title></path>`,
      );
    } else if (e.kind === "migrate" && e.from >= 0 && e.from < cpus) {
      const from = laneY(e.from) + SLICE / 2;
      const to = y + SLICE / 2;
      out.push(
        `<line x1="${x(e.cycle)}" y1="${from}" x2="${x(e.cycle)}" y2="${
          to + (to > from ? -6 : 6)
        }" stroke="#555" stroke-width="1.5" stroke-dasharray="3,2" marker-end="url(#arrow)"><title>${
          escapeXml(`cycle ${e.cycle}: ${name(e.task)} migrated CPU ${e.from} → CPU ${e.cpu}`)
        }</title></line>`,
      );
    } else if (
      e.kind === "tick" && (e.outcome === "deferred-guard" || e.outcome === "deferred-irq")
    ) {
      out.push(
        `<line x1="${x(e.cycle)}" y1="${y - 7}" x2="${x(e.cycle)}" y2="${
          y - 1
        }" stroke="#999" stroke-width="2"><title>${
          escapeXml(`cycle ${e.cycle}: tick ${e.outcome}`)
        }</title></line>`,
      );
    } else if (e.kind === "access" && e.wrong) {
      const cx = LEFT + (e.cycle + 0.5) * scale;
      const where = e.hitCpu < 0 ? "no CPU's area" : `CPU ${e.hitCpu}'s area`;
      const text = `${e.text} → ${where}`;
      out.push(
        `<circle cx="${cx.toFixed(1)}" cy="${
          y + SLICE - 3
        }" r="6" fill="#e3001b" stroke="#fff" stroke-width="1.5"><title>${
          escapeXml(
            `cycle ${e.cycle}: ${name(e.task)} on CPU ${e.cpu}: ${e.text} at ${
              hex(e.address)
            } hit ${where}`,
          )
        }</title></circle>`,
      );
      const textWidth = text.length * CHAR_WIDTH;
      const fits = cx + textWidth < width - RIGHT;
      const from = fits ? cx : cx - textWidth;
      const rows = labelEnds[e.cpu] ??= [-Infinity, -Infinity];
      const row = rows.findIndex((end) => end + 8 < from);
      if (labels < MAX_LABELS && row >= 0) {
        labels++;
        rows[row] = from + textWidth;
        out.push(
          `<text x="${cx.toFixed(1)}" y="${
            y + SLICE + 14 + row * 11
          }" fill="#e3001b" text-anchor="${fits ? "start" : "end"}">${escapeXml(text)}</text>`,
        );
      }
    } else if (e.kind === "misuse" || e.kind === "fail") {
      out.push(
        `<text x="${x(e.cycle)}" y="${y + SLICE + 12}" fill="#b00">⚠<title>${
          escapeXml(e.kind === "misuse" ? e.message : `${name(e.task)} failed: ${e.message ?? ""}`)
        }</title></text>`,
      );
    }
  }
  tail(input, out);
  return out;
}

/** Per lane and column: what ran, what was disabled, what happened. */
class Columns {
  readonly count: number;
  readonly span: number;
  /** Cycles some task ran, per lane × column. */
  readonly busy: Float64Array;
  /** Cycles with preemption disabled. */
  readonly guard: Float64Array;
  /** Cycles with IRQs disabled. */
  readonly irq: Float64Array;
  /** The task with the longest stretch in the column, and that stretch's length. */
  readonly task: Int32Array;
  readonly longest: Float64Array;
  readonly preempts: Uint32Array;
  readonly migrates: Uint32Array;
  readonly deferred: Uint32Array;
  readonly wrong: Uint32Array;
  readonly misuse: Uint32Array;

  constructor(cpus: number, cycles: number) {
    this.count = Math.max(
      1,
      Math.min(Math.floor(COLUMNS_WIDTH / 2), Math.floor(COLUMN_BUDGET / cpus)),
    );
    this.span = Math.ceil(cycles / this.count);
    const cells = cpus * this.count;
    this.busy = new Float64Array(cells);
    this.guard = new Float64Array(cells);
    this.irq = new Float64Array(cells);
    this.task = new Int32Array(cells).fill(-1);
    this.longest = new Float64Array(cells);
    this.preempts = new Uint32Array(cells);
    this.migrates = new Uint32Array(cells);
    this.deferred = new Uint32Array(cells);
    this.wrong = new Uint32Array(cells);
    this.misuse = new Uint32Array(cells);
  }

  cell(cpu: number, cycle: number): number {
    return cpu * this.count + Math.min(this.count - 1, Math.floor(cycle / this.span));
  }

  /** Adds a stretch `[from, to)` of a lane to the columns it covers. */
  cover(into: Float64Array, cpu: number, from: number, to: number, task: number): void {
    const span = this.span;
    for (let c = Math.floor(from / span); c * span < to && c < this.count; c++) {
      const piece = Math.min(to, (c + 1) * span) - Math.max(from, c * span);
      const i = cpu * this.count + c;
      into[i] += piece;
      if (task >= 0 && piece > this.longest[i]) {
        this.longest[i] = piece;
        this.task[i] = task;
      }
    }
  }
}

/** The run in columns of equal cycle spans. */
function columns(input: TimelineInput, cycles: number): string[] {
  const { events, taskNames, cpus } = input;
  const cols = new Columns(cpus, cycles);
  const span = cols.span;
  const running = new Int32Array(cpus).fill(-1);
  const runFrom = new Float64Array(cpus);
  const guardFrom = new Float64Array(cpus).fill(-1);
  const irqFrom = new Float64Array(cpus).fill(-1);
  let firstWrong: Extract<SimEvent, { kind: "access" }> | null = null;
  for (const e of events) {
    const cpu = e.cpu;
    if (endsRun(e)) {
      if (running[cpu] >= 0) cols.cover(cols.busy, cpu, runFrom[cpu], e.cycle + 1, running[cpu]);
      running[cpu] = -1;
    }
    switch (e.kind) {
      case "dispatch":
        if (running[cpu] < 0) {
          running[cpu] = e.task;
          runFrom[cpu] = e.cycle;
        }
        break;
      case "guard":
        if (e.count === 1 && guardFrom[cpu] < 0) guardFrom[cpu] = e.cycle;
        else if (e.count === 0 && guardFrom[cpu] >= 0) {
          cols.cover(cols.guard, cpu, guardFrom[cpu], e.cycle + 1, -1);
          guardFrom[cpu] = -1;
        }
        break;
      case "irq":
        if (!e.enabled && irqFrom[cpu] < 0) irqFrom[cpu] = e.cycle;
        else if (e.enabled && irqFrom[cpu] >= 0) {
          cols.cover(cols.irq, cpu, irqFrom[cpu], e.cycle + 1, -1);
          irqFrom[cpu] = -1;
        }
        break;
      case "preempt":
        cols.preempts[cols.cell(cpu, e.cycle)]++;
        break;
      case "migrate":
        cols.migrates[cols.cell(cpu, e.cycle)]++;
        break;
      case "tick":
        if (e.outcome === "deferred-guard" || e.outcome === "deferred-irq") {
          cols.deferred[cols.cell(cpu, e.cycle)]++;
        }
        break;
      case "access":
        if (e.wrong) {
          cols.wrong[cols.cell(cpu, e.cycle)]++;
          firstWrong ??= e;
        }
        break;
      case "misuse":
      case "fail":
        cols.misuse[cols.cell(cpu, e.cycle)]++;
        break;
    }
  }
  for (let cpu = 0; cpu < cpus; cpu++) {
    if (running[cpu] >= 0) cols.cover(cols.busy, cpu, runFrom[cpu], cycles, running[cpu]);
    if (guardFrom[cpu] >= 0) cols.cover(cols.guard, cpu, guardFrom[cpu], cycles, -1);
    if (irqFrom[cpu] >= 0) cols.cover(cols.irq, cpu, irqFrom[cpu], cycles, -1);
  }

  const scale = COLUMNS_WIDTH / (cols.count * span);
  const width = LEFT + COLUMNS_WIDTH + RIGHT;
  const colWidth = span * scale;
  const note = `${cycles} cycles drawn in ${cols.count} columns of ${span} cycles each`;
  const out = head(input, width, heightOf(input), note);
  axis(out, cpus, cols.count * span, scale);
  const x = (column: number) => (LEFT + column * colWidth).toFixed(1);
  /** The cycles of columns `[from, to)`. */
  const range = (from: number, to = from + 1) =>
    `cycles ${from * span}–${Math.min(cycles, to * span) - 1}`;
  const name = (task: number) => nameOf(taskNames, task);
  let most = 1;
  for (let i = 0; i < cols.preempts.length; i++) {
    most = Math.max(most, cols.preempts[i], cols.migrates[i]);
  }
  /** Marks fade with their column's count, so dense stretches stay readable. */
  const opacity = (count: number) => (0.25 + 0.75 * count / most).toFixed(2);
  for (let cpu = 0; cpu < cpus; cpu++) {
    const y = TOP + cpu * LANE;
    const base = cpu * cols.count;
    // Runs of equal columns are merged into one element.
    const runs = (
      value: (i: number) => string,
      draw: (from: number, to: number, v: string) => void,
    ) => {
      let from = 0;
      let current = value(base);
      for (let c = 1; c <= cols.count; c++) {
        const next = c < cols.count ? value(base + c) : "";
        if (next !== current || c === cols.count) {
          if (current !== "") draw(from, c, current);
          from = c;
          current = next;
        }
      }
    };
    runs(
      (i) => cols.task[i] < 0 ? "" : `${cols.task[i]}:${Math.round(cols.busy[i] / span * 4)}`,
      (from, to, v) => {
        const [task, level] = v.split(":").map(Number);
        out.push(
          `<rect x="${x(from)}" y="${y}" width="${
            ((to - from) * colWidth).toFixed(1)
          }" height="${SLICE}" fill="${PALETTE[task % PALETTE.length]}" fill-opacity="${
            (0.4 + level * 0.15).toFixed(2)
          }"><title>${
            escapeXml(`CPU ${cpu}, ${range(from, to)}: mostly ${name(task)}, busy ${level * 25}%`)
          }</title></rect>`,
        );
      },
    );
    runs(
      (i) => cols.guard[i] === 0 ? "" : String(Math.max(1, Math.round(cols.guard[i] / span * 4))),
      (from, to, v) => {
        out.push(
          `<rect x="${x(from)}" y="${y}" width="${
            ((to - from) * colWidth).toFixed(1)
          }" height="${SLICE}" fill="url(#guard)" fill-opacity="${
            (Number(v) / 4).toFixed(2)
          }"><title>preemption disabled ${Number(v) * 25}% of the time</title></rect>`,
        );
      },
    );
    runs(
      (i) => cols.irq[i] === 0 ? "" : "1",
      (from, to) => {
        out.push(
          `<rect x="${x(from)}" y="${y + SLICE - 5}" width="${
            ((to - from) * colWidth).toFixed(1)
          }" height="5" fill="#c0392b" fill-opacity="0.7"><title>IRQs disabled</title></rect>`,
        );
      },
    );
    for (let c = 0; c < cols.count; c++) {
      const i = base + c;
      const cx = LEFT + (c + 0.5) * colWidth;
      if (cols.preempts[i] > 0) {
        out.push(
          `<path d="M${(cx - 3).toFixed(1)},${y - 9} L${(cx + 3).toFixed(1)},${y - 9} L${
            cx.toFixed(1)
          },${y - 3} z" fill="#222"><title>${cols.preempts[i]} preempted, ${
            range(c)
          }</title></path>`,
        );
      }
      if (cols.migrates[i] > 0) {
        out.push(
          `<line x1="${cx.toFixed(1)}" y1="${y + 2}" x2="${cx.toFixed(1)}" y2="${
            y + 12
          }" stroke="#555" stroke-width="1.5" stroke-dasharray="3,2" stroke-opacity="${
            opacity(cols.migrates[i])
          }"><title>${cols.migrates[i]} migrated to CPU ${cpu}, ${range(c)}</title></line>`,
        );
      }
      if (cols.deferred[i] > 0) {
        out.push(
          `<line x1="${cx.toFixed(1)}" y1="${y - 2}" x2="${cx.toFixed(1)}" y2="${
            y - 1
          }" stroke="#999" stroke-width="2"><title>${cols.deferred[i]} ticks deferred, ${
            range(c)
          }</title></line>`,
        );
      }
      if (cols.wrong[i] > 0) {
        out.push(
          `<circle cx="${cx.toFixed(1)}" cy="${y + SLICE - 3}" r="3" fill="#e3001b"><title>${
            cols.wrong[i]
          } accesses hit another CPU's area, ${range(c)}</title></circle>`,
        );
      }
      if (cols.misuse[i] > 0) {
        out.push(
          `<text x="${cx.toFixed(1)}" y="${y + SLICE + 12}" fill="#b00">⚠<title>${
            cols.misuse[i]
          } kernel reports or failures, ${range(c)}</title></text>`,
        );
      }
    }
  }
  if (firstWrong !== null) {
    const e = firstWrong;
    const where = e.hitCpu < 0 ? "no CPU's area" : `CPU ${e.hitCpu}'s area`;
    out.push(
      `<text x="${LEFT}" y="${TOP + cpus * LANE - 14}" fill="#e3001b">${
        escapeXml(
          `first wrong-CPU access: cycle ${e.cycle}, ${
            name(e.task)
          } on CPU ${e.cpu}: ${e.text} at ${hex(e.address)} hit ${where}`,
        )
      }</text>`,
    );
  }
  tail(input, out);
  return out;
}
