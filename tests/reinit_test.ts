// Setting the areas up, again and again, and failing to: a failed init() or
// attachShared() changes nothing and can be retried, dead memory is refused,
// re-initialising releases the memory it no longer uses, and nothing that
// still points into released memory reads or writes it.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  array,
  createPercpu,
  DefinitionError,
  FaultError,
  type Feature,
  InitError,
  NotInitializedError,
  type Percpu,
  struct,
  u32,
  u64,
  u8,
} from "../mod.ts";
import { Machine } from "../sched/mod.ts";
import {
  attachShared,
  defPercpuCounter,
  LayoutMismatchError,
  shareAreas,
  type SharedAreas,
} from "../lib/workers/mod.ts";
import { portOf } from "../lib/_port.ts";
import { detach } from "../lib/_memory.ts";

/** What an observer can see of a system: enough to tell that nothing changed. */
interface Snapshot {
  readonly areas: number;
  readonly bases: number[];
  readonly values: unknown[];
  readonly register: number;
  readonly regions: (string | number)[][];
  readonly epoch: number;
}

function snapshot(p: Percpu, x: { readRemote(cpu: number): unknown }): Snapshot {
  const port = portOf(p);
  const areas = port.areaCount;
  return {
    areas,
    bases: Array.from({ length: areas }, (_, cpu) => p.percpuAreaBase(cpu)),
    values: Array.from({ length: areas }, (_, cpu) => x.readRemote(cpu)),
    register: port.context.reg,
    regions: port.memory.regions.map((r) => [r.name, r.start, r.length]),
    epoch: port.epoch,
  };
}

