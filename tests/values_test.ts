// Values are what they say: addition is exact for every delta, in the core
// and the simulator alike; struct field names either work or are refused up
// front; views of any size cost constant memory per access and keep their
// promises; references show their values.

import assert from "node:assert/strict";
import { inspect as nodeInspect, types } from "node:util";
import {
  alignOf,
  ARCHES,
  array,
  bool,
  createPercpu,
  type Feature,
  i16,
  offsetOf,
  type ScalarKind,
  type ScalarPercpuVar,
  sizeOf,
  struct,
  u16,
  u32,
  u64,
  u8,
} from "../mod.ts";
import { atomicRemote } from "../lib/workers/mod.ts";
import { Machine } from "../sched/mod.ts";
import { SCALAR_TYPES } from "../lib/types.ts";
import { PLAIN_VIEW_SLOTS } from "../lib/refs.ts";

// ---------------------------------------------------------------------------
// Exact addition.

const WIDTHS: Partial<Record<ScalarKind, [bits: number, signed: boolean]>> = {
  u8: [8, false],
  u16: [16, false],
  u32: [32, false],
  i8: [8, true],
  i16: [16, true],
  i32: [32, true],
};

/** `(value + delta) mod 2^bits`, as the kind reads it back. */
function modular(value: number, delta: number, bits: number, signed: boolean): number {
  const sum = BigInt.asUintN(bits, BigInt(value) + BigInt(delta));
  return Number(signed ? BigInt.asIntN(bits, sum) : sum);
}

const MAX = Number.MAX_SAFE_INTEGER;
/** Deltas whose plain float sum with a small value is inexact or wraps oddly. */
const DELTAS = [
  MAX,
  -MAX,
  MAX - 1,
  -(MAX - 1),
  2 ** 52 + 1,
  -(2 ** 52 + 1),
  2 ** 32 + 3,
  -(2 ** 32) - 3,
  2 ** 31,
  -(2 ** 31) - 1,
  255,
  -256,
  1,
  -1,
  0,
];

/**
 * The f32 nearest to `value + delta` computed exactly (ties to even):
 * both scaled by 2^149 (the smallest f32 step) to integers, added, rounded
 * to 24 significant bits.
 */
function exactF32Sum(value: number, delta: number): number {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
  const exponent = (bits >>> 23) & 0xff;
  const fraction = BigInt(bits & 0x7fffff);
  const magnitude = exponent === 0 ? fraction : (fraction | 0x800000n) << BigInt(exponent - 1);
  const scaled = (bits >>> 31 ? -magnitude : magnitude) + (BigInt(delta) << 149n);
  if (scaled === 0n) return 0;
  const sign = scaled < 0n ? -1 : 1;
  let q = scaled < 0n ? -scaled : scaled;
  let shift = 0;
  const length = q.toString(2).length;
  if (length > 24) {
    shift = length - 24;
    const rest = q & ((1n << BigInt(shift)) - 1n);
    const half = 1n << BigInt(shift - 1);
    q >>= BigInt(shift);
    if (rest > half || (rest === half && (q & 1n) === 1n)) q += 1n;
  }
  const result = sign * Number(q) * 2 ** (shift - 149);
  return Math.abs(result) >= 2 ** 128 ? sign * Infinity : result;
}

Deno.test("exactF32Sum is a faithful reference", () => {
  assert.equal(exactF32Sum(1.5, 2), 3.5);
  assert.equal(exactF32Sum(2 ** -40, 2 ** 24 + 1), 2 ** 24 + 2);
  assert.equal(exactF32Sum(0, MAX), 2 ** 53);
  assert.equal(exactF32Sum(Math.fround(0.1), 0), Math.fround(0.1));
});

/** Every place an addition happens, with the value it leaves. */
type Adder = (kind: ScalarKind, start: unknown, delta: unknown) => unknown;

