// Behaviour that mutation testing found unchecked in lib/: each test states
// what a user (or the simulator) can observe, whatever the code that does it.
//
// Run with --allow-read (nothing else is needed).

import assert from "node:assert/strict";
import {
  ARCHES,
  array,
  bool,
  createPercpu,
  FaultError,
  init,
  initPercpuReg,
  percpuAreaBase,
  percpuAreaLayoutExpected,
  readPercpuReg,
  struct,
  u32,
  u64,
  u8,
} from "../mod.ts";
import { ACCESS_OPS, accessProgram, archTable } from "../lib/isa/mod.ts";
import { detach } from "../lib/_memory.ts";
import { isDetached } from "../lib/_detached.ts";
import { PLAIN_VIEW_SLOTS } from "../lib/refs.ts";
import { portOf } from "../lib/_port.ts";
import { NoPreemptIrqSave, setKernelGuardIf } from "../lib/guards.ts";
import { attachShared, shareAreas } from "../lib/workers/mod.ts";
import { Machine, SimulationError } from "../sched/mod.ts";

Deno.test("archTable(arch) is the table of that arch", () => {
  for (const arch of ARCHES) assert.equal(archTable(arch).arch, arch);
});

Deno.test("a composite variable has no scalar-only access, raw or not", () => {
  const p = createPercpu();
  const S = p.defPercpu("S", struct({ a: u8 }), { a: 1 });
  const scalar = p.defPercpu("X", u8, 1);
  const refused = ACCESS_OPS.filter((op) => {
    try {
      accessProgram(S, op);
      return false;
    } catch (error) {
      assert.ok(error instanceof RangeError, `${op}: ${error}`);
      assert.match(error.message, /S is not a scalar/);
      return true;
    }
  });
  assert.deepEqual(refused, [
    "read",
    "read-raw",
    "write",
    "write-raw",
    "add",
    "add-raw",
    "with-current",
    "with-current-raw",
    "remote-read",
    "remote-write",
  ]);
  // Every op exists for a scalar.
  for (const op of ACCESS_OPS) assert.ok(accessProgram(scalar, op).instructions.length > 0);
});

Deno.test("accessProgram refuses what is not a per-CPU variable", () => {
  for (const value of [null, undefined, 3, {}, createPercpu()]) {
    assert.throws(() => accessProgram(value as never, "read"), TypeError);
  }
});

Deno.test("writing a non-boolean to a bool variable names the bool type", () => {
  const p = createPercpu();
  const B = p.defPercpu("B", bool, false);
  p.init(1);
  p.initPercpuReg(0);
  assert.throws(() => B.writeCurrent(1 as never), (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.match(e.message, /\bbool\b/);
    assert.match(e.message, /a boolean/);
    return true;
  });
  assert.equal(B.readCurrent(), false);
});

Deno.test("currentPtr touches memory only where the arch reads SELF_PTR", () => {
  for (const arch of ["aarch64", "x86_64"] as const) {
    const p = createPercpu({ arch });
    const X = p.defPercpu("X", u32, 7);
    const buffer = new ArrayBuffer(p.percpuAreaLayoutExpected(2).size);
    p.init(2, { buffer });
    p.initPercpuReg(1);
    const before = X.currentPtr();
    detach(buffer);
    assert.throws(() => X.readCurrent(), FaultError);
    if (arch === "x86_64") {
      // current_ptr() loads SELF_PTR from the area, which is gone.
      assert.throws(() => X.currentPtr(), FaultError);
    } else {
      // The register plus the offset: no memory is read.
      assert.equal(X.currentPtr(), before);
    }
  }
});

Deno.test("an array view has exactly the canonical indices as keys", () => {
  // Large enough for the Proxy view, which parses its keys.
  const length = PLAIN_VIEW_SLOTS + 16;
  const p = createPercpu();
  const A = p.defPercpu("A", array(u32, length), Array.from({ length }, (_, i) => i));
  p.init(1);
  p.initPercpuReg(0);
  A.withCurrent((ref) => {
    const view = ref.value as unknown as Record<string, unknown>;
    assert.equal(view["0"], 0);
    assert.equal(view["11"], 11);
    assert.equal(view[String(length - 1)], length - 1);
    for (const key of ["", "00", "01", "011", String(length), " 1", "1e1", "-1", "+1", "1.0"]) {
      assert.equal(view[key], undefined, `key ${JSON.stringify(key)}`);
      assert.equal(key in view, false, `key ${JSON.stringify(key)}`);
    }
  });
});

