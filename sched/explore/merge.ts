/**
 * Combining the shards of one exhaustive search, and writing a result as
 * JSON and reading it back — so that `n` machines (a CI matrix, a batch of
 * jobs) can each run `checkDfs(test, { shard: { index, count: n } })` and
 * one verdict be drawn from their results.
 *
 * ## What a merged result says
 *
 * The shards of a search split its tree by schedule prefix: every run
 * belongs to exactly one shard, so the shards together run exactly what one
 * search split the same way runs. Iterative bounding makes each shard stop
 * after the first bound at which *it* finds a violation; the merged result
 * stops where the whole search would: at the smallest such bound `B`, with
 * the smallest violation of each kind among the shards that stopped at `B`
 * (a shard that went on found nothing at `B`; what it found beyond `B` is
 * left out, as the whole search would never have looked there). Its counts
 * (`schedulesExplored`, `pruned`, `cutOff`) are the sums of the shards', its
 * `elapsedMs` the longest shard's, its equivalence classes and final states
 * unknown (`null`: shards can meet the same class).
 *
 * A merged result is `complete` only when every shard is there and complete.
 * A missing shard, or one that failed, makes it incomplete with
 * `stopReason` `failed` and a message in `failures`; what the other shards
 * found is kept. A shard stopped by its budget or time limit makes it
 * incomplete with that reason.
 *
 * @example Four shards, then one verdict
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfs, counterTest } from "@percpu/percpu/sched";
 * import { mergeExploreResults } from "@percpu/percpu/sched/parallel";
 * const test = counterTest({ arch: "aarch64" });
 * const shards = [0, 1, 2, 3].map((index) => checkDfs(test, { shard: { index, count: 4 } }));
 * const merged = mergeExploreResults(shards);
 * assert.equal(merged.complete, true);
 * assert.equal(merged.violation?.kind, checkDfs(test).violation?.kind);
 *
 * const partial = mergeExploreResults(shards.slice(0, 3));
 * assert.equal(partial.stopReason, "failed");
 * assert.deepEqual(partial.failures, ["shard 3 of 4 is missing"]);
 * ```
 *
 * @module
 */

import { describeSafely } from "../_safe.ts";
import { smallestViolation, sortViolations } from "./_explorer.ts";
import { smaller } from "./_search.ts";
import {
  EXPLORE_MODES,
  type ExploreResult,
  type ExploreStopReason,
  REDUCTIONS,
  type Violation,
} from "./explore.ts";
import { decodeSchedule } from "./schedule.ts";
import { VIOLATION_KINDS, type ViolationKind } from "./violations.ts";

/** The `format` of {@linkcode exploreResultToJson}'s objects. */
export const EXPLORE_RESULT_FORMAT = "percpu.explore-result.1";

const STOP_REASONS: readonly ExploreStopReason[] = ["complete", "budget", "time", "failed"];

/**
 * Combines the results of the shards of one search — same test, bound,
 * reduction and scope, shard indices `0…count−1` of one `count`, each at
 * most once — into the result of the whole search (see the module docs for
 * what it says). A single result of a whole search (`shard: null`) is
 * returned as it is.
 *
 * @param results The shards' results, in any order.
 * @returns The whole search's result; incomplete (`stopReason` `failed`,
 *   the missing shards named in `failures`) when shards are missing or
 *   failed.
 * @throws {TypeError} When `results` is not an array of explore results.
 * @throws {RangeError} When it is empty, or the results are not shards of
 *   one search: another test, bound, reduction, scope, mode or shard count,
 *   a shard given twice, or a whole search among shards.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfs, counterTest } from "@percpu/percpu/sched";
 * import { mergeExploreResults } from "@percpu/percpu/sched/parallel";
 * const test = counterTest({ arch: "riscv64", features: ["preempt"] });
 * const parts = [1, 0].map((index) => checkDfs(test, { shard: { index, count: 2 } }));
 * const merged = mergeExploreResults(parts);
 * assert.equal(merged.complete, true);
 * assert.equal(merged.violation, null);
 * assert.equal(merged.schedulesExplored, parts[0].schedulesExplored + parts[1].schedulesExplored);
 * ```
 */
