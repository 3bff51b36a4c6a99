/**
 * A text excerpt of a recorded run: the cycles around its first bad access,
 * one column per CPU, so that a terminal (or the playground) shows which
 * task ran where when the access went wrong.
 *
 * @module
 */

import { checkInteger, checkOptions } from "../../lib/_check.ts";
import { AREA_ALIGN } from "../../lib/layout.ts";
import type { AccessEvent, SimEvent } from "../trace/trace.ts";
import type { TimelineInput } from "./timeline_svg.ts";

/** The event an excerpt is centred on, and why. */
interface Focus {
  readonly index: number;
  readonly what: string;
  readonly mark: string;
}

/** Control characters would move the terminal's cursor: show them escaped. */
function printable(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.charCodeAt(0);
    out += code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, "0")}` : char;
  }
  return out;
}

/**
 * The first bad access: a local access that hit another CPU's area (or
 * none); else the first store that lost an update, judged against the
 * task's last load: the store overwrote a store its task had not read
 * (another task wrote the address between the load and the store), or it
 * stored into one CPU's copy a value loaded from another CPU's copy.
 */
function findFocus(events: readonly SimEvent[], names: readonly string[]): Focus | null {
  const name = (task: number) => printable(names[task] ?? `task${task}`);
  const wrong = events.findIndex((e) => e.kind === "access" && e.wrong);
  if (wrong >= 0) {
    const e = events[wrong] as AccessEvent;
    return {
      index: wrong,
      what: `the first wrong-CPU access (cycle ${e.cycle}, ${name(e.task)} on CPU ${e.cpu})`,
      mark: e.hitCpu < 0 ? "✗ outside every area" : `✗ hit CPU ${e.hitCpu}'s area`,
    };
  }
  const lastWrite = new Map<number, { index: number; task: number }>();
  const lastLoad = new Map<number, { address: number; hitCpu: number; seen: number }>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.kind !== "access") continue;
    const latest = lastWrite.get(e.address);
    if (!e.write) {
      lastLoad.set(e.task, { address: e.address, hitCpu: e.hitCpu, seen: latest?.index ?? -1 });
      continue;
    }
    const load = lastLoad.get(e.task);
    lastLoad.delete(e.task);
    lastWrite.set(e.address, { index: i, task: e.task });
    if (load === undefined) continue;
    let mark: string | null = null;
    if (load.address === e.address && latest !== undefined && latest.index !== load.seen) {
      mark = `✗ overwrote ${name(latest.task)}'s store: lost update`;
    } else if (
      // The same variable in two CPUs' areas: the areas' stride is a multiple of AREA_ALIGN.
      load.address !== e.address && load.hitCpu !== e.hitCpu &&
      (e.address - load.address) % AREA_ALIGN === 0
    ) {
      mark = `✗ stored a value loaded from CPU ${load.hitCpu}'s copy: lost update`;
    }
    if (mark !== null) {
      return {
        index: i,
        what: `the first lost update (cycle ${e.cycle}, ${name(e.task)} on CPU ${e.cpu})`,
        mark,
      };
    }
  }
  return null;
}

