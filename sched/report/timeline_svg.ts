/**
 * Timelines of simulated runs as standalone SVG: one lane per CPU, a slice
 * per stretch a task ran (coloured per task), shaded regions where
 * preemption or IRQs were disabled, a mark at each preemption, an arrow at
 * each migration, and the violating accesses highlighted with the
 * instruction that made them. No dependencies; opens in any browser.
 *
 * @module
 */

import { hex } from "../../lib/_describe.ts";
import type { SimEvent } from "../trace/trace.ts";

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

/**
 * Escapes text for SVG content and attributes.
 *
 * @param text Any text.
 * @returns The text with `&`, `<`, `>`, `"` and `'` escaped.
 */
function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
}

interface Span {
  readonly cpu: number;
  readonly task: number;
  readonly from: number;
  readonly to: number;
}

/** Stretches of each CPU's time, from the events. */
function spans(
  events: readonly SimEvent[],
  end: number,
  starts: (e: SimEvent) => number | null,
  stops: (e: SimEvent) => boolean,
): Span[] {
  const open = new Map<number, { task: number; from: number }>();
  const out: Span[] = [];
  for (const e of events) {
    const task = starts(e);
    if (stops(e)) {
      const span = open.get(e.cpu);
      if (span) out.push({ cpu: e.cpu, task: span.task, from: span.from, to: e.cycle + 1 });
      open.delete(e.cpu);
    }
    if (task !== null && !open.has(e.cpu)) open.set(e.cpu, { task, from: e.cycle });
  }
  for (const [cpu, span] of open) out.push({ cpu, task: span.task, from: span.from, to: end });
  return out;
}

/**
 * Renders a run as an SVG document.
 *
 * @param input The events, task names, CPU count and titles.
 * @returns The SVG text, a complete standalone document.
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
  const { events, taskNames, cpus } = input;
  const cycles = Math.max(1, ...events.map((e) => e.cycle + 1));
  const scale = Math.max(1.5, Math.min(56, 1400 / cycles));
  const width = Math.max(LEFT + cycles * scale + RIGHT, 860);
  const legendRows = Math.ceil(taskNames.length / 6);
  const height = TOP + cpus * LANE + 44 + legendRows * 18;
  const x = (cycle: number) => (LEFT + cycle * scale).toFixed(1);
  const laneY = (cpu: number) => TOP + cpu * LANE;
  const color = (task: number) => PALETTE[task % PALETTE.length];
  const out: string[] = [];

  out.push(
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
  );
  if (input.subtitle) {
    out.push(`<text x="${LEFT}" y="40" fill="#444">${escapeXml(input.subtitle)}</text>`);
  }

  const axisY = TOP - 10;
  const step = Math.max(1, Math.ceil(60 / scale / 5) * 5);
  for (let c = 0; c <= cycles; c += step) {
    out.push(
      `<line x1="${x(c)}" y1="${axisY}" x2="${x(c)}" y2="${laneY(cpus) - 8}" stroke="#eee"/>`,
      `<text x="${x(c)}" y="${axisY - 4}" fill="#888" text-anchor="middle">${c}</text>`,
    );
  }
  out.push(`<text x="${LEFT - 8}" y="${axisY - 4}" fill="#888" text-anchor="end">cycle</text>`);

  for (let cpu = 0; cpu < cpus; cpu++) {
    const y = laneY(cpu);
    out.push(
      `<rect x="${LEFT}" y="${y}" width="${
        (cycles * scale).toFixed(1)
      }" height="${SLICE}" fill="#f6f6f6"/>`,
      `<text x="${LEFT - 8}" y="${
        y + SLICE / 2 + 4
      }" text-anchor="end" font-weight="bold">CPU ${cpu}</text>`,
    );
  }

  const running = spans(
    events,
    cycles,
    (e) => e.kind === "dispatch" ? e.task : null,
    (e) =>
      e.kind === "preempt" || e.kind === "yield" || e.kind === "sleep" || e.kind === "exit" ||
      e.kind === "fail",
  );
  for (const s of running) {
    const w = (s.to - s.from) * scale;
    const name = taskNames[s.task] ?? `task${s.task}`;
    out.push(
      `<rect x="${x(s.from)}" y="${laneY(s.cpu)}" width="${w.toFixed(1)}" height="${SLICE}" fill="${
        color(s.task)
      }" stroke="#fff" stroke-width="0.5"><title>${
        escapeXml(`${name} on CPU ${s.cpu}, cycles ${s.from}–${s.to - 1}`)
      }</title></rect>`,
    );
    if (w > name.length * CHAR_WIDTH + 6) {
      out.push(
        `<text x="${(LEFT + s.from * scale + 4).toFixed(1)}" y="${laneY(s.cpu) + 19}" fill="#fff">${
          escapeXml(name)
        }</text>`,
      );
    }
  }

  const shaded = (kind: "guard" | "irq") =>
    spans(
      events,
      cycles,
      (e) =>
        kind === "guard"
          ? e.kind === "guard" && e.count === 1 ? e.task : null
          : e.kind === "irq" && !e.enabled
          ? e.task
          : null,
      (e) => kind === "guard" ? e.kind === "guard" && e.count === 0 : e.kind === "irq" && e.enabled,
    );
  for (const s of shaded("guard")) {
    out.push(
      `<rect x="${x(s.from)}" y="${laneY(s.cpu)}" width="${
        ((s.to - s.from) * scale).toFixed(1)
      }" height="${SLICE}" fill="url(#guard)"><title>preemption disabled (${
        escapeXml(taskNames[s.task] ?? "")
      })</title></rect>`,
    );
  }
  for (const s of shaded("irq")) {
    out.push(
      `<rect x="${x(s.from)}" y="${laneY(s.cpu) + SLICE - 5}" width="${
        ((s.to - s.from) * scale).toFixed(1)
      }" height="5" fill="#c0392b" fill-opacity="0.7"><title>IRQs disabled</title></rect>`,
    );
  }

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
          escapeXml(`cycle ${e.cycle}: ${taskNames[e.task]} preempted, queued on CPU ${e.target}`)
        }</title></path>`,
      );
    } else if (e.kind === "migrate") {
      const from = laneY(e.from) + SLICE / 2;
      const to = y + SLICE / 2;
      out.push(
        `<line x1="${x(e.cycle)}" y1="${from}" x2="${x(e.cycle)}" y2="${
          to + (to > from ? -6 : 6)
        }" stroke="#555" stroke-width="1.5" stroke-dasharray="3,2" marker-end="url(#arrow)"><title>${
          escapeXml(`cycle ${e.cycle}: ${taskNames[e.task]} migrated CPU ${e.from} → CPU ${e.cpu}`)
        }</title></line>`,
      );
    } else if (e.kind === "tick" && e.outcome !== "preempt") {
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
            `cycle ${e.cycle}: ${taskNames[e.task]} on CPU ${e.cpu}: ${e.text} at ${
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
          escapeXml(e.kind === "misuse" ? e.message : `${taskNames[e.task]} failed: ${e.message}`)
        }</title></text>`,
      );
    }
  }

  const legendY = laneY(cpus) + 26;
  taskNames.forEach((name, task) => {
    const lx = LEFT + (task % 6) * 150;
    const ly = legendY + Math.floor(task / 6) * 18;
    out.push(
      `<rect x="${lx}" y="${ly - 9}" width="12" height="12" fill="${color(task)}"/>`,
      `<text x="${lx + 16}" y="${ly + 1}">${escapeXml(name)}</text>`,
    );
  });
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
  return out.join("\n") + "\n";
}