export function mergeExploreResults(results: readonly ExploreResult[]): ExploreResult {
  if (!Array.isArray(results)) {
    throw new TypeError(
      `mergeExploreResults: results must be an array of explore results, got ${
        describeSafely(results)
      }`,
    );
  }
  if (results.length === 0) {
    throw new RangeError("mergeExploreResults: results must hold at least one result, got none");
  }
  const parts = results.map((r, i) => readResult(r, `results[${i}]`, false));
  if (parts.length === 1 && parts[0].shard === null) return parts[0];
  const first = parts[0];
  const count = first.shard?.count ?? 0;
  const byIndex = new Map<number, ExploreResult>();
  parts.forEach((part, i) => {
    const where = `mergeExploreResults: results[${i}]`;
    if (part.mode !== "dfs") {
      throw new RangeError(`${where} is a ${part.mode} search; only dfs shards can be merged`);
    }
    if (part.shard === null) {
      throw new RangeError(
        `${where} is a whole search (shard null); only shards of one search can be merged`,
      );
    }
    const differs = (what: string, a: unknown, b: unknown) => {
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        throw new RangeError(
          `${where} is not a shard of the same search as results[0]: its ${what} is ${
            show(a)
          }, results[0]'s is ${show(b)}`,
        );
      }
    };
    differs("test fingerprint", part.test, first.test);
    differs("maxPreemptions", part.maxPreemptions, first.maxPreemptions);
    differs("reduction", part.reduction, first.reduction);
    differs("shard count", part.shard.count, count);
    differs("picks", part.scope.picks, first.scope.picks);
    differs("violation kinds", part.scope.violations, first.scope.violations);
    differs("exhaustive", part.scope.exhaustive, first.scope.exhaustive);
    differs("maxCycles", part.scope.maxCycles, first.scope.maxCycles);
    const other = byIndex.get(part.shard.index);
    if (other !== undefined) {
      throw new RangeError(
        `${where} is shard ${part.shard.index} of ${count}, which is given twice`,
      );
    }
    byIndex.set(part.shard.index, part);
  });
  const present = [...byIndex.keys()].sort((a, b) => a - b).map((i) => byIndex.get(i)!);
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!byIndex.has(i)) missing.push(i);
  const failures: string[] = [];
  if (missing.length > 0) {
    failures.push(
      missing.length === 1
        ? `shard ${missing[0]} of ${count} is missing`
        : `shards ${missing.join(", ")} of ${count} are missing`,
    );
  }
  for (const part of present) {
    for (const f of part.failures) failures.push(`shard ${part.shard!.index} of ${count}: ${f}`);
  }
  const sum = (key: "schedulesExplored" | "pruned" | "cutOff") =>
    present.reduce((total, part) => total + part[key], 0);
  const stopReason: ExploreStopReason = failures.length > 0
    ? "failed"
    : present.some((p) => p.stopReason === "time")
    ? "time"
    : present.some((p) => p.stopReason === "budget")
    ? "budget"
    : "complete";
  const complete = stopReason === "complete" && present.every((p) => p.complete);
  const boundReached = missing.length > 0 ? -1 : Math.min(...present.map((p) => p.boundReached));
  const violations = mergedViolations(present, complete);
  return {
    mode: "dfs",
    reduction: first.reduction,
    schedulesExplored: sum("schedulesExplored"),
    complete,
    stopReason,
    boundReached,
    maxPreemptions: first.maxPreemptions,
    elapsedMs: Math.max(...present.map((p) => p.elapsedMs)),
    pruned: sum("pruned"),
    cutOff: sum("cutOff"),
    equivalenceClasses: null,
    finalStates: null,
    violation: smallestViolation(violations),
    violations,
    shard: null,
    test: first.test,
    scope: first.scope,
    failures,
  };
}

/**
 * The smallest violation of each kind over the parts; for a complete merge,
 * only over the parts that stopped at the first bound with a violation (as
 * the whole search would).
 */
