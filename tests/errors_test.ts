// Every bad input of the contract: the right error class, a message that
// names the offending value and what is accepted, and a system that is
// unchanged and still usable afterwards.

import assert from "node:assert/strict";
import {
  type Arch,
  ARCHES,
  array,
  bool,
  createPercpu,
  DefinitionError,
  f32,
  f64,
  FaultError,
  i16,
  i32,
  i64,
  i8,
  InitError,
  isize,
  NotInitializedError,
  type Percpu,
  PercpuError,
  struct,
  u16,
  u32,
  u64,
  u8,
  usize,
  type ValueOf,
} from "../mod.ts";
type InitErrorKind = InitError["kind"];

type ErrorClass = new (...args: never[]) => Error;

/**
 * Asserts `f` throws exactly `Class` (not a subclass of a sibling) with a
 * message matching every pattern.
 */
function assertFails(f: () => unknown, Class: ErrorClass, ...patterns: RegExp[]): Error {
  let caught: unknown;
  assert.throws(f, (e) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof Class, `expected ${Class.name}, got ${caught}`);
  assert.equal((caught as Error).name, Class.name);
  for (const pattern of patterns) assert.match((caught as Error).message, pattern);
  return caught as Error;
}

function assertInitError(f: () => unknown, kind: InitErrorKind, ...patterns: RegExp[]): void {
  const e = assertFails(f, InitError, ...patterns);
  assert.equal((e as InitError).kind, kind);
  assert.ok(e instanceof PercpuError);
}

function assertDefinitionError(f: () => unknown, kind: string, ...patterns: RegExp[]): void {
  const e = assertFails(f, DefinitionError, ...patterns);
  assert.equal((e as DefinitionError).kind, kind);
}

Deno.test("createPercpu rejects bad options", async (t) => {
  await t.step("unknown arch → RangeError listing the arches", () => {
    assertFails(
      () => createPercpu({ arch: "mips" as Arch }),
      RangeError,
      /"mips"/,
      new RegExp(ARCHES.join(", ")),
    );
  });
  await t.step("unknown feature → RangeError listing the features", () => {
    assertFails(
      () => createPercpu({ features: ["std" as never] }),
      RangeError,
      /"std"/,
      /sp-naive, preempt, arm-el2, non-zero-vma/,
    );
  });
  await t.step("features not an array → TypeError", () => {
    assertFails(
      () => createPercpu({ features: "preempt" as never }),
      TypeError,
      /"preempt"/,
      /array/,
    );
  });
  await t.step("cpuNum of a wrong type → TypeError", () => {
    assertFails(() => createPercpu({ cpuNum: "4" as never }), TypeError, /"4"/, /number/);
  });
  for (const cpuNum of [0, -1, 1.5, NaN, 65537]) {
    await t.step(`cpuNum ${cpuNum} → RangeError`, () => {
      assertFails(
        () => createPercpu({ cpuNum }),
        RangeError,
        new RegExp(String(cpuNum)),
        /1 to 65536/,
      );
    });
  }
  await t.step("unknown option → TypeError listing the options", () => {
    assertFails(
      () => createPercpu({ cpus: 4 } as never),
      TypeError,
      /"cpus"/,
      /arch, features, cpuNum/,
    );
  });
  await t.step("options that are not an object → TypeError", () => {
    assertFails(() => createPercpu(null as never), TypeError, /null/);
    assertFails(() => createPercpu(4 as never), TypeError, /number 4/);
  });
  await t.step("valid options still work afterwards", () => {
    assert.equal(createPercpu({ arch: "arm", cpuNum: 65536 }).cpuNum, 65536);
  });
});

/** Names and offsets of a system's variables: its section layout. */
function layout(p: Percpu): [string, number][] {
  return p.variables().map((v) => [v.name, v.offset()]);
}