function coreAdder(features: Feature[], raw: boolean): Adder {
  return (kind, start, delta) => {
    const p = createPercpu({ arch: "riscv64", features });
    const x = p.defPercpu("X", SCALAR_TYPES[kind], start as never) as ScalarPercpuVar;
    p.init(1);
    p.initPercpuReg(0);
    if (raw) x.addCurrentRaw(delta as never);
    else x.addCurrent(delta as never);
    return x.readCurrent();
  };
}

function atomicAdder(kind: ScalarKind, start: unknown, delta: unknown): unknown {
  const p = createPercpu();
  const x = p.defPercpu("X", SCALAR_TYPES[kind], start as never) as ScalarPercpuVar;
  p.init(2, { buffer: new SharedArrayBuffer(p.percpuAreaLayoutExpected(2).size) });
  atomicRemote(p, x).add(1, delta as never);
  return atomicRemote(p, x).load(1);
}

/** The simulator's `this_cpu_add`: one instruction on x86_64, load/add/store elsewhere. */
function simulatedAdder(arch: "x86_64" | "aarch64", raw: boolean): Adder {
  return (kind, start, delta) => {
    const p = createPercpu({ arch });
    const x = p.defPercpu("X", SCALAR_TYPES[kind], start as never) as ScalarPercpuVar;
    const machine = new Machine({ percpu: p, cpus: 1, policy: "cooperative", record: false });
    machine.spawn(function* (ctx) {
      yield* ctx.add(x, delta as never, { raw });
    });
    // A task's error stays the task's: rethrow it, as the core would have.
    const failure = machine.run().failures[0];
    if (failure !== undefined) throw failure.error;
    return x.remoteRefRaw(0).value;
  };
}

const ADDERS: [string, Adder][] = [
  ["addCurrent", coreAdder([], false)],
  ["addCurrentRaw", coreAdder([], true)],
  ["addCurrent under preempt", coreAdder(["preempt"], false)],
  ["addCurrent under sp-naive", coreAdder(["sp-naive"], false)],
  ["atomicRemote.add", atomicAdder],
  ["simulated add, x86_64", simulatedAdder("x86_64", false)],
  ["simulated add, aarch64", simulatedAdder("aarch64", false)],
  ["simulated raw add, aarch64", simulatedAdder("aarch64", true)],
];

Deno.test("u8 2 + (2^53 − 1) is 1 on every path", async (t) => {
  for (const [name, add] of ADDERS) {
    await t.step(name, () => assert.equal(add("u8", 2, MAX), 1));
  }
});

Deno.test("integer addition is exact modular arithmetic for every safe-integer delta", async (t) => {
  for (const [name, add] of ADDERS) {
    await t.step(name, () => {
      for (
        const [kind, [bits, signed]] of Object.entries(WIDTHS) as [ScalarKind, [number, boolean]][]
      ) {
        const starts = signed
          ? [0, 1, -1, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1]
          : [0, 1, 2 ** bits - 1];
        for (const start of starts) {
          for (const delta of DELTAS) {
            assert.equal(
              add(kind, start, delta),
              modular(start, delta, bits, signed),
              `${kind} ${start} + ${delta}`,
            );
          }
        }
      }
      // 64-bit kinds add bigints, exactly, modulo 2^64.
      const big = 2n ** 200n + 5n;
      assert.equal(add("u64", 2n ** 64n - 1n, big), BigInt.asUintN(64, 2n ** 64n - 1n + big));
      assert.equal(add("i64", -(2n ** 63n), -big), BigInt.asIntN(64, -(2n ** 63n) - big));
    });
  }
});

Deno.test("usize/isize addition is exact or refused, never rounded", async (t) => {
  for (const [name, add] of ADDERS) {
    await t.step(name, () => {
      assert.equal(add("usize", MAX - 10, 10), MAX);
      assert.equal(add("isize", -MAX, MAX), 0);
      assert.equal(add("isize", 5, -MAX), 5 - MAX);
      for (
        const [kind, start, delta] of [["usize", MAX, 1], ["isize", -MAX, -1], ["usize", 0, -1]]
      ) {
        assert.throws(
          () => add(kind as ScalarKind, start, delta),
          RangeError,
          `${kind} ${start} + ${delta}`,
        );
      }
    });
  }
});

