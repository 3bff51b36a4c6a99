// Workers' entry points in the corners, without starting Workers: what
// attachShared accepts field by field, dynamic objects and list fields in
// layout fingerprints, atomic adds and counters on memory that went away.

import assert from "node:assert/strict";
import { createPercpu, FaultError, u32, u64 } from "../mod.ts";
import {
  atomicRemote,
  attachShared,
  defPercpuCounter,
  layoutDifference,
  layoutFingerprint,
  shareAreas,
  type SharedAreas,
} from "../lib/workers/mod.ts";
import { setKernelGuardIf } from "../lib/guards.ts";
import { detach } from "../lib/_memory.ts";

function creator() {
  const p = createPercpu();
  const x = p.defPercpu("X", u32, 5);
  return { p, x, shared: shareAreas(p, 2) };
}

Deno.test("attachShared refuses an object unlike shareAreas()'s, field by field", () => {
  const { shared } = creator();
  const f = shared.fingerprint;
  const broken: [string, unknown][] = [
    ["cpuCount 0", { ...shared, cpuCount: 0 }],
    ["cpuCount 1.5", { ...shared, cpuCount: 1.5 }],
    ["cpuCount '2'", { ...shared, cpuCount: "2" }],
    ["buffer not shared", { ...shared, buffer: new ArrayBuffer(64) }],
    ["totals not shared", { ...shared, totals: new ArrayBuffer(8) }],
    ["dynamic not a list", { ...shared, dynamic: {} }],
    ["no fingerprint", { ...shared, fingerprint: null }],
    ["fingerprint not an object", { ...shared, fingerprint: "x86_64" }],
    ["arch not a string", { ...shared, fingerprint: { ...f, arch: 1 } }],
    ["features not a list", { ...shared, fingerprint: { ...f, features: "preempt" } }],
    ["stride not an integer", { ...shared, fingerprint: { ...f, stride: 6.5 } }],
    ["variables not a list", { ...shared, fingerprint: { ...f, variables: {} } }],
    ["dynamic places not a list", { ...shared, fingerprint: { ...f, dynamic: null } }],
    ["counters not a list", { ...shared, fingerprint: { ...f, counters: 0 } }],
    ["null", null],
  ];
  for (const [why, value] of broken) {
    const worker = createPercpu();
    const x = worker.defPercpu("X", u32, 9);
    worker.init(1);
    assert.throws(
      () => attachShared(worker, value as SharedAreas, 0),
      (e: Error) => e instanceof TypeError && e.message.startsWith("attachShared: "),
      why,
    );
    assert.equal(x.remoteRefRaw(0).value, 9, `${why}: nothing changed`);
  }
  const worker = createPercpu();
  const x = worker.defPercpu("X", u32, 9);
  attachShared(worker, shared, 1);
  assert.equal(x.readCurrent(), 5, "the real thing is accepted");
});

Deno.test("fingerprints place dynamic objects by chunk and offset", () => {
  const make = (order: ("u32" | "u64")[]) => {
    const p = createPercpu();
    p.defPercpu("PAD", u64, 0n);
    p.init(2);
    for (const kind of order) p.allocPercpu(kind === "u32" ? u32 : u64);
    return layoutFingerprint(p);
  };
  const a = make(["u32", "u64"]);
  assert.deepEqual(a.dynamic.map((d) => [d.type, d.size]), [["u32", 4], ["u64", 8]]);
  const [first, second] = a.dynamic;
  assert.ok(second.offset > first.offset && second.offset % 8 === 0, "placed one after the other");
  assert.ok(first.offset < a.stride, "in the first chunk");
  const b = make(["u64", "u32"]);
  assert.match(layoutDifference(a, b) ?? "", /u32|u64/);
  assert.equal(layoutDifference(a, make(["u32", "u64"])), null);
  // More objects than one unit holds open a second chunk, a stride further.
  const p = createPercpu();
  p.defPercpu("PAD", u64, 0n);
  p.init(2);
  const stride = layoutFingerprint(p).stride;
  const objects = Array.from({ length: stride / 8 + 1 }, () => p.allocPercpu(u64));
  const places = layoutFingerprint(p).dynamic.map((d) => d.offset);
  assert.equal(objects.length, places.length);
  assert.equal(new Set(places).size, places.length, "no two objects share a place");
  assert.ok(places.at(-1)! >= stride, `the last one is in another chunk: ${places}`);
});

Deno.test("a feature difference is worded as the two lists", () => {
  const plain = createPercpu();
  const guarded = createPercpu({ features: ["preempt", "non-zero-vma"] });
  for (const p of [plain, guarded]) p.defPercpu("X", u32, 0);
  const text = layoutDifference(layoutFingerprint(plain), layoutFingerprint(guarded)) ?? "";
  assert.ok(text.includes("[]") && text.includes("[preempt, non-zero-vma]"), text);
});

Deno.test("a system without areas has no dynamic places in its fingerprint", () => {
  const naive = createPercpu({ features: ["sp-naive"] });
  naive.defPercpu("X", u32, 0);
  assert.deepEqual(layoutFingerprint(naive).dynamic, []);
});

Deno.test("an atomic add on memory that went away is a fault naming the add", () => {
  const p = createPercpu();
  const x = p.defPercpu("X", u32, 5);
  const buffer = new ArrayBuffer(p.percpuAreaLayoutExpected(2).size);
  p.init(2, { buffer });
  const atomic = atomicRemote(p, x);
  assert.equal(atomic.add(1, 1), 5);
  detach(buffer);
  assert.throws(
    () => atomic.add(1, 1),
    (e: Error) => e instanceof FaultError && /X@CPU 1 atomic add/.test(e.message),
  );
  assert.throws(
    () => atomic.store(1, 1),
    (e: Error) => e instanceof FaultError && /X@CPU 1 atomic store/.test(e.message),
  );
});

Deno.test("a guarded counter add that faults releases its guard and throws", () => {
  const p = createPercpu({ features: ["preempt"] });
  const counter = defPercpuCounter(p, "EVENTS", { batch: 4 });
  const buffer = new ArrayBuffer(p.percpuAreaLayoutExpected(2).size);
  p.init(2, { buffer });
  p.initPercpuReg(1);
  let depth = 0;
  setKernelGuardIf({ disablePreempt: () => void depth++, enablePreempt: () => void depth-- });
  try {
    counter.add(1);
    assert.equal(counter.sum(), 1);
    detach(buffer);
    assert.throws(() => counter.add(1), FaultError);
    assert.equal(depth, 0, "the guard was given back");
  } finally {
    setKernelGuardIf(null);
  }
});

Deno.test("shareAreas takes 1 to 65536 CPUs, refuses anything else and changes nothing", () => {
  const p = createPercpu();
  const x = p.defPercpu("X", u32, 5);
  shareAreas(p, 2);
  x.remoteRefMutRaw(1).value = 6;
  const base = p.percpuAreaBase(1);
  for (const bad of [0, -1, 65537, 1.5, NaN, Infinity]) {
    assert.throws(() => shareAreas(p, bad), RangeError, String(bad));
  }
  for (const bad of ["2", 2n, null, undefined]) {
    assert.throws(() => shareAreas(p, bad as never), TypeError, String(bad));
  }
  assert.equal(p.percpuAreaBase(1), base, "still the two areas shared before");
  assert.throws(() => p.percpuAreaBase(2), RangeError);
  assert.equal(x.remoteRefRaw(1).value, 6);
  assert.equal(shareAreas(p, 1).cpuCount, 1);
  assert.equal(shareAreas(p, 65536).cpuCount, 65536);
});
