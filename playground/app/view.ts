/// <reference lib="dom" />
/**
 * What the page shows of a run: one card per CPU (its task, the access
 * listing with its program counter, the per-CPU register, preempt count,
 * need-resched, IRQs, the run queue and the moves it offers), the per-CPU
 * areas with the bytes the last step wrote, the challenge, the verdict with
 * the trace hash, and the log. Built with `textContent` only: nothing the
 * simulator says is parsed as HTML.
 *
 * @module
 */

import { hex } from "../../lib/_describe.ts";
import { Op } from "../../lib/isa/isa.ts";
import { portOf } from "../../lib/_port.ts";
import type { MachineSnapshot } from "../../sched/runtime/_port.ts";
import type { Driver } from "./driver.ts";
import type { StepAnswers } from "./session.ts";
import { pageScenario } from "./settings.ts";

/** What a card's buttons do. */
export type MoveHandler = (cpu: number, answers: StepAnswers) => void;

/** Builds an element with a class and children (strings become text). */
function el(
  tag: string,
  className = "",
  ...children: (Node | string | null | false)[]
): HTMLElement {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    if (child !== null && child !== false) node.append(child);
  }
  return node;
}

function button(text: string, onClick: () => void, title = ""): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (title) b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

/**
 * The tasks a CPU may pull, as the kernel lists them: the queued tasks of
 * the busiest other CPUs, in CPU order and oldest first. Used to label the
 * session's pull choices (the session decides what is offered).
 *
 * @param snap The machine now.
 * @param to The pulling CPU.
 * @returns The candidates, in choice order.
 */
export function pullCandidates(
  snap: MachineSnapshot,
  to: number,
): { task: number; from: number }[] {
  let busiest = 0;
  let out: { task: number; from: number }[] = [];
  for (const cpu of snap.cpus) {
    if (cpu.id === to || cpu.queue.length === 0) continue;
    const load = cpu.queue.length + (cpu.task < 0 ? 0 : 1);
    const mine = cpu.queue.map((task) => ({ task, from: cpu.id }));
    if (load > busiest) {
      busiest = load;
      out = mine;
    } else if (load === busiest) out.push(...mine);
  }
  return out;
}

/**
 * Puts `children` in `root` unless they would come out the same: a panel
 * that did not change is neither laid out nor painted again (the listeners
 * of the buttons it keeps do what the new ones would).
 */
function patch(root: HTMLElement, children: Node[]): void {
  const next = document.createElement("div");
  next.append(...children);
  if (next.innerHTML !== root.innerHTML) root.replaceChildren(...next.childNodes);
}

/** Text with `backquoted` parts as `<code>` elements. */
function withCode(text: string): (string | HTMLElement)[] {
  return text.split("`").map((part, i) => i % 2 === 1 ? el("code", "", part) : part);
}

/** Everything a render needs, read once per frame. */
export interface Frame {
  readonly driver: Driver;
  readonly snap: MachineSnapshot;
  readonly steppable: readonly number[];
}

function nameOf(driver: Driver, task: number): string {
  return driver.names[task] ?? `task${task}`;
}

/** Where a register value points, in words. */
function pointsAt(driver: Driver, value: number): string {
  const home = driver.homeRegs.indexOf(value);
  if (home >= 0) return `CPU ${home}'s area`;
  return "not a per-CPU area!";
}

/**
 * Renders the CPU cards.
 *
 * @param root The cards' container.
 * @param frame The run now.
 * @param move Called with a card's move.
 */
