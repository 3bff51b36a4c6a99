// Dynamic per-CPU allocation (`allocPercpu`, after Linux's alloc_percpu):
// growth, reuse, use after free, per-CPU independence, re-initialisation,
// the simulator and Workers.
//
// Workers load their modules from files: run with --allow-read.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  allocPercpu,
  type Arch,
  ARCHES,
  array,
  createPercpu,
  DefinitionError,
  type DynamicPercpuVar,
  FaultError,
  type Feature,
  init,
  initPercpuReg,
  type Percpu,
  struct,
  u16,
  u32,
  u64,
  u8,
} from "../mod.ts";
import { checkDfs, type ExploreTest, Machine } from "../sched/mod.ts";
import { portOf } from "../lib/_port.ts";

/** A system whose areas are 64 bytes apart (one u64 of padding beyond SELF_PTR or alone). */
function system(arch: Arch = "x86_64", features: Feature[] = [], cpus = 3): Percpu {
  const p = createPercpu({ arch, features });
  p.defPercpu("PAD", u64, 0n);
  p.init(cpus);
  p.initPercpuReg(0);
  return p;
}

/** The chunks' regions of a system. */
function chunkRegions(p: Percpu): string[] {
  return portOf(p).memory.regions.map((r) => r.name).filter((n) => n.includes("chunk"));
}

Deno.test("each CPU has its own copy, starting at the initial value", async (t) => {
  for (const arch of ARCHES) {
    for (const features of [[], ["preempt"], ["non-zero-vma"], ["custom-base"]] as Feature[][]) {
      await t.step([arch, ...features].join(" + "), () => {
        const p = system(arch, features);
        const d = p.allocPercpu(u32, 5);
        const s = p.allocPercpu(struct({ a: u8, b: u16 }), { a: 1, b: 2 });
        for (let cpu = 0; cpu < 3; cpu++) {
          p.initPercpuReg(cpu);
          assert.equal(d.readCurrent(), 5);
          d.addCurrent(cpu + 1);
          s.withCurrent((ref) => ref.value.b += cpu);
        }
        assert.deepEqual([0, 1, 2].map((c) => d.readRemote(c)), [6, 7, 8]);
        assert.deepEqual([0, 1, 2].map((c) => s.readRemote(c).b), [2, 3, 4]);
        for (let cpu = 0; cpu < 3; cpu++) {
          assert.equal(d.remotePtr(cpu), p.percpuAreaBase(cpu) + d.offset());
          p.initPercpuReg(cpu);
          assert.equal(d.currentPtr(), d.remotePtr(cpu));
          assert.equal(portOf(p).cpuOfAddress(d.remotePtr(cpu)), cpu);
        }
      });
    }
  }
});

Deno.test("chunks grow on demand and freed space is reused", () => {
  const p = system();
  const stride = p.percpuAreaLayoutExpected(1).size;
  assert.equal(stride, 64);
  const first = Array.from({ length: 8 }, () => p.allocPercpu(u64));
  assert.equal(chunkRegions(p).length, 1, "eight u64 fill one 64-byte unit");
  const offsets = first.map((d) => d.offset());
  assert.equal(new Set(offsets).size, 8);
  const ninth = p.allocPercpu(u64);
  assert.equal(chunkRegions(p).length, 2, "the ninth needs a second chunk");
  assert.ok(!offsets.includes(ninth.offset()));

  first[3].free();
  first[4].free();
  const reused = p.allocPercpu(u16, 9);
  assert.equal(reused.offset(), offsets[3], "first fit in the freed space");
  const merged = p.allocPercpu(u64);
  assert.ok([offsets[3] + 8, offsets[4]].includes(merged.offset()));
  assert.equal(chunkRegions(p).length, 2, "no chunk was added");
  assert.equal(reused.readRemote(2), 9, "the reused space holds the new initial value");

  // Alloc/free cycles do not grow anything.
  const regions = portOf(p).memory.regions.length;
  for (let i = 0; i < 1000; i++) p.allocPercpu(u32).free();
  assert.equal(portOf(p).memory.regions.length, regions);
});

