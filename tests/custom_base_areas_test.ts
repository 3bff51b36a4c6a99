// custom-base areas wherever the platform puts them: in one buffer or one
// per CPU, in CPU order or not, with gaps. Which CPU's area holds an address
// (what the simulator's wrong-CPU check and the ref labels rely on) is right
// at every byte, setting up again elsewhere unmaps the old memory once, and
// a memory argument is refused by name.

import assert from "node:assert/strict";
import { createPercpu, FaultError, type InitMemory, u32, u64, u8 } from "../mod.ts";
import { portOf } from "../lib/_port.ts";

type Bases = (cpu: number) => InitMemory;

function system(bases: Bases, cpus: number) {
  const p = createPercpu({ arch: "riscv64", features: ["custom-base"], bases });
  const first = p.defPercpu("FIRST", u8, 1);
  const last = p.defPercpu("LAST", u64, 2n);
  p.init(cpus);
  return { p, first, last };
}

const STRIDE = 64;

const layouts: [string, () => Bases][] = [
  ["one buffer per CPU", () => {
    const buffers = Array.from({ length: 4 }, () => new ArrayBuffer(STRIDE));
    return (cpu) => ({ buffer: buffers[cpu] });
  }],
  ["one buffer, CPUs in reverse order", () => {
    const buffer = new ArrayBuffer(4 * STRIDE);
    return (cpu) => ({ buffer, byteOffset: (3 - cpu) * STRIDE });
  }],
  ["one buffer, areas two strides apart", () => {
    const buffer = new ArrayBuffer(8 * STRIDE);
    return (cpu) => ({ buffer, byteOffset: 2 * cpu * STRIDE });
  }],
  ["one buffer, areas one stride apart", () => {
    const buffer = new ArrayBuffer(4 * STRIDE);
    return (cpu) => ({ buffer, byteOffset: cpu * STRIDE });
  }],
];

Deno.test("each byte of each area belongs to its CPU, and no other byte does", async (t) => {
  for (const [name, make] of layouts) {
    await t.step(name, () => {
      const { p, first, last } = system(make(), 4);
      const port = portOf(p);
      const size = p.percpuAreaSize();
      for (let cpu = 0; cpu < 4; cpu++) {
        const base = p.percpuAreaBase(cpu);
        assert.equal(first.remotePtr(cpu), base + first.offset());
        for (const address of [base, first.remotePtr(cpu), last.remotePtr(cpu), base + size - 1]) {
          assert.equal(port.cpuOfAddress(address), cpu, `${name}: 0x${address.toString(16)}`);
        }
        for (const address of [base - 1, base + size]) {
          const owner = port.cpuOfAddress(address);
          assert.ok(owner === -1 || p.percpuAreaBase(owner) <= address, `${name}: ${owner}`);
          assert.notEqual(owner, cpu, `${name}: 0x${address.toString(16)} is outside CPU ${cpu}`);
        }
        assert.equal(last.remoteRefRaw(cpu).value, 2n);
      }
    });
  }
});

Deno.test("areas of two CPUs in one buffer: setting up elsewhere unmaps it once", () => {
  const shared = new ArrayBuffer(2 * STRIDE);
  let useShared = true;
  const elsewhere = [new ArrayBuffer(STRIDE), new ArrayBuffer(STRIDE)];
  const bases: Bases = (cpu) =>
    useShared ? { buffer: shared, byteOffset: cpu * STRIDE } : { buffer: elsewhere[cpu] };
  const { p, first } = system(bases, 2);
  const old = first.remoteRefRaw(1);
  assert.equal(old.value, 1);
  useShared = false;
  assert.equal(p.init(2), 2);
  assert.throws(() => old.value, FaultError, "the old memory is gone");
  assert.equal(first.remoteRefRaw(1).value, 1);
  useShared = true;
  assert.equal(p.init(2), 2, "and it can be used again");
  assert.equal(first.remoteRefRaw(0).value, 1);
  const x = p.percpuAreaBase(1);
  assert.equal(portOf(p).cpuOfAddress(x), 1);
});

Deno.test("a custom-base system with bases refuses memory by the method's name", () => {
  const buffers = [new ArrayBuffer(STRIDE), new ArrayBuffer(STRIDE)];
  const p = createPercpu({ features: ["custom-base"], bases: (cpu) => ({ buffer: buffers[cpu] }) });
  const x = p.defPercpu("X", u32, 5);
  assert.throws(
    () => p.init(2, { buffer: new ArrayBuffer(256) }),
    (e: Error) =>
      e instanceof TypeError && e.message.startsWith("init: ") &&
      /init\(\) takes no memory/.test(e.message),
  );
  assert.equal(p.percpuAreaNum(), 1);
  p.init(2);
  assert.equal(x.remoteRefRaw(1).value, 5);
});