Deno.test("defPercpu rejects bad definitions and defines nothing", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch });
      const control = createPercpu({ arch });
      p.defPercpu("A", u8, 1);
      control.defPercpu("A", u8, 1);

      assertDefinitionError(() => p.defPercpu("A", u8, 2), "DuplicateName", /\bA\b/, /already/);
      assertDefinitionError(() => p.defPercpu("2x", u64, 0n), "InvalidName", /"2x"/, /A-Za-z_/);
      assertDefinitionError(() => p.defPercpu("", u64, 0n), "InvalidName", /""/);
      assertDefinitionError(() => p.defPercpu("a-b", u64, 0n), "InvalidName", /"a-b"/);
      assertFails(() => p.defPercpu(7 as never, u64, 0n), TypeError, /number 7/, /string/);
      assertFails(() => p.defPercpu("B", { kind: "u128" } as never, 0), TypeError, /\bB\b/, /u32/);
      assertFails(() => p.defPercpu("B", "u32" as never, 0 as never), TypeError, /string "u32"/);
      assertFails(() => p.defPercpu("B", u64, 1 as never), TypeError, /number 1/, /bigint/);
      assertFails(() => p.defPercpu("B", u8, 256), RangeError, /256/, /0 to 255/);
      assertFails(
        () => p.defPercpu("B", struct({ x: u8, y: u32 }), { x: 1, y: -1 }),
        RangeError,
        /\.y/,
        /-1/,
      );
      assertFails(
        () => p.defPercpu("B", struct({ x: u8 }), { x: 1, z: 2 } as never),
        TypeError,
        /"z"/,
        /fields are x/,
      );
      assertFails(() => p.defPercpu("B", array(u16, 2), [1] as never), RangeError, /2 elements/);

      // The failures reserved nothing: "B" is free and lands where it would
      // have without them.
      p.defPercpu("B", u64, 1n);
      control.defPercpu("B", u64, 1n);
      assert.deepEqual(layout(p), layout(control));
      assert.equal(p.percpuAreaSize(), control.percpuAreaSize());

      p.init(1);
      assertDefinitionError(() => p.defPercpu("C", u8, 0), "AfterInit", /\bC\b/, /after init/);
      assert.deepEqual(layout(p), layout(control));
    });
  }
  await t.step("x86_64 keeps its SELF_PTR slot to itself", () => {
    assertDefinitionError(
      () => createPercpu().defPercpu("SELF_PTR", usize, 0),
      "DuplicateName",
      /SELF_PTR/,
    );
  });
  await t.step("after initInPlace and under sp-naive too", () => {
    const inPlace = createPercpu({ arch: "riscv64" });
    inPlace.initInPlace();
    assertDefinitionError(() => inPlace.defPercpu("C", u8, 0), "AfterInit");
    const naive = createPercpu({ features: ["sp-naive"] });
    naive.init(1);
    assertDefinitionError(() => naive.defPercpu("C", u8, 0), "AfterInit");
  });
});

Deno.test("AArch64 refuses offsets that movz #:abs_g0_nc: cannot hold", () => {
  const p = createPercpu({ arch: "aarch64" });
  const big = array(u8, 0x10001);
  assertDefinitionError(
    () => p.defPercpu("BIG", big, new Array(0x10001).fill(0)),
    "TooLarge",
    /BIG/,
    /0xffff/,
  );
  // Nothing was placed: the next variable still starts at 0.
  assert.equal(p.defPercpu("SMALL", u8, 1).offset(), 0);
  assert.equal(p.percpuAreaSize(), 1);
});

// Wrong JavaScript types are TypeErrors; values of the right type that are
// out of range (no fields, a name that is not an identifier) are RangeErrors.
Deno.test("type descriptors reject bad input", () => {
  assertFails(() => struct({}), RangeError, /at least one field/);
  assertFails(() => struct({ "bad name": u8 }), RangeError, /"bad name"/, /identifier/);
  assertFails(() => struct({ a: "u8" } as never), TypeError, /"a"/, /string "u8"/);
  assertFails(() => struct([u8] as never), TypeError, /array/);
  assertFails(() => array({ kind: "u8" } as never, 2), TypeError, /an object/);
  assertFails(() => array(u8, "4" as never), TypeError, /string "4"/, /number/);
  assertFails(() => array(u8, 0), RangeError, /number 0/, /1 to/);
  assertFails(() => array(u8, 1.5), RangeError, /1\.5/);
});

