// The `percpu` crate's own test suite (`percpu/tests/test_percpu.rs`), ported
// and run on every architecture and feature set of the contract. The crate
// runs it only on Linux under `non-zero-vma` or `sp-naive`; here one system
// per combination makes the whole matrix cheap.

import assert from "node:assert/strict";
import {
  type Arch,
  ARCHES,
  array,
  bool,
  createPercpu,
  type Feature,
  InitError,
  type Percpu,
  struct,
  u16,
  u32,
  u64,
  u8,
  usize,
} from "../mod.ts";
import { type KernelGuardIf, setKernelGuardIf } from "../lib/guards.ts";
import { portOf } from "../lib/_port.ts";
import { archTable } from "../lib/isa/mod.ts";

/** `struct Struct { foo: usize, bar: u8 }` of the crate's test. */
const Struct = struct({ foo: usize, bar: u8 });

function defineCrateVars(p: Percpu) {
  return {
    BOOL: p.defPercpu("BOOL", bool, true),
    U8: p.defPercpu("U8", u8, 1),
    U16: p.defPercpu("U16", u16, 2),
    U32: p.defPercpu("U32", u32, 3),
    U64: p.defPercpu("U64", u64, 4n),
    USIZE: p.defPercpu("USIZE", usize, 5),
    STRUCT: p.defPercpu("STRUCT", Struct, { foo: 6, bar: 7 }),
  };
}

type CrateVars = ReturnType<typeof defineCrateVars>;

function testerLocalPtr(v: CrateVars, base: number): void {
  for (const x of Object.values(v)) {
    assert.equal(x.currentPtr(), base + x.offset(), `${x.name}.currentPtr()`);
  }
}

function testerLocalIsInit(v: CrateVars): void {
  assert.equal(v.BOOL.readCurrent(), true);
  assert.equal(v.U8.readCurrent(), 1);
  assert.equal(v.U16.readCurrent(), 2);
  assert.equal(v.U32.readCurrent(), 3);
  assert.equal(v.U64.readCurrent(), 4n);
  assert.equal(v.USIZE.readCurrent(), 5);
  const bar = v.STRUCT.withCurrent((s) => {
    assert.equal(s.value.foo, 6);
    return s.value.bar;
  });
  assert.equal(bar, 7, "withCurrent returns the callback's result");
}

function testerLocalRw(v: CrateVars): void {
  // The crate writes `true` over `true`; `false` makes the write observable.
  v.BOOL.writeCurrent(false);
  v.U8.writeCurrent(123);
  v.U16.writeCurrent(0xabcd);
  v.U32.writeCurrent(0xdead_beef);
  v.U64.writeCurrent(0xa2ce_a2ce_a2ce_a2cen);
  v.USIZE.writeCurrent(0xffff_0000);
  v.STRUCT.withCurrent((s) => {
    s.value.foo = 0x2333;
    s.value.bar = 100;
  });

  assert.equal(v.BOOL.readCurrent(), false);
  assert.equal(v.U8.readCurrent(), 123);
  assert.equal(v.U16.readCurrent(), 0xabcd);
  assert.equal(v.U32.readCurrent(), 0xdead_beef);
  assert.equal(v.U64.readCurrent(), 0xa2ce_a2ce_a2ce_a2cen);
  assert.equal(v.USIZE.readCurrent(), 0xffff_0000);
  v.STRUCT.withCurrent((s) => {
    assert.equal(s.value.foo, 0x2333);
    assert.equal(s.value.bar, 100);
  });
}

function testerResetToInit(v: CrateVars): void {
  for (const x of Object.values(v)) x.resetToInit();
}

function testerRemoteIsInit(p: Percpu, v: CrateVars, remoteId: number): void {
  for (const x of Object.values(v)) {
    assert.equal(x.remotePtr(remoteId), p.percpuAreaBase(remoteId) + x.offset(), x.name);
  }
  assert.equal(v.BOOL.remoteRefRaw(remoteId).value, true);
  assert.equal(v.U8.remoteRefRaw(remoteId).value, 1);
  assert.equal(v.U16.remoteRefRaw(remoteId).value, 2);
  assert.equal(v.U32.remoteRefRaw(remoteId).value, 3);
  assert.equal(v.U64.remoteRefRaw(remoteId).value, 4n);
  assert.equal(v.USIZE.remoteRefRaw(remoteId).value, 5);
  const remoteStruct = v.STRUCT.remoteRefRaw(remoteId).value;
  assert.equal(remoteStruct.foo, 6);
  assert.equal(remoteStruct.bar, 7);
}