Deno.test("f32 addition rounds the exact sum once; f64 is IEEE addition", async (t) => {
  const values = [
    0,
    1,
    -1,
    2 ** -40,
    Math.fround(0.1),
    Math.fround(-3.75e-20),
    Math.fround(1e30),
    3e38,
  ]
    .map(Math.fround);
  const deltas = [2 ** 24 + 1, -(2 ** 24) - 1, MAX, -MAX, 3, 2 ** 40 + 1, 0.5, -0.25];
  for (const [name, add] of ADDERS) {
    await t.step(name, () => {
      for (const value of values) {
        for (const delta of deltas) {
          const expected = Number.isInteger(delta)
            ? exactF32Sum(value, delta)
            : Math.fround(value + delta); // exact in f64 for these
          assert.equal(add("f32", value, delta), expected, `f32 ${value} + ${delta}`);
          assert.equal(add("f64", value, delta), value + delta, `f64 ${value} + ${delta}`);
        }
      }
      // The case rounding twice gets wrong: the f64 sum lands on an f32 tie.
      assert.equal(add("f32", 2 ** -40, 2 ** 24 + 1), 2 ** 24 + 2);
    });
  }
});

// ---------------------------------------------------------------------------
// Error classes: wrong types are TypeErrors, out-of-range values RangeErrors.

Deno.test("type descriptors and layout queries: TypeError for types, RangeError for values", () => {
  assert.throws(() => array(u8, "4" as never), TypeError);
  assert.throws(() => array(u8, 4n as never), TypeError);
  assert.throws(() => array(u8, 0), RangeError);
  assert.throws(() => array(u8, 2 ** 20 + 1), RangeError);
  assert.throws(() => array(u8, NaN), RangeError);
  assert.throws(() => struct({}), RangeError);
  assert.throws(() => struct({ "1x": u8 }), RangeError);
  assert.throws(() => struct(null as never), TypeError);
  assert.throws(() => struct({ a: u8, b: {} } as never), TypeError);
  // sizeOf & co. check their arguments instead of answering `undefined`.
  const sizes = [
    () => sizeOfAny({}),
    () => sizeOfAny(u8, "sparc"),
    () => sizeOfAny(u8, 8),
  ];
  assert.throws(sizes[0], TypeError);
  assert.throws(sizes[1], RangeError);
  assert.throws(sizes[2], TypeError);
});

function sizeOfAny(type: unknown, arch?: unknown): number {
  return sizeOf(type as never, arch as never);
}

Deno.test("alignOf and offsetOf check their arguments", () => {
  assert.throws(() => alignOf({ kind: "struct" } as never), TypeError);
  assert.throws(() => offsetOf(u8 as never, "a" as never), {
    name: "TypeError",
    message: /struct descriptor/,
  });
  assert.throws(() => offsetOf(struct({ a: u8 }), 1 as never), {
    name: "TypeError",
    message: /number 1/,
  });
  assert.throws(() => offsetOf(struct({ a: u8 }), "b" as never), {
    name: "RangeError",
    message: /"b"/,
  });
  assert.equal(offsetOf(struct({ a: u8, b: u32 }), "b", "arm"), 4);
});

// ---------------------------------------------------------------------------
// Struct field names.

Deno.test("struct() refuses __proto__, listing the reserved names", () => {
  const fields = Object.defineProperty({ a: u8 }, "__proto__", {
    value: u8,
    enumerable: true,
  });
  assert.throws(() => struct(fields), (e) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /"__proto__" is reserved; reserved names: __proto__/);
    return true;
  });
});