Deno.test("init rejects bad memory and changes nothing", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch });
      p.defPercpu("A", u32, 1);
      const need = p.percpuAreaLayoutExpected(2).size;
      const failures: [() => unknown, InitErrorKind | ErrorClass, ...RegExp[]][] = [
        [() => p.init(2, { buffer: null as never }), "InvalidBase", /null/],
        [() => p.init(2, { buffer: undefined as never }), "InvalidBase", /undefined/],
        [() => p.init(2, null as never), "InvalidBase", /null/],
        [
          () => p.init(2, { buffer: new ArrayBuffer(need + 64), byteOffset: 8 }),
          "UnalignedBase",
          /byteOffset 8/,
          /multiple of 64/,
        ],
        [
          () => p.init(2, { buffer: new ArrayBuffer(need - 1) }),
          "InsufficientMemory",
          new RegExp(`need ${need} bytes`),
          new RegExp(`has ${need - 1}`),
        ],
        [
          () => p.init(2, { buffer: new ArrayBuffer(need), byteOffset: 64 }),
          "InsufficientMemory",
          /byteOffset 64/,
        ],
        [() => p.init(2, { buffer: new Uint8Array(need) as never }), TypeError, /ArrayBuffer/],
        [
          () => p.init(2, { buffer: new ArrayBuffer(need), byteOffset: -64 }),
          RangeError,
          /-64/,
          /non-negative/,
        ],
        [() => p.init(65537), RangeError, /65537/, /0 to 65536/],
        [() => p.init(-1), RangeError, /-1/],
        [() => p.init(2.5), RangeError, /2\.5/],
        [() => p.init("2" as never), TypeError, /"2"/],
      ];
      for (const [f, expected, ...patterns] of failures) {
        if (typeof expected === "string") assertInitError(f, expected, ...patterns);
        else assertFails(f, expected, ...patterns);
        assertFails(() => p.percpuAreaBase(0), NotInitializedError, /init\(\)/);
      }
      // Still before init: definitions are allowed, then init works.
      const b = p.defPercpu("B", u8, 9);
      assert.equal(p.init(2, { buffer: new ArrayBuffer(p.percpuAreaLayoutExpected(2).size) }), 2);
      assert.equal(b.remoteRefRaw(1).value, 9);
    });
  }
  await t.step("a failed re-init keeps the current areas", () => {
    const p = createPercpu({ arch: "loongarch64" });
    const a = p.defPercpu("A", u32, 1);
    p.init(2);
    p.initPercpuReg(1);
    a.writeCurrent(5);
    const base = p.percpuAreaBase(1);
    assertInitError(() => p.init(4, { buffer: new ArrayBuffer(64) }), "InsufficientMemory");
    assert.equal(p.percpuAreaBase(1), base);
    assert.equal(a.readCurrent(), 5);
    assertFails(() => p.percpuAreaBase(2), RangeError, /2 areas/);
  });
});