function testerRemoteRw(v: CrateVars, remoteId: number): void {
  v.BOOL.remoteRefMutRaw(remoteId).value = false;
  v.U8.remoteRefMutRaw(remoteId).value = 222;
  v.U16.remoteRefMutRaw(remoteId).value = 0x1234;
  v.U32.remoteRefMutRaw(remoteId).value = 0xf00d_f00d;
  v.U64.remoteRefMutRaw(remoteId).value = 0xfeed_feed_feed_feedn;
  v.USIZE.remoteRefMutRaw(remoteId).value = 0x0000_ffff;
  v.STRUCT.remoteRefMutRaw(remoteId).value = { foo: 0x2333, bar: 100 };

  assert.equal(v.BOOL.remoteRefRaw(remoteId).value, false);
  assert.equal(v.U8.remoteRefRaw(remoteId).value, 222);
  assert.equal(v.U16.remoteRefRaw(remoteId).value, 0x1234);
  assert.equal(v.U32.remoteRefRaw(remoteId).value, 0xf00d_f00d);
  assert.equal(v.U64.remoteRefRaw(remoteId).value, 0xfeed_feed_feed_feedn);
  assert.equal(v.USIZE.remoteRefRaw(remoteId).value, 0x0000_ffff);
  const remoteStruct = v.STRUCT.remoteRefRaw(remoteId).value;
  assert.equal(remoteStruct.foo, 0x2333);
  assert.equal(remoteStruct.bar, 100);
}

function testPercpuLocal(v: CrateVars, base: number): void {
  testerLocalPtr(v, base);
  testerLocalIsInit(v);
  testerLocalRw(v);
  testerResetToInit(v);
  testerLocalIsInit(v);
}

function testPercpuRemote(p: Percpu, v: CrateVars, remoteId: number): void {
  testerRemoteIsInit(p, v, remoteId);
  testerRemoteRw(v, remoteId);
  // A remote write must leave the current CPU's copy alone.
  testerLocalIsInit(v);
}

/**
 * Runs `f` with a kernel guard interface that counts preemption depth, and
 * checks it is balanced afterwards; returns how many guards were taken.
 */
function countingGuards(f: () => void): number {
  let depth = 0;
  let taken = 0;
  const counter: KernelGuardIf = {
    disablePreempt() {
      depth++;
      taken++;
    },
    enablePreempt() {
      depth--;
      assert.ok(depth >= 0, "enablePreempt without a matching disablePreempt");
    },
  };
  const previous = setKernelGuardIf(counter);
  try {
    f();
  } finally {
    setKernelGuardIf(previous);
  }
  assert.equal(depth, 0, "every disablePreempt has its enablePreempt");
  return taken;
}

function multiCoreInPlace(arch: Arch, features: Feature[]): void {
  const p = createPercpu({ arch, features });
  const v = defineCrateVars(p);

  assert.equal(p.initInPlace(), 4);
  assert.equal(p.percpuAreaNum(), 4);
  p.initPercpuReg(0);

  const baseFromReg = p.readPercpuReg();
  const baseCalculated = p.percpuAreaBase(0);
  assert.equal(baseFromReg, baseCalculated);
  // CPU 0's area is the section itself, at its load address.
  assert.equal(baseCalculated, p.symbols()._percpu_start);
  // The register itself holds the base minus symbol_vma(_percpu_load_start).
  assert.equal(
    portOf(p).context.readSysreg(p.percpuReg),
    baseFromReg - archTable(p.arch).symbolVma(p.symbols()._percpu_load_start),
  );

  testPercpuLocal(v, baseFromReg);
  testPercpuRemote(p, v, 1);
  testPercpuRemote(p, v, 2);
  testPercpuRemote(p, v, 3);
}