export function renderCpus(root: HTMLElement, frame: Frame, move: MoveHandler): void {
  const { driver, snap, steppable } = frame;
  const session = driver.session;
  const reg = driver.test.percpu.percpuReg;
  const cards: HTMLElement[] = [];
  for (const cpu of snap.cpus) {
    const c = cpu.id;
    const can = steppable.includes(c);
    const offers = can ? session.offers(c) : { tick: false, pick: 0, balance: 0, newidle: 0 };
    const running = cpu.task >= 0 ? nameOf(driver, cpu.task) : "idle";
    const card = el("article", "cpu");
    card.id = `cpu-${c}`;
    card.dataset.cpu = String(c);
    if (driver.last?.cpu === c) card.classList.add("just-stepped");

    const step = button(`▶ Step`, () => move(c, {}), `step CPU ${c} one instruction`);
    step.className = "primary step";
    step.disabled = !can;
    if (c < 9) step.append(" ", el("kbd", "", String(c + 1)));
    const tick = button("Tick", () => move(c, { tick: true }), "deliver a timer tick, then step");
    tick.classList.add("tick");
    tick.disabled = !offers.tick;
    card.append(
      el(
        "header",
        "",
        el("h3", "", `CPU ${c}`),
        el("span", "running", cpu.task >= 0 ? `runs ${running}` : "idle"),
      ),
    );

    const dl = el("dl");
    const row = (term: string, value: Node | string, on = false) => {
      dl.append(el("dt", "", term), el("dd", on ? "flag-on" : "", value));
    };
    row(reg, `${hex(cpu.reg)} → ${pointsAt(driver, cpu.reg)}`);
    row("preempt count", String(cpu.preemptCount), cpu.preemptCount > 0);
    row(
      "need-resched",
      cpu.needResched
        ? cpu.preemptCount > 0
          ? el("span", "deferred", "yes — switch DEFERRED until the count is 0")
          : "yes"
        : "no",
      cpu.needResched,
    );
    row("IRQs", cpu.irqEnabled ? "on" : "OFF", !cpu.irqEnabled);
    if (cpu.pendingTick) row("tick", el("span", "deferred", "pending (deferred)"), true);
    card.append(dl);

    if (cpu.task >= 0 && cpu.program !== null) {
      const list = el("ol", "listing");
      list.setAttribute("aria-label", `${running}'s access`);
      cpu.program.instructions.forEach((insn, i) => {
        const li = el("li", i < cpu.pc ? "done" : i === cpu.pc ? "pc" : "", insn.text);
        if (insn.samplesPercpuReg) li.append(el("span", "tag", `reads ${reg}`));
        if (insn.op === Op.PreemptOff) li.append(el("span", "tag", "preempt count +1"));
        if (insn.op === Op.PreemptOn) li.append(el("span", "tag", "preempt count −1"));
        list.append(li);
      });
      card.append(list);
    } else if (cpu.task >= 0) {
      card.append(
        el("p", "listing-note", `${running} is between accesses: its code runs to the next one.`),
      );
    } else {
      card.append(el("p", "listing-note", "No task."));
    }

    const actions = el("div", "actions", step, tick);
    const candidates = pullCandidates(snap, c);
    const label = (k: number) => {
      const cand = candidates[k];
      return cand === undefined
        ? `candidate ${k}`
        : `${nameOf(driver, cand.task)} from CPU ${cand.from}`;
    };
    for (let k = 0; k < offers.balance; k++) {
      const b = button(
        `Tick + pull ${label(k)}`,
        () => move(c, { tick: true, balance: k }),
        "a tick here balances load: pull that task to this CPU",
      );
      b.classList.add("pull");
      actions.append(b);
    }
    for (let k = 0; k < offers.newidle; k++) {
      const b = button(
        `Pull ${label(k)}`,
        () => move(c, { newidle: k }),
        "this idle CPU pulls that task",
      );
      b.classList.add("pull");
      actions.append(b);
    }
    for (let i = 0; i < offers.pick; i++) {
      const b = button(`Run ${nameOf(driver, cpu.queue[i])}`, () => move(c, { pick: i }));
      b.classList.add("pick");
      actions.append(b);
    }
    card.append(actions);

    const queue = cpu.queue.map((t) => {
      const task = snap.tasks[t];
      return task.program === null
        ? nameOf(driver, t)
        : `${nameOf(driver, t)} (mid-access, next: ${task.program.instructions[task.pc].text})`;
    });
    card.append(el("p", "queue", `run queue: ${queue.length === 0 ? "empty" : queue.join(", ")}`));
    cards.push(card);
  }
  // Card by card: a step usually changes one.
  if (root.children.length !== cards.length) root.replaceChildren(...cards);
  cards.forEach((card, i) => {
    const old = root.children[i];
    if (old.outerHTML !== card.outerHTML) old.replaceWith(card);
  });
}

/**
 * Renders the per-CPU areas: each CPU's counter, its bytes, and the bytes
 * the last step wrote (highlighted and marked ✎) or read.
 *
 * @param root The panel.
 * @param frame The run now.
 */
