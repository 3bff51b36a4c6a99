/**
 * The guided challenge: watches a run step by step and recognises the race
 * the way a person would tell it — a task samples the per-CPU register, is
 * preempted before its store, moves to another CPU, touches the first CPU's
 * area, and its store overwrites another task's increment. It also counts
 * the ticks the `preempt` guard deferred, and explains a win in terms of
 * the very instruction that sampled the register.
 *
 * Everything comes from the machine's recorded events and the step records,
 * so a rewound run (a replay of its prefix) is recognised identically.
 *
 * @module
 */

import { hex } from "../../lib/_describe.ts";
import { AREA_ALIGN } from "../../lib/layout.ts";
import { ACCESS_OPS } from "../../lib/isa/access_program.ts";
import { Op } from "../../lib/isa/isa.ts";
import { accessProgram } from "../../lib/isa/mod.ts";
import type { ExploreTest } from "../../sched/explore/explore.ts";
import type { SimEvent } from "../../sched/trace/trace.ts";
import type { StepRecord } from "../../sched/runtime/_port.ts";
import { pageScenario, type Settings } from "./settings.ts";

/**
 * Which story the challenge tells: `percpu` (the register is read once, then
 * an address computed from it is used), `relative` (every memory instruction
 * reads the register itself, as x86_64's `gs:` forms do), `naive` (a plain
 * global, `sp-naive`), `guest` (a guest overwrites the hypervisor's register).
 */
export type Story = "percpu" | "relative" | "naive" | "guest";

/** One item of the checklist. */
export interface Milestone {
  /** What the player has to make happen. */
  readonly text: string;
  /** The step at which it first happened, or −1. */
  readonly step: number;
}

/** Where a task last sampled the per-CPU register (or loaded the counter, for `sp-naive`). */
interface Sample {
  readonly step: number;
  readonly cpu: number;
  readonly text: string;
  readonly reg: number;
}

/** A load of the counter, kept until the task stores to the same place. */
interface Load {
  readonly step: number;
  readonly cpu: number;
  readonly text: string;
  /** The CPU whose copy it read. */
  readonly hitCpu: number;
  /** The index of the last store to that address the load saw (−1: none). */
  readonly seen: number;
}

/** What made the player win. */
export interface Win {
  /** The step of the store (or access) that broke the invariant. */
  readonly step: number;
  /** A paragraph saying exactly what happened. */
  readonly explanation: string;
}

/** A tick the guard (or masked IRQs) deferred. */
export interface Deferral {
  readonly step: number;
  readonly cpu: number;
  readonly task: number;
  readonly outcome: "deferred-guard" | "deferred-irq";
}

const PERCPU_STEPS = [
  "A task samples the per-CPU register (and still has its access to finish)",
  "A tick preempts it before its store",
  "It moves to another CPU (a tick there pulls it, or an idle CPU does)",
  "Its access touches the first CPU's area from the new CPU (wrong-CPU access)",
  "Its store overwrites another task's increment: an update is lost",
];
const RELATIVE_STEPS = [
  "A task loads the counter through the per-CPU register (and still has to store it)",
  "A tick preempts it before its store",
  "It moves to another CPU (a tick there pulls it, or an idle CPU does)",
  "Its store, through the new CPU's register, writes the old count over this CPU's: an update is lost",
];
const NAIVE_STEPS = [
  "A task loads the counter (and still has to store it back)",
  "A tick preempts it before its store",
  "Another task stores to the counter meanwhile",
  "The first task's store overwrites that increment: an update is lost",
];
const GUEST_STEPS = [
  "A guest vCPU writes TPIDR_EL1 on a CPU",
  "A hypervisor task then samples its per-CPU register on that CPU",
  "Its access lands outside every per-CPU area (guest memory)",
];

/** The recogniser of one run. */
export class Challenge {
  /** Which story this scenario tells. */
  readonly story: Story;
  /** The per-CPU register's name. */
  readonly register: string;
  /** The instructions that sample the per-CPU register (from the arch table). */
  readonly samplers: ReadonlySet<string>;
  /** Whether the accesses run under the `preempt` guard. */
  readonly guarded: boolean;
  /** The access is one instruction (besides the guard): no tick can split it. */
  readonly atomic: string | null;
  readonly #names: (task: number) => string;
  readonly #done: number[];
  readonly #samples = new Map<number, Sample>();
  /** Tasks holding a sampled address or loaded value not yet stored. */
  readonly #holding = new Set<number>();
  readonly #lastWrite = new Map<number, { step: number; task: number; index: number }>();
  /** Each task's loads not yet stored back, by address (a 64-bit counter on riscv32 is two words). */
  readonly #loads = new Map<number, Map<number, Load>>();
  /** Each task's first wrong-CPU access since it last sampled the register. */
  readonly #wrongOf = new Map<number, { step: number; text: string }>();
  readonly #moves = new Map<number, string[]>();
  /** CPUs whose TPIDR_EL1 a guest overwrote. */
  readonly #guestWrote = new Set<number>();
  #events = 0;
  #win: Win | null = null;
  /** Ticks deferred so far. */
  readonly deferrals: Deferral[] = [];