function multiCoreDynamic(arch: Arch, features: Feature[]): void {
  const p = createPercpu({ arch, features });
  const v = defineCrateVars(p);

  const layout = p.percpuAreaLayoutExpected(4);
  assert.equal(layout.align, 64);
  // A non-zero, 64-aligned offset shows the areas start where the caller said.
  const byteOffset = 128;
  const buffer = new ArrayBuffer(byteOffset + layout.size);
  assert.equal(p.init(4, { buffer, byteOffset }), 4);
  p.initPercpuReg(0);

  const mapped = portOf(p).memory.regions.find((r) => r.buffer === buffer);
  assert.ok(mapped, "init() maps the caller's buffer");
  const base = mapped.start + byteOffset;
  assert.equal(p.readPercpuReg(), base);
  assert.equal(p.percpuAreaBase(0), base);

  testPercpuLocal(v, base);
  testPercpuRemote(p, v, 1);
  testPercpuRemote(p, v, 2);
  testPercpuRemote(p, v, 3);

  // The copies live in the caller's memory, one stride apart.
  const stride = layout.size / 4;
  const bytes = new DataView(buffer);
  for (let cpu = 1; cpu < 4; cpu++) {
    assert.equal(bytes.getUint32(byteOffset + cpu * stride + v.U32.offset(), true), 0xf00d_f00d);
  }
  assert.equal(bytes.getUint32(byteOffset + v.U32.offset(), true), 3);
}

/**
 * custom-base's platform bases: each CPU's area where `_percpu_base_ptr`
 * says, here in separate buffers at odd (but 64-byte aligned) offsets.
 */
function customBases(arch: Arch, features: Feature[]): void {
  const buffers = [0, 1, 2, 3].map(() => new ArrayBuffer(8192));
  const p = createPercpu({
    arch,
    features,
    bases: (cpu) => ({ buffer: buffers[cpu], byteOffset: 64 * (3 - cpu) }),
  });
  const v = defineCrateVars(p);
  assert.equal(p.init(4), 4);
  const bases = [0, 1, 2, 3].map((cpu) => p.percpuAreaBase(cpu));
  assert.equal(new Set(bases.map((b, cpu) => b - cpu * 64)).size, 4, "not one stride apart");
  p.initPercpuReg(0);
  // The register holds the plain base; offset() is the address − the link start.
  assert.equal(portOf(p).context.readSysreg(p.percpuReg), bases[0]);
  assert.equal(p.readPercpuReg(), bases[0]);
  testPercpuLocal(v, bases[0]);
  testPercpuRemote(p, v, 1);
  testPercpuRemote(p, v, 2);
  testPercpuRemote(p, v, 3);
  // The copies are in the platform's memory.
  assert.equal(new DataView(buffers[2]).getUint32(64 + v.U32.offset(), true), 0xf00d_f00d);
  // read_remote / write_remote, the custom-base line's additions.
  v.U16.writeRemote(3, 0x7777);
  assert.equal(v.U16.readRemote(3), 0x7777);
  assert.deepEqual(v.STRUCT.readRemote(3), { foo: 0x2333, bar: 100 });
  v.STRUCT.writeRemote(3, { foo: 1, bar: 2 });
  assert.deepEqual(v.STRUCT.readRemote(3), { foo: 1, bar: 2 });
  testerLocalIsInit(v);
}

function initRejectsInvalidBase(arch: Arch, features: Feature[]): void {
  const p = createPercpu({ arch, features });
  defineCrateVars(p);
  assert.throws(
    () => p.init(1, { buffer: null as unknown as ArrayBuffer }),
    (e) => e instanceof InitError && e.kind === "InvalidBase",
  );
  const layout = p.percpuAreaLayoutExpected(1);
  const buffer = new ArrayBuffer(layout.size + 64);
  assert.throws(
    () => p.init(1, { buffer, byteOffset: 1 }),
    (e) => e instanceof InitError && e.kind === "UnalignedBase",
  );
}