Deno.test("fields named like view and Object.prototype members work", async (t) => {
  // Every one of these used to make each view throw "Cannot redefine property".
  const T = struct({ toJSON: u8, toString: u16, valueOf: u32, constructor: u8, then: u8 });
  const init = { toJSON: 1, toString: 2, valueOf: 3, constructor: 4, then: 5 };
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch });
      const v = p.defPercpu("V", T, init);
      p.init(2);
      p.initPercpuReg(1);
      v.withCurrent((ref) => {
        ref.value.toJSON += 10;
        ref.value.then = 50;
      });
      const view = v.remoteRefRaw(1).value;
      assert.equal(view.toJSON, 11);
      assert.equal(view.constructor, 4);
      assert.deepEqual({ ...view }, { ...init, toJSON: 11, then: 50 });
      assert.equal(JSON.stringify(view), JSON.stringify({ ...init, toJSON: 11, then: 50 }));
      assert.deepEqual(structuredClone(view), { ...init, toJSON: 11, then: 50 });
      assert.equal(v.remoteRefRaw(0).value.toJSON, 1);
    });
  }
});

// ---------------------------------------------------------------------------
// Views of any size.

Deno.test("a 1 MiB array's view is a Proxy: constant cost, live, checked", () => {
  const n = 2 ** 20;
  const p = createPercpu();
  const A = p.defPercpu("A", array(u8, n), new Array(n).fill(0));
  p.init(2);
  p.initPercpuReg(1);
  const before = Deno.memoryUsage().heapUsed;
  const view = A.currentRefMutRaw().value;
  // A per-slot view of this array took 419 MiB; a Proxy takes next to nothing.
  assert.ok(Deno.memoryUsage().heapUsed - before < 16 * 2 ** 20);
  assert.ok(types.isProxy(view));
  assert.ok(Array.isArray(view));
  assert.equal(view.length, n);
  A.withCurrent((ref) => {
    ref.value[n - 1] = 255;
    ref.value[12345] += 7;
  });
  assert.equal(view[n - 1], 255);
  assert.equal(A.remoteRefRaw(1).value[12345], 7);
  assert.equal(A.remoteRefRaw(0).value[12345], 0);
  // Checked writes, as for small views.
  assert.throws(() => (view[3] = 256), {
    name: "RangeError",
    message: /A@0x[0-9a-f]+ \(CPU 1\)\[3\]/,
  });
  assert.throws(() => (view[n] = 1), { name: "TypeError", message: /cannot set "1048576"/ });
  assert.throws(() => ((view as unknown as { length: number }).length = 1), TypeError);
  assert.throws(() => (A.remoteRefRaw(1).value[0] = 1), {
    name: "TypeError",
    message: /read-only/,
  });
  assert.equal(view[3], 0);
  // Array methods and iteration read through the proxy.
  assert.deepEqual(view.slice(12344, 12346), [0, 7]);
  assert.equal(view.lastIndexOf(255), n - 1);
  assert.ok("12345" in view);
  assert.equal(String(n) in view, false);
});

Deno.test("small views stay plain objects that structuredClone copies; large ones are refused", () => {
  const p = createPercpu();
  const small = p.defPercpu(
    "SMALL",
    array(u16, PLAIN_VIEW_SLOTS),
    new Array(PLAIN_VIEW_SLOTS).fill(3),
  );
  const large = p.defPercpu(
    "LARGE",
    array(u16, PLAIN_VIEW_SLOTS + 1),
    new Array(PLAIN_VIEW_SLOTS + 1).fill(4),
  );
  const nested = p.defPercpu("NESTED", struct({ a: u8, list: array(u8, PLAIN_VIEW_SLOTS + 1) }), {
    a: 1,
    list: new Array(PLAIN_VIEW_SLOTS + 1).fill(5),
  });
  p.init(1);
  p.initPercpuReg(0);
  const plain = small.currentRefRaw().value;
  assert.equal(types.isProxy(plain), false);
  assert.deepEqual(structuredClone(plain), new Array(PLAIN_VIEW_SLOTS).fill(3));
  const proxy = large.currentRefRaw().value;
  assert.ok(types.isProxy(proxy));
  assert.throws(() => structuredClone(proxy), { name: "DataCloneError" });
  // The documented way: copy first.
  assert.deepEqual(structuredClone([...proxy]), new Array(PLAIN_VIEW_SLOTS + 1).fill(4));
  assert.throws(() => structuredClone(nested.currentRefRaw().value), { name: "DataCloneError" });
  assert.equal(nested.currentRefRaw().value.list[PLAIN_VIEW_SLOTS], 5);
});

