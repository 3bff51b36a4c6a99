// An adversarial suite over the core's public entry points: type
// descriptors and layout queries, every scalar accessor of every kind, refs
// and views (small and large), withCurrent and the guards. Each bad input,
// from tables of hostile values and from fast-check, must throw the right
// class with a message that names the entry point (or, when the input's own
// code threw, that very error), and must change nothing: every byte of
// simulated memory, the preemption depth, the installed KernelGuardIf.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  alignOf,
  type Arch,
  array,
  bool,
  createPercpu,
  type Feature,
  offsetOf,
  type Percpu,
  type PercpuVar,
  type ScalarKind,
  type ScalarPercpuVar,
  sizeOf,
  struct,
  u16,
  u32,
  u64,
  u8,
} from "../mod.ts";
import {
  IrqSave,
  type KernelGuardIf,
  kernelGuardIf,
  NoOp,
  NoPreempt,
  NoPreemptIrqSave,
  setKernelGuardIf,
} from "../lib/guards.ts";
import { SCALAR_TYPES } from "../lib/types.ts";
import { PLAIN_VIEW_SLOTS } from "../lib/refs.ts";
import { portOf } from "../lib/_port.ts";
import { isRevokedProxy } from "../lib/_describe.ts";
import { detach } from "../lib/_memory.ts";

// ---------------------------------------------------------------------------
// Hostile values, made fresh for every use (some of them keep state).

/** Thrown by the hostile values' own code; propagating it unchanged is right. */
class Planted extends Error {}

function hostiles(): [string, unknown][] {
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  const detached = new ArrayBuffer(8);
  detach(detached);
  let reads = 0;
  const throwing = () => {
    throw new Planted("planted");
  };
  return [
    ["null", null],
    ["undefined", undefined],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
    ["1.5", 1.5],
    ["-1", -1],
    ["2^53", 2 ** 53],
    ["1e300", 1e300],
    ['"1"', "1"],
    ['""', ""],
    ["1n", 1n],
    ["2^64n", 2n ** 64n],
    ["-1n", -1n],
    ["symbol", Symbol("s")],
    ["true", true],
    ["a function", () => 1],
    ["[1]", [1]],
    ["{}", {}],
    ["null-prototype object", Object.create(null)],
    ["new Number(1)", new Number(1)],
    ["Object(1n)", Object(1n)],
    ["a Date", new Date(0)],
    ["throwing toString/valueOf", {
      toString: throwing,
      valueOf: throwing,
      [Symbol.toPrimitive]: throwing,
    }],
    [
      "a Proxy whose every trap throws",
      new Proxy({}, {
        get: throwing,
        has: throwing,
        ownKeys: throwing,
        getOwnPropertyDescriptor: throwing,
        getPrototypeOf: throwing,
      }),
    ],
    [
      "an array Proxy whose every trap throws",
      new Proxy([1, 2], {
        get: throwing,
        has: throwing,
        ownKeys: throwing,
        getOwnPropertyDescriptor: throwing,
      }),
    ],
    ["a revoked Proxy", revocable.proxy],
    ["a detached ArrayBuffer", detached],
    ["a getter that throws", Object.defineProperty({}, "a", { enumerable: true, get: throwing })],
    ["a value that changes when read again", {
      get a() {
        return ++reads === 1 ? 1 : 999;
      },
      list: [2, 3],
    }],
  ];
}

// ---------------------------------------------------------------------------
// The state a failed call must not change.