Deno.test("isDetached answers without ArrayBuffer.prototype.detached too", () => {
  // Node.js before 22 has no `detached`: shadow it to take that path.
  const hide = (buffer: ArrayBuffer) => {
    Object.defineProperty(buffer, "detached", { value: undefined });
    return buffer;
  };
  const gone = new ArrayBuffer(8);
  detach(gone);
  assert.equal(isDetached(hide(gone)), true);
  assert.equal(isDetached(hide(new ArrayBuffer(0))), false);
  assert.equal(isDetached(hide(new ArrayBuffer(8))), false);
  const goneToo = new ArrayBuffer(8);
  detach(goneToo);
  assert.equal(isDetached(goneToo), true);
  assert.equal(isDetached(new ArrayBuffer(0)), false);
  assert.equal(isDetached(new SharedArrayBuffer(0)), false);
});

Deno.test("init again on the same memory keeps it mapped", () => {
  const p = createPercpu({ arch: "aarch64" });
  const X = p.defPercpu("X", u32, 7);
  const buffer = new ArrayBuffer(p.percpuAreaLayoutExpected(2).size);
  p.init(2, { buffer });
  p.initPercpuReg(1);
  X.writeCurrent(9);
  p.init(2, { buffer });
  p.initPercpuReg(1);
  assert.equal(X.readCurrent(), 7);
  assert.equal(X.readRemote(0), 7);
});

Deno.test("the register of an area set up elsewhere since faults, on every arch", () => {
  for (const arch of ARCHES) {
    const p = createPercpu({ arch });
    const X = p.defPercpu("X", u32, 7);
    const size = p.percpuAreaLayoutExpected(2).size;
    p.init(2, { buffer: new ArrayBuffer(size) });
    p.initPercpuReg(1);
    p.init(2, { buffer: new ArrayBuffer(size) });
    for (const access of [() => p.readPercpuReg(), () => X.readCurrent()]) {
      assert.throws(access, (e: unknown) => {
        assert.ok(e instanceof FaultError, `${arch}: ${e}`);
        assert.match(e.message, /no longer mapped/);
        return true;
      });
    }
    p.initPercpuReg(1);
    assert.equal(p.readPercpuReg(), p.percpuAreaBase(1));
    assert.equal(X.readCurrent(), 7);
  }
});

Deno.test("the default system's readPercpuReg reads the register", () => {
  init(2);
  initPercpuReg(1);
  assert.equal(readPercpuReg(), percpuAreaBase(1));
  initPercpuReg(0);
  assert.equal(readPercpuReg(), percpuAreaBase(0));
});

Deno.test("only x86_64 areas have SELF_PTR; sp-naive has no areas to point at", () => {
  for (const arch of ARCHES) {
    for (const features of [[], ["sp-naive"]] as const) {
      const p = createPercpu({ arch, features: [...features] });
      const a = p.defPercpu("A", u64, 1n);
      const names = p.variables().map((v) => v.name);
      const selfPtr = arch === "x86_64" && features.length === 0;
      assert.deepEqual(names, selfPtr ? ["SELF_PTR", "A"] : ["A"], `${arch} ${features}`);
      if (features.length === 0) assert.equal(a.offset(), selfPtr ? 8 : 0);
    }
  }
});

Deno.test("the custom-base linker script collects .percpu into its template", () => {
  const p = createPercpu({
    features: ["custom-base"],
    bases: () => ({ buffer: new ArrayBuffer(64) }),
  });
  p.defPercpu("X", u8, 1);
  assert.equal(
    p.linkerScript(),
    [
      "/* custom-base: .percpu is linked once, at its own address, as the",
      "   template; the platform's _percpu_base_ptr(cpu) places the areas. */",
      "SECTIONS",
      "{",
      "    . = ALIGN(4K);",
      "    .percpu : {",
      "        _percpu_load_start = .;",
      "        *(.percpu .percpu.*)",
      "        _percpu_load_end = .;",
      "    }",
      "}",
      "INSERT AFTER .data;",
      "",
    ].join("\n"),
  );
});

