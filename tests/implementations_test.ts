// The three implementations a feature set selects — the crate's imp.rs,
// naive.rs and its custom-base line — where they differ: options, bases,
// offsets, registers, symbols, read_remote/write_remote, init(0).

import assert from "node:assert/strict";
import {
  ARCHES,
  createPercpu,
  FaultError,
  type Feature,
  InitError,
  NotInitializedError,
  type PercpuVar,
  type ScalarPercpuVar,
  struct,
  u16,
  u32,
  u64,
  u8,
} from "../mod.ts";
import { type KernelGuardIf, setKernelGuardIf } from "../lib/guards.ts";
import { attachShared, shareAreas } from "../lib/workers/mod.ts";
import { portOf } from "../lib/_port.ts";

/** Counts the guards `f` takes. */
function guardsTaken(f: () => void): number {
  let taken = 0;
  const counter: KernelGuardIf = { disablePreempt: () => taken++, enablePreempt: () => {} };
  const previous = setKernelGuardIf(counter);
  try {
    f();
  } finally {
    setKernelGuardIf(previous);
  }
  return taken;
}

Deno.test("createPercpu checks the feature set and custom-base's bases", async (t) => {
  await t.step("conflicting features name both and why", () => {
    for (const pair of [["sp-naive", "custom-base"], ["custom-base", "non-zero-vma"]]) {
      assert.throws(
        () => createPercpu({ features: pair as Feature[] }),
        (e) => e instanceof RangeError && e.message.includes(`${pair[0]} and ${pair[1]}`),
      );
    }
  });
  await t.step("a feature that is not a string is a TypeError", () => {
    assert.throws(() => createPercpu({ features: [7 as never] }), TypeError);
  });
  await t.step("bases only with custom-base, and only a function", () => {
    const bases = () => ({ buffer: new ArrayBuffer(64) });
    assert.throws(() => createPercpu({ bases }), /custom-base feature only/);
    assert.throws(
      () => createPercpu({ features: ["custom-base"], bases: 5 as never }),
      (e) => e instanceof TypeError && /function/.test(e.message),
    );
    assert.equal(createPercpu({ features: ["custom-base"], bases }).features[0], "custom-base");
  });
});

Deno.test("custom-base: offsets from the link start, the plain base in the register", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch, features: ["custom-base"] });
      const a = p.defPercpu("A", u8, 1);
      const b = p.defPercpu("B", u32, 2);
      const { _percpu_load_start, _percpu_start, _percpu_load_end } = p.symbols();
      assert.equal(_percpu_load_start, _percpu_start, "linked at its own address");
      assert.notEqual(_percpu_load_start, 0);
      for (const x of [a, b]) assert.equal(x.offset(), x.symbolVma() - _percpu_load_start);
      assert.equal(_percpu_load_end - _percpu_load_start, p.percpuAreaSize());
      assert.equal(p.percpuAreaNum(), 1, "the section holds the template only");
      assert.throws(
        () => p.initInPlace(),
        (e) => e instanceof TypeError && /init\(\)/.test(String(e)),
      );
      p.init(3);
      p.initPercpuReg(2);
      assert.equal(portOf(p).context.readSysreg(p.percpuReg), p.percpuAreaBase(2));
      assert.equal(b.currentPtr(), p.percpuAreaBase(2) + b.offset());
      assert.match(p.linkerScript(), /INSERT AFTER \.data;/);
      assert.doesNotMatch(p.linkerScript(), /CPU_NUM|\* \d/);
    });
  }
});