Deno.test("a freed variable's accessors throw, and nothing else changes", () => {
  const p = system("aarch64");
  const keep = p.allocPercpu(u32, 1);
  const d = p.allocPercpu(u32, 2);
  const s = p.allocPercpu(array(u8, 4), [1, 2, 3, 4]);
  d.free();
  s.free();
  assert.equal(d.freed, true);
  assert.equal(keep.freed, false);
  const attempts: [string, () => unknown][] = [
    ["readCurrent", () => d.readCurrent()],
    ["writeCurrent", () => d.writeCurrent(3)],
    ["addCurrent", () => d.addCurrent(1)],
    ["readCurrentRaw", () => d.readCurrentRaw()],
    ["withCurrent", () => d.withCurrent((r) => r.value)],
    ["resetToInit", () => d.resetToInit()],
    ["currentPtr", () => d.currentPtr()],
    ["currentRefRaw", () => d.currentRefRaw()],
    ["remotePtr", () => d.remotePtr(1)],
    ["remoteRefMutRaw", () => d.remoteRefMutRaw(1)],
    ["readRemote", () => d.readRemote(0)],
    ["writeRemote", () => d.writeRemote(0, 1)],
    ["offset", () => d.offset()],
    ["disassemble", () => d.disassemble("read")],
    ["free", () => d.free()],
    ["struct withCurrent", () => s.withCurrent((r) => r.value)],
    ["struct readRemote", () => s.readRemote(0)],
  ];
  for (const [name, f] of attempts) {
    assert.throws(f, (e) => e instanceof FaultError && /freed/.test(e.message), name);
  }
  assert.equal(keep.readCurrent(), 1);
  assert.equal(portOf(p).owns(d), false, "no longer the system's");
  assert.equal(portOf(p).owns(keep), true);
});

Deno.test("allocPercpu refuses bad input and changes nothing", async (t) => {
  await t.step("a type, a value, sp-naive", () => {
    const p = system();
    const before = portOf(p).memory.regions.length;
    assert.throws(() => p.allocPercpu("u32" as never), TypeError);
    assert.throws(() => p.allocPercpu(u8, 256), RangeError);
    assert.throws(() => p.allocPercpu(u8, "1" as never), TypeError);
    assert.throws(() => p.allocPercpu(struct({ a: u8 }), {} as never), TypeError);
    assert.equal(portOf(p).memory.regions.length, before);
    const naive = createPercpu({ features: ["sp-naive"] });
    assert.throws(() => naive.allocPercpu(u32), /sp-naive/);
  });
  await t.step("an object larger than a unit names the stride and the way out", () => {
    const p = createPercpu({ arch: "riscv64" });
    p.defPercpu("A", u32, 0);
    assert.throws(() => p.allocPercpu(array(u8, 65)), /65 bytes.*unit is 64 bytes.*padding/s);
    // The refusal did not fix the layout: more variables can be defined, then it fits.
    p.defPercpu("DYNAMIC_RESERVE", array(u8, 128), new Array(128).fill(0));
    const big = p.allocPercpu(array(u8, 65));
    p.init(2);
    big.writeRemote(1, new Array(65).fill(3));
    assert.equal(big.readRemote(1)[64], 3);
  });
  await t.step("the first allocation fixes the layout, as init() does", () => {
    const p = createPercpu();
    p.defPercpu("A", u32, 0);
    const d = p.allocPercpu(u32, 4);
    assert.throws(() => p.defPercpu("B", u32, 0), DefinitionError);
    assert.throws(() => d.readCurrent(), FaultError, "no areas yet");
    p.init(2);
    p.initPercpuReg(1);
    assert.equal(d.readCurrent(), 4);
  });
});

Deno.test("re-initialising moves the chunks with the areas and resets the values", () => {
  const p = system("loongarch64", [], 2);
  const d = p.allocPercpu(u32, 10);
  d.writeRemote(1, 99);
  const offset = d.offset();
  p.init(2);
  assert.equal(d.offset(), offset, "same areas, same chunk");
  assert.equal(d.readRemote(1), 10, "the initial value again, as the template");
  d.writeRemote(0, 5);
  const buffer = new ArrayBuffer(p.percpuAreaLayoutExpected(4).size);
  p.init(4, { buffer });
  p.initPercpuReg(3);
  assert.deepEqual([0, 1, 2, 3].map((c) => d.readRemote(c)), [10, 10, 10, 10]);
  d.addCurrent(1);
  assert.equal(d.readRemote(3), 11);
  assert.equal(chunkRegions(p).length, 1, "the old chunk was released");
});

Deno.test("the default system has allocPercpu too", () => {
  init(2);
  initPercpuReg(1);
  const d: DynamicPercpuVar<typeof u16> = allocPercpu(u16, 3);
  assert.equal(d.readRemote(0), 3);
  d.free();
});