function spNaive(arch: Arch, features: Feature[]): void {
  const p = createPercpu({ arch, features });
  const v = defineCrateVars(p);

  assert.equal(p.initInPlace(), 1);
  p.initPercpuReg(0);
  assert.equal(p.readPercpuReg(), 0);
  testPercpuLocal(v, 0);

  // There is no register: writes do nothing and reads stay 0.
  p.writePercpuReg(0x1000);
  assert.equal(p.readPercpuReg(), 0);
  testerLocalIsInit(v);

  // init() ignores its memory, even a null base, and its count, and reports one CPU.
  assert.equal(p.init(1, { buffer: null as unknown as ArrayBuffer }), 1);
  assert.equal(p.init(4), 1);
  assert.equal(p.init(0), 1);
  assert.equal(p.percpuAreaNum(), 1);
  assert.equal(p.percpuAreaSize(), 0);
  assert.equal(p.percpuAreaLayoutExpected(4).size, 0);
  // naive.rs: percpu_area_base(_) is 0, init_percpu_reg(_) does nothing, and
  // every CPU's "copy" is the one global.
  for (const cpu of [0, 1, 7]) assert.equal(p.percpuAreaBase(cpu), 0);
  p.initPercpuReg(3);
  assert.equal(p.readPercpuReg(), 0);
  for (const x of Object.values(v)) {
    assert.equal(x.remotePtr(5), x.currentPtr(), `${x.name}: CPU 5's copy is the global`);
  }
  v.U32.remoteRefMutRaw(2).value = 0x2222;
  assert.equal(v.U32.readCurrent(), 0x2222);
  v.U32.writeCurrent(3);
}

function checkSymbolAddresses(arch: Arch, features: Feature[]): void {
  const p = createPercpu({ arch, features });
  const v = defineCrateVars(p);
  const { _percpu_load_start } = p.symbols();
  if (features.includes("sp-naive")) {
    for (const x of Object.values(v)) {
      assert.equal(x.offset(), x.symbolVma(), `${x.name}: a plain global`);
      assert.equal(x.currentPtr(), x.offset(), `${x.name}: currentPtr is the global`);
    }
    return;
  }
  if (features.includes("non-zero-vma") || features.includes("custom-base")) {
    assert.notEqual(_percpu_load_start, 0);
  } else {
    assert.equal(_percpu_load_start, 0);
  }
  for (const x of Object.values(v)) {
    // offset() = symbol_vma(X) − symbol_vma(_percpu_load_start), each as the arch
    // materialises it (AArch64 keeps 16 bits of both).
    // custom-base computes current_ptr in Rust: nothing is truncated there.
    const loadStartVma = p.hasFeature("custom-base")
      ? _percpu_load_start
      : archTable(p.arch).symbolVma(_percpu_load_start);
    assert.equal(x.offset(), x.symbolVma() - loadStartVma, x.name);
  }
}

const FEATURE_SETS: Feature[][] = [
  [],
  ["preempt"],
  ["non-zero-vma"],
  ["sp-naive"],
  ["sp-naive", "preempt"],
  ["custom-base"],
  ["custom-base", "preempt"],
];

const COMBINATIONS: [Arch, Feature[]][] = [
  ...ARCHES.flatMap((arch) => FEATURE_SETS.map((f): [Arch, Feature[]] => [arch, f])),
  ["aarch64", ["arm-el2"]],
  ["aarch64", ["arm-el2", "preempt"]],
  ["aarch64", ["arm-el2", "custom-base"]],
];

Deno.test("crate test suite on every arch and feature set", async (t) => {
  for (const [arch, features] of COMBINATIONS) {
    const label = [arch, ...features].join(" + ");
    const guarded = features.includes("preempt");
    await t.step(label, async (t) => {
      await t.step("symbol addresses and offsets", () => checkSymbolAddresses(arch, features));
      if (features.includes("sp-naive")) {
        await t.step("single CPU (test_percpu_sp_naive)", () => {
          const taken = countingGuards(() => spNaive(arch, features));
          assert.equal(taken > 0, guarded);
        });
        return;
      }
      if (features.includes("custom-base")) {
        await t.step("areas at the platform's bases (custom-base)", () => {
          const taken = countingGuards(() => customBases(arch, features));
          assert.equal(taken > 0, guarded);
        });
      } else {
        await t.step("init_in_place (test_percpu_multi_core_in_place)", () => {
          const taken = countingGuards(() => multiCoreInPlace(arch, features));
          assert.equal(taken > 0, guarded);
        });
      }
      await t.step("init with memory (test_percpu_multi_core_dynamic)", () => {
        const taken = countingGuards(() => multiCoreDynamic(arch, features));
        assert.equal(taken > 0, guarded);
      });
      await t.step("init rejects invalid bases", () => initRejectsInvalidBase(arch, features));
    });
  }
});