Deno.test("custom-base: the platform's bases are checked before anything changes", async (t) => {
  const make = (bases: (cpu: number) => unknown) => {
    const p = createPercpu({ arch: "riscv64", features: ["custom-base"], bases: bases as never });
    const x = p.defPercpu("X", u64, 1n);
    return { p, x };
  };
  const buffer = new ArrayBuffer(4096);
  const cases: [string, (cpu: number) => unknown, (e: unknown) => boolean][] = [
    ["a null base", () => null, (e) => e instanceof InitError && e.kind === "InvalidBase"],
    [
      "an unaligned base",
      (cpu) => ({ buffer, byteOffset: 8 + 128 * cpu }),
      (e) => e instanceof InitError && e.kind === "UnalignedBase",
    ],
    [
      "too little memory",
      () => ({ buffer: new ArrayBuffer(4) }),
      (e) => e instanceof InitError && e.kind === "InsufficientMemory",
    ],
    [
      "two CPUs in one place",
      () => ({ buffer, byteOffset: 0 }),
      (e) => e instanceof InitError && /CPU 0 and CPU 1 overlap/.test(String(e)),
    ],
    ["not memory", () => 42, (e) => e instanceof TypeError],
    [
      "a platform that throws",
      (cpu) => {
        if (cpu === 1) throw new Error("no such CPU");
        return { buffer };
      },
      (e) => e instanceof Error && e.message === "no such CPU",
    ],
  ];
  for (const [what, bases, check] of cases) {
    await t.step(what, () => {
      const { p, x } = make(bases);
      assert.throws(() => p.init(2), check);
      assert.throws(() => p.percpuAreaBase(0), NotInitializedError);
      assert.equal(portOf(p).memory.regions.length, 0);
      assert.throws(() => x.readCurrent(), FaultError);
    });
  }
  await t.step("memory is refused when bases place the areas", () => {
    const { p } = make((cpu) => ({ buffer, byteOffset: 64 * cpu }));
    assert.throws(() => p.init(1, { buffer }), /takes no memory/);
    assert.throws(() => p.attach(1, { buffer }), /cannot adopt/);
    assert.equal(p.init(2), 2);
  });
});

Deno.test("custom-base without bases shares its areas with Workers", () => {
  const define = () => {
    const p = createPercpu({ arch: "aarch64", features: ["custom-base"] });
    return { p, x: p.defPercpu("X", u32, 5), d: p.allocPercpu(u16, 1) };
  };
  const creator = define();
  const shared = shareAreas(creator.p, 2);
  const worker = define();
  attachShared(worker.p, shared, 1);
  worker.x.addCurrent(10);
  worker.d.addCurrent(2);
  assert.equal(creator.x.readRemote(1), 15);
  assert.equal(creator.d.readRemote(1), 3);
});

Deno.test("readRemote/writeRemote on every implementation, guarded under preempt", async (t) => {
  const sets: Feature[][] = [[], ["preempt"], ["custom-base", "preempt"], ["sp-naive", "preempt"]];
  for (const features of sets) {
    await t.step(features.join(" + ") || "default", () => {
      const p = createPercpu({ arch: "arm", features });
      const x = p.defPercpu("X", u64, 1n);
      const s = p.defPercpu("S", struct({ a: u8, b: u16 }), { a: 1, b: 2 });
      p.init(2);
      const cpu = features.includes("sp-naive") ? 0 : 1;
      const taken = guardsTaken(() => {
        x.writeRemote(cpu, 0xffff_ffff_0000_0001n);
        s.writeRemote(cpu, { a: 9, b: 8 });
        assert.equal(x.readRemote(cpu), 0xffff_ffff_0000_0001n);
        const copy = s.readRemote(cpu);
        assert.deepEqual(copy, { a: 9, b: 8 });
        copy.a = 100; // a copy, not a live view
      });
      assert.equal(s.readRemote(cpu).a, 9);
      assert.equal(taken, features.includes("preempt") ? 4 : 0);
      assert.throws(() => x.writeRemote(cpu, -1n), RangeError);
      assert.throws(() => s.writeRemote(cpu, { a: 1 } as never), TypeError);
      assert.deepEqual(s.readRemote(cpu), { a: 9, b: 8 }, "a refused write writes nothing");
    });
  }
});

Deno.test("init(0) returns 0, as the crate's init(base, 0)", () => {
  for (const features of [[], ["custom-base"]] as Feature[][]) {
    const p = createPercpu({ features });
    p.defPercpu("X", u32, 0);
    assert.equal(p.init(0), 0);
    assert.throws(() => p.percpuAreaBase(0), /no areas are initialised/);
    assert.equal(p.init(2), 2);
  }
  assert.equal(createPercpu({ features: ["sp-naive"] }).init(0), 1, "naive.rs returns 1");
});

Deno.test("variables are typed without casts", () => {
  const p = createPercpu();
  const scalar: ScalarPercpuVar<"u32"> = p.defPercpu("A", u32, 1);
  const composite: PercpuVar<typeof pair> = p.defPercpu("B", pair, { a: 1, b: 2 });
  const all: PercpuVar[] = p.variables();
  assert.deepEqual(all.map((v) => v.name), ["SELF_PTR", "A", "B"]);
  p.init(1);
  p.initPercpuReg(0);
  const n: number = scalar.readCurrent();
  const b: number = composite.readRemote(0).b;
  assert.equal(n + b, 3);
});

const pair = struct({ a: u8, b: u16 });
