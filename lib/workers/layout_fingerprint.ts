/**
 * A per-CPU layout's fingerprint: what two systems must agree on to share
 * per-CPU areas (architecture, features, area stride, every variable's
 * name, type, offset and size, every dynamic variable's place, plus the
 * counters), and the first difference between two fingerprints.
 *
 * Each Worker imports the definitions and builds its own system; before it
 * adopts the creator's areas, comparing fingerprints catches a Worker running
 * other (say, older or reordered) definitions, which would otherwise read and
 * write every variable at the wrong place.
 *
 * @module
 */

import type { Arch, Feature } from "../arch.ts";
import { PercpuError } from "../errors.ts";
import type { Percpu } from "../percpu.ts";
import { portOf } from "../_port.ts";
import { percpuCounters } from "./percpu_counter.ts";
import { typeName } from "../types.ts";

/** One variable in a {@linkcode LayoutFingerprint}. */
export interface VariableFingerprint {
  /** The variable's name. */
  readonly name: string;
  /** Its type in Rust syntax, e.g. `u32` or `struct { foo: usize, bar: u8 }`. */
  readonly type: string;
  /** Offset from an area base (the address under `sp-naive`). */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
}

/** One counter in a {@linkcode LayoutFingerprint}. */
export interface CounterFingerprint {
  /** The counter's name. */
  readonly name: string;
  /** Its batch size. */
  readonly batch: number;
}

/**
 * What must match for two systems to share per-CPU areas. A plain object, so
 * it can be posted to a Worker or stored as JSON.
 */
export interface LayoutFingerprint {
  /** The architecture. */
  readonly arch: Arch;
  /** The enabled features. */
  readonly features: readonly Feature[];
  /** The distance between areas in bytes. */
  readonly stride: number;
  /** Every variable in section order (on x86_64, `SELF_PTR` first). */
  readonly variables: readonly VariableFingerprint[];
  /**
   * Every live dynamic variable (`allocPercpu`) in allocation order; its
   * `offset` is its place among the dynamic chunks (chunk × stride + offset
   * in the chunk's unit), which does not depend on where the areas are.
   */
  readonly dynamic: readonly VariableFingerprint[];
  /** Every counter in definition order. */
  readonly counters: readonly CounterFingerprint[];
}

/**
 * A Worker's layout differs from the layout of the system that created the
 * shared areas, so attaching was refused. Nothing was changed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LayoutMismatchError } from "@percpu/percpu/workers";
 * import { PercpuError } from "@percpu/percpu";
 *
 * const error = new LayoutMismatchError("arch is arm here but x86_64 in the creator");
 * assert.ok(error instanceof PercpuError);
 * assert.equal(error.difference, "arch is arm here but x86_64 in the creator");
 * ```
 */
export class LayoutMismatchError extends PercpuError {
  /**
   * The first difference, e.g. `variable #2: HITS is u32 at offset 8 here
   * but u64 at offset 8 in the creator`.
   */
  readonly difference: string;

  /**
   * Creates the error.
   *
   * @param difference The first difference, from {@linkcode layoutDifference}.
   */
  constructor(difference: string) {
    super(
      `this system's per-CPU layout differs from the creator's, so its areas cannot be shared: ${difference}`,
    );
    this.difference = difference;
  }
}

/**
 * Takes a system's layout fingerprint. The layout is final once the system
 * is initialised; taken before, it covers the variables defined so far.
 *
 * @param percpu The system.
 * @returns The fingerprint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u32 } from "@percpu/percpu";
 * import { layoutFingerprint } from "@percpu/percpu/workers";
 *
 * const p = createPercpu({ arch: "riscv64" });
 * p.defPercpu("HITS", u32, 0);
 * assert.deepEqual(layoutFingerprint(p), {
 *   arch: "riscv64",
 *   features: [],
 *   stride: 64,
 *   variables: [{ name: "HITS", type: "u32", offset: 0, size: 4 }],
 *   dynamic: [],
 *   counters: [],
 * });
 * ```
 */