function cellText(e: SimEvent, name: (task: number) => string): string {
  const task = name(e.task);
  switch (e.kind) {
    case "access":
      return `${task}: ${printable(e.text)}${e.remote ? ` (remote: CPU ${e.hitCpu}'s area)` : ""}`;
    case "dispatch":
      return `${task} runs`;
    case "preempt":
      return `${task} preempted, queued on CPU ${e.target}`;
    case "migrate":
      return `${task} migrated from CPU ${e.from}`;
    case "tick":
      return e.outcome === "preempt"
        ? "timer tick"
        : `timer tick deferred (${
          e.outcome === "deferred-guard" ? "preempt count > 0" : "IRQs off"
        })`;
    case "guard":
      return `${task}: preempt count ${e.count}`;
    case "irq":
      return `${task}: IRQs ${e.enabled ? "on" : "off"}`;
    case "sysreg":
      return `${task}: writes ${printable(e.reg)}`;
    case "misuse":
      return `${task}: ${printable(e.message)}`;
    case "yield":
      return `${task} yields`;
    case "sleep":
      return `${task} sleeps`;
    case "exit":
      return `${task} exits`;
    case "fail":
      return `${task} failed: ${printable(e.message ?? "")}`;
    default:
      return `${task}: ${(e as { kind: string }).kind}`;
  }
}

/**
 * Renders the cycles around a run's first bad access as text, one column
 * per CPU: the first local access that hit another CPU's area, else the
 * first store that overwrote another task's store without having read it (a
 * lost update). The window starts a few cycles before the offending task
 * was last preempted, so the migration that led to the access is in view.
 *
 * @param run The run's recorded events (`record: true`) and task names.
 * @param options `before`: cycles shown before the window's start (default
 *   4); `after`: cycles shown after the bad access (default 2).
 * @returns Lines of text, ending with a newline; one line saying so when
 *   the run has no events or no bad access.
 * @throws {TypeError} When `options` is not an object or names an unknown option.
 * @throws {RangeError} When `before` or `after` is not an integer from 0 to 1000.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTraceExcerpt, simulate } from "@percpu/percpu/sched";
 * const run = simulate({ arch: "aarch64", tasks: 3, seed: 3, record: true });
 * const text = formatTraceExcerpt({ events: run.events!, taskNames: run.taskNames });
 * assert.match(text, /first wrong-CPU access/);
 * assert.match(text, /CPU 0 +\| CPU 1/);
 * assert.match(text, /✗ hit CPU \d's area/);
 * ```
 */
export function formatTraceExcerpt(
  run: Pick<TimelineInput, "events" | "taskNames">,
  options: { readonly before?: number; readonly after?: number } = {},
): string {
  const checked = checkOptions(options, ["before", "after"], "formatTraceExcerpt");
  const before = checkInteger(checked.before ?? 4, "formatTraceExcerpt: before", 0, 1000);
  const after = checkInteger(checked.after ?? 2, "formatTraceExcerpt: after", 0, 1000);
  const events = run.events ?? [];
  if (events.length === 0) return "No events were recorded (run with record: true).\n";
  const names = run.taskNames;
  const focus = findFocus(events, names);
  if (focus === null) return "No bad access in this run: no wrong-CPU access, no lost update.\n";
  const bad = events[focus.index];

  // From a little before the offending task's last preemption (capped, so a
  // task that waited long in a run queue does not fill the screen).
  let start = bad.cycle;
  for (let i = focus.index - 1; i >= 0; i--) {
    const e = events[i];
    if (e.cycle < bad.cycle - 40) break;
    if (e.task === bad.task && e.kind === "preempt") {
      start = e.cycle;
      break;
    }
  }
  const from = start - before;
  const to = bad.cycle + after;
  const shown = events.map((e, i) => ({ e, i })).filter(({ e }) =>
    e.cycle >= from && e.cycle <= to
  );

  const name = (task: number) => printable(names[task] ?? `task${task}`);
  const cpus = [...new Set(shown.map(({ e }) => e.cpu))].sort((a, b) => a - b);
  const column = new Map(cpus.map((cpu, c) => [cpu, c]));
  // Rows: per cycle, as many as the busiest CPU needs; events keep their order.
  const rows: { cycle: number; cells: string[] }[] = [];
  let cycle = -1;
  let firstRow = 0;
  const used = new Array<number>(cpus.length).fill(0);
  for (const { e, i } of shown) {
    if (e.cycle !== cycle) {
      cycle = e.cycle;
      firstRow = rows.length;
      used.fill(0);
    }
    const c = column.get(e.cpu)!;
    const r = firstRow + used[c]++;
    if (r === rows.length) rows.push({ cycle, cells: new Array<string>(cpus.length).fill("") });
    rows[r].cells[c] = cellText(e, name) + (i === focus.index ? `   ${focus.mark}` : "");
  }
  const widths = cpus.map((cpu, c) =>
    Math.max(`CPU ${cpu}`.length, ...rows.map((row) => row.cells[c].length))
  );
  const line = (label: string, cells: readonly string[]) =>
    `  ${label.padStart(6)} | ${cells.map((cell, c) => cell.padEnd(widths[c])).join(" | ")}`
      .trimEnd();
  const out = [
    `Trace around ${focus.what}:`,
    line("cycle", cpus.map((cpu) => `CPU ${cpu}`)),
    line("", widths.map((w) => "-".repeat(w))),
  ];
  let previous = -1;
  for (const row of rows) {
    out.push(line(row.cycle === previous ? "" : String(row.cycle), row.cells));
    previous = row.cycle;
  }
  return out.join("\n") + "\n";
}
