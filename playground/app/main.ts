/// <reference lib="dom" />
/**
 * The playground page: reads the settings (and a schedule) from the link,
 * builds the run on the simulator's own modules, and wires the setup form,
 * the CPU cards, the controls and the keyboard to it. Every change ends in
 * one `render()`; the timeline redraws at its own pace.
 *
 * @module
 */

import { ARCHES, FEATURES } from "../../lib/arch.ts";
import { Prng } from "../../sched/runtime/prng.ts";
import { machinePort } from "../../sched/runtime/_port.ts";
import { ACCESS_MODES } from "../../sched/scenario/scenario.ts";
import { Driver, type Move } from "./driver.ts";
import { replayableByCli, type StepAnswers } from "./session.ts";
import {
  DEFAULT_SETTINGS,
  LIMITS,
  type Link,
  PAGE_SCENARIOS,
  pageScenario,
  parseLink,
  parsePasted,
  replayCommand,
  type Settings,
} from "./settings.ts";
import { TimelineView } from "./timeline.ts";
import {
  type Frame,
  renderChallenge,
  renderCpus,
  renderLog,
  renderMemory,
  renderStatus,
} from "./view.ts";

function $<T extends HTMLElement>(selector: string): T {
  return document.querySelector(selector) as T;
}

const ui = {
  setup: $<HTMLFormElement>("#setup"),
  error: $<HTMLElement>("#error"),
  controls: $<HTMLElement>("#controls"),
  speed: $<HTMLSelectElement>("#controls select[name=speed]"),
  cpus: $<HTMLElement>("#cpus"),
  memory: $<HTMLElement>("#memory"),
  challenge: $<HTMLElement>("#challenge"),
  status: $<HTMLElement>("#status"),
  log: $<HTMLElement>("#log"),
  load: $<HTMLFormElement>("#load"),
  loadText: $<HTMLInputElement>("#load-text"),
  shareLink: $<HTMLInputElement>("#share-link"),
  replay: $<HTMLElement>("#replay-command"),
  position: $<HTMLInputElement>("#position"),
  positionText: $<HTMLOutputElement>("#position-text"),
};
const timeline = new TimelineView($<HTMLElement>("#timeline"));
const prng = new Prng((Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0);
/** Chance that a random step takes an offered tick. */
const TICK_CHANCE = 0.25;
/** Steps a "run to the end" takes between two paints. */
const CHUNK_MS = 24;

let driver: Driver;
/** The automatic run under way: "play" (random, paced) or "end" (plain, fast). */
let auto: { kind: "play" | "end"; handle: number | ReturnType<typeof setTimeout> } | null = null;
/** The fragment this page wrote last (a change to anything else is a new link). */
let ownHash = "";

function showError(message: string | null): void {
  ui.error.hidden = message === null;
  ui.error.textContent = message ?? "";
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Fills the setup form's menus once. */
function buildSetup(): void {
  const fill = (name: string, values: readonly string[]) => {
    const select = ui.setup.elements.namedItem(name) as HTMLSelectElement;
    select.replaceChildren(
      ...values.map((value) => {
        const option = document.createElement("option");
        option.value = option.textContent = value;
        return option;
      }),
    );
  };
  fill("arch", ARCHES);
  fill("scenario", PAGE_SCENARIOS);
  fill("access", ACCESS_MODES);
  for (const key of ["cpus", "tasks", "iters"] as const) {
    (ui.setup.elements.namedItem(key) as HTMLInputElement).max = String(LIMITS[key]);
  }
}

function field<T extends HTMLInputElement | HTMLSelectElement>(name: string): T {
  return ui.setup.elements.namedItem(name) as T;
}

function showSettings(settings: Settings): void {
  field<HTMLSelectElement>("arch").value = settings.arch;
  field<HTMLSelectElement>("scenario").value = pageScenario(settings);
  field<HTMLSelectElement>("access").value = settings.access;
  for (const feature of ["preempt", "arm-el2", "non-zero-vma"] as const) {
    field<HTMLInputElement>(feature).checked = settings.features.includes(feature);
  }
  field<HTMLInputElement>("cpus").value = String(settings.cpus);
  field<HTMLInputElement>("tasks").value = String(settings.tasks);
  field<HTMLInputElement>("iters").value = String(settings.iters);
}

function readSettings(): Settings {
  const scenario = field<HTMLSelectElement>("scenario").value;
  const naive = scenario === "sp-naive";
  const features = ["sp-naive", "preempt", "arm-el2", "non-zero-vma"].filter((f) =>
    f === "sp-naive" ? naive : field<HTMLInputElement>(f).checked
  );
  return {
    arch: field<HTMLSelectElement>("arch").value,
    features,
    scenario: naive ? "counter" : scenario,
    access: field<HTMLSelectElement>("access").value,
    cpus: naive ? 1 : field<HTMLInputElement>("cpus").valueAsNumber,
    tasks: field<HTMLInputElement>("tasks").valueAsNumber,
    iters: field<HTMLInputElement>("iters").valueAsNumber,
  } as Settings;
}

/**
 * Starts a run; on bad settings or schedule, says why and keeps the
 * current run (or starts the default one).
 */
function start(link: Link): void {
  stopAuto();
  try {
    driver = new Driver(link.settings, link.schedule);
    showError(link.problems.length > 0 ? link.problems.join("; ") : null);
  } catch (error) {
    const problems = [...link.problems, messageOf(error)].join("; ");
    driver ??= new Driver(DEFAULT_SETTINGS);
    showError(problems);
  }
  showSettings(driver.settings);
  linkedAt = -1;
  render();
}

function frame(): Frame {
  return {
    driver,
    snap: machinePort(driver.session.machine).snapshot(),
    steppable: driver.session.steppable(),
  };
}

/** When the side panels were last drawn (ms). */
let panelsAt = 0;
/** While playing, the side panels are drawn at most this often (ms); the CPUs every frame. */
const PLAY_PANELS_MS = 100;

function render(): void {
  const f = frame();
  renderCpus(ui.cpus, f, (cpu, answers) => act(() => step(cpu, answers)));
  const now = performance.now();
  if (auto?.kind !== "play" || now - panelsAt >= PLAY_PANELS_MS) {
    panelsAt = now;
    renderMemory(ui.memory, f);
    renderChallenge(ui.challenge, f, retry);
    renderStatus(ui.status, f);
    renderLog(ui.log, driver);
    renderLinks();
  }
  const done = driver.session.done;
  for (const b of ui.controls.querySelectorAll<HTMLButtonElement>("button[data-action]")) {
    const action = b.dataset.action;
    if (action === "random" || action === "end") b.disabled = done || f.steppable.length === 0;
    if (action === "play") {
      b.disabled = done && auto === null;
      b.textContent = auto?.kind === "play" ? "❚❚ Pause " : "▶ Play ";
      b.append(kbd("p"));
    }
    if (action === "undo" || action === "restart") b.disabled = driver.steps === 0;
    if (action === "redo") b.disabled = driver.future.length === 0;
  }
  const total = driver.steps + driver.future.length;
  ui.position.max = String(total);
  ui.position.value = String(driver.steps);
  ui.positionText.value = `${driver.steps} / ${total}`;
  requestTimeline();
}

function kbd(text: string): HTMLElement {
  const k = document.createElement("kbd");
  k.textContent = text;
  return k;
}

function requestTimeline(): void {
  if (driver.session.machine.events === null) {
    $<HTMLElement>("#timeline").textContent =
      "This session's machine keeps no events (it was built without record: true): no timeline.";
    return;
  }
  timeline.request(() => {
    const s = driver.settings;
    const features = s.features.length === 0 ? "no features" : s.features.join(", ");
    const session = driver.session;
    const verdict = !session.done
      ? "running"
      : session.verdict() === null
      ? "incomplete"
      : session.verdict()!.length > 0
      ? "CORRUPTED"
      : "ok";
    return {
      events: session.machine.events ?? [],
      taskNames: driver.names,
      cpus: s.cpus,
      title: `${s.scenario} on ${s.arch} (${features}): ${verdict}`,
      subtitle: `step ${driver.steps}`,
    };
  });
}

/** The step count the link shown was made at (−1: none shown). */
let linkedAt = -1;

/**
 * Shows the link to the run and the command that replays it. A schedule
 * grows with the run, so this is done on demand (Share), once a run ends,
 * and for a schedule loaded from a link — never on every step.
 */
function renderLinks(now = false): void {
  const session = driver.session;
  if (!now && !(session.done && linkedAt !== driver.steps)) {
    if (linkedAt !== driver.steps && linkedAt !== -2) {
      linkedAt = -2;
      ui.shareLink.value = "";
      ui.shareLink.placeholder = "press Share (s) for a link to this run as it is";
      ui.replay.textContent = driver.loaded !== undefined && replayableByCli(driver.loaded)
        ? `The loaded schedule replays in a terminal: ${
          replayCommand(driver.settings, driver.loaded)
        }`
        : "";
    }
    return;
  }
  linkedAt = driver.steps;
  const schedule = session.schedule();
  ui.shareLink.value = location.href.split("#")[0] + driver.link();
  ui.replay.textContent = replayableByCli(schedule)
    ? `Replay in a terminal: ${replayCommand(driver.settings, schedule)}`
    : "This hand-made schedule replays in the page (share its link).";
}

function act(fn: () => void): void {
  try {
    fn();
    showError(null);
  } catch (error) {
    showError(messageOf(error));
  }
  render();
}

function step(cpu: number, answers: StepAnswers): void {
  stopAuto();
  driver.step(cpu, answers);
}

function retry(feature: "preempt" | "arm-el2", on: boolean): void {
  const s = driver.settings;
  const features = FEATURES.filter((f) => f === feature ? on : s.features.includes(f));
  start({ settings: { ...s, features }, problems: [] });
}

function stopAuto(): void {
  if (auto === null) return;
  if (auto.kind === "play") cancelAnimationFrame(auto.handle as number);
  else clearTimeout(auto.handle);
  auto = null;
}

/** Random steps at the chosen pace, painted once per frame. */
function play(): void {
  if (auto !== null) {
    stopAuto();
    render();
    return;
  }
  let last = performance.now();
  let owed = 1;
  const tick = (now: number) => {
    owed += Math.min(8, (now - last) * Number(ui.speed.value) / 1000);
    last = now;
    try {
      for (; owed >= 1; owed--) {
        const move = driver.randomMove(prng, TICK_CHANCE);
        if (move === null || driver.session.done) break;
        driver.step(move.cpu, move.answers);
      }
    } catch (error) {
      showError(messageOf(error));
      auto = null;
    }
    if (driver.session.done || driver.session.steppable().length === 0) auto = null;
    if (auto !== null) auto.handle = requestAnimationFrame(tick);
    render();
  };
  auto = { kind: "play", handle: requestAnimationFrame(tick) };
  render();
}

/** Plain steps to the end, in slices so the page stays responsive. */
function runToEnd(): void {
  stopAuto();
  const next = (): Move | null => driver.nextPlainMove();
  const slice = () => {
    const until = performance.now() + CHUNK_MS;
    try {
      while (performance.now() < until && !driver.session.done) {
        if (driver.runWhile(next, 512) === 0) break;
      }
    } catch (error) {
      showError(messageOf(error));
    }
    const more = !driver.session.done && driver.session.steppable().length > 0;
    auto = more ? { kind: "end", handle: setTimeout(slice, 0) } : null;
    render();
    if (!more) timeline.flush();
  };
  auto = { kind: "end", handle: setTimeout(slice, 0) };
}

async function share(): Promise<void> {
  const hash = driver.link();
  ownHash = hash;
  history.replaceState(null, "", hash);
  renderLinks(true);
  ui.shareLink.select();
  try {
    await navigator.clipboard.writeText(ui.shareLink.value);
    ui.shareLink.title = "copied to the clipboard";
  } catch {
    // No clipboard here (an insecure origin, or permission denied): the link stays selected.
    ui.shareLink.title = "select and copy";
  }
}

const ACTIONS: Record<string, () => void> = {
  random: () =>
    act(() => {
      stopAuto();
      const move = driver.randomMove(prng, TICK_CHANCE);
      if (move !== null) driver.step(move.cpu, move.answers);
    }),
  play,
  end: runToEnd,
  undo: () =>
    act(() => {
      stopAuto();
      driver.undo();
    }),
  redo: () =>
    act(() => {
      stopAuto();
      driver.redo();
    }),
  restart: () =>
    act(() => {
      stopAuto();
      driver.rewind(0);
    }),
  share: () => void share(),
};

function wire(): void {
  ui.setup.addEventListener("submit", (event) => {
    event.preventDefault();
    start({ settings: readSettings(), problems: [] });
  });
  field<HTMLSelectElement>("scenario").addEventListener("change", () => {
    field<HTMLInputElement>("cpus").disabled = field<HTMLSelectElement>("scenario").value ===
      "sp-naive";
  });
  ui.load.addEventListener("submit", (event) => {
    event.preventDefault();
    const pasted = parsePasted(ui.loadText.value, driver.settings);
    if (pasted.schedule === undefined) {
      showError(pasted.problems.join("; ") || "nothing to load");
      return;
    }
    start(pasted);
  });
  ui.controls.addEventListener("click", (event) => {
    const target = (event.target as HTMLElement).closest("button[data-action]");
    const action = (target as HTMLElement | null)?.dataset.action;
    if (action !== undefined) ACTIONS[action]?.();
  });
  document.addEventListener("keydown", (event) => {
    const target = event.target as HTMLElement;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest("input, select, textarea")) return;
    const digit = /^Digit([0-9])$/.exec(event.code);
    if (digit !== null && digit[1] !== "0") {
      const cpu = Number(digit[1]) - 1;
      if (cpu < driver.settings.cpus) {
        event.preventDefault();
        act(() => step(cpu, event.shiftKey ? { tick: true } : {}));
      }
      return;
    }
    const action = (
      {
        KeyR: "random",
        KeyP: "play",
        Space: "play",
        KeyE: "end",
        KeyU: "undo",
        KeyY: "redo",
        Digit0: "restart",
        KeyS: "share",
      } as Record<string, string>
    )[event.code];
    if (action !== undefined && !(action === "play" && target.closest("button"))) {
      event.preventDefault();
      ACTIONS[action]();
    }
  });
  ui.position.addEventListener("input", () => {
    ui.positionText.value = `${ui.position.value} / ${ui.position.max}`;
  });
  ui.position.addEventListener("change", () =>
    act(() => {
      stopAuto();
      driver.seek(ui.position.valueAsNumber);
    }));
  addEventListener("hashchange", () => {
    if (location.hash !== ownHash) start(parseLink(location.hash));
  });
}

buildSetup();
wire();
ownHash = location.hash;
start(parseLink(location.hash));
document.documentElement.dataset.ready = String(Math.round(performance.now()));