Deno.test("bad CPU ids are rejected everywhere", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch });
      const x = p.defPercpu("X", u32, 1);
      const s = p.defPercpu("S", struct({ a: u8 }), { a: 1 });
      const byId: [string, (cpu: number) => unknown][] = [
        ["percpuAreaBase", (cpu) => p.percpuAreaBase(cpu)],
        ["initPercpuReg", (cpu) => p.initPercpuReg(cpu)],
        ["remotePtr", (cpu) => x.remotePtr(cpu)],
        ["remoteRefRaw", (cpu) => x.remoteRefRaw(cpu)],
        ["remoteRefMutRaw", (cpu) => x.remoteRefMutRaw(cpu)],
        ["struct remoteRefMutRaw", (cpu) => s.remoteRefMutRaw(cpu)],
      ];
      for (const [, f] of byId) {
        assertFails(() => f(0), NotInitializedError, /not set/, /init\(\)/);
      }
      p.init(3);
      p.initPercpuReg(2);
      const reg = p.readPercpuReg();
      for (const [name, f] of byId) {
        for (const cpu of [3, -1, 1.5, NaN, Infinity]) {
          assertFails(() => f(cpu), RangeError, new RegExp(String(cpu)), /ids 0 to 2/);
        }
        assertFails(() => f("1" as never), TypeError, /"1"/, /number/);
        assert.equal(p.readPercpuReg(), reg, `${name}: the register is unchanged`);
      }
    });
  }
  await t.step("sp-naive takes any CPU id, as the crate, but still only usize ones", () => {
    const p = createPercpu({ features: ["sp-naive"] });
    const x = p.defPercpu("X", u32, 1);
    p.init(1);
    assert.equal(x.remotePtr(1), x.remotePtr(0));
    p.initPercpuReg(9);
    for (const cpu of [-1, 1.5, NaN]) {
      assertFails(() => x.remotePtr(cpu), RangeError, new RegExp(String(cpu)));
      assertFails(() => p.initPercpuReg(cpu), RangeError, new RegExp(String(cpu)));
      assertFails(() => p.percpuAreaBase(cpu), RangeError, new RegExp(String(cpu)));
    }
    assertFails(() => p.initPercpuReg("1" as never), TypeError, /"1"/);
    assert.equal(x.remoteRefRaw(0).value, 1);
  });
  await t.step("percpuAreaLayoutExpected rejects negative and fractional counts", () => {
    const p = createPercpu();
    assertFails(() => p.percpuAreaLayoutExpected(-1), RangeError, /-1/, /≥ 0/);
    assertFails(() => p.percpuAreaLayoutExpected(0.5), RangeError, /0\.5/);
    assertFails(() => p.percpuAreaLayoutExpected("2" as never), TypeError, /"2"/);
    assert.deepEqual(p.percpuAreaLayoutExpected(0), { size: 0, align: 64 });
  });
  await t.step("linkerScript rejects a bad cpuNum", () => {
    assertFails(() => createPercpu().linkerScript({ cpuNum: 0 }), RangeError, /1 to 65536/);
  });
});

