// Memory that goes away under the areas: a user's buffer that was detached
// (`transfer()`) or a resizable one that shrank. Every access path throws a
// FaultError that says so, instead of reading `undefined` or dropping the
// write, and nothing else changes: guards are released, the other CPUs'
// memory keeps its values.

import assert from "node:assert/strict";
import {
  ARCHES,
  array,
  createPercpu,
  FaultError,
  type Feature,
  i8,
  struct,
  u32,
  u64,
  u8,
  usize,
} from "../mod.ts";
import { atomicRemote, defPercpuCounter, remoteSum } from "../lib/workers/mod.ts";
import { setKernelGuardIf } from "../lib/guards.ts";
import { PLAIN_VIEW_SLOTS } from "../lib/refs.ts";
import { detach } from "../lib/_memory.ts";

const LARGE = PLAIN_VIEW_SLOTS + 8;

function system(arch: (typeof ARCHES)[number], features: Feature[], resizable: boolean) {
  const p = createPercpu({ arch, features });
  const vars = {
    x: p.defPercpu("X", u32, 7),
    wide: p.defPercpu("WIDE", u64, 8n),
    ptr: p.defPercpu("PTR", usize, 9),
    small: p.defPercpu("SMALL", i8, -1),
    pair: p.defPercpu("PAIR", struct({ a: u8, list: array(u8, 2) }), { a: 1, list: [2, 3] }),
    big: p.defPercpu("BIG", array(u8, LARGE), new Array(LARGE).fill(4)),
  };
  const counter = defPercpuCounter(p, "EVENTS", { batch: 2 });
  const size = p.percpuAreaLayoutExpected(2).size;
  const buffer = resizable
    ? new ArrayBuffer(size, { maxByteLength: size * 2 })
    : new ArrayBuffer(size);
  p.init(2, { buffer });
  p.initPercpuReg(1);
  return { p, buffer, counter, ...vars };
}

type System = ReturnType<typeof system>;

/** Every access path, each of which must throw a FaultError on lost memory. */
function accesses(s: System): [string, () => unknown][] {
  const { x, wide, ptr, small, pair, big, counter, p } = s;
  return [
    ["readCurrent", () => x.readCurrent()],
    ["readCurrentRaw", () => x.readCurrentRaw()],
    ["writeCurrent", () => x.writeCurrent(1)],
    ["writeCurrentRaw", () => x.writeCurrentRaw(1)],
    ["addCurrent", () => x.addCurrent(1)],
    ["addCurrentRaw", () => x.addCurrentRaw(1)],
    ["u64 readCurrent", () => wide.readCurrent()],
    ["u64 addCurrent", () => wide.addCurrent(1n)],
    ["usize readCurrent", () => ptr.readCurrent()],
    ["usize writeCurrent", () => ptr.writeCurrent(1)],
    ["usize addCurrent", () => ptr.addCurrent(1)],
    ["i8 writeCurrent", () => small.writeCurrent(1)],
    ["withCurrent read", () => x.withCurrent((ref) => ref.value)],
    ["withCurrent write", () => x.withCurrent((ref) => (ref.value = 1))],
    ["usize withCurrent", () => ptr.withCurrent((ref) => ref.value)],
    ["resetToInit", () => x.resetToInit()],
    ["currentRefRaw().value", () => x.currentRefRaw().value],
    ["currentRefMutRaw().value =", () => (x.currentRefMutRaw().value = 1)],
    ["remoteRefRaw(1).value", () => x.remoteRefRaw(1).value],
    ["remoteRefMutRaw(1).value =", () => (x.remoteRefMutRaw(1).value = 1)],
    ["struct field read", () => pair.remoteRefRaw(1).value.a],
    ["struct field write", () => (pair.remoteRefMutRaw(1).value.a = 2)],
    ["nested array element", () => pair.remoteRefRaw(1).value.list[1]],
    ["struct whole write", () => (pair.remoteRefMutRaw(1).value = { a: 0, list: [0, 0] })],
    ["struct withCurrent", () => pair.withCurrent((ref) => ref.value.a++)],
    ["struct resetToInit", () => pair.resetToInit()],
    ["large array element", () => big.remoteRefRaw(1).value[LARGE - 1]],
    ["large array write", () => (big.remoteRefMutRaw(1).value[3] = 1)],
    ["large array spread", () => [...big.remoteRefRaw(1).value]],
    ["atomicRemote load", () => atomicRemote(p, x).load(1)],
    ["atomicRemote store", () => atomicRemote(p, x).store(1, 1)],
    ["atomicRemote add", () => atomicRemote(p, wide).add(1, 1n)],
    ["atomicRemote usize add", () => atomicRemote(p, ptr).add(1, 1)],
    ["remoteSum", () => remoteSum(p, x)],
    ["counter add", () => counter.add()],
    ["counter sum", () => counter.sum()],
  ];
}