function mergedViolations(parts: readonly ExploreResult[], complete: boolean): Violation[] {
  let from = parts;
  if (complete) {
    const found = parts.filter((p) => p.violations.length > 0);
    const stop = Math.min(...found.map((p) => p.boundReached));
    from = found.filter((p) => p.boundReached === stop);
  }
  const best = new Map<ViolationKind, Violation>();
  for (const part of from) {
    for (const v of part.violations) {
      if (smaller(v, best.get(v.kind))) best.set(v.kind, v);
    }
  }
  return sortViolations([...best.values()]);
}

function show(value: unknown): string {
  return value === Infinity ? "Infinity" : JSON.stringify(value) ?? "undefined";
}

/**
 * An explore result as plain JSON: every field, `Infinity` written as
 * `"inf"`, plus `format` (`"percpu.explore-result.1"`) so that a reader
 * knows what it holds. {@linkcode exploreResultFromJson} reads it back.
 *
 * @param result A result of an explorer or of a merge.
 * @returns A plain object `JSON.stringify` writes as is.
 * @throws {TypeError} When `result` is not an explore result.
 * @throws {RangeError} When one of its fields is out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDfs, counterTest } from "@percpu/percpu/sched";
 * import { exploreResultFromJson, exploreResultToJson } from "@percpu/percpu/sched/parallel";
 * const test = counterTest({ arch: "riscv64", features: ["preempt"] });
 * const result = checkDfs(test, { maxPreemptions: Infinity });
 * const text = JSON.stringify(exploreResultToJson(result));
 * assert.equal(exploreResultToJson(result).maxPreemptions, "inf");
 * assert.deepEqual(exploreResultFromJson(JSON.parse(text)), result);
 * ```
 */
export function exploreResultToJson(result: ExploreResult): Record<string, unknown> {
  const r = readResult(result, "result", false);
  const inf = (n: number) => n === Infinity ? "inf" : n;
  return {
    format: EXPLORE_RESULT_FORMAT,
    mode: r.mode,
    reduction: r.reduction,
    schedulesExplored: r.schedulesExplored,
    complete: r.complete,
    stopReason: r.stopReason,
    boundReached: inf(r.boundReached),
    maxPreemptions: inf(r.maxPreemptions),
    elapsedMs: r.elapsedMs,
    pruned: r.pruned,
    cutOff: r.cutOff,
    equivalenceClasses: r.equivalenceClasses,
    finalStates: r.finalStates,
    violation: r.violation && violationJson(r.violation),
    violations: r.violations.map(violationJson),
    shard: r.shard && { index: r.shard.index, count: r.shard.count },
    test: r.test,
    scope: {
      picks: r.scope.picks,
      violations: [...r.scope.violations],
      exhaustive: r.scope.exhaustive,
      maxCycles: r.scope.maxCycles,
    },
    failures: [...r.failures],
  };
}

function violationJson(v: Violation): Record<string, unknown> {
  return {
    kind: v.kind,
    schedule: v.schedule,
    preemptions: v.preemptions,
    steps: v.steps,
    wrongCpuAccesses: v.wrongCpuAccesses,
    messages: [...v.messages],
    details: { ...v.details },
    traceHash: v.traceHash,
  };
}

/**
 * Reads an explore result back from the JSON {@linkcode exploreResultToJson}
 * wrote (already parsed), checking every field and that they agree with one
 * another (a violation's schedule is a valid schedule string of the result's
 * test, `violation` is the smallest of `violations`, …). Keys it does not
 * know at the top level are ignored, so a tool may add its own beside them.
 *
 * @param value The parsed JSON.
 * @returns The result.
 * @throws {TypeError} When a field has the wrong type or is missing, or
 *   `format` is not `"percpu.explore-result.1"`.
 * @throws {RangeError} When a field is out of range or the fields disagree.
 * @throws {SyntaxError} When a violation's schedule string is malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exploreResultFromJson } from "@percpu/percpu/sched/parallel";
 * assert.throws(() => exploreResultFromJson({ format: "percpu.explore-result.1" }), TypeError);
 * ```
 */
