// Each scalar kind has its own accessor code (one closure set per kind, for
// speed), so every behaviour is checked for every kind: values wrap and
// round as the kind does, withCurrent's reference works during the call and
// expires after it (also after a throw), calls follow one another and nest,
// and on memory that went away every path throws a FaultError and writes
// nothing.

import assert from "node:assert/strict";
import {
  ARCHES,
  createPercpu,
  FaultError,
  type Feature,
  type ScalarKind,
  type ScalarPercpuVar,
  u32,
} from "../mod.ts";
import { SCALAR_TYPES } from "../lib/types.ts";
import { detach } from "../lib/_memory.ts";

const KINDS = Object.keys(SCALAR_TYPES) as ScalarKind[];

/** A start value, a delta and the kind's sum of the two (wrapped or rounded). */
function values(kind: ScalarKind, pointerBytes: number) {
  switch (kind) {
    case "bool":
      return { start: true, other: false, delta: undefined, sum: undefined };
    case "u8":
      return { start: 250, other: 3, delta: 10, sum: 4 };
    case "i8":
      return { start: 120, other: -3, delta: 10, sum: -126 };
    case "u16":
      return { start: 65530, other: 3, delta: 10, sum: 4 };
    case "i16":
      return { start: 32760, other: -3, delta: 10, sum: -32766 };
    case "u32":
      return { start: 0xffff_fffa, other: 3, delta: 10, sum: 4 };
    case "i32":
      return { start: 0x7fff_fffa, other: -3, delta: 10, sum: -0x7fff_fffc };
    case "u64":
      return { start: 0xffff_ffff_ffff_fffan, other: 3n, delta: 10n, sum: 4n };
    case "i64":
      return {
        start: 0x7fff_ffff_ffff_fffan,
        other: -3n,
        delta: 10n,
        sum: -0x7fff_ffff_ffff_fffcn,
      };
    case "usize":
      return pointerBytes === 4
        ? { start: 0xffff_fffa, other: 3, delta: 10, sum: 4 }
        : { start: 2 ** 40, other: 3, delta: 10, sum: 2 ** 40 + 10 };
    case "isize":
      return pointerBytes === 4
        ? { start: 0x7fff_fffa, other: -3, delta: 10, sum: -0x7fff_fffc }
        : { start: -(2 ** 40), other: -3, delta: 10, sum: -(2 ** 40) + 10 };
    case "f32":
      return { start: 1.5, other: -0.25, delta: 0.1, sum: Math.fround(1.5 + Math.fround(0.1)) };
    case "f64":
      return { start: 1.5, other: -0.25, delta: 0.1, sum: 1.5 + 0.1 };
  }
}

function system(arch: (typeof ARCHES)[number], kind: ScalarKind, features: Feature[] = []) {
  const p = createPercpu({ arch, features });
  const v = values(kind, p.pointerBytes);
  const x = p.defPercpu("X", SCALAR_TYPES[kind], v.start as never) as ScalarPercpuVar;
  const buffer = new ArrayBuffer(p.percpuAreaLayoutExpected(2).size);
  p.init(2, { buffer });
  p.initPercpuReg(1);
  return { p, x, v, buffer };
}

Deno.test("every kind reads, writes and adds the current CPU's copy, and only it", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      for (const kind of KINDS) {
        const { x, v } = system(arch, kind);
        const label = `${arch} ${kind}`;
        assert.deepEqual(x.readCurrent(), v.start, label);
        assert.deepEqual(x.readCurrentRaw(), v.start, label);
        x.writeCurrent(v.other as never);
        assert.deepEqual(x.readCurrent(), v.other, label);
        assert.deepEqual(x.remoteRefRaw(0).value, v.start, `${label}: CPU 0 untouched`);
        x.writeCurrentRaw(v.start as never);
        if (v.delta !== undefined) {
          x.addCurrent(v.delta as never);
          assert.deepEqual(x.readCurrent(), v.sum, `${label}: add wraps as the kind does`);
          x.writeCurrent(v.start as never);
          x.addCurrentRaw(v.delta as never);
          assert.deepEqual(x.readCurrent(), v.sum, `${label}: raw add`);
        }
        assert.deepEqual(x.remoteRefRaw(0).value, v.start, `${label}: CPU 0 untouched`);
      }
    });
  }
});