/** Per scalar kind: its descriptor, an initial value and bad writes. */
const SCALAR_CASES: {
  name: string;
  type: Parameters<Percpu["defPercpu"]>[1];
  init: unknown;
  arch?: Arch;
  typeErrors: unknown[];
  rangeErrors: [unknown, RegExp][];
}[] = [
  {
    name: "bool",
    type: bool,
    init: true,
    typeErrors: [1, "true", null, undefined, 0n],
    rangeErrors: [],
  },
  {
    name: "u8",
    type: u8,
    init: 1,
    typeErrors: ["1", 1n, true, null],
    rangeErrors: [[256, /0 to 255/], [-1, /0 to 255/], [1.5, /0 to 255/], [NaN, /0 to 255/]],
  },
  {
    name: "u16",
    type: u16,
    init: 1,
    typeErrors: ["1", 1n],
    rangeErrors: [[65536, /0 to 65535/], [-1, /0 to 65535/], [0.5, /0 to 65535/]],
  },
  {
    name: "u32",
    type: u32,
    init: 1,
    typeErrors: ["1", 1n],
    rangeErrors: [[2 ** 32, /0 to 4294967295/], [-1, /0 to 4294967295/], [Infinity, /0 to/]],
  },
  {
    name: "u64",
    type: u64,
    init: 1n,
    typeErrors: [1, "1", 1.5],
    rangeErrors: [[-1n, /0 to 18446744073709551615/], [2n ** 64n, /0 to 18446744073709551615/]],
  },
  {
    name: "usize (64-bit)",
    type: usize,
    init: 1,
    typeErrors: [1n, "1"],
    rangeErrors: [
      [2 ** 53, /0 to 9007199254740991/],
      [-1, /0 to 9007199254740991/],
      [1.5, /0 to 9007199254740991/],
    ],
  },
  {
    name: "usize (arm)",
    type: usize,
    init: 1,
    arch: "arm",
    typeErrors: [1n],
    rangeErrors: [[2 ** 32, /0 to 4294967295/], [-1, /0 to 4294967295/]],
  },
  {
    name: "i8",
    type: i8,
    init: 1,
    typeErrors: ["1"],
    rangeErrors: [[128, /-128 to 127/], [-129, /-128 to 127/], [0.5, /-128 to 127/]],
  },
  {
    name: "i16",
    type: i16,
    init: 1,
    typeErrors: [1n],
    rangeErrors: [[32768, /-32768 to 32767/], [-32769, /-32768 to 32767/]],
  },
  {
    name: "i32",
    type: i32,
    init: 1,
    typeErrors: [1n],
    rangeErrors: [[2 ** 31, /-2147483648 to 2147483647/], [-(2 ** 31) - 1, /-2147483648/]],
  },
  {
    name: "i64",
    type: i64,
    init: 1n,
    typeErrors: [1],
    rangeErrors: [[2n ** 63n, /9223372036854775807/], [-(2n ** 63n) - 1n, /-9223372036854775808/]],
  },
  {
    name: "isize (64-bit)",
    type: isize,
    init: 1,
    typeErrors: [1n],
    rangeErrors: [[2 ** 53, /-9007199254740991 to 9007199254740991/], [-(2 ** 53), /safe|9007/]],
  },
  {
    name: "isize (arm)",
    type: isize,
    init: 1,
    arch: "arm",
    typeErrors: [1n],
    rangeErrors: [[2 ** 31, /-2147483648 to 2147483647/]],
  },
  {
    name: "f32",
    type: f32,
    init: 1.5,
    typeErrors: ["1", 1n],
    rangeErrors: [[1e39, /overflows f32/], [-1e39, /overflows f32/], [3.5e38, /3\.4028/]],
  },
  {
    name: "f64",
    type: f64,
    init: 1.5,
    typeErrors: ["1", 1n, null],
    rangeErrors: [],
  },
];

/** How `valueText()` renders a value in messages. */
function rendered(value: unknown): RegExp {
  const text = typeof value === "bigint"
    ? `${value}n`
    : typeof value === "string"
    ? JSON.stringify(value)
    : String(value);
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
}

Deno.test("scalar writes validate and write nothing on failure", async (t) => {
  for (const c of SCALAR_CASES) {
    await t.step(c.name, () => {
      const p = createPercpu({ arch: c.arch ?? "x86_64" });
      const x = p.defPercpu("X", c.type as never, c.init as never);
      p.init(2);
      p.initPercpuReg(0);
      const writers: [string, (v: unknown) => void][] = [
        ["writeCurrent", (v) => x.writeCurrent(v as never)],
        ["writeCurrentRaw", (v) => x.writeCurrentRaw(v as never)],
        ["currentRefMutRaw", (v) => (x.currentRefMutRaw().value = v as never)],
        ["withCurrent", (v) => x.withCurrent((r) => (r.value = v as never))],
        ["remoteRefMutRaw(0)", (v) => (x.remoteRefMutRaw(0).value = v as never)],
      ];
      for (const [writer, write] of writers) {
        const unchanged = (bad: unknown) => {
          assert.deepEqual(x.readCurrent(), c.init, `${writer}(${String(bad)}) wrote`);
          assert.deepEqual(x.remoteRefRaw(1).value, c.init, `${writer} wrote CPU 1`);
        };
        for (const bad of c.typeErrors) {
          assertFails(() => write(bad), TypeError, rendered(bad), new RegExp(`${c.type.kind}`));
          unchanged(bad);
        }
        for (const [bad, accepted] of c.rangeErrors) {
          assertFails(() => write(bad), RangeError, rendered(bad), accepted);
          unchanged(bad);
        }
      }
      // The same checks guard initial values.
      const fresh = createPercpu({ arch: c.arch ?? "x86_64" });
      for (const bad of c.typeErrors) {
        assertFails(() => fresh.defPercpu("Y", c.type as never, bad as never), TypeError);
      }
      for (const [bad, accepted] of c.rangeErrors) {
        assertFails(
          () => fresh.defPercpu("Y", c.type as never, bad as never),
          RangeError,
          accepted,
        );
      }
      assert.equal(fresh.variables().some((v) => v.name === "Y"), false);
    });
  }
});