export function exploreResultFromJson(value: unknown): ExploreResult {
  const format = field(value, "format", "explore result JSON");
  if (format !== EXPLORE_RESULT_FORMAT) {
    throw new TypeError(
      `explore result JSON: format must be ${JSON.stringify(EXPLORE_RESULT_FORMAT)}, got ${
        describeSafely(format)
      }`,
    );
  }
  return readResult(value, "explore result JSON", true);
}

/** Reads a field of a plain object; never runs a getter or a Proxy trap. */
function field(value: unknown, key: string, where: string): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${where} must be an object, got ${describeSafely(value)}`);
  }
  return own(value, key, where);
}

/** An own data property; never runs a getter or a Proxy trap's result as a value. */
function own(value: object, key: string, where: string): unknown {
  let descriptor: PropertyDescriptor | undefined;
  try {
    descriptor = Object.getOwnPropertyDescriptor(value, key);
  } catch {
    throw new TypeError(`${where} cannot be read (a Proxy whose traps throw)`);
  }
  if (descriptor === undefined) throw new TypeError(`${where}.${key} is missing`);
  if (!("value" in descriptor)) {
    throw new TypeError(`${where}.${key} must be a value, got a getter`);
  }
  return descriptor.value;
}

/** An object with exactly these keys. */
function exactKeys(value: unknown, keys: readonly string[], where: string): void {
  field(value, keys[0], where);
  let own: string[];
  try {
    own = Reflect.ownKeys(value as object).map(String);
  } catch {
    throw new TypeError(`${where} cannot be read (a Proxy whose traps throw)`);
  }
  for (const key of own) {
    if (!keys.includes(key)) {
      throw new TypeError(
        `${where} has an unknown key ${JSON.stringify(key)}; accepted: ${keys.join(", ")}`,
      );
    }
  }
}

function count(value: unknown, what: string, min = 0): number {
  if (typeof value !== "number") {
    throw new TypeError(`${what} must be a number, got ${describeSafely(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${what} must be an integer ≥ ${min}, got ${describeSafely(value)}`);
  }
  return value;
}

function oneOf<T>(value: unknown, accepted: readonly T[], what: string): T {
  if (!accepted.includes(value as T)) {
    const list = accepted.map((a) => JSON.stringify(a)).join(", ");
    const error = typeof value === "string" || value === null ? RangeError : TypeError;
    throw new error(`${what} must be one of ${list}, got ${describeSafely(value)}`);
  }
  return value as T;
}

function bool(value: unknown, what: string): boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${what} must be a boolean, got ${describeSafely(value)}`);
  }
  return value;
}

function string(value: unknown, what: string): string {
  if (typeof value !== "string") {
    throw new TypeError(`${what} must be a string, got ${describeSafely(value)}`);
  }
  return value;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new TypeError(`${what} must be an array, got ${describeSafely(value)}`);
  }
  const out: unknown[] = [];
  for (let i = 0; i < value.length; i++) out.push(own(value, String(i), what));
  return out;
}

const RESULT_KEYS = [
  "mode",
  "reduction",
  "schedulesExplored",
  "complete",
  "stopReason",
  "boundReached",
  "maxPreemptions",
  "elapsedMs",
  "pruned",
  "cutOff",
  "equivalenceClasses",
  "finalStates",
  "violation",
  "violations",
  "shard",
  "test",
  "scope",
  "failures",
] as const;

const VIOLATION_KEYS = [
  "kind",
  "schedule",
  "preemptions",
  "steps",
  "wrongCpuAccesses",
  "messages",
  "details",
  "traceHash",
] as const;

/**
 * Checks a result (from JSON when `json`: `Infinity` as `"inf"`), field by
 * field and as a whole, and copies it.
 */