  /**
   * Prepares the recogniser for a test.
   *
   * @param settings The run's settings.
   * @param test The test (its system gives the counter's instructions).
   * @param names Task names by id.
   */
  constructor(settings: Settings, test: ExploreTest, names: (task: number) => string) {
    const scenario = pageScenario(settings);
    this.guarded = settings.features.includes("preempt");
    this.#names = names;
    const counter = test.percpu.variables().find((v) => v.name === "COUNTER")!;
    const op = settings.access === "read-write" ? "read" : settings.access;
    const body = accessProgram(counter, op).instructions.filter((i) =>
      i.op !== Op.PreemptOff && i.op !== Op.PreemptOn
    );
    const relative = body.filter((i) => i.accessesMemory).every((i) => i.samplesPercpuReg);
    this.story = scenario === "sp-naive"
      ? "naive"
      : scenario === "el2-guest"
      ? "guest"
      : relative
      ? "relative"
      : "percpu";
    this.atomic = settings.access === "add" && body.length === 1 ? body[0].text : null;
    const samplers = new Set<string>();
    for (const op of ACCESS_OPS) {
      if (op.startsWith("remote")) continue;
      for (const insn of accessProgram(counter, op).instructions) {
        if (insn.samplesPercpuReg) samplers.add(insn.text);
      }
    }
    this.samplers = samplers;
    this.register = test.percpu.percpuReg;
    this.#done = new Array(this.milestoneTexts().length).fill(-1);
  }

  /** The checklist's texts for this story. */
  milestoneTexts(): readonly string[] {
    return this.story === "naive"
      ? NAIVE_STEPS
      : this.story === "relative"
      ? RELATIVE_STEPS
      : this.story === "guest"
      ? GUEST_STEPS
      : PERCPU_STEPS;
  }