/** A name for a generated value that no value's own code can break. */
function shown(value: unknown): string {
  try {
    return typeof value === "symbol" ? value.toString() : JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}

/** A kernel that counts; installed while the suite runs. */
function countingKernel() {
  const state = { depth: 0, irq: 1 };
  const kernel: KernelGuardIf = {
    disablePreempt: () => void state.depth++,
    enablePreempt: () => void state.depth--,
    localIrqSaveAndDisable: () => {
      const saved = state.irq;
      state.irq = 0;
      return saved;
    },
    localIrqRestore: (saved) => void (state.irq = saved),
  };
  return { kernel, state };
}

function snapshot(p: Percpu, kernel: { depth: number; irq: number }) {
  return {
    memory: portOf(p).memory.regions.map((region) => region.u8.slice()),
    depth: kernel.depth,
    irq: kernel.irq,
    installed: kernelGuardIf(),
  };
}

type Verdict = "ok" | typeof TypeError | typeof RangeError;

/**
 * Runs `call` on a bad input and checks it failed as it should: the
 * expected class (or the input's own planted error), a message naming
 * `label`, and nothing changed.
 */
function expectRefusal(
  p: Percpu,
  kernel: { depth: number; irq: number },
  what: string,
  label: string,
  expected: typeof TypeError | typeof RangeError,
  call: () => unknown,
): void {
  const before = snapshot(p, kernel);
  let thrown: unknown = undefined;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown !== undefined, `${what}: expected ${expected.name}, nothing was thrown`);
  if (!(thrown instanceof Planted)) {
    assert.ok(
      thrown instanceof expected && (thrown as Error).constructor === expected,
      `${what}: expected ${expected.name}, got ${thrown}`,
    );
    assert.ok(
      (thrown as Error).message.includes(label),
      `${what}: the message should name ${label}: ${(thrown as Error).message}`,
    );
  }
  assert.deepEqual(snapshot(p, kernel), before, `${what}: something changed`);
}

// ---------------------------------------------------------------------------
// An oracle for scalar values, written independently of the codecs.

const JS_TYPE: Record<ScalarKind, "number" | "bigint" | "boolean"> = {
  bool: "boolean",
  u8: "number",
  u16: "number",
  u32: "number",
  u64: "bigint",
  usize: "number",
  i8: "number",
  i16: "number",
  i32: "number",
  i64: "bigint",
  isize: "number",
  f32: "number",
  f64: "number",
};