Deno.test("arm-el2: the per-CPU base lives in TPIDR_EL2, so a guest's TPIDR_EL1 cannot move it", () => {
  const p = createPercpu({ arch: "aarch64", features: ["arm-el2"] });
  const v = defineCrateVars(p);
  p.init(2);
  p.initPercpuReg(1);
  assert.equal(p.percpuReg, "TPIDR_EL2");
  assert.equal(portOf(p).context.readSysreg("TPIDR_EL2"), p.percpuAreaBase(1));
  portOf(p).context.writeSysreg("TPIDR_EL1", p.percpuAreaBase(0));
  assert.equal(p.readPercpuReg(), p.percpuAreaBase(1));
  v.U32.writeCurrent(0xabcd);
  assert.equal(v.U32.remoteRefRaw(1).value, 0xabcd);
  assert.equal(v.U32.remoteRefRaw(0).value, 3);
});

Deno.test("re-init overwrites every area with the template", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch });
      const v = defineCrateVars(p);
      p.init(4);
      for (let cpu = 0; cpu < 4; cpu++) testerRemoteRw(v, cpu);
      assert.equal(p.init(4), 4);
      for (let cpu = 0; cpu < 4; cpu++) testerRemoteIsInit(p, v, cpu);
    });
  }
});

Deno.test("initInPlace reserves cpuNum areas and returns percpuAreaNum()", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch, cpuNum: 6 });
      const v = defineCrateVars(p);
      assert.equal(p.initInPlace(), 6);
      assert.equal(p.percpuAreaNum(), 6);
      const { _percpu_start, _percpu_end } = p.symbols();
      const stride = p.percpuAreaLayoutExpected(1).size;
      assert.equal((_percpu_end - _percpu_start) / stride, p.percpuAreaNum());
      for (let cpu = 1; cpu < 6; cpu++) testerRemoteIsInit(p, v, cpu);
      assert.throws(() => p.percpuAreaBase(6), RangeError);
    });
  }
});

Deno.test("each arch keeps the base in the crate's register", () => {
  const expected: [Arch, Feature[], string][] = [
    ["x86_64", [], "GS_BASE"],
    ["aarch64", [], "TPIDR_EL1"],
    ["aarch64", ["arm-el2"], "TPIDR_EL2"],
    ["riscv64", [], "gp"],
    ["riscv32", [], "gp"],
    ["loongarch64", [], "$r21"],
    ["arm", [], "TPIDRPRW"],
  ];
  for (const [arch, features, register] of expected) {
    const p = createPercpu({ arch, features });
    assert.equal(p.percpuReg, register, arch);
    assert.equal(p.arch, arch);
    defineCrateVars(p);
    p.init(2);
    p.initPercpuReg(1);
    assert.equal(portOf(p).context.readSysreg(register as typeof p.percpuReg), p.percpuAreaBase(1));
  }
});

Deno.test("init accepts a SharedArrayBuffer, so Workers can share the areas", () => {
  const p = createPercpu({ arch: "aarch64" });
  const v = defineCrateVars(p);
  const buffer = new SharedArrayBuffer(p.percpuAreaLayoutExpected(2).size);
  assert.equal(p.init(2, { buffer }), 2);
  v.U32.remoteRefMutRaw(1).value = 0xcafe;
  const stride = p.percpuAreaLayoutExpected(1).size;
  assert.equal(new DataView(buffer).getUint32(stride + v.U32.offset(), true), 0xcafe);
});

