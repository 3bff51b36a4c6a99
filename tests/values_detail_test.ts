// Details of values that broad tests pass over: f32 sums rounded once even
// at exact ties, sums at a kind's lower bound, bool refusing to be added to,
// errors of guarded accessors that name them, lost SELF_PTR memory, the keys
// of large views, the fields a refusal lists, and struct types in layout
// fingerprints.

import assert from "node:assert/strict";
import {
  array,
  createPercpu,
  f32,
  FaultError,
  type ScalarKind,
  type ScalarPercpuVar,
  struct,
  u16,
  u32,
  u8,
} from "../mod.ts";
import { SCALAR_TYPES } from "../lib/types.ts";
import { setKernelGuardIf } from "../lib/guards.ts";
import { detach } from "../lib/_memory.ts";
import { PLAIN_VIEW_SLOTS } from "../lib/refs.ts";
import {
  atomicRemote,
  attachShared,
  layoutDifference,
  layoutFingerprint,
  shareAreas,
} from "../lib/workers/mod.ts";

function f32System(start: number) {
  const p = createPercpu();
  const x = p.defPercpu("X", f32, start);
  p.init(1);
  p.initPercpuReg(0);
  return x;
}

Deno.test("an f32 add rounds the exact sum once, ties to even, even when f64 would tie", () => {
  const ulp = 2 ** -23;
  // 1 + ulp has an odd significand; the tie above it is 1 + ulp + ulp/2.
  const odd = 1 + ulp;
  const cases: [number, number, number, string][] = [
    [odd, 2 ** -24 - 2 ** -76, odd, "just below the tie: down (f64 alone would tie to even, up)"],
    [odd, 2 ** -24 + 2 ** -76, 1 + 2 * ulp, "just above the tie: up"],
    [odd, 2 ** -24, 1 + 2 * ulp, "exactly the tie: to even"],
    [-odd, -(2 ** -24 - 2 ** -76), -odd, "negative, just below the tie in magnitude"],
    [-odd, -(2 ** -24 + 2 ** -76), -(1 + 2 * ulp), "negative, just above"],
    // Subnormal f32 values, whose ties sit in the f64's high word.
    [3 * 2 ** -149, 2 ** -150 - 2 ** -202, 3 * 2 ** -149, "subnormal, just below the tie"],
    [3 * 2 ** -149, 2 ** -150 + 2 ** -202, 4 * 2 ** -149, "subnormal, just above the tie"],
    [1, 2 ** -30, 1, "far below half an ulp"],
    [1.5, 0.25, 1.75, "exact"],
  ];
  for (const [start, delta, expected, why] of cases) {
    const x = f32System(start);
    x.addCurrent(delta);
    assert.equal(x.readCurrent(), expected, why);
    x.writeCurrent(start);
    x.withCurrent(() => {});
    assert.equal(x.readCurrent(), start);
  }
});

Deno.test("every kind adds up to its lower bound and from it", () => {
  for (const arch of ["x86_64", "riscv32"] as const) {
    const p = createPercpu({ arch });
    const kinds = (Object.keys(SCALAR_TYPES) as ScalarKind[]).filter((k) => k !== "bool");
    const zeroOf = (kind: ScalarKind) => kind === "u64" || kind === "i64" ? 0n : 0;
    const vars = kinds.map((kind) =>
      [
        kind,
        p.defPercpu(`X_${kind}`, SCALAR_TYPES[kind], zeroOf(kind) as never) as ScalarPercpuVar,
      ] as const
    );
    p.init(1);
    p.initPercpuReg(0);
    for (const [kind, x] of vars) {
      const zero = zeroOf(kind);
      x.addCurrent(zero as never);
      assert.deepEqual(x.readCurrent(), zero, `${arch} ${kind}: 0 + 0`);
      x.writeCurrent((typeof zero === "bigint" ? 1n : 1) as never);
      if (kind.startsWith("i") || kind.startsWith("f")) {
        x.addCurrent((typeof zero === "bigint" ? -1n : -1) as never);
        assert.deepEqual(x.readCurrent(), zero, `${arch} ${kind}: 1 + −1`);
      }
    }
  }
});

Deno.test("bool cannot be added to: a TypeError naming the accessor, nothing written", () => {
  const p = createPercpu();
  const flag = p.defPercpu("FLAG", SCALAR_TYPES.bool, true);
  p.init(1);
  p.initPercpuReg(0);
  const atomic = atomicRemote(p, flag) as unknown as { add(cpu: number, d: unknown): unknown };
  assert.throws(
    () => atomic.add(0, true),
    (e: Error) => e instanceof TypeError && /^FLAG@CPU 0 atomic add: /.test(e.message),
  );
  for (const add of [flag.addCurrent, flag.addCurrentRaw]) {
    for (const delta of [true, 1, 1n]) {
      assert.throws(
        () => add(delta as never),
        (e: Error) => e instanceof TypeError && /^FLAG\.addCurrent/.test(e.message),
      );
      assert.equal(flag.readCurrent(), true);
    }
  }
});