Deno.test("a large struct's view is a Proxy that lists its fields in errors", () => {
  const fields = Object.fromEntries(
    Array.from({ length: PLAIN_VIEW_SLOTS + 4 }, (_, i) => [`f${i}`, i % 2 ? u8 : u32]),
  );
  const T = struct(fields);
  const init = Object.fromEntries(Object.keys(fields).map((name, i) => [name, i % 200]));
  const p = createPercpu({ arch: "arm" });
  const v = p.defPercpu("WIDE", T, init as never);
  p.init(1);
  p.initPercpuReg(0);
  const view = v.currentRefMutRaw().value as Record<string, number>;
  assert.ok(types.isProxy(view));
  assert.equal(view.f7, 7);
  view.f7 = 99;
  assert.equal(v.currentRefRaw().value.f7 as number, 99);
  assert.throws(() => (view.zz = 1), {
    name: "TypeError",
    message: /cannot set "zz".*the fields are f0, f1/,
  });
  assert.throws(() => (view.f1 = 300), {
    name: "RangeError",
    message: /WIDE@0x[0-9a-f]+ \(CPU 0\)\.f1/,
  });
  assert.throws(() => delete view.f0, TypeError);
  assert.equal("f3" in view, true);
  assert.equal("zz" in view, false);
  assert.deepEqual({ ...view }, { ...init, f7: 99 });
});

Deno.test("views show their values when inspected, small or large", () => {
  const p = createPercpu();
  const S = p.defPercpu("S", struct({ a: u8, b: array(u8, 3) }), { a: 1, b: [2, 3, 4] });
  const L = p.defPercpu(
    "L",
    array(u8, PLAIN_VIEW_SLOTS + 1),
    new Array(PLAIN_VIEW_SLOTS + 1).fill(9),
  );
  p.init(1);
  p.initPercpuReg(0);
  assert.equal(Deno.inspect(S.currentRefRaw().value), "{ a: 1, b: [ 2, 3, 4 ] }");
  assert.equal(nodeInspect(S.currentRefRaw().value), "{ a: 1, b: [ 2, 3, 4 ] }");
  assert.match(Deno.inspect(L.currentRefRaw().value), /^\[\n? *9, 9, 9/);
  assert.match(nodeInspect(L.currentRefRaw().value), /^\[\n? *9, 9, 9/);
});

// ---------------------------------------------------------------------------
// References show their values.

Deno.test("console.log(ref) shows the value under Deno and Node", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch });
      const x = p.defPercpu("X", u32, 42);
      const w = p.defPercpu("W", u64, 7n);
      const s = p.defPercpu("S", struct({ a: u8, b: bool }), { a: 1, b: true });
      p.init(2);
      p.initPercpuReg(1);
      for (const show of [(v: unknown) => Deno.inspect(v), (v: unknown) => nodeInspect(v)]) {
        assert.equal(show(x.currentRefRaw()), "42");
        assert.equal(show(x.remoteRefMutRaw(0)), "42");
        assert.equal(show(w.currentRefRaw()), "7n");
        assert.equal(show(s.remoteRefRaw(0)), "{ a: 1, b: true }");
        assert.equal(show({ ref: x.currentRefRaw() }), "{ ref: 42 }");
        x.withCurrent((ref) => assert.equal(show(ref), "42"));
      }
    });
  }
});