export function renderMemory(root: HTMLElement, frame: Frame): void {
  const { driver } = frame;
  const percpu = driver.test.percpu;
  const counter = percpu.variables().find((v) => v.name === "COUNTER")!;
  const memory = portOf(percpu).memory;
  const last = driver.last;
  const naive = pageScenario(driver.settings) === "sp-naive";
  const table = el("table", "memory-table");
  table.append(
    el(
      "thead",
      "",
      el(
        "tr",
        "",
        el("th", "", "area"),
        el("th", "", "COUNTER"),
        el("th", "", "bytes (little-endian)"),
      ),
    ),
  );
  const body = el("tbody");
  let sum = 0n;
  const areas = naive ? 1 : driver.settings.cpus;
  for (let cpu = 0; cpu < areas; cpu++) {
    const address = counter.remotePtr(cpu);
    const region = memory.resolve(address, counter.size)!;
    const bytes = el("span", "bytes");
    let note = "";
    let value = 0n;
    for (let i = counter.size - 1; i >= 0; i--) {
      value = (value << 8n) | BigInt(region.u8[address + i + region.bias]);
    }
    for (let i = 0; i < counter.size; i++) {
      const a = address + i;
      const written = last !== null && a >= last.writeAddress &&
        a < last.writeAddress + last.writeSize;
      const read = last !== null && a >= last.readAddress && a < last.readAddress + last.readSize;
      const byte = region.u8[a + region.bias].toString(16).padStart(2, "0");
      bytes.append(el("span", written ? "w" : read ? "r" : "", byte), " ");
      if (written) note = ` ✎ written at step ${last!.step} by ${nameOf(driver, last!.task)}`;
      else if (read && note === "") note = ` (read at step ${last!.step})`;
    }
    sum += value;
    const where = naive ? `global ${hex(address)}` : `CPU ${cpu} ${hex(address)}`;
    const tr = el("tr", "", el("td", "", where), el("td", "", String(value)), el("td", "", bytes));
    if (note) tr.lastElementChild!.append(el("span", "", note));
    body.append(tr);
  }
  table.append(body);
  const expected = driver.settings.tasks * driver.settings.iters;
  patch(root, [
    el("h2", "", naive ? "The counter (a plain global: sp-naive)" : "Per-CPU areas"),
    table,
    el(
      "p",
      "",
      `Sum over CPUs: ${sum} — when every task has finished it must be ${expected} (${driver.settings.tasks} tasks × ${driver.settings.iters}).`,
    ),
  ]);
}

/**
 * Renders the challenge: the goal, the checklist, and the win or the
 * guard's verdict.
 *
 * @param root The panel.
 * @param frame The run now.
 * @param retry Restarts with a feature (`preempt`, or `arm-el2` for guests) on or off.
 */
export function renderChallenge(
  root: HTMLElement,
  frame: Frame,
  retry: (feature: "preempt" | "arm-el2", on: boolean) => void,
): void {
  const { driver } = frame;
  const ch = driver.challenge;
  const goal = ch.story === "guest"
    ? "Challenge: make a hypervisor task's access land in guest memory."
    : "Challenge: make the counter lose an update.";
  const parts: Node[] = [el("h2", "", "Challenge"), el("p", "goal", goal)];
  if (ch.guarded && ch.story !== "guest") {
    parts.push(
      el(
        "p",
        "",
        ...withCode(
          "`preempt` is on: every access runs between `disable_preempt` and `enable_preempt`. A tick inside only sets need-resched; the switch waits for the count to return to 0.",
        ),
      ),
    );
  }
  if (ch.story === "guest" && driver.settings.features.includes("arm-el2")) {
    parts.push(
      el(
        "p",
        "",
        ...withCode(
          "`arm-el2` is on: the hypervisor's per-CPU register is TPIDR_EL2; guests write TPIDR_EL1.",
        ),
      ),
    );
  }
  if (ch.atomic !== null) {
    parts.push(
      el(
        "p",
        "",
        ...withCode(
          `Here the access is one instruction, \`${ch.atomic}\`: no tick can split it, so no update can be lost. Try another access kind or arch.`,
        ),
      ),
    );
  }
  const list = el("ol", "checklist");
  for (const m of ch.milestones()) {
    const li = el("li", m.step >= 0 ? "reached" : "", m.text);
    if (m.step >= 0) li.append(` (step ${m.step})`);
    list.append(li);
  }
  parts.push(list);
  if (ch.deferrals.length > 0) {
    const d = ch.deferrals[ch.deferrals.length - 1];
    parts.push(
      el(
        "p",
        "deferred",
        `${ch.deferrals.length} tick${
          ch.deferrals.length === 1 ? "" : "s"
        } deferred; last at step ${d.step} on CPU ${d.cpu} (${
          d.outcome === "deferred-guard"
            ? `${nameOf(driver, d.task)} held the preempt guard`
            : "IRQs were off"
        }).`,
      ),
    );
  }
  const guest = ch.story === "guest";
  // What makes the race impossible: the guard, or (for guests) the hypervisor's own register.
  const fix = guest ? "arm-el2" : "preempt";
  const fixed = driver.settings.features.includes(fix);
  const win = ch.win;
  if (win !== null) {
    const box = el("div", "win");
    box.id = "win";
    box.append(
      el(
        "strong",
        "",
        guest
          ? "✗ You won: a hypervisor access hit guest memory. "
          : "✗ You won: an update was lost. ",
      ),
      ...withCode(win.explanation),
    );
    const verdict = driver.session.done ? driver.session.verdict() : null;
    if (!guest && verdict !== null && !verdict.some((v) => v.kind === "lost-update")) {
      // Another stale store can add back what one lost: the sum is the run's verdict.
      box.append(
        el(
          "p",
          "",
          "At the end the counters add up to the expected total all the same (another stale store added back as much), so the run's verdict, which judges the sum, reports no lost update.",
        ),
      );
    }
    if (!fixed) box.append(el("p", "", button(`Try again with ${fix} on`, () => retry(fix, true))));
    parts.push(box);
  } else if (driver.session.done) {
    const verdict = driver.session.verdict();
    if (verdict !== null && verdict.length === 0) {
      const box = el("div", "safe");
      box.id = "safe";
      box.append(
        el(
          "strong",
          "",
          guest
            ? "✓ Safe: every hypervisor access stayed in a per-CPU area. "
            : "✓ Safe: no update was lost. ",
        ),
        ...withCode(
          !fixed
            ? "Nothing split an access this time. Rewind and try again."
            : guest
            ? "With `arm-el2` the hypervisor's per-CPU register is TPIDR_EL2, which guests never write."
            : `Every tick that arrived inside an access was deferred (${ch.deferrals.length} in this run) until \`enable_preempt\`; no task moved with a stale pointer.`,
        ),
      );
      if (fixed) {
        box.append(el("p", "", button(`Try again without ${fix}`, () => retry(fix, false))));
      }
      parts.push(box);
    }
  }
  patch(root, parts);
}