Deno.test("dynamic objects follow areas set up per CPU, in any order", () => {
  const stride = 64;
  for (const order of [[0, 1, 2], [2, 0, 1]]) {
    const buffers = [0, 1, 2].map(() => new ArrayBuffer(stride));
    const p = createPercpu({
      arch: "riscv64",
      features: ["custom-base"],
      bases: (cpu) => ({ buffer: buffers[order[cpu]] }),
    });
    const X = p.defPercpu("X", u8, 1);
    p.init(3);
    const D = p.allocPercpu(u32, 5);
    const E = p.allocPercpu(u64, 6n);
    for (let cpu = 0; cpu < 3; cpu++) D.writeRemote(cpu, 10 + cpu);
    p.init(3);
    for (let cpu = 0; cpu < 3; cpu++) {
      p.initPercpuReg(cpu);
      assert.equal(X.readCurrent(), 1);
      assert.equal(D.readCurrent(), 5);
      assert.equal(E.readCurrent(), 6n);
      D.writeCurrent(20 + cpu);
    }
    for (let cpu = 0; cpu < 3; cpu++) assert.equal(D.readRemote(cpu), 20 + cpu);
  }
});

Deno.test("attach on the same memory keeps the dynamic objects' contents", () => {
  const p = createPercpu({ arch: "aarch64" });
  p.defPercpu("X", u8, 1);
  const buffer = new ArrayBuffer(p.percpuAreaLayoutExpected(2).size);
  p.init(2, { buffer });
  const D = p.allocPercpu(u32, 5);
  D.writeRemote(1, 9);
  p.attach(2, { buffer });
  assert.equal(D.readRemote(0), 5);
  assert.equal(D.readRemote(1), 9);
  p.init(2, { buffer });
  assert.equal(D.readRemote(1), 5);
});

Deno.test("a dynamic object read before initPercpuReg says to set the register", () => {
  for (const arch of ARCHES) {
    const p = createPercpu({ arch });
    p.defPercpu("X", u8, 1);
    p.init(2);
    const D = p.allocPercpu(u32, 5);
    assert.throws(() => D.readCurrent(), (e: unknown) => {
      assert.ok(e instanceof FaultError, `${arch}: ${e}`);
      assert.match(e.message, /initPercpuReg/);
      assert.doesNotMatch(e.message, /are not mapped/);
      return true;
    });
  }
});

Deno.test("adopting shared chunks refuses missing or small buffers, changing nothing", () => {
  const p = createPercpu();
  p.defPercpu("X", u8, 1);
  p.init(2);
  const D = p.allocPercpu(u32, 5);
  D.writeRemote(1, 9);
  const dynamic = portOf(p).dynamic!;
  for (const buffers of [[], [new SharedArrayBuffer(8)], [new ArrayBuffer(4096)]]) {
    assert.throws(() => dynamic.adopt(buffers as SharedArrayBuffer[]), RangeError);
    assert.equal(D.readRemote(1), 9);
  }
});

Deno.test("a system set up again after a Machine was built stops that Machine", () => {
  const p = createPercpu();
  const x = p.defPercpu("X", u32, 0);
  const machine = new Machine({ percpu: p, cpus: 2 });
  machine.spawn(function* (ctx) {
    yield* ctx.add(x, 1);
  });
  p.init(2);
  assert.throws(() => machine.run(), (e: unknown) => {
    assert.ok(e instanceof SimulationError);
    assert.match(e.message, /initialised again/);
    return true;
  });
});

Deno.test("every arch table names the per-CPU register the system reports", () => {
  assert.deepEqual(
    Object.fromEntries(ARCHES.map((arch) => [arch, archTable(arch).percpuReg(false)])),
    {
      x86_64: "GS_BASE",
      aarch64: "TPIDR_EL1",
      riscv64: "gp",
      riscv32: "gp",
      loongarch64: "$r21",
      arm: "TPIDRPRW",
    },
  );
  assert.equal(archTable("aarch64").percpuReg(true), "TPIDR_EL2");
  for (const arch of ARCHES) {
    assert.equal(archTable(arch).percpuReg(false), createPercpu({ arch }).percpuReg, arch);
  }
});

