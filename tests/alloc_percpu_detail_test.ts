// allocPercpu in the corners: zeroed objects of every type, objects in
// custom-base areas the platform scattered, each CPU's copy owned by that
// CPU alone, pointer cells reused after free(), every method of a freed
// object refused by name, and faults that say why.

import assert from "node:assert/strict";
import {
  array,
  bool,
  createPercpu,
  f32,
  FaultError,
  type InitMemory,
  struct,
  u16,
  u32,
  u64,
  u8,
} from "../mod.ts";
import { accessProgram, Op } from "../lib/isa/mod.ts";
import { NOT_PERCPU, portOf } from "../lib/_port.ts";

Deno.test("an object allocated without a value is zero on every CPU, whatever its type", () => {
  const p = createPercpu({ arch: "aarch64" });
  p.defPercpu("PAD", u8, 1);
  p.init(3);
  const cases: [unknown, unknown][] = [
    [struct({ a: u8, b: u64, c: array(bool, 2), d: struct({ e: f32 }) }), {
      a: 0,
      b: 0n,
      c: [false, false],
      d: { e: 0 },
    }],
    [array(u64, 3), [0n, 0n, 0n]],
    [bool, false],
    [u64, 0n],
    [f32, 0],
  ];
  for (const [type, zero] of cases) {
    const d = p.allocPercpu(type as never);
    for (let cpu = 0; cpu < 3; cpu++) assert.deepEqual(d.remoteRefRaw(cpu).value, zero);
  }
});

const STRIDE = 64;

Deno.test("objects in scattered custom-base areas: each CPU's copy is that CPU's alone", async (t) => {
  const layouts: [string, () => (cpu: number) => InitMemory][] = [
    ["one buffer per CPU", () => {
      const buffers = Array.from({ length: 3 }, () => new ArrayBuffer(STRIDE));
      return (cpu) => ({ buffer: buffers[cpu] });
    }],
    ["one buffer, CPUs in reverse order", () => {
      const buffer = new ArrayBuffer(3 * STRIDE);
      return (cpu) => ({ buffer, byteOffset: (2 - cpu) * STRIDE });
    }],
    ["one buffer, contiguous", () => {
      const buffer = new ArrayBuffer(3 * STRIDE);
      return (cpu) => ({ buffer, byteOffset: cpu * STRIDE });
    }],
  ];
  for (const [name, bases] of layouts) {
    await t.step(name, () => {
      const p = createPercpu({ arch: "riscv64", features: ["custom-base"], bases: bases() });
      p.defPercpu("PAD", u64, 0n);
      p.init(3);
      const port = portOf(p);
      const small = p.allocPercpu(u16, 7);
      const wide = p.allocPercpu(u64, 8n);
      for (let cpu = 0; cpu < 3; cpu++) {
        small.remoteRefMutRaw(cpu).value = 100 + cpu;
        wide.remoteRefMutRaw(cpu).value = BigInt(200 + cpu);
      }
      for (let cpu = 0; cpu < 3; cpu++) {
        assert.equal(small.remoteRefRaw(cpu).value, 100 + cpu, name);
        assert.equal(wide.remoteRefRaw(cpu).value, BigInt(200 + cpu), name);
        for (
          const address of [small.remotePtr(cpu), wide.remotePtr(cpu), wide.remotePtr(cpu) + 7]
        ) {
          assert.equal(port.cpuOfAddress(address), cpu, `${name}: CPU ${cpu}`);
        }
        p.initPercpuReg(cpu);
        assert.equal(small.readCurrent(), 100 + cpu);
        small.addCurrent(1);
        assert.equal(small.remoteRefRaw(cpu).value, 101 + cpu);
      }
      // Setting the same areas up again gives the objects their values again.
      p.init(3);
      for (let cpu = 0; cpu < 3; cpu++) {
        assert.equal(small.remoteRefRaw(cpu).value, 7);
        assert.equal(wide.remoteRefRaw(cpu).value, 8n);
      }
    });
  }
});

Deno.test("the pointer variables are nobody's per-CPU data", () => {
  for (const arch of ["x86_64", "loongarch64"] as const) {
    const p = createPercpu({ arch });
    p.defPercpu("PAD", u64, 0n);
    p.init(2);
    const d = p.allocPercpu(u32, 1);
    const load = accessProgram(d, "offset").instructions.find((i) => i.op === Op.Load)!;
    const cellAddress = load.a < 0 ? load.imm : undefined;
    if (cellAddress !== undefined) assert.equal(portOf(p).cpuOfAddress(cellAddress), NOT_PERCPU);
    assert.equal(portOf(p).cpuOfAddress(d.remotePtr(1)), 1);
  }
});

function pointerCell(d: Parameters<typeof accessProgram>[0]): string {
  // The pointer's address is where the first load of `ptr` reads.
  return accessProgram(d, "offset").instructions.map((i) => `${i.op}:${i.imm}`).join(",");
}

Deno.test("free() gives the pointer cell back: the next allocation uses it", () => {
  const p = createPercpu({ arch: "riscv64" });
  p.defPercpu("PAD", u64, 0n);
  p.init(2);
  const a = p.allocPercpu(u32, 1);
  const b = p.allocPercpu(u32, 2);
  const cellA = pointerCell(a);
  assert.notEqual(cellA, pointerCell(b));
  a.free();
  const c = p.allocPercpu(u32, 3);
  assert.equal(pointerCell(c), cellA, "the freed cell is reused");
  const d = p.allocPercpu(u32, 4);
  assert.ok(![cellA, pointerCell(b)].includes(pointerCell(d)), "then new cells again");
  assert.deepEqual([b.remoteRefRaw(1).value, c.remoteRefRaw(1).value], [2, 3]);
});

Deno.test("every method of a freed object says which method and that it was freed", () => {
  const p = createPercpu();
  p.init(2);
  p.initPercpuReg(0);
  const d = p.allocPercpu(u32, 5);
  d.free();
  assert.equal(d.freed, true);
  const methods: [string, () => unknown][] = [
    ["offset", () => d.offset()],
    ["symbolVma", () => d.symbolVma()],
    ["currentPtr", () => d.currentPtr()],
    ["remotePtr", () => d.remotePtr(1)],
    ["disassemble", () => d.disassemble("read")],
    ["free", () => d.free()],
  ];
  for (const [name, call] of methods) {
    assert.throws(
      call,
      (e: Error) =>
        e instanceof FaultError && e.message.startsWith(`${d.name}.${name}: `) &&
        /freed/.test(e.message),
      name,
    );
  }
  assert.throws(
    () => d.readCurrent(),
    (e: Error) => e instanceof FaultError && /freed/.test(e.message),
  );
});

Deno.test("a live object's fault says what is wrong, and never that it was freed", () => {
  const p = createPercpu({ arch: "riscv64" });
  p.defPercpu("PAD", u64, 0n);
  p.init(2);
  const d = p.allocPercpu(u32, 5);
  // The register still points at no area: the register's fault, not "freed".
  assert.throws(
    () => d.readCurrent(),
    (e: Error) => e instanceof FaultError && !/freed/.test(e.message),
  );
  p.initPercpuReg(1);
  assert.equal(d.readCurrent(), 5);
  // A register that points into an area but not at its start: the object's
  // copy at register + pointer is not mapped there.
  p.writePercpuReg(p.percpuAreaBase(1) + 0x100000);
  assert.throws(
    () => d.readCurrent(),
    (e: Error) =>
      e instanceof FaultError && !/freed/.test(e.message) &&
      /not mapped|not the base of a mapped per-CPU area/.test(e.message),
  );
});
