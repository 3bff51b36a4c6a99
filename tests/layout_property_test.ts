// Layout properties of the `.percpu` section and its areas, over random
// variable lists (scalars, structs, arrays, nested) on random arches.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  alignOf,
  type Arch,
  ARCHES,
  array,
  createPercpu,
  type Feature,
  offsetOf,
  type Percpu,
  type PercpuVar,
  type ScalarKind,
  sizeOf,
  struct,
  type StructType,
  type Type,
} from "../mod.ts";
import { SCALAR_TYPES } from "../lib/types.ts";
import { archTable } from "../lib/isa/mod.ts";

const NUM_RUNS = 150;

const scalarArb: fc.Arbitrary<Type> = fc.constantFrom(...Object.values(SCALAR_TYPES));

const fieldNameArb = fc.stringMatching(/^[a-z_][a-z0-9_]{0,5}$/);

const { type: typeArb } = fc.letrec<{ type: Type; struct: Type; array: Type }>((tie) => ({
  type: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalarArb,
    tie("struct"),
    tie("array"),
  ),
  struct: fc.uniqueArray(fc.tuple(fieldNameArb, tie("type")), {
    minLength: 1,
    maxLength: 4,
    selector: ([name]) => name,
  }).map((fields) => struct(Object.fromEntries(fields))),
  array: fc.tuple(tie("type"), fc.integer({ min: 1, max: 4 })).map(([t, n]) => array(t, n)),
}));

/** Any value of `type`, as `defPercpu` and refs accept it on `arch`. */
function valueArb(type: Type, arch: Arch): fc.Arbitrary<unknown> {
  if (type.kind === "struct") {
    const fields = Object.entries(type.fields).map(([name, t]) => [name, valueArb(t, arch)]);
    return fc.record(Object.fromEntries(fields), { noNullPrototype: true });
  }
  if (type.kind === "array") {
    return fc.array(valueArb(type.element, arch), {
      minLength: type.length,
      maxLength: type.length,
    });
  }
  return scalarValueArb(type.kind, archTable(arch).pointerBytes);
}

function scalarValueArb(kind: ScalarKind, pointerBytes: 4 | 8): fc.Arbitrary<unknown> {
  switch (kind) {
    case "bool":
      return fc.boolean();
    case "u8":
      return fc.integer({ min: 0, max: 0xff });
    case "u16":
      return fc.integer({ min: 0, max: 0xffff });
    case "u32":
      return fc.nat({ max: 0xffff_ffff });
    case "u64":
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case "usize":
      return pointerBytes === 4 ? fc.nat({ max: 0xffff_ffff }) : fc.maxSafeNat();
    case "i8":
      return fc.integer({ min: -0x80, max: 0x7f });
    case "i16":
      return fc.integer({ min: -0x8000, max: 0x7fff });
    case "i32":
      return fc.integer();
    case "i64":
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case "isize":
      return pointerBytes === 4 ? fc.integer() : fc.maxSafeInteger();
    case "f32":
      return fc.float();
    case "f64":
      return fc.double();
  }
}

interface Entry {
  readonly type: Type;
  readonly init: unknown;
  readonly other: unknown;
}

interface Spec {
  readonly arch: Arch;
  readonly features: Feature[];
  readonly entries: Entry[];
  readonly cpus: number;
  readonly writer: number;
}

function entryArb(arch: Arch): fc.Arbitrary<Entry> {
  return typeArb.chain((type) =>
    fc.record({
      type: fc.constant(type),
      init: valueArb(type, arch),
      other: valueArb(type, arch),
    })
  );
}

const specArb: fc.Arbitrary<Spec> = fc.constantFrom(...ARCHES).chain((arch) =>
  fc.integer({ min: 1, max: 5 }).chain((cpus) =>
    fc.record({
      arch: fc.constant(arch),
      features: fc.subarray<Feature>(
        arch === "aarch64" ? ["preempt", "non-zero-vma", "arm-el2"] : ["preempt", "non-zero-vma"],
      ),
      entries: fc.array(entryArb(arch), { minLength: 1, maxLength: 8 }),
      cpus: fc.constant(cpus),
      writer: fc.nat({ max: cpus - 1 }),
    })
  )
);

function build(spec: Spec): { p: Percpu; vars: PercpuVar[] } {
  const p = createPercpu({ arch: spec.arch, features: spec.features });
  const vars = spec.entries.map((e, i) =>
    p.defPercpu(`V${i}`, e.type as never, e.init as never) as PercpuVar
  );
  return { p, vars };
}

/** A plain copy of a (possibly live) value, guided by its type. */
function plain(type: Type, value: unknown): unknown {
  if (type.kind === "struct") {
    const view = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.entries(type.fields).map(([name, t]) => [name, plain(t, view[name])]),
    );
  }
  if (type.kind === "array") {
    const view = value as unknown[];
    return Array.from({ length: type.length }, (_, i) => plain(type.element, view[i]));
  }
  return value;
}

/** Checks C layout rules of a struct type, recursively. */
function checkStructLayout(type: Type, arch: Arch): void {
  if (type.kind === "array") return checkStructLayout(type.element, arch);
  if (type.kind !== "struct") return;
  const s = type as StructType;
  let end = 0;
  let maxAlign = 1;
  for (const [name, field] of Object.entries(s.fields)) {
    const offset = offsetOf(s, name, arch);
    const align = alignOf(field, arch);
    assert.equal(offset % align, 0, `field ${name} is aligned`);
    assert.ok(offset >= end, `field ${name} follows the previous one in declaration order`);
    end = offset + sizeOf(field, arch);
    maxAlign = Math.max(maxAlign, align);
    checkStructLayout(field, arch);
  }
  assert.equal(alignOf(s, arch), maxAlign, "struct alignment is its largest field's");
  assert.equal(sizeOf(s, arch) % maxAlign, 0, "size padded to the alignment");
  assert.ok(sizeOf(s, arch) >= end && sizeOf(s, arch) - end < maxAlign, "no excess padding");
}