Deno.test("every instruction of every sequence that sets the register has text", () => {
  for (const arch of ARCHES) {
    const table = archTable(arch);
    const reg = table.percpuReg(false);
    const insns = table.writeSysreg(reg);
    assert.ok(insns.length > 0, arch);
    for (const insn of insns) assert.ok(insn.text.length > 0, `${arch}: ${JSON.stringify(insn)}`);
  }
});

Deno.test("messages call a function a function", () => {
  assert.throws(() => init((() => 2) as never), (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.match(e.message, /got a function/);
    return true;
  });
});

Deno.test("resetToInit holds a preemption guard exactly when the preempt feature is on", () => {
  for (const features of [[], ["preempt"]] as const) {
    const p = createPercpu({ features: [...features] });
    const X = p.defPercpu("X", u32, 7);
    p.init(1);
    p.initPercpuReg(0);
    X.writeCurrent(9);
    const calls: string[] = [];
    setKernelGuardIf({
      disablePreempt: () => void calls.push("off"),
      enablePreempt: () => void calls.push("on"),
    });
    try {
      X.resetToInit();
    } finally {
      setKernelGuardIf(null);
    }
    assert.equal(X.readCurrent(), 7);
    assert.deepEqual(calls, features.length ? ["off", "on"] : [], `${features}`);
  }
});

Deno.test("an array of structs: each element is a live struct view", () => {
  const p = createPercpu();
  const A = p.defPercpu("A", array(struct({ a: u8, b: u32 }), 3), [
    { a: 1, b: 10 },
    { a: 2, b: 20 },
    { a: 3, b: 30 },
  ]);
  p.init(1);
  p.initPercpuReg(0);
  A.withCurrent((ref) => {
    const view = ref.value as unknown as { a: number; b: number }[];
    assert.equal(view[1].b, 20);
    view[2].a = 9;
  });
  assert.deepEqual(A.readRemote(0), [{ a: 1, b: 10 }, { a: 2, b: 20 }, { a: 9, b: 30 }]);
});

Deno.test("a view refuses new properties and symbols, naming them", () => {
  const length = PLAIN_VIEW_SLOTS + 2;
  const p = createPercpu();
  const A = p.defPercpu("A", array(u8, length), new Array(length).fill(0));
  p.init(1);
  p.initPercpuReg(0);
  A.withCurrent((ref) => {
    const view = ref.value as unknown as Record<PropertyKey, unknown>;
    const tag = Symbol("tag");
    assert.throws(() => {
      view[tag] = 1;
    }, (e: unknown) => e instanceof TypeError && /Symbol\(tag\)/.test(e.message));
    assert.throws(
      () => Object.defineProperty(view, "extra", { value: 1 }),
      (e: unknown) => e instanceof TypeError && /extra/.test(e.message),
    );
  });
});

Deno.test("after allocPercpu the section is fixed: no more defPercpu", () => {
  const p = createPercpu();
  p.defPercpu("X", u32, 1);
  p.allocPercpu(u32, 5);
  assert.throws(
    () => p.defPercpu("Y", u32, 1),
    /cannot define Y after init\(\) or allocPercpu\(\)/,
  );
});

Deno.test("areas moved from own memory to a buffer leave nothing mapped behind", () => {
  const p = createPercpu({ arch: "aarch64" });
  const X = p.defPercpu("X", u32, 7);
  p.init(2);
  const old = p.percpuAreaBase(1);
  p.init(2, { buffer: new ArrayBuffer(p.percpuAreaLayoutExpected(2).size) });
  assert.notEqual(p.percpuAreaBase(1), old);
  p.writePercpuReg(old);
  assert.throws(() => X.readCurrent(), FaultError);
});

Deno.test("attach names itself when the memory is too small", () => {
  const p = createPercpu();
  p.defPercpu("X", u32, 7);
  assert.throws(
    () => p.attach(2, { buffer: new ArrayBuffer(8) }),
    (e: unknown) => e instanceof Error && /^attach: need \d+ bytes/.test(e.message),
  );
});

Deno.test("the default system's percpuAreaLayoutExpected is the system's", () => {
  const p = createPercpu();
  for (const n of [1, 2, 5]) {
    const got = percpuAreaLayoutExpected(n);
    assert.equal(typeof got.size, "number");
    assert.ok(got.size >= n * 64 || got.size === p.percpuAreaLayoutExpected(n).size);
  }
  assert.ok(percpuAreaLayoutExpected(4).size > percpuAreaLayoutExpected(2).size);
});