export function layoutFingerprint(percpu: Percpu): LayoutFingerprint {
  const stride = percpu.percpuAreaLayoutExpected(1).size;
  return {
    arch: percpu.arch,
    features: [...percpu.features],
    stride,
    variables: percpu.variables().map((v) => ({
      name: v.name,
      type: typeName(v.type),
      offset: v.offset(),
      size: v.size,
    })),
    dynamic: (portOf(percpu).dynamic?.fingerprint() ?? []).map((d) => ({
      name: d.name,
      type: d.type,
      offset: d.chunk * stride + d.start,
      size: d.size,
    })),
    counters: percpuCounters(percpu).map((c) => ({ name: c.name, batch: c.batch })),
  };
}

function variableText(v: VariableFingerprint): string {
  return `${v.type} at offset ${v.offset}`;
}

function listText(items: readonly string[]): string {
  return `[${items.join(", ")}]`;
}

/**
 * The first difference between two fingerprints, worded from this side:
 * architecture, then features, then each variable in section order, then
 * each counter, then the stride.
 *
 * @param here The fingerprint of the system that wants to attach.
 * @param creator The fingerprint of the system that created the areas.
 * @returns e.g. `variable #2: HITS is u32 at offset 8 here but u64 at offset 8
 *   in the creator`, or `null` when they match.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPercpu, u32, u64 } from "@percpu/percpu";
 * import { layoutDifference, layoutFingerprint } from "@percpu/percpu/workers";
 *
 * const creator = createPercpu();
 * creator.defPercpu("HITS", u64, 0n);
 * const worker = createPercpu();
 * worker.defPercpu("HITS", u32, 0);
 * assert.equal(
 *   layoutDifference(layoutFingerprint(worker), layoutFingerprint(creator)),
 *   "variable #1: HITS is u32 at offset 8 here but u64 at offset 8 in the creator",
 * );
 * assert.equal(layoutDifference(layoutFingerprint(creator), layoutFingerprint(creator)), null);
 * ```
 */
export function layoutDifference(
  here: LayoutFingerprint,
  creator: LayoutFingerprint,
): string | null {
  if (here.arch !== creator.arch) {
    return `arch is ${here.arch} here but ${creator.arch} in the creator`;
  }
  if (listText(here.features) !== listText(creator.features)) {
    return `features are ${listText(here.features)} here but ${
      listText(creator.features)
    } in the creator`;
  }
  const variables = listDifference("variable", here.variables, creator.variables);
  if (variables !== null) return variables;
  const dynamic = listDifference("dynamic variable", here.dynamic, creator.dynamic);
  if (dynamic !== null) return dynamic;
  const counters = Math.max(here.counters.length, creator.counters.length);
  for (let i = 0; i < counters; i++) {
    const mine = here.counters[i];
    const theirs = creator.counters[i];
    if (mine === undefined) {
      return `counter #${i}: ${theirs.name} exists in the creator but not here`;
    }
    if (theirs === undefined) {
      return `counter #${i}: ${mine.name} exists here but not in the creator`;
    }
    if (mine.name !== theirs.name || mine.batch !== theirs.batch) {
      return `counter #${i} is ${mine.name} (batch ${mine.batch}) here but ${theirs.name} (batch ${theirs.batch}) in the creator`;
    }
  }
  if (here.stride !== creator.stride) {
    return `the area stride is ${here.stride} bytes here but ${creator.stride} in the creator`;
  }
  return null;
}

/** The first difference between two lists of variables, worded from this side. */
function listDifference(
  what: string,
  here: readonly VariableFingerprint[],
  creator: readonly VariableFingerprint[],
): string | null {
  const count = Math.max(here.length, creator.length);
  for (let i = 0; i < count; i++) {
    const mine = here[i];
    const theirs = creator[i];
    if (mine === undefined) {
      return `${what} #${i}: ${theirs.name} (${
        variableText(theirs)
      }) exists in the creator but not here`;
    }
    if (theirs === undefined) {
      return `${what} #${i}: ${mine.name} (${
        variableText(mine)
      }) exists here but not in the creator`;
    }
    if (mine.name !== theirs.name) {
      return `${what} #${i} is ${mine.name} here but ${theirs.name} in the creator`;
    }
    if (mine.type !== theirs.type || mine.offset !== theirs.offset || mine.size !== theirs.size) {
      return `${what} #${i}: ${mine.name} is ${variableText(mine)} here but ${
        variableText(theirs)
      } in the creator`;
    }
  }
  return null;
}
