/**
 * A fingerprint of everything that decides what the machine does next, so
 * the schedule explorer can cut short a schedule that reaches a state it
 * has already explored.
 *
 * @module
 */

import { SYSREGS } from "../../lib/isa/isa.ts";
import type { Region } from "../../lib/_memory.ts";
import { Hasher } from "../trace/_hasher.ts";
import { type RunState, type SimCpu, TASK_STATES } from "./_state.ts";

/** Where the per-CPU areas lie: bytes `[first, end)` of a region. */
export interface AreaSpan {
  /** The region holding them. */
  readonly region: Region;
  /** First byte index (into the region's buffer). */
  readonly first: number;
  /** One past the last byte index. */
  readonly end: number;
}

/** Hashes bytes `[first, end)` of a region's buffer: whole words, then the tail. */
function hashRegion(h: Hasher, region: Region, first: number, end: number): void {
  const firstWord = (first + 3) >>> 2;
  const endWord = end >>> 2;
  if (firstWord >= endWord) {
    for (let b = first; b < end; b++) h.word(region.u8[b]);
    return;
  }
  for (let b = first; b < firstWord * 4; b++) h.word(region.u8[b]);
  h.words(region.u32, firstWord, endWord);
  for (let b = endWord * 4; b < end; b++) h.word(region.u8[b]);
}

/**
 * The fingerprint: the bytes of the areas and of every other region tasks
 * wrote, each CPU's registers, flags and run queue, and each task's
 * progress, registers, preempt count and the values its code was resumed
 * with. Two states with equal fingerprints continue alike, provided task
 * code is deterministic and shares nothing but simulated memory.
 *
 * @param state The run.
 * @param cpus The CPUs.
 * @param areas Where the areas lie.
 * @param written Other regions written during the run.
 * @param extra Decision state to fold in (e.g. the CPU about to step).
 * @returns A 53-bit key.
 */
export function stateHash(
  state: RunState,
  cpus: readonly SimCpu[],
  areas: AreaSpan,
  written: ReadonlySet<Region>,
  extra: number,
): number {
  const h = new Hasher();
  h.number(extra);
  hashRegion(h, areas.region, areas.first, areas.end);
  for (const region of written) {
    if (region !== areas.region) {
      hashRegion(h, region, region.byteOffset, region.byteOffset + region.length);
    }
  }
  for (const cpu of cpus) {
    h.word(cpu.current?.id ?? -1);
    h.word(
      (cpu.irqEnabled ? 1 : 0) | (cpu.pendingTick ? 2 : 0) | (cpu.needResched ? 4 : 0) |
        (cpu.tickDue ? 8 : 0) | (cpu.ran ? 16 : 0),
    );
    for (const reg of SYSREGS) h.number(cpu.context.readSysreg(reg));
    h.word(cpu.queue.length);
    for (const task of cpu.queue) h.word(task.id);
  }
  for (const task of state.tasks) {
    h.word(TASK_STATES.indexOf(task.state));
    h.word(task.request === null ? -1 : task.request.entry.id);
    h.word(task.pc);
    for (const value of task.regs) h.value(value);
    h.word(task.carry);
    h.word(task.preemptCount);
    h.word(task.lastCpu);
    h.word(task.resumes);
    h.number(task.resumeHash.key);
    h.value(task.resume);
    h.number(task.state === "sleeping" ? task.wakeAt - state.cycle : 0);
  }
  return h.key;
}