Deno.test("a guarded accessor whose guard fails to release after an error says which it was", () => {
  const p = createPercpu({ features: ["preempt"] });
  const x = p.defPercpu("X", u32, 1);
  p.init(1);
  p.initPercpuReg(0);
  let depth = 0;
  const release = new Error("enable_preempt failed");
  setKernelGuardIf({
    disablePreempt: () => void depth++,
    enablePreempt: () => {
      depth--;
      throw release;
    },
  });
  try {
    const cases: [string, () => unknown][] = [
      ["X.writeCurrent", () => x.writeCurrent(-1)],
      ["X.addCurrent", () => x.addCurrent("1" as never)],
      ["X.withCurrent", () =>
        x.withCurrent(() => {
          throw new RangeError("in the closure");
        })],
    ];
    for (const [name, access] of cases) {
      assert.throws(access, (e: Error & { error?: unknown; suppressed?: unknown }) => {
        assert.equal(e.name, "SuppressedError", name);
        assert.ok(e.message.startsWith(`${name}: `), `${name}: ${e.message}`);
        assert.equal(e.error, release, name);
        assert.ok(e.suppressed instanceof Error && e.suppressed !== release, name);
        return true;
      });
      assert.equal(depth, 0, `${name}: the guard was released`);
      assert.equal(x.readCurrentRaw(), 1, `${name}: nothing written`);
    }
  } finally {
    setKernelGuardIf(null);
  }
});

Deno.test("x86_64: current_ptr() on memory that went away is a fault, not garbage", () => {
  const p = createPercpu();
  const x = p.defPercpu("X", u32, 1);
  const buffer = new ArrayBuffer(p.percpuAreaLayoutExpected(2).size);
  p.init(2, { buffer });
  p.initPercpuReg(1);
  const before = x.currentPtr();
  assert.equal(before, p.percpuAreaBase(1) + x.offset());
  detach(buffer);
  for (
    const access of [() => x.currentPtr(), () => x.currentRefRaw(), () => x.currentRefMutRaw()]
  ) {
    assert.throws(access, FaultError);
  }
});

Deno.test("a large view lists its keys once, with the inspection symbols", () => {
  const p = createPercpu();
  const n = PLAIN_VIEW_SLOTS + 3;
  const big = p.defPercpu("BIG", array(u8, n), new Array(n).fill(1));
  const names = Array.from({ length: n }, (_, i) => `f${i}`);
  const wide = p.defPercpu(
    "WIDE",
    struct(Object.fromEntries(names.map((name) => [name, u8]))),
    Object.fromEntries(names.map((name) => [name, 2])) as never,
  );
  p.init(1);
  for (
    const [view, strings] of [
      [big.remoteRefRaw(0).value, [...Array.from({ length: n }, (_, i) => String(i)), "length"]],
      [wide.remoteRefRaw(0).value, names],
    ] as const
  ) {
    const keys = Reflect.ownKeys(view as object);
    assert.deepEqual(keys.filter((k) => typeof k === "string"), strings);
    const symbols = keys.filter((k) => typeof k === "symbol");
    assert.deepEqual(symbols.map(String).sort(), [
      "Symbol(Deno.customInspect)",
      "Symbol(nodejs.util.inspect.custom)",
    ]);
    assert.equal(new Set(keys).size, keys.length, "no key twice");
    assert.deepEqual(
      Object.keys(view as object),
      names.length === n && strings === names ? names : strings.filter((k) => k !== "length"),
    );
  }
});

Deno.test("adding a field to a large view names the first fields there are", () => {
  const p = createPercpu();
  const n = PLAIN_VIEW_SLOTS + 1;
  const names = Array.from({ length: n }, (_, i) => `f${i}`);
  const s = p.defPercpu(
    "S",
    struct(Object.fromEntries(names.map((name) => [name, u8]))),
    Object.fromEntries(names.map((name) => [name, 1])) as never,
  );
  p.init(1);
  const view = s.remoteRefMutRaw(0).value as Record<string, unknown>;
  assert.throws(
    () => (view.gamma = 3),
    (e: Error) =>
      e instanceof TypeError && /gamma/.test(e.message) &&
      e.message.endsWith(`(the fields are ${names.slice(0, 20).join(", ")}, …)`),
  );
  assert.equal(view.f0, 1);
});

Deno.test("layout fingerprints tell struct field types apart", () => {
  const make = (field: typeof u16 | typeof SCALAR_TYPES.i16) => {
    const p = createPercpu();
    p.defPercpu("S", struct({ a: field, b: array(u8, 2) }), { a: 0, b: [0, 0] });
    return p;
  };
  const a = layoutFingerprint(make(u16));
  const b = layoutFingerprint(make(SCALAR_TYPES.i16));
  const type = a.variables.find((v) => v.name === "S")!.type;
  assert.equal(type, "struct { a: u16, b: [u8; 2] }");
  assert.match(layoutDifference(a, b) ?? "", /S/);
  const creator = make(u16);
  const shared = shareAreas(creator, 1);
  assert.throws(() => attachShared(make(SCALAR_TYPES.i16), shared, 0));
  attachShared(make(u16), shared, 0);
});