Deno.test("addCurrent validates its delta and writes nothing on failure", async (t) => {
  await t.step("bool cannot be added to", () => {
    const p = createPercpu();
    const x = p.defPercpu("X", bool, true);
    p.init(1);
    p.initPercpuReg(0);
    assertFails(() => x.addCurrent(true as never), TypeError, /bool/);
    assert.equal(x.readCurrent(), true);
  });
  await t.step("integer deltas must be safe integers of the right JS type", () => {
    const p = createPercpu({ arch: "riscv64" });
    const x = p.defPercpu("X", u8, 1);
    const w = p.defPercpu("W", u64, 1n);
    p.init(1);
    p.initPercpuReg(0);
    assertFails(() => x.addCurrent(1.5), RangeError, /1\.5/, /safe integer/);
    assertFails(() => x.addCurrent("1" as never), TypeError, /"1"/, /number/);
    assertFails(() => w.addCurrent(1 as never), TypeError, /number 1/, /bigint/);
    assert.equal(x.readCurrent(), 1);
    assert.equal(w.readCurrent(), 1n);
  });
  await t.step("a 64-bit usize that would leave the safe integers is refused", () => {
    const p = createPercpu({ arch: "aarch64" });
    const x = p.defPercpu("X", usize, Number.MAX_SAFE_INTEGER);
    p.init(1);
    p.initPercpuReg(0);
    assertFails(() => x.addCurrent(1), RangeError, /9007199254740992/, /safe integers/);
    assert.equal(x.readCurrent(), Number.MAX_SAFE_INTEGER);
  });
});

const Pair = struct({ a: u8, b: u32, c: array(u16, 2), d: struct({ x: bool, y: i64 }) });
const PAIR_INIT = { a: 1, b: 2, c: [3, 4], d: { x: true, y: -5n } };

function pairSystem(arch: Arch) {
  const p = createPercpu({ arch });
  const s = p.defPercpu("S", Pair, PAIR_INIT);
  p.init(2);
  p.initPercpuReg(0);
  return { p, s };
}

/** A plain copy of a live struct view, for comparisons. */
function plain(view: ValueOf<typeof Pair>) {
  return { a: view.a, b: view.b, c: [...view.c], d: { x: view.d.x, y: view.d.y } };
}

Deno.test("struct assignments are checked whole before any field is written", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const { s } = pairSystem(arch);
      const ref = s.currentRefMutRaw();
      const bad: [unknown, ErrorClass, RegExp[]][] = [
        // Valid leading fields, a bad last one: nothing may be written.
        [{ a: 9, b: 9, c: [9, 9], d: { x: false, y: 1 } }, TypeError, [/d\.y/, /bigint/]],
        [{ a: 9, b: -1, c: [9, 9], d: { x: false, y: 1n } }, RangeError, [/\.b/, /-1/]],
        [{ a: 9, b: 9, c: [9], d: { x: false, y: 1n } }, RangeError, [/\.c/, /2 elements/]],
        [{ a: 9, b: 9, c: [9, 9] }, TypeError, [/missing field "d"/]],
        [{ ...PAIR_INIT, e: 1 }, TypeError, [/"e"/, /a, b, c, d/]],
        [[1, 2], TypeError, [/array/]],
        [null, TypeError, [/null/]],
      ];
      for (const [value, Class, patterns] of bad) {
        assertFails(() => (ref.value = value as never), Class, ...patterns);
        assert.deepEqual(plain(ref.value), PAIR_INIT);
      }
      assertFails(
        () => (ref.value.d = { x: true, y: 2n ** 64n }),
        RangeError,
        /18446744073709551616/,
      );
      assertFails(() => (ref.value.c = [1, 2, 3]), RangeError, /3/);
      assertFails(() => (ref.value.a = 300), RangeError, /300/, /0 to 255/);
      assertFails(() => (ref.value.c[1] = -1), RangeError, /-1/, /0 to 65535/);
      assertFails(() => s.withCurrent((r) => (r.value.d.y = 1 as never)), TypeError, /bigint/);
      assert.deepEqual(plain(ref.value), PAIR_INIT);
      assert.deepEqual(plain(s.remoteRefRaw(1).value), PAIR_INIT);
    });
  }
});