Deno.test("withCurrent's reference, for every kind: during the call only", async (t) => {
  for (const arch of ["x86_64", "riscv32"] as const) {
    for (const features of [[], ["preempt"]] as Feature[][]) {
      await t.step([arch, ...features].join(" + "), () => {
        for (const kind of KINDS) {
          const { x, v } = system(arch, kind, features);
          const label = `${arch} ${kind}`;
          let kept: { value: unknown } | undefined;
          const seen = x.withCurrent((ref) => {
            kept = ref as { value: unknown };
            const before = ref.value;
            ref.value = v.other as never;
            return [before, ref.value];
          });
          assert.deepEqual(seen, [v.start, v.other], label);
          assert.deepEqual(x.readCurrent(), v.other, label);
          assert.throws(() => kept!.value, TypeError, `${label}: expired after the call`);
          assert.throws(() => (kept!.value = v.start), TypeError, `${label}: expired`);
          assert.deepEqual(x.readCurrent(), v.other, `${label}: the expired write did nothing`);
          // A second call, and one after a throw, bind again.
          x.withCurrent((ref) => (ref.value = v.start as never));
          assert.throws(() =>
            x.withCurrent(() => {
              throw new RangeError("inside");
            }), RangeError);
          assert.deepEqual(x.withCurrent((ref) => ref.value), v.start, label);
          assert.throws(() => kept!.value, TypeError, `${label}: still expired`);
          // Nested calls on the same variable see the same copy.
          const nested = x.withCurrent((outer) =>
            x.withCurrent((inner) => {
              inner.value = v.other as never;
              return outer.value;
            })
          );
          assert.deepEqual(nested, v.other, `${label}: nested`);
          assert.deepEqual(x.remoteRefRaw(0).value, v.start, `${label}: CPU 0 untouched`);
        }
      });
    }
  }
});

Deno.test("on memory that went away every accessor of every kind throws and writes nothing", async (t) => {
  for (const arch of ["x86_64", "aarch64", "riscv32"] as const) {
    await t.step(arch, () => {
      for (const kind of KINDS) {
        const label = `${arch} ${kind}`;
        const { x, v, buffer } = system(arch, kind);
        const paths: [string, () => unknown][] = [
          ["readCurrent", () => x.readCurrent()],
          ["readCurrentRaw", () => x.readCurrentRaw()],
          ["writeCurrent", () => x.writeCurrent(v.other as never)],
          ["writeCurrentRaw", () => x.writeCurrentRaw(v.other as never)],
          ["withCurrent read", () => x.withCurrent((ref) => ref.value)],
          ["withCurrent write", () => x.withCurrent((ref) => (ref.value = v.other as never))],
          ["currentRefRaw", () => x.currentRefRaw().value],
        ];
        if (v.delta !== undefined) {
          paths.push(["addCurrent", () => x.addCurrent(v.delta as never)]);
          paths.push(["addCurrentRaw", () => x.addCurrentRaw(v.delta as never)]);
        }
        const kept = detach(buffer);
        for (const [name, access] of paths) {
          assert.throws(access, FaultError, `${label} ${name}`);
        }
        // The memory as it was when it went away: nothing was written.
        const bytes = new Uint8Array(kept);
        const fresh = system(arch, kind);
        assert.deepEqual(bytes, new Uint8Array(fresh.buffer), `${label}: nothing written`);
      }
    });
  }
});

Deno.test("a detached buffer under one variable does not break a healthy system's", () => {
  const healthy = createPercpu();
  const y = healthy.defPercpu("Y", u32, 5);
  healthy.init(2);
  healthy.initPercpuReg(1);
  for (const kind of KINDS) {
    const { x, buffer, v } = system("x86_64", kind);
    detach(buffer);
    assert.throws(() => x.withCurrent(() => 0), FaultError);
    assert.throws(() => x.withCurrent(() => 0), FaultError, "again: nothing left busy");
    assert.equal(y.withCurrent((ref) => ref.value++), 5);
    assert.equal(y.readCurrent(), 6);
    y.writeCurrent(5);
    assert.ok(v.start !== undefined);
  }
});