  /** The checklist, with the step at which each item happened. */
  milestones(): Milestone[] {
    return this.milestoneTexts().map((text, i) => ({ text, step: this.#done[i] }));
  }

  /** The win, once there is one. */
  get win(): Win | null {
    return this.#win;
  }

  #reach(item: number, step: number): void {
    if (this.#done[item] < 0) this.#done[item] = step;
  }

  #note(task: number, text: string): void {
    const moves = this.#moves.get(task);
    if (moves) moves.push(text);
  }

  /**
   * Takes in one step: its record and the events it recorded.
   *
   * @param step The step's number (1 for the first).
   * @param record What the step did.
   * @param events The run's events so far.
   * @param regOf The per-CPU register of a CPU now.
   */
  observe(
    step: number,
    record: StepRecord,
    events: readonly SimEvent[],
    regOf: (cpu: number) => number,
  ): void {
    // Where the register is read once and an address kept (with relative
    // accesses and plain globals, the load is what a task holds instead).
    const holdsAddress = this.story === "percpu" || this.story === "guest";
    if (record.executed && holdsAddress && this.samplers.has(record.instruction)) {
      const sample = {
        step,
        cpu: record.cpu,
        text: record.instruction,
        reg: regOf(record.cpu),
      };
      this.#samples.set(record.task, sample);
      this.#holding.add(record.task);
      this.#moves.set(record.task, []);
      this.#wrongOf.delete(record.task);
      if (this.story === "percpu") this.#reach(0, step);
      else if (this.#guestWrote.has(record.cpu)) this.#reach(1, step);
    }
    for (; this.#events < events.length; this.#events++) {
      this.#event(step, events[this.#events], this.#events);
    }
  }

  #event(step: number, e: SimEvent, index: number): void {
    const name = this.#names;
    switch (e.kind) {
      case "tick":
        if (e.outcome === "deferred-guard" || e.outcome === "deferred-irq") {
          this.deferrals.push({ step, cpu: e.cpu, task: e.task, outcome: e.outcome });
        }
        return;
      case "preempt":
        if (this.#holding.has(e.task)) {
          this.#reach(1, step);
          this.#note(e.task, `a tick preempted it on CPU ${e.cpu} at step ${step}`);
        }
        return;
      case "pull":
        if (this.#holding.has(e.task)) {
          this.#note(
            e.task,
            `CPU ${e.cpu} pulled it from CPU ${e.from} (${
              e.reason === "balance" ? "load balancing, from a tick" : "about to go idle"
            }) at step ${step}`,
          );
        }
        return;
      case "migrate":
        if (
          this.#holding.has(e.task) && (this.story === "percpu" || this.story === "relative")
        ) {
          this.#reach(2, step);
          this.#note(e.task, `it resumed on CPU ${e.cpu} at step ${step}`);
        }
        return;
      case "sysreg":
        if (e.reg === "TPIDR_EL1" && this.story === "guest") {
          this.#guestWrote.add(e.cpu);
          this.#reach(0, step);
        }
        return;
      case "access":
        break;
      default:
        return;
    }
    if (e.remote) return;
    if (e.wrong) {
      if (!this.#wrongOf.has(e.task)) this.#wrongOf.set(e.task, { step, text: e.text });
      if (this.story === "percpu") this.#reach(3, step);
      if (this.story === "guest" && e.hitCpu < 0 && this.#win === null) {
        this.#reach(2, step);
        this.#winGuest(step, e);
      }
    }
    const latest = this.#lastWrite.get(e.address);
    let loads = this.#loads.get(e.task);
    if (!e.write) {
      if (loads === undefined) this.#loads.set(e.task, loads = new Map());
      const load = { step, cpu: e.cpu, text: e.text, hitCpu: e.hitCpu, seen: latest?.index ?? -1 };
      loads.set(e.address, load);
      if ((this.story === "naive" || this.story === "relative") && !this.#holding.has(e.task)) {
        this.#samples.set(e.task, { step, cpu: e.cpu, text: e.text, reg: e.address });
        this.#holding.add(e.task);
        this.#moves.set(e.task, []);
        this.#reach(0, step);
      }
      return;
    }
    // The load this store writes back: of the same address, or of the same
    // variable in another CPU's copy (the areas' stride is a multiple of AREA_ALIGN).
    let load = loads?.get(e.address);
    let cross: Load | undefined;
    if (load !== undefined) {
      loads!.delete(e.address);
    } else if (loads !== undefined) {
      for (const [address, other] of loads) {
        if (other.hitCpu !== e.hitCpu && (e.address - address) % AREA_ALIGN === 0) {
          cross = other;
          loads.delete(address);
          break;
        }
      }
    }
    this.#lastWrite.set(e.address, { step, task: e.task, index });
    if (this.story === "naive") {
      for (const other of this.#holding) {
        if (other !== e.task) this.#reach(2, step);
      }
    }
    this.#holding.delete(e.task);
    if (this.#win !== null) return;
    if (load !== undefined && latest !== undefined && latest.index !== load.seen) {
      this.#winLost(
        step,
        e,
        load,
        `${
          name(latest.task)
        }'s increment (stored at step ${latest.step}), which it had not read: that increment is lost`,
      );
    } else if (cross !== undefined) {
      load = cross;
      this.#winLost(
        step,
        e,
        cross,
        `CPU ${e.hitCpu}'s count with CPU ${cross.hitCpu}'s count plus one: CPU ${e.hitCpu}'s own increments are overwritten`,
      );
    }
  }

  #winLost(
    step: number,
    e: Extract<SimEvent, { kind: "access" }>,
    load: Load,
    overwritten: string,
  ): void {
    this.#reach(this.milestoneTexts().length - 1, step);
    const name = this.#names(e.task);
    const sample = this.#samples.get(e.task);
    const moves = this.#moves.get(e.task) ?? [];
    const wrong = this.#wrongOf.get(e.task);
    const parts: string[] = [];
    if (this.story === "percpu" && sample !== undefined) {
      parts.push(
        `${name} sampled ${this.register} with \`${sample.text}\` on CPU ${sample.cpu} at step ${sample.step} (value ${
          hex(sample.reg)
        }: CPU ${sample.cpu}'s area).`,
      );
    } else {
      parts.push(
        `${name} loaded the counter with \`${load.text}\` on CPU ${load.cpu} at step ${load.step}${
          this.story === "relative" ? ` (through ${this.register}: CPU ${load.hitCpu}'s copy)` : ""
        }.`,
      );
    }
    if (moves.length > 0) parts.push(`Then ${moves.join("; ")}.`);
    if (wrong !== undefined && this.story === "percpu") {
      parts.push(
        `Still holding the old address, its \`${wrong.text}\` reached CPU ${
          sample?.cpu ?? "another"
        }'s area from another CPU (step ${wrong.step}).`,
      );
    }
    parts.push(`Its store \`${e.text}\` on CPU ${e.cpu} at step ${step} overwrote ${overwritten}.`);
    parts.push(
      this.story === "naive"
        ? "With the `preempt` feature the load and the store run under NoPreempt, and the tick waits for the store."
        : this.story === "relative"
        ? `Each of these instructions reads ${this.register} afresh, so the load and the store can reach different CPUs' copies. With the \`preempt\` feature the access runs under NoPreempt: the tick is deferred to its end.`
        : `The register was read once, by \`${
          sample?.text ?? [...this.samplers][0]
        }\`; everything after it trusts that value. With the \`preempt\` feature the whole access runs under NoPreempt: the tick is deferred to its end.`,
    );
    this.#win = { step, explanation: parts.join(" ") };
  }

  #winGuest(step: number, e: Extract<SimEvent, { kind: "access" }>): void {
    const sample = this.#samples.get(e.task);
    this.#win = {
      step,
      explanation: `${this.#names(e.task)} sampled ${this.register} with \`${
        sample?.text ?? [...this.samplers][0]
      }\` on CPU ${sample?.cpu ?? e.cpu}${
        sample ? ` at step ${sample.step} (value ${hex(sample.reg)})` : ""
      } after a guest vCPU had written its own address there; its \`${e.text}\` at ${
        hex(e.address)
      } (step ${step}) hit guest memory, not a per-CPU area. With the \`arm-el2\` feature the hypervisor's register is TPIDR_EL2, which guests cannot write.`,
    };
  }
}