Deno.test("section layout: aligned, non-overlapping, size is the end of the last", () => {
  fc.assert(
    fc.property(specArb, (spec) => {
      const { p, vars } = build(spec);
      for (const [i, v] of vars.entries()) {
        const type = spec.entries[i].type;
        assert.equal(v.size, sizeOf(type, spec.arch));
        assert.equal(v.offset() % alignOf(type, spec.arch), 0, `${v.name} is aligned`);
        checkStructLayout(type, spec.arch);
      }
      // All of the section, including x86_64's SELF_PTR.
      const placed = p.variables().map((v) => [v.offset(), v.offset() + v.size] as const)
        .sort(([a], [b]) => a - b);
      for (let i = 1; i < placed.length; i++) {
        assert.ok(placed[i - 1][1] <= placed[i][0], "variables do not overlap");
      }
      assert.equal(p.percpuAreaSize(), placed.at(-1)![1]);
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("areas: stride is a multiple of 64 and each base is base + i * stride", () => {
  fc.assert(
    fc.property(specArb, (spec) => {
      const { p } = build(spec);
      const size = p.percpuAreaSize();
      const stride = p.percpuAreaLayoutExpected(1).size;
      assert.equal(stride % 64, 0);
      assert.ok(stride >= size && stride - size < 64, "stride is the size rounded up to 64");
      assert.deepEqual(p.percpuAreaLayoutExpected(spec.cpus), {
        size: spec.cpus * stride,
        align: 64,
      });
      assert.equal(p.init(spec.cpus), spec.cpus);
      const base = p.percpuAreaBase(0);
      assert.equal(base % 64, 0);
      for (let cpu = 0; cpu < spec.cpus; cpu++) {
        assert.equal(p.percpuAreaBase(cpu), base + cpu * stride);
      }
      const symbols = p.symbols();
      assert.equal(symbols._percpu_load_end - symbols._percpu_load_start, size);
      assert.equal(symbols._percpu_end - symbols._percpu_start, p.cpuNum * stride);
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("every area holds the template; a write to one CPU changes no other", () => {
  fc.assert(
    fc.property(specArb, (spec) => {
      const { p, vars } = build(spec);
      p.init(spec.cpus);
      const expectEverywhere = (writer: number | null) => {
        for (let cpu = 0; cpu < spec.cpus; cpu++) {
          for (const [i, v] of vars.entries()) {
            const { type, init, other } = spec.entries[i];
            const expected = cpu === writer ? other : init;
            assert.deepEqual(plain(type, v.remoteRefRaw(cpu).value), expected, `${v.name}@${cpu}`);
          }
        }
      };
      expectEverywhere(null);

      for (const [i, v] of vars.entries()) {
        v.remoteRefMutRaw(spec.writer).value = spec.entries[i].other as never;
      }
      expectEverywhere(spec.writer);

      // The same through the current CPU's register.
      p.initPercpuReg(spec.writer);
      for (const [i, v] of vars.entries()) {
        v.currentRefMutRaw().value = spec.entries[i].init as never;
      }
      expectEverywhere(null);
      for (const [i, v] of vars.entries()) {
        v.withCurrent((ref) => (ref.value = spec.entries[i].other as never));
      }
      expectEverywhere(spec.writer);

      // Re-init brings the template back everywhere.
      p.init(spec.cpus);
      expectEverywhere(null);
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("in-place areas hold the template too", () => {
  fc.assert(
    fc.property(specArb, fc.integer({ min: 1, max: 6 }), (spec, cpuNum) => {
      const p = createPercpu({ arch: spec.arch, features: spec.features, cpuNum });
      const vars = spec.entries.map((e, i) =>
        p.defPercpu(`V${i}`, e.type as never, e.init as never) as PercpuVar
      );
      assert.equal(p.initInPlace(), cpuNum);
      assert.equal(p.percpuAreaBase(0), p.symbols()._percpu_start);
      for (let cpu = 0; cpu < cpuNum; cpu++) {
        for (const [i, v] of vars.entries()) {
          const { type, init } = spec.entries[i];
          assert.deepEqual(plain(type, v.remoteRefRaw(cpu).value), init);
        }
      }
    }),
    { numRuns: NUM_RUNS / 3 },
  );
});

Deno.test("sp-naive globals are aligned and do not overlap", () => {
  fc.assert(
    fc.property(specArb, (spec) => {
      const p = createPercpu({ arch: spec.arch, features: ["sp-naive"] });
      const vars = spec.entries.map((e, i) =>
        p.defPercpu(`V${i}`, e.type as never, e.init as never) as PercpuVar
      );
      const placed = vars.map((v, i) => {
        assert.equal(v.offset() % alignOf(spec.entries[i].type, spec.arch), 0);
        assert.equal(v.currentPtr(), v.offset());
        return [v.offset(), v.offset() + v.size] as const;
      }).sort(([a], [b]) => a - b);
      for (let i = 1; i < placed.length; i++) assert.ok(placed[i - 1][1] <= placed[i][0]);
      assert.equal(p.init(spec.cpus), 1);
      for (const [i, v] of vars.entries()) {
        assert.deepEqual(
          plain(spec.entries[i].type, v.remoteRefRaw(0).value),
          spec.entries[i].init,
        );
      }
    }),
    { numRuns: NUM_RUNS / 3 },
  );
});