Deno.test("live struct views reject unknown fields", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const { s } = pairSystem(arch);
      const view = s.currentRefMutRaw().value as unknown as Record<string, unknown>;
      assertFails(() => (view.zz = 1), TypeError, /zz/);
      assertFails(() => ((view.d as Record<string, unknown>).zz = 1), TypeError, /zz/);
      assertFails(() => ((view.c as unknown as unknown[])[2] = 1), TypeError, /2/);
      assert.equal("zz" in view, false);
      assert.deepEqual(plain(s.currentRefRaw().value), PAIR_INIT);
    });
  }
});

// Views stay plain objects (cloneable), so an unknown field gets V8's own
// TypeError, which names the field but not the accepted ones.
Deno.test("live views refuse unknown fields and indices, naming them", () => {
  const { s } = pairSystem("x86_64");
  const view = s.currentRefMutRaw().value as unknown as Record<string, unknown>;
  assertFails(() => (view.zz = 1), TypeError, /zz/);
  const list = s.currentRefMutRaw().value.c as unknown as Record<string, unknown>;
  assertFails(() => (list[2] = 1), TypeError, /\b2\b/);
  assert.deepEqual(plain(s.currentRefRaw().value), PAIR_INIT);
  assert.deepEqual(structuredClone(s.currentRefRaw().value), PAIR_INIT);
});

Deno.test("nested live-view write errors name the full field path", () => {
  const { s } = pairSystem("x86_64");
  const ref = s.currentRefMutRaw();
  assertFails(() => (ref.value.d.y = 1 as never), TypeError, /\.d\.y\b/);
  assertFails(() => (ref.value.c[1] = -1), RangeError, /\.c\[1\]/);
  assert.deepEqual(plain(s.currentRefRaw().value), PAIR_INIT);
});

// A field named like an Object.prototype member ("toString", …) must be
// provided by the value itself, not found on the prototype chain.
Deno.test("a missing field named like an Object.prototype member is reported as missing", () => {
  const p = createPercpu();
  const T = struct({ toString: u8, b: u8 });
  assertFails(
    () => p.defPercpu("T", T, { b: 1 } as never),
    TypeError,
    /missing field "toString"/,
  );
});

Deno.test("read-only refs reject every write and keep the value", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const { s } = pairSystem(arch);
      const x = createPercpuWithScalar(arch);
      const ro = s.currentRefRaw() as unknown as { value: typeof PAIR_INIT };
      const remote = s.remoteRefRaw(1) as unknown as { value: typeof PAIR_INIT };
      for (const ref of [ro, remote]) {
        assertFails(() => (ref.value = PAIR_INIT), TypeError, /read-only/, /remoteRefMutRaw/);
        assertFails(() => (ref.value.a = 2), TypeError, /read-only/);
        assertFails(() => (ref.value.c[0] = 2), TypeError, /read-only/);
        assertFails(() => (ref.value.d.y = 2n), TypeError, /read-only/);
        assertFails(() => (ref.value.d = { x: false, y: 0n }), TypeError, /read-only/);
      }
      assert.deepEqual(plain(s.currentRefRaw().value), PAIR_INIT);
      assert.deepEqual(plain(s.remoteRefRaw(1).value), PAIR_INIT);
      assertFails(
        () => ((x.currentRefRaw() as { value: number }).value = 3),
        TypeError,
        /read-only/,
      );
      assertFails(
        () => ((x.remoteRefRaw(1) as { value: number }).value = 3),
        TypeError,
        /read-only/,
      );
      assert.equal(x.readCurrent(), 7);
    });
  }
});