function readResult(value: unknown, where: string, json: boolean): ExploreResult {
  const get = (key: (typeof RESULT_KEYS)[number]) => field(value, key, where);
  const at = (key: string) => `${where}.${key}`;
  const mode = oneOf(get("mode"), EXPLORE_MODES, at("mode"));
  const reduction = oneOf(get("reduction"), [...REDUCTIONS, null], at("reduction"));
  if ((mode === "dfs") !== (reduction !== null)) {
    throw new RangeError(
      `${at("reduction")} must be ${
        mode === "dfs" ? "dpor or none" : "null"
      } for a ${mode} search, got ${describeSafely(reduction)}`,
    );
  }
  const infinite = json ? "inf" : Infinity;
  const countOrInf = (key: "boundReached" | "maxPreemptions", min: number) => {
    const n = get(key);
    if (n === infinite) return Infinity;
    if (typeof n !== "number") {
      throw new TypeError(
        `${at(key)} must be a number or ${json ? '"inf"' : "Infinity"}, got ${describeSafely(n)}`,
      );
    }
    return count(n, at(key), min);
  };
  const maxPreemptions = countOrInf("maxPreemptions", 0);
  const boundReached = countOrInf("boundReached", -1);
  if (boundReached > maxPreemptions) {
    throw new RangeError(
      `${
        at("boundReached")
      } must be at most maxPreemptions (${maxPreemptions}), got ${boundReached}`,
    );
  }
  const complete = bool(get("complete"), at("complete"));
  const stopReason = oneOf(get("stopReason"), STOP_REASONS, at("stopReason"));
  if (complete && stopReason !== "complete") {
    throw new RangeError(
      `${where}: a complete result must have stopReason complete, got ${stopReason}`,
    );
  }
  const elapsedMs = get("elapsedMs");
  if (typeof elapsedMs !== "number") {
    throw new TypeError(`${at("elapsedMs")} must be a number, got ${describeSafely(elapsedMs)}`);
  }
  if (!(elapsedMs >= 0 && elapsedMs < Infinity)) {
    throw new RangeError(
      `${at("elapsedMs")} must be a finite number ≥ 0, got ${describeSafely(elapsedMs)}`,
    );
  }
  const nullableCount = (key: "equivalenceClasses" | "finalStates") =>
    get(key) === null ? null : count(get(key), at(key));
  const test = string(get("test"), at("test"));
  const scope = readScope(get("scope"), at("scope"));
  const violations = list(get("violations"), at("violations")).map((v, i) =>
    readViolation(v, `${at("violations")}[${i}]`, test, scope)
  );
  for (let i = 1; i < violations.length; i++) {
    if (
      VIOLATION_KINDS.indexOf(violations[i - 1].kind) >= VIOLATION_KINDS.indexOf(violations[i].kind)
    ) {
      throw new RangeError(
        `${at("violations")} must hold at most one violation per kind, in the order ${
          VIOLATION_KINDS.join(", ")
        }; got ${violations.map((v) => v.kind).join(", ")}`,
      );
    }
  }
  const given = get("violation");
  const violation = given === null ? null : readViolation(given, at("violation"), test, scope);
  const smallest = smallestViolation(violations);
  if (JSON.stringify(violation) !== JSON.stringify(smallest)) {
    throw new RangeError(
      `${at("violation")} must be the smallest of violations (${
        smallest === null ? "null" : `its ${smallest.kind} one`
      }), got ${violation === null ? "null" : `a ${violation.kind} violation`}`,
    );
  }
  const shardValue = get("shard");
  let shard: ExploreResult["shard"] = null;
  if (shardValue !== null) {
    exactKeys(shardValue, ["index", "count"], at("shard"));
    const total = count(field(shardValue, "count", at("shard")), at("shard.count"), 1);
    const index = count(field(shardValue, "index", at("shard")), at("shard.index"));
    if (index >= total) {
      throw new RangeError(
        `${at("shard.index")} must be below shard.count (${total}), got ${index}`,
      );
    }
    shard = { index, count: total };
  }
  const failures = list(get("failures"), at("failures")).map((f, i) =>
    string(f, `${at("failures")}[${i}]`)
  );
  if ((failures.length > 0) !== (stopReason === "failed")) {
    throw new RangeError(
      `${where}: stopReason failed goes with at least one failure and any other with none; got stopReason ${stopReason} and ${failures.length} failures`,
    );
  }
  return {
    mode,
    reduction,
    schedulesExplored: count(get("schedulesExplored"), at("schedulesExplored")),
    complete,
    stopReason,
    boundReached,
    maxPreemptions,
    elapsedMs,
    pruned: count(get("pruned"), at("pruned")),
    cutOff: count(get("cutOff"), at("cutOff")),
    equivalenceClasses: nullableCount("equivalenceClasses"),
    finalStates: nullableCount("finalStates"),
    violation,
    violations,
    shard,
    test,
    scope,
    failures,
  };
}