/**
 * Renders the run's status: progress, verdict and trace hash.
 *
 * @param root The panel.
 * @param frame The run now.
 */
export function renderStatus(root: HTMLElement, frame: Frame): void {
  const { driver, snap } = frame;
  const session = driver.session;
  const hash = session.traceHash();
  const hashEl = el("code", "hash", hash);
  hashEl.id = "trace-hash";
  hashEl.dataset.traceHash = hash;
  const verdictEl = el("p", "");
  verdictEl.id = "verdict";
  if (!session.done) {
    verdictEl.textContent = session.steppable().length === 0
      ? "Stuck: no CPU can step (the schedule does not fit these settings)."
      : driver.future.length > 0
      ? `${driver.future.length} steps ahead (${
        driver.loaded !== undefined ? "of the loaded schedule, or " : ""
      }taken back): redo (y) takes the next, Run to the end takes them all.`
      : "Running — step on.";
    verdictEl.dataset.verdict = "running";
  } else {
    const verdict = session.verdict();
    if (verdict === null) {
      verdictEl.textContent = "INCOMPLETE: the run was cut off before its tasks ended.";
      verdictEl.dataset.verdict = "incomplete";
    } else if (verdict.length === 0) {
      verdictEl.className = "verdict-ok";
      verdictEl.textContent = "✓ OK: every increment counted, every access on its own CPU.";
      verdictEl.dataset.verdict = "ok";
    } else {
      verdictEl.className = "verdict-bad";
      verdictEl.dataset.verdict = "corrupted";
      verdictEl.append("✗ CORRUPTED:");
      const list = el("ul");
      for (const v of verdict) list.append(el("li", "", `${v.kind}: ${v.message}`));
      verdictEl.append(list);
    }
  }
  patch(root, [
    el("h2", "", "Run"),
    el(
      "p",
      "",
      `step ${driver.steps} · cycle ${snap.cycle} · ${snap.instructions} instructions · ${snap.live} of ${snap.tasks.length} tasks left`,
    ),
    verdictEl,
    el("p", "", "trace hash ", hashEl),
  ]);
}

/**
 * Renders the last lines of the log, newest first.
 *
 * @param root The panel.
 * @param driver The run.
 */
export function renderLog(root: HTMLElement, driver: Driver): void {
  const list = el("ol");
  const log = driver.log;
  for (let i = log.length - 1; i >= Math.max(0, log.length - 40); i--) {
    list.append(el("li", "", log[i]));
  }
  patch(root, [el("h2", "", "What happened (newest first)"), list]);
}