function createPercpuWithScalar(arch: Arch) {
  const p = createPercpu({ arch });
  const x = p.defPercpu("X", u16, 7);
  p.init(2);
  p.initPercpuReg(0);
  return x;
}

Deno.test("scalar-only accessors refuse struct and array variables", () => {
  const p = createPercpu({ arch: "arm" });
  const s = p.defPercpu("S", struct({ a: u8 }), { a: 1 });
  const a = p.defPercpu("A", array(u8, 2), [1, 2]);
  p.init(1);
  p.initPercpuReg(0);
  for (const v of [s, a] as unknown as Record<string, (x?: unknown) => unknown>[]) {
    for (const method of ["readCurrent", "writeCurrent", "readCurrentRaw", "addCurrent"]) {
      assertFails(() => v[method](1), TypeError, /scalar/, /withCurrent\(\) or a ref/);
    }
  }
  assertFails(() => s.disassemble("read"), RangeError, /"read"/, /offset, ptr, remote-ptr/);
  assertFails(() => s.disassemble("nope" as never), RangeError, /"nope"/);
  assertFails(() => s.withCurrent("f" as never), TypeError, /string "f"/, /function/);
  assert.equal(s.currentRefRaw().value.a, 1);
});

Deno.test("accesses before the register points at an area are faults", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch });
      const x = p.defPercpu("X", u32, 1);
      assertFails(
        () => x.readCurrent(),
        FaultError,
        new RegExp(p.percpuReg.replace("$", "\\$")),
        /init\(\)/,
      );
      p.init(2);
      for (const f of [() => x.readCurrent(), () => x.writeCurrent(2), () => x.addCurrent(1)]) {
        const e = assertFails(f, FaultError, /initPercpuReg/) as FaultError;
        assert.equal(e.address, 0);
      }
      assertFails(() => x.withCurrent((r) => r.value), FaultError);
      assertFails(() => x.currentRefRaw(), FaultError);
      if (arch === "x86_64") {
        // read_percpu_reg and current_ptr go through gs:[SELF_PTR].
        assertFails(() => p.readPercpuReg(), FaultError, /GS_BASE/);
        assertFails(() => x.currentPtr(), FaultError, /GS_BASE/);
      } else {
        // Elsewhere reading the register itself is fine: it just holds 0.
        assert.equal(p.readPercpuReg(), 0);
      }
      // Nothing was written anywhere, and the system works once set up.
      p.initPercpuReg(1);
      assert.equal(x.readCurrent(), 1);
      assert.equal(x.remoteRefRaw(0).value, 1);
    });
  }
});

Deno.test("writePercpuReg validates the address", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch });
      p.defPercpu("X", u32, 1);
      p.init(2);
      p.initPercpuReg(1);
      const reg = p.readPercpuReg();
      assertFails(() => p.writePercpuReg("0x10" as never), TypeError, /"0x10"/, /number/);
      assertFails(() => p.writePercpuReg(-1), RangeError, /-1/, /integer from/);
      assertFails(() => p.writePercpuReg(0.5), RangeError, /0\.5/);
      if (arch === "arm") assertFails(() => p.writePercpuReg(2 ** 32), RangeError, /0xffffffff/);
      if (arch === "x86_64") {
        // x86_64 also stores the base in the new area's SELF_PTR slot.
        assertFails(() => p.writePercpuReg(0x1234), FaultError, /0x1234/, /SELF_PTR/);
      }
      assert.equal(p.readPercpuReg(), reg);
    });
  }
});