Deno.test("random alloc/free sequences never overlap and keep every value", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constantFrom(u8, u16, u32, u64), fc.nat(20)), { maxLength: 60 }),
      (steps) => {
        const p = system("arm", [], 2);
        const live: { v: DynamicPercpuVar; value: number | bigint }[] = [];
        let n = 0;
        for (const step of steps) {
          if (typeof step === "number") {
            if (live.length === 0) continue;
            const [gone] = live.splice(step % live.length, 1);
            gone.v.free();
            continue;
          }
          n++;
          const value = step === u64 ? BigInt(n) : n % 200;
          const v = p.allocPercpu(step as typeof u32, value as never) as DynamicPercpuVar;
          live.push({ v, value });
        }
        const spans = live.map(({ v }) => [v.remotePtr(1), v.remotePtr(1) + v.size]);
        spans.sort((a, b) => a[0] - b[0]);
        for (let i = 1; i < spans.length; i++) assert.ok(spans[i - 1][1] <= spans[i][0]);
        for (const { v, value } of live) {
          assert.equal(v.readRemote(0), value);
          assert.equal(v.readRemote(1), value);
        }
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("the simulator runs tasks on dynamic variables", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch, features: ["preempt"] });
      p.defPercpu("PAD", u64, 0n);
      const machine = new Machine({ percpu: p, cpus: 2, seed: 5 });
      const hits = p.allocPercpu(u64);
      for (let t = 0; t < 3; t++) {
        machine.spawn(function* (ctx) {
          for (let i = 0; i < 40; i++) {
            yield* ctx.add(hits, 1n);
            yield* ctx.withCurrent(hits, (v: bigint) => v + 1n);
          }
        });
      }
      const stats = machine.run();
      assert.equal(stats.failures.length, 0);
      assert.equal(stats.completed, true);
      assert.equal(stats.wrongCpuAccesses, 0, "guarded accesses and the pointer load are fine");
      assert.equal(hits.readRemote(0) + hits.readRemote(1), 240n);
    });
  }
  await t.step("unguarded read-modify-writes through the pointer lose updates and are seen", () => {
    const p = createPercpu({ arch: "riscv64" });
    p.defPercpu("PAD", u64, 0n);
    // Three tasks on two CPUs: the balancer moves tasks, preempted mid-access too.
    const machine = new Machine({ percpu: p, cpus: 2, seed: 2 });
    const hits = p.allocPercpu(u64);
    for (let t = 0; t < 3; t++) {
      machine.spawn(function* (ctx) {
        for (let i = 0; i < 100; i++) yield* ctx.withCurrent(hits, (v: bigint) => v + 1n);
      });
    }
    const stats = machine.run();
    assert.ok(stats.wrongCpuAccesses > 0);
    assert.ok(hits.readRemote(0) + hits.readRemote(1) < 300n);
  });
});

Deno.test("the explorer finds the race on a dynamic variable, and proves the guard", () => {
  const test = (features: Feature[]): ExploreTest => {
    const percpu = createPercpu({ arch: "riscv64", features });
    percpu.defPercpu("PAD", u64, 0n);
    const hits = percpu.allocPercpu(u64);
    return {
      name: `dynamic:${features.join("+")}`,
      percpu,
      cpus: 2,
      spawn(machine) {
        // Three tasks on two CPUs: with two, each task runs alone on its CPU
        // and the Linux-like scheduler never preempts or moves one mid-access.
        for (let t = 0; t < 3; t++) {
          machine.spawn(function* (ctx) {
            yield* ctx.withCurrent(hits, (v: bigint) => v + 1n);
          });
        }
      },
      check: () => hits.readRemote(0) + hits.readRemote(1) === 3n ? null : "lost update",
    };
  };
  const racy = checkDfs(test([]), { maxPreemptions: 2 });
  assert.equal(racy.boundReached, 1, "no race without a preemption; one is enough");
  assert.deepEqual(racy.violations.map((v) => [v.kind, v.preemptions]), [
    ["lost-update", 1],
    ["wrong-cpu", 1],
  ]);
  assert.equal(racy.violation?.kind, "wrong-cpu", "the pointer hits the old CPU's area first");
  assert.match(racy.violation!.messages[0], /hit another CPU's area/);
  const guarded = checkDfs(test(["preempt"]), { maxPreemptions: 2 });
  assert.equal(guarded.violation, null, "each schedule starts from the initial values");
  assert.equal(guarded.complete, true);
});