function readScope(value: unknown, where: string): ExploreResult["scope"] {
  exactKeys(value, ["picks", "violations", "exhaustive", "maxCycles"], where);
  const kinds = list(field(value, "violations", where), `${where}.violations`).map((k, i) =>
    oneOf(k, VIOLATION_KINDS, `${where}.violations[${i}]`)
  );
  const ordered = VIOLATION_KINDS.filter((k) => kinds.includes(k));
  if (kinds.length === 0 || ordered.join() !== kinds.join()) {
    throw new RangeError(
      `${where}.violations must list kinds once each, in the order ${
        VIOLATION_KINDS.join(", ")
      }; got ${kinds.join(", ") || "none"}`,
    );
  }
  return {
    picks: oneOf(field(value, "picks", where), ["fifo", "any"] as const, `${where}.picks`),
    violations: ordered,
    exhaustive: bool(field(value, "exhaustive", where), `${where}.exhaustive`),
    maxCycles: count(field(value, "maxCycles", where), `${where}.maxCycles`, 1),
  };
}

function readViolation(
  value: unknown,
  where: string,
  test: string,
  scope: ExploreResult["scope"],
): Violation {
  exactKeys(value, VIOLATION_KEYS, where);
  const get = (key: (typeof VIOLATION_KEYS)[number]) => field(value, key, where);
  const kind = oneOf(get("kind"), scope.violations, `${where}.kind`);
  const schedule = string(get("schedule"), `${where}.schedule`);
  const decoded = decodeSchedule(schedule);
  if (decoded.fingerprint !== test) {
    throw new RangeError(
      `${where}.schedule belongs to another test (fingerprint ${decoded.fingerprint}, the result's test is ${test})`,
    );
  }
  const details: Record<string, number> = {};
  const detailsValue = get("details");
  if (typeof detailsValue !== "object" || detailsValue === null || Array.isArray(detailsValue)) {
    throw new TypeError(`${where}.details must be an object, got ${describeSafely(detailsValue)}`);
  }
  let keys: (string | symbol)[];
  try {
    keys = Reflect.ownKeys(detailsValue);
  } catch {
    throw new TypeError(`${where}.details cannot be read (a Proxy whose traps throw)`);
  }
  for (const key of keys) {
    if (typeof key !== "string" || key === "__proto__") {
      throw new TypeError(
        `${where}.details has a key that is not a plain name: ${describeSafely(key)}`,
      );
    }
    const n = field(detailsValue, key, `${where}.details`);
    if (typeof n !== "number" || !Number.isFinite(n)) {
      throw new TypeError(
        `${where}.details.${key} must be a finite number, got ${describeSafely(n)}`,
      );
    }
    details[key] = n;
  }
  const traceHash = string(get("traceHash"), `${where}.traceHash`);
  if (!/^[0-9a-f]{16}$/.test(traceHash)) {
    throw new RangeError(
      `${where}.traceHash must be a hexadecimal hash, got ${describeSafely(traceHash)}`,
    );
  }
  return {
    kind,
    schedule,
    preemptions: count(get("preemptions"), `${where}.preemptions`),
    steps: count(get("steps"), `${where}.steps`),
    wrongCpuAccesses: count(get("wrongCpuAccesses"), `${where}.wrongCpuAccesses`),
    messages: list(get("messages"), `${where}.messages`).map((m, i) =>
      string(m, `${where}.messages[${i}]`)
    ),
    details,
    traceHash,
  };
}