Deno.test("refs stay bound to the copy they were taken from", () => {
  const p = createPercpu({ arch: "loongarch64" });
  const v = defineCrateVars(p);
  p.init(2);
  p.initPercpuReg(0);
  const onCpu0 = v.U16.currentRefMutRaw();
  const structOnCpu0 = v.STRUCT.currentRefMutRaw().value;
  p.initPercpuReg(1);
  onCpu0.value = 0x1111;
  structOnCpu0.bar = 42;
  assert.equal(v.U16.remoteRefRaw(0).value, 0x1111);
  assert.equal(v.STRUCT.remoteRefRaw(0).value.bar, 42);
  assert.equal(v.U16.readCurrent(), 2);
  assert.equal(v.STRUCT.currentRefRaw().value.bar, 7);
  assert.equal(onCpu0.address, v.U16.remotePtr(0));
});

Deno.test("a struct read through one ref can be assigned through another", () => {
  const p = createPercpu({ arch: "riscv64" });
  const v = defineCrateVars(p);
  p.init(2);
  v.STRUCT.remoteRefMutRaw(0).value = { foo: 0x77, bar: 8 };
  v.STRUCT.remoteRefMutRaw(1).value = v.STRUCT.remoteRefRaw(0).value;
  assert.equal(v.STRUCT.remoteRefRaw(1).value.foo, 0x77);
  assert.equal(v.STRUCT.remoteRefRaw(1).value.bar, 8);
  v.U64.remoteRefMutRaw(1).value = v.U64.remoteRefRaw(0).value;
  assert.equal(v.U64.remoteRefRaw(1).value, 4n);
});

// `*A.remote_ref_mut_raw(1) = *A.remote_ref_raw(0)`: copying one CPU's array
// (or a struct holding one) to another through two refs. Live array views
// are real Arrays, and the setter accepts a read-only view.
Deno.test("an array read through one ref can be assigned through another", () => {
  const p = createPercpu({ arch: "riscv64" });
  const A = p.defPercpu("A", array(u32, 3), [1, 2, 3]);
  const T = p.defPercpu("T", struct({ n: u8, list: array(u16, 2) }), { n: 1, list: [2, 3] });
  p.init(2);
  A.remoteRefMutRaw(0).value = [7, 8, 9];
  A.remoteRefMutRaw(1).value = A.remoteRefRaw(0).value;
  assert.deepEqual([...A.remoteRefRaw(1).value], [7, 8, 9]);
  assert.ok(Array.isArray(A.remoteRefRaw(1).value));
  assert.deepEqual(structuredClone(A.remoteRefRaw(1).value), [7, 8, 9]);
  T.remoteRefMutRaw(1).value = T.remoteRefRaw(0).value;
  assert.deepEqual([...T.remoteRefRaw(1).value.list], [2, 3]);
});

Deno.test("the linker script snippet is the crate's, with CPU_NUM filled in", () => {
  // The crate's README, verbatim.
  const crate = [
    ". = ALIGN(4K);",
    "_percpu_start = .;",
    "_percpu_end = _percpu_start + SIZEOF(.percpu);",
    ".percpu 0x0 (NOLOAD) : AT(_percpu_start) {",
    "    _percpu_load_start = .;",
    "    *(.percpu .percpu.*)",
    "    _percpu_load_end = .;",
    "    . = _percpu_load_start + ALIGN(64) * CPU_NUM;",
    "}",
    ". = _percpu_end;",
  ].join("\n");
  for (const arch of ARCHES) {
    const p = createPercpu({ arch, cpuNum: 4 });
    assert.equal(p.linkerScript().trim(), crate.replace("CPU_NUM", "4"));
    assert.equal(p.linkerScript({ cpuNum: 16 }).trim(), crate.replace("CPU_NUM", "16"));
  }
  const vma = createPercpu({ features: ["non-zero-vma"] });
  const loadStart = vma.symbols()._percpu_load_start.toString(16);
  assert.notEqual(loadStart, "0");
  assert.ok(vma.linkerScript().includes(`.percpu 0x${loadStart} (NOLOAD) : AT(_percpu_start)`));
  assert.match(vma.linkerScript(), /\* 4;/);
  assert.doesNotMatch(createPercpu({ features: ["sp-naive"] }).linkerScript(), /\.percpu \S+ \(/);
});