Deno.test("withCurrent's reference is valid only during the call", () => {
  const p = createPercpu();
  const x = p.defPercpu("X", i16, -5);
  p.init(1);
  p.initPercpuReg(0);
  const kept = x.withCurrent((ref) => ref);
  assert.throws(() => kept.value, { name: "TypeError", message: /only valid during the call/ });
  assert.throws(() => (kept.value = 1), {
    name: "TypeError",
    message: /only valid during the call/,
  });
  assert.throws(() => kept.address, { name: "TypeError", message: /only valid during the call/ });
  assert.match(Deno.inspect(kept), /^["']<expired X\.withCurrent reference>["']$/);
  assert.equal(x.readCurrent(), -5);
  // Nested calls on the same variable get a lasting reference of their own.
  x.withCurrent((outer) => {
    x.withCurrent((inner) => {
      inner.value = 3;
      assert.notEqual(inner, outer);
    });
    assert.equal(outer.value, 3);
    outer.value += 1;
  });
  assert.equal(x.readCurrent(), 4);
});

Deno.test("withCurrent follows current_ptr(): x86_64 reads SELF_PTR, which re-init resets", () => {
  const p = createPercpu();
  const x = p.defPercpu("X", u32, 5);
  p.init(2);
  p.initPercpuReg(1);
  assert.equal(x.withCurrent((ref) => ref.address), x.remotePtr(1));
  p.init(2);
  // GS_BASE still points at CPU 1's area, but SELF_PTR was reset to 0, so
  // current_ptr() is X's symbol VMA, which is not mapped.
  assert.equal(x.readCurrent(), 5);
  assert.throws(() => x.withCurrent((ref) => ref.value), {
    name: "FaultError",
    message: /0x[0-9a-f]+ are not mapped/,
  });
  p.initPercpuReg(1);
  assert.equal(x.withCurrent((ref) => ref.value), 5);
});

Deno.test("every scalar kind's withCurrent reads and writes its own copy", async (t) => {
  const samples: Record<ScalarKind, [unknown, unknown]> = {
    bool: [false, true],
    u8: [1, 255],
    u16: [2, 65535],
    u32: [3, 2 ** 32 - 1],
    u64: [4n, 2n ** 64n - 1n],
    usize: [5, MAX],
    i8: [-6, -128],
    i16: [-7, 32767],
    i32: [-8, -(2 ** 31)],
    i64: [-9n, -(2n ** 63n)],
    isize: [-10, -MAX],
    f32: [1.5, Math.fround(0.1)],
    f64: [2.5, 0.1],
  };
  for (const arch of ["x86_64", "arm"] as const) {
    for (const features of [[], ["preempt"], ["sp-naive"]] as Feature[][]) {
      await t.step(`${arch} ${features.join(",")}`, () => {
        const p = createPercpu({ arch, features });
        const vars = Object.entries(samples).map(([kind, [init]]) =>
          [
            kind,
            p.defPercpu(kind.toUpperCase(), SCALAR_TYPES[kind as ScalarKind], init as never),
          ] as const
        );
        p.init(features.includes("sp-naive") ? 1 : 2);
        p.initPercpuReg(0);
        for (const [kind, x] of vars) {
          const [init, next] = samples[kind as ScalarKind];
          const limit = arch === "arm" && (kind === "usize" || kind === "isize")
            ? (kind === "usize" ? 2 ** 32 - 1 : -(2 ** 31))
            : next;
          const v = x as unknown as ScalarPercpuVar;
          assert.equal(v.withCurrent((ref) => ref.value), init, kind);
          v.withCurrent((ref) => {
            ref.value = limit as never;
          });
          assert.equal(v.readCurrent(), limit, kind);
          assert.throws(() => v.withCurrent((ref) => (ref.value = "x" as never)), TypeError, kind);
          assert.equal(v.readCurrent(), limit, kind);
        }
      });
    }
  }
});