function integerRange(kind: ScalarKind, pointerBytes: 4 | 8): [number, number] {
  const bits = { u8: 8, u16: 16, u32: 32, i8: 8, i16: 16, i32: 32 } as Record<string, number>;
  if (kind === "usize") return pointerBytes === 4 ? [0, 2 ** 32 - 1] : [0, Number.MAX_SAFE_INTEGER];
  if (kind === "isize") {
    return pointerBytes === 4
      ? [-(2 ** 31), 2 ** 31 - 1]
      : [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
  }
  const n = bits[kind];
  return kind.startsWith("u") ? [0, 2 ** n - 1] : [-(2 ** (n - 1)), 2 ** (n - 1) - 1];
}

/** The JavaScript type of a value, as a plain string. */
function typeOf(value: unknown): string {
  return typeof value;
}

function writeVerdict(kind: ScalarKind, value: unknown, pointerBytes: 4 | 8): Verdict {
  if (typeOf(value) !== JS_TYPE[kind]) return TypeError;
  if (kind === "bool" || kind === "f64") return "ok";
  if (kind === "u64") return BigInt.asUintN(64, value as bigint) === value ? "ok" : RangeError;
  if (kind === "i64") return BigInt.asIntN(64, value as bigint) === value ? "ok" : RangeError;
  const n = value as number;
  if (kind === "f32") {
    return Number.isFinite(n) && !Number.isFinite(Math.fround(n)) ? RangeError : "ok";
  }
  const [min, max] = integerRange(kind, pointerBytes);
  return Number.isInteger(n) && n >= min && n <= max ? "ok" : RangeError;
}

function addVerdict(
  kind: ScalarKind,
  delta: unknown,
  current: unknown,
  pointerBytes: 4 | 8,
): Verdict {
  if (kind === "bool" || typeOf(delta) !== JS_TYPE[kind]) return TypeError;
  if (kind === "u64" || kind === "i64" || kind === "f32" || kind === "f64") return "ok";
  if (!Number.isSafeInteger(delta)) return RangeError;
  if ((kind === "usize" || kind === "isize") && pointerBytes === 8) {
    const [min, max] = integerRange(kind, 8);
    const sum = BigInt(current as number) + BigInt(delta as number);
    return sum >= BigInt(min) && sum <= BigInt(max) ? "ok" : RangeError;
  }
  return "ok";
}

/** What a checked write of `value` reads back as. */
function stored(kind: ScalarKind, value: unknown): unknown {
  if (kind === "f32") return Math.fround(value as number);
  if (typeof value === "number" && kind !== "f64") return value + 0; // -0 is stored as 0
  return value;
}

const INITIAL: Record<ScalarKind, unknown> = {
  bool: true,
  u8: 7,
  u16: 7,
  u32: 7,
  u64: 7n,
  usize: 7,
  i8: -7,
  i16: -7,
  i32: -7,
  i64: -7n,
  isize: -7,
  f32: 0.5,
  f64: 0.25,
};

const KINDS = Object.keys(SCALAR_TYPES) as ScalarKind[];

function scalarSystem(arch: Arch, features: Feature[]) {
  const p = createPercpu({ arch, features });
  const vars = new Map<ScalarKind, ScalarPercpuVar>();
  for (const kind of KINDS) {
    vars.set(kind, p.defPercpu(kind.toUpperCase(), SCALAR_TYPES[kind], INITIAL[kind] as never));
  }
  p.init(features.includes("sp-naive") ? 1 : 2);
  p.initPercpuReg(0);
  return { p, vars };
}

const SYSTEMS: [Arch, Feature[]][] = [
  ["x86_64", []],
  ["arm", ["preempt"]],
  ["riscv64", ["sp-naive", "preempt"]],
  ["aarch64", ["non-zero-vma"]],
];

/** Runs `f` with a counting kernel installed, restoring the previous one. */
function withCountingKernel(f: (state: { depth: number; irq: number }) => void): void {
  const { kernel, state } = countingKernel();
  const previous = setKernelGuardIf(kernel);
  try {
    f(state);
  } finally {
    setKernelGuardIf(previous);
  }
  assert.equal(state.depth, 0, "every guard was released");
}

// ---------------------------------------------------------------------------
// Scalar accessors.

type Writer = [string, (v: ScalarPercpuVar, value: unknown) => void];
const WRITERS: Writer[] = [
  ["writeCurrent", (v, value) => v.writeCurrent(value as never)],
  ["writeCurrentRaw", (v, value) => v.writeCurrentRaw(value as never)],
  ["withCurrent ref.value =", (v, value) => v.withCurrent((ref) => (ref.value = value as never))],
  ["currentRefMutRaw().value =", (v, value) => (v.currentRefMutRaw().value = value as never)],
  ["remoteRefMutRaw(0).value =", (v, value) => (v.remoteRefMutRaw(0).value = value as never)],
];

type Adder = [string, (v: ScalarPercpuVar, delta: unknown) => void];
const ADDERS: Adder[] = [
  ["addCurrent", (v, delta) => v.addCurrent(delta as never)],
  ["addCurrentRaw", (v, delta) => v.addCurrentRaw(delta as never)],
];

function writeLabel(name: string, v: PercpuVar, writer: string): string {
  // Refs name their copy (`X@0x…`); the accessors name themselves.
  return writer.startsWith("writeCurrent") ? `${name}.writeCurrent` : `${v.name}@0x`;
}

Deno.test("scalar writes and adds: hostile values are refused by class, nothing changes", async (t) => {
  for (const [arch, features] of SYSTEMS) {
    await t.step(`${arch} ${features.join(",")}`, () => {
      withCountingKernel((state) => {
        const { p, vars } = scalarSystem(arch, features);
        let cases = 0;
        for (const [kind, v] of vars) {
          for (const [label, value] of hostiles()) {
            for (const [writer, write] of WRITERS) {
              const verdict = writeVerdict(kind, value, p.pointerBytes);
              if (verdict === "ok") continue; // e.g. true for bool, 1n for u64
              expectRefusal(
                p,
                state,
                `${kind} ${writer}(${label})`,
                writeLabel(v.name, v, writer),
                verdict as typeof TypeError,
                () => write(v, value),
              );
              cases++;
            }
            for (const [adder, add] of ADDERS) {
              const verdict = addVerdict(kind, value, v.readCurrent(), p.pointerBytes);
              if (verdict === "ok") continue; // bigint deltas for u64/i64
              expectRefusal(
                p,
                state,
                `${kind} ${adder}(${label})`,
                `${v.name}.addCurrent`,
                verdict,
                () => add(v, value),
              );
              cases++;
            }
          }
        }
        assert.ok(cases > 400, `${cases} cases`);
      });
    });
  }
});

Deno.test("scalar writes and adds agree with an independent oracle (fast-check)", () => {
  withCountingKernel((state) => {
    for (const [arch, features] of SYSTEMS) {
      const { p, vars } = scalarSystem(arch, features);
      const values = fc.oneof(
        fc.integer({ min: -(2 ** 33), max: 2 ** 33 }),
        fc.double(),
        fc.maxSafeInteger(),
        fc.bigInt({ min: -(2n ** 66n), max: 2n ** 66n }),
        fc.boolean(),
        fc.constantFrom(-0, 2 ** 53, -(2 ** 53), 3.4028235677973366e38, 1e39),
        fc.anything(),
      );
      fc.assert(
        fc.property(fc.constantFrom(...KINDS), values, fc.boolean(), (kind, value, adding) => {
          const v = vars.get(kind)!;
          const current = v.readCurrent();
          const verdict = adding
            ? addVerdict(kind, value, current, p.pointerBytes)
            : writeVerdict(kind, value, p.pointerBytes);
          const call = adding
            ? () => v.addCurrent(value as never)
            : () => v.writeCurrent(value as never);
          if (verdict === "ok") {
            call();
            if (!adding) assert.equal(v.readCurrent(), stored(kind, value));
            v.writeCurrent(INITIAL[kind] as never);
            return;
          }
          expectRefusal(
            p,
            state,
            `${kind} ${adding ? "add" : "write"} ${shown(value)}`,
            `${v.name}.${adding ? "addCurrent" : "writeCurrent"}`,
            verdict,
            call,
          );
        }),
        { numRuns: 300 },
      );
    }
  });
});

Deno.test("withCurrent, remote refs and pointers refuse what is not a function or a CPU", async (t) => {
  for (const [arch, features] of SYSTEMS) {
    await t.step(`${arch} ${features.join(",")}`, () => {
      withCountingKernel((state) => {
        const { p, vars } = scalarSystem(arch, features);
        const v = vars.get("u32")!;
        for (const [label, value] of hostiles()) {
          if (typeof value === "function") continue;
          expectRefusal(
            p,
            state,
            `withCurrent(${label})`,
            "U32.withCurrent",
            TypeError,
            () => v.withCurrent(value as never),
          );
          const cpu = typeof value === "number" ? RangeError : TypeError;
          for (
            const [name, call] of [
              ["remotePtr", () => v.remotePtr(value as never)],
              ["remoteRefRaw", () => v.remoteRefRaw(value as never)],
              ["remoteRefMutRaw", () => v.remoteRefMutRaw(value as never)],
            ] as const
          ) {
            expectRefusal(p, state, `${name}(${label})`, `U32.remotePtr`, cpu, call);
          }
          // A read-only reference refuses every write, good or bad.
          expectRefusal(p, state, `read-only .value = ${label}`, "read-only", TypeError, () => {
            (v.remoteRefRaw(0) as { value: unknown }).value = value;
          });
        }
        // The closure's own error comes out as it is, after the guard is released.
        const own = new Planted("mine");
        assert.throws(() =>
          v.withCurrent(() => {
            throw own;
          }), (e) => e === own);
      });
    });
  }
});

// ---------------------------------------------------------------------------
// Structs, arrays and their views.

const LARGE = PLAIN_VIEW_SLOTS + 4;
const Pair = struct({ a: u8, list: array(u16, 2), flag: bool });

function compositeSystem(arch: Arch, features: Feature[]) {
  const p = createPercpu({ arch, features });
  const pair = p.defPercpu("PAIR", Pair, { a: 1, list: [2, 3], flag: false });
  const big = p.defPercpu("BIG", array(u32, LARGE), new Array(LARGE).fill(9));
  const wide = p.defPercpu("WIDE", array(u64, 3), [1n, 2n, 3n]);
  p.init(features.includes("sp-naive") ? 1 : 2);
  p.initPercpuReg(0);
  return { p, pair, big, wide };
}

Deno.test("views and whole-value writes: hostile values are refused by class, nothing changes", async (t) => {
  for (const [arch, features] of SYSTEMS) {
    await t.step(`${arch} ${features.join(",")}`, () => {
      withCountingKernel((state) => {
        const { p, pair, big, wide } = compositeSystem(arch, features);
        const ref = pair.currentRefMutRaw();
        const view = ref.value;
        const bigView = big.currentRefMutRaw().value;
        const wideView = wide.currentRefMutRaw().value;
        let cases = 0;
        for (const [label, value] of hostiles()) {
          const scalarTargets: [string, string, ScalarKind, () => void][] = [
            ["view.a =", "PAIR@0x", "u8", () => (view.a = value as never)],
            ["view.list[1] =", "list[1]", "u16", () => (view.list[1] = value as never)],
            ["view.flag =", ".flag", "bool", () => (view.flag = value as never)],
            [
              "large view[last] =",
              `[${LARGE - 1}]`,
              "u32",
              () => (bigView[LARGE - 1] = value as never),
            ],
            ["u64 view[0] =", "WIDE@0x", "u64", () => (wideView[0] = value as never)],
            [
              "withCurrent view.a =",
              "PAIR@0x",
              "u8",
              () => pair.withCurrent((r) => (r.value.a = value as never)),
            ],
          ];
          for (const [what, name, kind, call] of scalarTargets) {
            const verdict = writeVerdict(kind, value, p.pointerBytes);
            if (verdict === "ok") continue;
            expectRefusal(p, state, `${what} ${label}`, name, verdict, call);
            cases++;
          }
          // Whole values: nothing is written unless all of it checks.
          const wholeTargets: [string, () => void][] = [
            ["ref.value =", () => (ref.value = value as never)],
            ["view.list =", () => (view.list = value as never)],
            ["wide ref.value =", () => (wide.currentRefMutRaw().value = value as never)],
            ["large ref.value =", () => (big.currentRefMutRaw().value = value as never)],
            [
              "{ ...good, a: hostile }",
              () => (ref.value = { a: value, list: [1, 1], flag: true } as never),
            ],
            [
              "{ ...good, list: [1, hostile] }",
              () => (ref.value = { a: 1, list: [1, value], flag: true } as never),
            ],
          ];
          for (const [what, call] of wholeTargets) {
            const expected = /list: \[1, hostile\]/.test(what)
              ? writeVerdict("u16", value, p.pointerBytes)
              : /a: hostile/.test(what)
              ? writeVerdict("u8", value, p.pointerBytes)
              : TypeError; // or RangeError for an array of the wrong length: both accepted below
            if (expected === "ok") continue;
            const before = snapshot(p, state);
            assert.throws(call, (e) => {
              if (e instanceof Planted) return true;
              assert.ok(
                e instanceof TypeError || e instanceof RangeError,
                `${what} ${label}: ${e}`,
              );
              assert.match((e as Error).message, /PAIR|WIDE|BIG/, `${what} ${label}`);
              return true;
            });
            assert.deepEqual(snapshot(p, state), before, `${what} ${label}: something changed`);
            cases++;
          }
        }
        // Unknown fields and indices, length and deletion, on both kinds of view.
        const shape: [string, () => unknown][] = [
          ["view.zz =", () => ((view as Record<string, unknown>).zz = 1)],
          ["view.list[2] =", () => ((view.list as unknown as Record<number, unknown>)[2] = 1)],
          [
            "large view[LARGE] =",
            () => ((bigView as unknown as Record<number, unknown>)[LARGE] = 1),
          ],
          ["large view.length =", () => ((bigView as unknown as { length: number }).length = 0)],
          ["delete large view[0]", () => delete (bigView as unknown as Record<number, unknown>)[0]],
          [
            "defineProperty on a large view",
            () => Object.defineProperty(bigView, "0", { value: 1 }),
          ],
          ["freeze a large view", () => Object.freeze(bigView)],
        ];
        for (const [what, call] of shape) {
          const before = snapshot(p, state);
          assert.throws(call, TypeError, what);
          assert.deepEqual(snapshot(p, state), before, what);
        }
        assert.ok(cases > 200, `${cases} cases`);
        assert.equal(view.a, 1);
        assert.deepEqual([...view.list], [2, 3]);
      });
    });
  }
});

Deno.test("views agree with the oracle for any value (fast-check)", () => {
  withCountingKernel((state) => {
    const { p, pair, big } = compositeSystem("riscv64", ["preempt"]);
    const view = pair.currentRefMutRaw().value;
    const bigView = big.currentRefMutRaw().value;
    fc.assert(
      fc.property(
        fc.oneof(fc.anything(), fc.integer({ min: -70000, max: 70000 }), fc.double()),
        fc.nat({ max: LARGE - 1 }),
        (value, index) => {
          for (
            const [kind, write, read, name] of [
              ["u8", () => (view.a = value as never), () => view.a, "PAIR@0x"],
              [
                "u16",
                () => (view.list[index % 2] = value as never),
                () => view.list[index % 2],
                "list[",
              ],
              ["u32", () => (bigView[index] = value as never), () => bigView[index], `[${index}]`],
            ] as const
          ) {
            const verdict = writeVerdict(kind, value, p.pointerBytes);
            if (verdict === "ok") {
              const before = read();
              write();
              assert.equal(read(), stored(kind, value));
              if (kind === "u8") view.a = before as number;
              else if (kind === "u16") view.list[index % 2] = before as number;
              else bigView[index] = before as number;
            } else {
              expectRefusal(p, state, `${kind} view write ${shown(value)}`, name, verdict, write);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------
// Type descriptors and layout queries.

Deno.test("type descriptors and layout queries refuse hostile input by class", () => {
  let cases = 0;
  const S = struct({ a: u8, b: u32 });
  for (const [label, value] of hostiles()) {
    const isNumber = typeof value === "number";
    type Expected = typeof TypeError | typeof RangeError | "skip" | "either";
    const calls: [string, Expected, string, () => unknown][] = [
      [
        "array(u8, x)",
        isNumber ? RangeError : TypeError,
        "array() length",
        () => array(u8, value as never),
      ],
      ["array(x, 2)", TypeError, "array() element", () => array(value as never, 2)],
      ["sizeOf(x)", TypeError, "sizeOf", () => sizeOf(value as never)],
      ["alignOf(x)", TypeError, "alignOf", () => alignOf(value as never)],
      [
        "sizeOf(u8, x)",
        value === undefined ? "skip" : typeof value === "string" ? RangeError : TypeError,
        "sizeOf: arch",
        () => sizeOf(u8, value as never),
      ],
      [
        "offsetOf(S, x)",
        typeof value === "string" ? RangeError : TypeError,
        "offsetOf",
        () => offsetOf(S, value as never),
      ],
      ["offsetOf(x, 'a')", TypeError, "offsetOf", () => offsetOf(value as never, "a" as never)],
      ["struct({ a: x })", TypeError, 'struct field "a"', () => struct({ a: value } as never)],
    ];
    // Objects without fields are RangeErrors, everything else TypeErrors.
    const fieldless = typeof value === "object" && value !== null && !isRevokedProxy(value) &&
      !Array.isArray(value);
    calls.push([
      "struct(x)",
      fieldless ? "either" : TypeError,
      "struct",
      () => struct(value as never),
    ]);
    for (const [what, expected, name, call] of calls) {
      if (expected === "skip") continue;
      assert.throws(call, (e) => {
        if (e instanceof Planted) return true;
        const ok = expected === "either"
          ? e instanceof TypeError || e instanceof RangeError
          : e instanceof expected && (e as Error).constructor === expected;
        assert.ok(ok, `${what} ${label}: ${e}`);
        assert.ok((e as Error).message.includes(name), `${what} ${label}: ${(e as Error).message}`);
        return true;
      });
      cases++;
    }
  }
  // Field names: identifiers only, never __proto__, never none.
  fc.assert(
    fc.property(fc.string(), (name) => {
      const fields = Object.defineProperty({}, name, { value: u8, enumerable: true });
      const ok = /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && name !== "__proto__";
      if (ok) assert.equal(sizeOf(struct(fields)), 1);
      else assert.throws(() => struct(fields), RangeError);
    }),
    { numRuns: 300 },
  );
  assert.ok(cases > 200, `${cases} cases`);
});

// ---------------------------------------------------------------------------
// Guards.

Deno.test("setKernelGuardIf refuses hostile interfaces and keeps the installed one", () => {
  const { kernel } = countingKernel();
  const previous = setKernelGuardIf(kernel);
  try {
    const noop = () => {};
    const candidates: [string, unknown][] = [
      ...hostiles(),
      ["methods that are not functions", { disablePreempt: 1, enablePreempt: noop }],
      ["only one IRQ method", { disablePreempt: noop, enablePreempt: noop, localIrqRestore: noop }],
      ["getters that throw", {
        get disablePreempt() {
          throw new Planted("getter");
        },
        enablePreempt: noop,
      }],
    ];
    for (const [label, value] of candidates) {
      if (value === null) continue; // null uninstalls: not a bad input
      assert.throws(() => setKernelGuardIf(value as never), (e) => {
        if (e instanceof Planted) return true;
        assert.ok(e instanceof TypeError, `${label}: ${e}`);
        assert.match((e as Error).message, /^setKernelGuardIf/);
        return true;
      });
      assert.equal(kernelGuardIf(), kernel, `${label}: the installed interface stays`);
    }
    // Methods are read once: an interface that changes afterwards cannot break a guard.
    let calls = 0;
    const fickle = {
      disablePreempt: () => void calls++,
      enablePreempt: () => void calls--,
    };
    setKernelGuardIf(fickle);
    (fickle as Record<string, unknown>).enablePreempt = "gone";
    {
      using _guard = new NoPreempt();
    }
    assert.equal(calls, 0);
    assert.equal(kernelGuardIf(), fickle);
  } finally {
    setKernelGuardIf(previous);
  }
});

Deno.test("every guard leaves the kernel balanced whatever the hooks do (fast-check)", () => {
  const GUARDS = [
    () => new NoOp(),
    () => new IrqSave(),
    () => new NoPreempt(),
    () => new NoPreemptIrqSave(),
  ];
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: 3 }), fc.boolean()), { maxLength: 8 }),
      fc.subarray(["disablePreempt", "enablePreempt", "localIrqSaveAndDisable", "localIrqRestore"]),
      (plan, failing) => {
        const state = { depth: 0, irqOff: 0 };
        const fail = (hook: string) => {
          if (failing.includes(hook)) throw new Planted(hook);
        };
        const previous = setKernelGuardIf({
          disablePreempt() {
            fail("disablePreempt");
            state.depth++;
          },
          enablePreempt() {
            fail("enablePreempt");
            state.depth--;
          },
          localIrqSaveAndDisable() {
            fail("localIrqSaveAndDisable");
            state.irqOff++;
            return 1;
          },
          localIrqRestore() {
            fail("localIrqRestore");
            state.irqOff--;
          },
        });
        try {
          for (const [which, bodyThrows] of plan) {
            try {
              using _guard = GUARDS[which]();
              if (bodyThrows) throw new Planted("body");
            } catch (e) {
              // A hook's error or the body's, alone or with the other.
              assert.ok(e instanceof Planted || (e as Error).name === "SuppressedError");
            }
          }
        } finally {
          setKernelGuardIf(previous);
        }
        // What was taken was given back, except where the giving back itself failed.
        if (!failing.includes("enablePreempt")) assert.equal(state.depth, 0);
        if (!failing.includes("localIrqRestore")) assert.equal(state.irqOff, 0);
        if (failing.includes("disablePreempt")) assert.equal(state.depth, 0);
      },
    ),
    { numRuns: 300 },
  );
});