/** What a failed access must have left alone: the kernel's guard depth, for one. */
function checkFault(name: string, f: () => unknown): void {
  let depth = 0;
  const previous = setKernelGuardIf({
    disablePreempt: () => void depth++,
    enablePreempt: () => void depth--,
  });
  try {
    assert.throws(f, (e) => {
      assert.ok(e instanceof FaultError, `${name}: expected a FaultError, got ${e}`);
      assert.match(e.message, /are gone: the buffer behind init\(memory\) (was detached|shrank)/);
      assert.match(e.message, /init\(\)/);
      return true;
    }, name);
  } finally {
    setKernelGuardIf(previous);
  }
  assert.equal(depth, 0, `${name}: the guard was released`);
}

Deno.test("a transferred buffer: every access path throws FaultError, the data survives", async (t) => {
  for (const arch of ARCHES) {
    for (const features of [[], ["preempt"]] as Feature[][]) {
      await t.step(`${arch} ${features.join(",")}`, () => {
        const s = system(arch, features, false);
        s.x.writeCurrent(70);
        const moved = detach(s.buffer as ArrayBuffer);
        const before = new Uint8Array(moved).slice();
        for (const [name, f] of accesses(s)) checkFault(name, f);
        // The contents moved with the transfer and no failed write touched them.
        assert.deepEqual(new Uint8Array(moved), before);
        // Setting the areas up again makes everything work.
        s.p.init(2, { buffer: new ArrayBuffer(s.p.percpuAreaLayoutExpected(2).size) });
        s.p.initPercpuReg(1);
        assert.equal(s.x.readCurrent(), 7);
      });
    }
  }
});

Deno.test("a resizable buffer shrunk to nothing: every access path throws FaultError", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const s = system(arch, ["preempt"], true);
      s.buffer.resize(0);
      for (const [name, f] of accesses(s)) checkFault(name, f);
      assert.match(
        (() => {
          try {
            s.x.readCurrent();
          } catch (e) {
            return (e as Error).message;
          }
          return "";
        })(),
        /shrank to 0 bytes/,
      );
    });
  }
});

Deno.test("a buffer shrunk below CPU 1's area: CPU 1 faults, CPU 0 keeps working", () => {
  const s = system("riscv64", [], true);
  s.buffer.resize(s.p.percpuAreaBase(1) - s.p.percpuAreaBase(0));
  for (const [name, f] of accesses(s)) {
    if (
      name.startsWith("atomicRemote") || name.startsWith("remoteSum") || name.startsWith("counter")
    ) {
      continue; // these touch CPU 1 as well as CPU 0
    }
    checkFault(name, f);
  }
  s.p.initPercpuReg(0);
  assert.equal(s.x.readCurrent(), 7);
  s.x.addCurrent(1);
  assert.equal(s.x.withCurrent((ref) => ref.value), 8);
  assert.equal(s.pair.currentRefRaw().value.list[1], 3);
  assert.equal(atomicRemote(s.p, s.x).load(0), 8);
  assert.throws(() => atomicRemote(s.p, s.x).load(1), FaultError);
});

Deno.test("a view taken before the buffer went away faults on its next access", () => {
  const s = system("aarch64", [], false);
  const view = s.pair.remoteRefMutRaw(1).value;
  const big = s.big.remoteRefRaw(1).value;
  const ref = s.x.remoteRefMutRaw(1);
  detach(s.buffer as ArrayBuffer);
  checkFault("view read", () => view.a);
  checkFault("view write", () => (view.list[0] = 9));
  checkFault("large view read", () => big[0]);
  checkFault("kept ref", () => ref.value);
  // Inspecting says what went wrong instead of throwing.
  assert.match(Deno.inspect(view), /FaultError: .* are gone/);
  assert.match(Deno.inspect(ref), /FaultError: .* are gone/);
});

Deno.test("memory that goes away during withCurrent faults on the next access", () => {
  const s = system("loongarch64", ["preempt"], false);
  s.x.withCurrent((ref) => {
    assert.equal(ref.value, 7);
    detach(s.buffer as ArrayBuffer);
    assert.match(Deno.inspect(ref), /FaultError: .* are gone/);
    checkFault("ref.value after the transfer", () => ref.value);
    checkFault("ref.value = after the transfer", () => (ref.value = 1));
  });
});