Deno.test("the sp-naive linker script is its comment and nothing else", () => {
  assert.equal(
    createPercpu({ features: ["sp-naive"] }).linkerScript(),
    "/* sp-naive: per-CPU variables are plain globals in .data/.bss;\n" +
      "   no .percpu section is needed. */\n",
  );
});

Deno.test("dynamic objects move with the areas to new memory", () => {
  const p = createPercpu({ arch: "aarch64" });
  p.defPercpu("X", u8, 1);
  const size = p.percpuAreaLayoutExpected(2).size;
  p.init(2, { buffer: new ArrayBuffer(size) });
  const D = p.allocPercpu(u32, 5);
  D.writeRemote(1, 9);
  p.init(2, { buffer: new ArrayBuffer(size) });
  for (let cpu = 0; cpu < 2; cpu++) {
    p.initPercpuReg(cpu);
    assert.equal(D.readCurrent(), 5);
    D.writeCurrent(10 + cpu);
  }
  assert.equal(D.readRemote(0), 10);
  assert.equal(D.readRemote(1), 11);
});

Deno.test("freed neighbours merge: a wider object fits where two were", () => {
  const p = createPercpu();
  p.defPercpu("X", u8, 1);
  p.init(1);
  p.initPercpuReg(0);
  const objects = [0, 1, 2, 3, 4].map(() => p.allocPercpu(u32, 0));
  const at = objects.map((o) => o.currentPtr());
  assert.equal(at[2] % 8, 0);
  // Free two neighbours, the later one first.
  objects[3].free();
  objects[2].free();
  const wide = p.allocPercpu(u64, 0n);
  assert.equal(wide.currentPtr(), at[2]);
});

Deno.test("a dynamic object through a register at unmapped memory faults", () => {
  const p = createPercpu({ arch: "riscv64" });
  p.defPercpu("X", u8, 1);
  p.init(2);
  const D = p.allocPercpu(u32, 5);
  for (const reg of [0x7000_0000, p.percpuAreaBase(0) + 2]) {
    p.writePercpuReg(reg);
    assert.throws(() => D.readCurrent(), FaultError, `register ${reg}`);
  }
});

Deno.test("a system attached to shared areas shares the creator's dynamic objects", () => {
  const make = () => {
    const p = createPercpu();
    p.defPercpu("X", u8, 1);
    return { p, D: p.allocPercpu(u32, 5) };
  };
  const creator = make();
  const shared = shareAreas(creator.p, 2);
  creator.D.writeRemote(1, 42);
  const other = make();
  attachShared(other.p, shared, 0);
  assert.equal(other.D.readRemote(1), 42);
  other.D.writeRemote(0, 7);
  assert.equal(creator.D.readRemote(0), 7);
});

Deno.test("NoPreemptIrqSave: both release steps throwing are reported under its name", () => {
  const restore = new Error("restore failed");
  const enable = new Error("enable failed");
  setKernelGuardIf({
    disablePreempt: () => {},
    enablePreempt: () => {
      throw enable;
    },
    localIrqSaveAndDisable: () => 1,
    localIrqRestore: () => {
      throw restore;
    },
  });
  try {
    const guard = new NoPreemptIrqSave();
    assert.throws(() => guard.release(), (e: unknown) => {
      assert.match((e as Error).message, /^NoPreemptIrqSave: releasing the guard threw/);
      const both = e as { error: unknown; suppressed: unknown };
      assert.equal(both.error, enable);
      assert.equal(both.suppressed, restore);
      return true;
    });
  } finally {
    setKernelGuardIf(null);
  }
});

Deno.test("a register left on areas that attach moved says attach moved them", () => {
  const p = createPercpu({ arch: "aarch64" });
  const X = p.defPercpu("X", u32, 7);
  const size = p.percpuAreaLayoutExpected(2).size;
  p.init(2, { buffer: new ArrayBuffer(size) });
  p.initPercpuReg(1);
  p.attach(2, { buffer: new ArrayBuffer(size) });
  assert.throws(() => X.readCurrent(), /\(attach set the per-CPU areas up again elsewhere\)/);
});