Deno.test("a failed first init() leaves the system as it was, and it can be retried", async (t) => {
  await t.step("the section cannot be allocated", () => {
    const p = createPercpu({ cpuNum: 65536 });
    p.defPercpu("BIG", array(u8, 1_000_000), new Array(1_000_000).fill(0));
    for (let attempt = 0; attempt < 2; attempt++) {
      assert.throws(
        () => p.init(1),
        (e) =>
          e instanceof RangeError && /init: the \.percpu section \(65536 areas/.test(e.message),
      );
    }
    // Not half-initialised: still before init, definitions still welcome.
    assert.throws(() => p.percpuAreaBase(0), NotInitializedError);
    const later = p.defPercpu("LATER", u32, 1);
    assert.equal(later.symbol, "__PERCPU_LATER");
  });
  await t.step("areas too large, then bad memory, then the real thing", () => {
    const p = createPercpu({ arch: "riscv64" });
    const x = p.defPercpu("X", array(u8, 16385), new Array(16385).fill(7));
    assert.throws(() => p.init(65536 + 1), RangeError);
    assert.throws(() => p.init(65536), /limit is 1073741824/);
    assert.throws(() => p.init(2, { buffer: new ArrayBuffer(64) }), InitError);
    assert.throws(() => p.percpuAreaBase(0), NotInitializedError);
    p.defPercpu("Y", u8, 1);
    assert.equal(p.init(2), 2);
    assert.equal(x.readRemote(1)[16384], 7);
  });
});

/** Memory that is no longer there, in the ways JavaScript has. */
function deadBuffers(size: number): [string, ArrayBuffer][] {
  const transferred = new ArrayBuffer(size);
  detach(transferred);
  const shrunk = new ArrayBuffer(size, { maxByteLength: size });
  shrunk.resize(0);
  const small = new ArrayBuffer(size, { maxByteLength: size });
  small.resize(size / 2);
  return [["detached", transferred], ["resized to 0", shrunk], ["resized below", small]];
}

Deno.test("init() and attach() refuse detached or shrunk buffers and change nothing", async (t) => {
  for (const features of [[], ["custom-base"], ["non-zero-vma"]] as Feature[][]) {
    await t.step(features.join(" + ") || "default", () => {
      const p = createPercpu({ arch: "aarch64", features });
      const x = p.defPercpu("X", u32, 3);
      const size = p.percpuAreaLayoutExpected(2).size;
      p.init(2);
      p.initPercpuReg(1);
      x.writeCurrent(11);
      const before = snapshot(p, x);
      for (const [what, buffer] of deadBuffers(size)) {
        for (const call of [() => p.init(2, { buffer }), () => p.attach(2, { buffer })]) {
          assert.throws(
            call,
            (e) =>
              what === "resized below"
                ? e instanceof InitError && e.kind === "InsufficientMemory"
                : e instanceof TypeError && /detached|empty/.test(e.message),
            what,
          );
          assert.deepEqual(snapshot(p, x), before, `${what}: nothing changed`);
        }
      }
      assert.equal(x.readCurrent(), 11);
    });
  }
  await t.step("custom-base's bases are checked the same way, all before anything changes", () => {
    const [, transferred] = deadBuffers(256)[0];
    const live = new ArrayBuffer(256);
    let calls = 0;
    const p = createPercpu({
      features: ["custom-base"],
      bases: (cpu) => (calls++, cpu === 2 ? { buffer: transferred } : { buffer: live }),
    });
    const x = p.defPercpu("X", u32, 3);
    assert.throws(() => p.init(2), (e) => e instanceof InitError && /overlap/.test(e.message));
    assert.throws(() => p.init(3), /bases\(2\).*detached/);
    assert.throws(() => p.percpuAreaBase(0), NotInitializedError);
    assert.equal(portOf(p).memory.regions.length, 0, "nothing was mapped");
    assert.ok(calls > 0);
    assert.throws(() => x.readCurrent(), /init\(\)/);
  });
});

Deno.test("hostile memory arguments: the right error, nothing changed", () => {
  const hostile = fc.oneof(
    fc.constantFrom(null, undefined, 0, "buffer", [], new Uint8Array(64)),
    fc.record({
      buffer: fc.constantFrom(
        null,
        new ArrayBuffer(8),
        new Uint8Array(512),
        "x",
        new SharedArrayBuffer(16),
      ),
      byteOffset: fc.oneof(fc.integer({ min: -128, max: 4096 }), fc.constantFrom(NaN, 0.5, "0")),
    }),
    fc.constant(
      new Proxy({}, {
        get() {
          throw new Error("hostile getter");
        },
      }),
    ),
    fc.constant({
      get buffer(): never {
        throw new RangeError("hostile buffer");
      },
    }),
  );
  const p = createPercpu({ arch: "loongarch64" });
  const x = p.defPercpu("X", u64, 5n);
  p.init(3);
  p.initPercpuReg(2);
  x.writeCurrent(9n);
  let before = snapshot(p, x);
  fc.assert(
    fc.property(hostile, fc.integer({ min: 1, max: 4 }), (memory, count) => {
      for (
        const call of [() => p.init(count, memory as never), () => p.attach(count, memory as never)]
      ) {
        try {
          call();
        } catch (e) {
          assert.ok(
            e instanceof InitError || e instanceof TypeError || e instanceof RangeError ||
              (e instanceof Error && e.message === "hostile getter"),
            String(e),
          );
          assert.deepEqual(snapshot(p, x), before);
          continue;
        }
        // Some arguments are valid: `undefined` (init's own memory), or a
        // typed array, whose `buffer` and `byteOffset` make it memory.
        const valid = memory === undefined ||
          (memory instanceof Uint8Array && memory.byteLength >= 64 * count);
        assert.ok(valid, `accepted ${String(memory)}`);
        p.init(3);
        p.initPercpuReg(2);
        x.writeCurrent(9n);
        assert.deepEqual(snapshot(p, x).values, before.values);
        before = snapshot(p, x);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("re-initialising releases the memory it no longer uses", async (t) => {
  await t.step("12,000 init({ buffer }) keep two regions mapped", () => {
    const p = createPercpu();
    const x = p.defPercpu("X", u32, 1);
    const size = p.percpuAreaLayoutExpected(4).size;
    const pinned = new WeakRef(new ArrayBuffer(size));
    p.init(4, { buffer: pinned.deref()! });
    for (let i = 0; i < 12_000; i++) p.init(4, { buffer: new ArrayBuffer(size) });
    const regions = portOf(p).memory.regions;
    assert.deepEqual(regions.map((r) => r.name), [".percpu", "init(memory)"]);
    assert.ok(regions.every((r) => r.start < 2 ** 30), "addresses stay small integers");
    assert.equal(x.readRemote(3), 1);
  });
  await t.step("2,000 shareAreas() pin only the last buffer", () => {
    const p = createPercpu({ arch: "riscv64" });
    p.defPercpu("X", u32, 1);
    defPercpuCounter(p, "EVENTS");
    const d = p.allocPercpu(u32, 2);
    let last: SharedAreas | null = null;
    for (let i = 0; i < 2000; i++) last = shareAreas(p, 2);
    const buffers = portOf(p).memory.regions.map((r) => r.buffer);
    assert.equal(buffers.length, 4, ".percpu, the areas, one chunk, the pointers");
    assert.ok(buffers.includes(last!.buffer));
    assert.ok(buffers.includes(last!.dynamic[0]));
    assert.equal(d.readRemote(1), 2);
  });
  await t.step("own memory is reused while it is large enough, released when not", () => {
    const p = createPercpu({ arch: "arm" });
    p.defPercpu("X", u32, 1);
    p.init(2);
    const base = p.percpuAreaBase(0);
    p.init(1);
    assert.equal(p.percpuAreaBase(0), base, "reused");
    p.init(64);
    assert.notEqual(p.percpuAreaBase(0), base, "grown elsewhere");
    assert.equal(portOf(p).memory.regions.length, 2, "the smaller one was released");
  });
});

Deno.test("a register, a ref or a machine still pointing into released memory faults", async (t) => {
  for (const arch of ["x86_64", "aarch64", "riscv64"] as const) {
    await t.step(`${arch}: the register`, () => {
      const p = createPercpu({ arch });
      const x = p.defPercpu("X", u32, 1);
      const old = new ArrayBuffer(p.percpuAreaLayoutExpected(2).size);
      p.init(2, { buffer: old });
      p.initPercpuReg(1);
      x.writeCurrent(42);
      p.init(2, { buffer: new ArrayBuffer(old.byteLength) });
      for (const f of [() => x.readCurrent(), () => x.writeCurrent(5), () => x.addCurrent(1)]) {
        assert.throws(
          f,
          (e) =>
            e instanceof FaultError && /no longer mapped/.test(e.message) &&
            /initPercpuReg/.test(e.message),
        );
      }
      assert.equal(new DataView(old).getUint32(64 + x.offset(), true), 42, "old memory untouched");
      p.initPercpuReg(1);
      assert.equal(x.readCurrent(), 1, "the new areas hold the template");
    });
  }
  await t.step("refs and live views", () => {
    const p = createPercpu({ arch: "loongarch64" });
    const x = p.defPercpu("X", u32, 1);
    const s = p.defPercpu("S", struct({ a: u8, b: u32 }), { a: 1, b: 2 });
    const old = new ArrayBuffer(p.percpuAreaLayoutExpected(2).size);
    p.init(2, { buffer: old });
    const ref = x.remoteRefMutRaw(1);
    const view = s.remoteRefMutRaw(1).value;
    const whole = s.remoteRefMutRaw(1);
    ref.value = 77;
    p.init(2);
    const gone = (e: unknown) => e instanceof FaultError && /no longer mapped/.test(String(e));
    assert.throws(() => ref.value, gone);
    assert.throws(() => (ref.value = 5), gone);
    assert.throws(() => view.b, gone);
    assert.throws(() => (view.a = 3), gone);
    assert.throws(() => (whole.value = { a: 1, b: 1 }), gone);
    assert.equal(new DataView(old).getUint32(64 + x.offset(), true), 77, "old memory untouched");
    assert.equal(x.remoteRefRaw(1).value, 1, "fresh refs see the new areas");
  });
  await t.step("a machine whose system was set up again elsewhere", () => {
    const p = createPercpu({ arch: "aarch64" });
    const x = p.defPercpu("X", u32, 0);
    const machine = new Machine({ percpu: p, cpus: 2 });
    machine.spawn(function* (ctx) {
      for (let i = 0; i < 10; i++) yield* ctx.add(x, 1);
    });
    p.init(2, { buffer: new ArrayBuffer(256) });
    let refused = false;
    try {
      const stats = machine.run();
      assert.equal(stats.failures.length, 1);
      assert.ok(stats.failures[0].error instanceof FaultError);
    } catch (e) {
      refused = true;
      assert.ok(e instanceof Error && !(e instanceof TypeError), String(e));
    }
    assert.ok(refused || x.readRemote(0) + x.readRemote(1) === 0, "no increment reached memory");
  });
});

Deno.test("a failed attachShared() leaves the system as it was", async (t) => {
  const creator = createPercpu();
  creator.defPercpu("A", u32, 1);
  defPercpuCounter(creator, "EVENTS");
  const d = creator.allocPercpu(u64, 3n);
  const shared = shareAreas(creator, 2);
  d.writeRemote(1, 30n);

  function fresh(): Percpu {
    const p = createPercpu();
    p.defPercpu("A", u32, 1);
    defPercpuCounter(p, "EVENTS");
    p.allocPercpu(u64, 3n);
    return p;
  }
  const bad: [string, unknown, number, (e: unknown) => boolean][] = [
    ["not an object", 5, 0, (e) => e instanceof TypeError],
    ["no fingerprint", { ...shared, fingerprint: null }, 0, (e) => e instanceof TypeError],
    [
      "a fingerprint without lists",
      { ...shared, fingerprint: { ...shared.fingerprint, variables: "A" } },
      0,
      (e) => e instanceof TypeError,
    ],
    ["a CPU too far", shared, 2, (e) => e instanceof RangeError],
    ["a fractional CPU", shared, 0.5, (e) => e instanceof RangeError],
    [
      "totals too small for the counters",
      { ...shared, totals: new SharedArrayBuffer(0) },
      0,
      (e) => e instanceof RangeError && /totals/.test(String(e)),
    ],
    [
      "areas too small for cpuCount",
      { ...shared, cpuCount: 64 },
      0,
      (e) => e instanceof InitError && e.kind === "InsufficientMemory",
    ],
    [
      "no dynamic chunks",
      { ...shared, dynamic: [] },
      0,
      (e) => e instanceof RangeError && /dynamic chunk 0/.test(String(e)),
    ],
    [
      "another layout",
      { ...shared, fingerprint: { ...shared.fingerprint, stride: 128 } },
      0,
      (e) => e instanceof LayoutMismatchError,
    ],
  ];
  for (const [what, value, cpu, check] of bad) {
    await t.step(what, () => {
      const p = fresh();
      const before = portOf(p).memory.regions.map((r) => [r.name, r.start, r.length]);
      assert.throws(() => attachShared(p, value as SharedAreas, cpu), check);
      assert.equal(portOf(p).areaCount, 0, "not attached");
      assert.deepEqual(portOf(p).memory.regions.map((r) => [r.name, r.start, r.length]), before);
      attachShared(p, shared, 1);
      assert.equal(p.percpuAreaBase(1) - p.percpuAreaBase(0), 64);
    });
  }
  await t.step("then the real thing shares the dynamic variable too", () => {
    const p = fresh();
    attachShared(p, shared, 1);
    const mine = [...portOf(p).memory.regions].length;
    assert.ok(mine >= 3);
    assert.throws(() => p.defPercpu("B", u8, 0), DefinitionError);
  });
});
