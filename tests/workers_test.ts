// Per-CPU areas shared by Deno Workers: attaching with a layout
// check, remote sums and atomic access, the per-CPU counter, and running a
// task on every CPU, including one that crashes.
//
// Workers load their modules from files: run with --allow-read.

import assert from "node:assert/strict";
import {
  bool,
  createPercpu,
  f32,
  f64,
  FaultError,
  i16,
  i32,
  i64,
  i8,
  isize,
  type Percpu,
  struct,
  u16,
  u32,
  u64,
  u8,
  usize,
} from "../mod.ts";
import {
  atomicRemote,
  attachShared,
  CpuTaskError,
  defPercpuCounter,
  layoutDifference,
  layoutFingerprint,
  LayoutMismatchError,
  remoteSum,
  runOnCpus,
  shareAreas,
  type SharedAreas,
} from "../lib/workers/mod.ts";
import { type KernelGuardIf, setKernelGuardIf } from "../lib/guards.ts";
import { percpuCounters } from "../lib/workers/percpu_counter.ts";
import {
  type CountArgs,
  EVENTS,
  type FlipArgs,
  HITS,
  PATTERNS,
  percpu as taskSystem,
  POINTER,
  WIDE,
} from "./fixtures/cpu_task.ts";
import { portOf } from "../lib/_port.ts";
import { LAST, PACKETS, percpu as dynamicSystem } from "./fixtures/dynamic_task.ts";

const TASK = new URL("./fixtures/cpu_task.ts", import.meta.url);
const STALE_TASK = new URL("./fixtures/stale_task.ts", import.meta.url);
const ENDING_TASK = new URL("./fixtures/ending_task.ts", import.meta.url);

function defineAB(p: Percpu) {
  return { A: p.defPercpu("A", u32, 1), B: p.defPercpu("B", u64, 2n) };
}

Deno.test("attachShared adopts the creator's areas as one CPU", () => {
  const creator = createPercpu();
  const mine = defineAB(creator);
  const shared = shareAreas(creator, 3);
  mine.B.remoteRefMutRaw(2).value = 99n;

  const other = createPercpu();
  const theirs = defineAB(other);
  attachShared(other, shared, 2);
  // Nothing is copied: the creator's write is there, and the register is CPU 2's.
  assert.equal(theirs.B.readCurrent(), 99n);
  assert.equal(other.readPercpuReg(), other.percpuAreaBase(2));
  theirs.B.writeCurrent(7n);
  assert.equal(mine.B.remoteRefRaw(2).value, 7n);
  assert.equal(mine.B.remoteRefRaw(0).value, 2n);
  assert.equal(theirs.A.remoteRefRaw(1).value, 1);
});

Deno.test("attachShared refuses a different layout, naming the first difference", async (t) => {
  const creator = createPercpu();
  creator.defPercpu("CPU_ID", usize, 0);
  creator.defPercpu("COUNTER", u64, 0n);
  const shared = shareAreas(creator, 2);

  const cases: [string, (p: Percpu) => void, Parameters<typeof createPercpu>[0], string][] = [
    [
      "another type",
      (p) => {
        p.defPercpu("CPU_ID", usize, 0);
        p.defPercpu("COUNTER", u32, 0);
      },
      {},
      "variable #2: COUNTER is u32 at offset 16 here but u64 at offset 16 in the creator",
    ],
    [
      "another order",
      (p) => {
        p.defPercpu("COUNTER", u64, 0n);
        p.defPercpu("CPU_ID", usize, 0);
      },
      {},
      "variable #1 is COUNTER here but CPU_ID in the creator",
    ],
    [
      "a variable more",
      (p) => {
        p.defPercpu("CPU_ID", usize, 0);
        p.defPercpu("COUNTER", u64, 0n);
        p.defPercpu("EXTRA", u8, 0);
      },
      {},
      "variable #3: EXTRA (u8 at offset 24) exists here but not in the creator",
    ],
    [
      "a variable less",
      (p) => p.defPercpu("CPU_ID", usize, 0),
      {},
      "variable #2: COUNTER (u64 at offset 16) exists in the creator but not here",
    ],
    [
      "another arch",
      (p) => p.defPercpu("CPU_ID", usize, 0),
      { arch: "riscv64" },
      "arch is riscv64 here but x86_64 in the creator",
    ],
    [
      "other features",
      (p) => p.defPercpu("CPU_ID", usize, 0),
      { features: ["preempt"] },
      "features are [preempt] here but [] in the creator",
    ],
  ];
  for (const [name, define, options, difference] of cases) {
    await t.step(name, () => {
      const p = createPercpu(options);
      define(p);
      assert.throws(() => attachShared(p, shared, 0), (e: unknown) => {
        assert.ok(e instanceof LayoutMismatchError);
        assert.equal(e.difference, difference);
        assert.match(e.message, /differs from the creator's/);
        return true;
      });
      // Refused means untouched: the system has no areas.
      assert.equal(portOf(p).areaCount, 0);
    });
  }

  await t.step("a counter's batch", () => {
    const a = createPercpu();
    defPercpuCounter(a, "RX", { batch: 32 });
    const b = createPercpu();
    defPercpuCounter(b, "RX", { batch: 64 });
    assert.equal(
      layoutDifference(layoutFingerprint(b), layoutFingerprint(a)),
      "counter #0 is RX (batch 64) here but RX (batch 32) in the creator",
    );
  });

  await t.step("the fingerprint survives structured cloning", () => {
    const cloned = structuredClone(shared) as SharedAreas;
    const p = createPercpu();
    p.defPercpu("CPU_ID", usize, 0);
    p.defPercpu("COUNTER", u64, 0n);
    attachShared(p, cloned, 1);
    assert.equal(p.readPercpuReg(), p.percpuAreaBase(1));
  });
});

Deno.test("attachShared and shareAreas reject bad input and change nothing", () => {
  const creator = createPercpu();
  defineAB(creator);
  const shared = shareAreas(creator, 2);
  const other = createPercpu();
  defineAB(other);
  assert.throws(() => attachShared(other, shared, 2), {
    name: "RangeError",
    message: "attachShared: the CPU id must be an integer from 0 to 1, got number 2",
  });
  assert.throws(() => attachShared(other, shared, "1" as never), TypeError);
  assert.throws(
    () => attachShared(other, { ...shared, buffer: new ArrayBuffer(64) } as never, 0),
    TypeError,
  );
  assert.equal(portOf(other).areaCount, 0);

  assert.throws(() => shareAreas(creator, 0), RangeError);
  assert.throws(() => shareAreas(creator, "2" as never), TypeError);
  const naive = createPercpu({ features: ["sp-naive"] });
  assert.throws(() => shareAreas(naive, 1), /sp-naive/);
});

Deno.test("remoteSum is exact for every numeric kind", () => {
  const p = createPercpu({ arch: "aarch64" });
  const vars = {
    u8: p.defPercpu("U8", u8, 0),
    u16: p.defPercpu("U16", u16, 0),
    u32: p.defPercpu("U32", u32, 0),
    u64: p.defPercpu("U64", u64, 0n),
    usize: p.defPercpu("USIZE", usize, 0),
    i8: p.defPercpu("I8", i8, 0),
    i16: p.defPercpu("I16", i16, 0),
    i32: p.defPercpu("I32", i32, 0),
    i64: p.defPercpu("I64", i64, 0n),
    isize: p.defPercpu("ISIZE", isize, 0),
    f32: p.defPercpu("F32", f32, 0),
    f64: p.defPercpu("F64", f64, 0),
  };
  const cpus = 5;
  p.init(cpus, { buffer: new SharedArrayBuffer(p.percpuAreaLayoutExpected(cpus).size) });
  for (let cpu = 0; cpu < cpus; cpu++) {
    vars.u8.remoteRefMutRaw(cpu).value = 0xff;
    vars.u16.remoteRefMutRaw(cpu).value = 0xffff;
    vars.u32.remoteRefMutRaw(cpu).value = 0xffff_ffff;
    vars.u64.remoteRefMutRaw(cpu).value = 0xffff_ffff_ffff_ffffn;
    vars.usize.remoteRefMutRaw(cpu).value = 2 ** 50;
    vars.i8.remoteRefMutRaw(cpu).value = -128;
    vars.i16.remoteRefMutRaw(cpu).value = -0x8000;
    vars.i32.remoteRefMutRaw(cpu).value = -0x8000_0000;
    vars.i64.remoteRefMutRaw(cpu).value = -(2n ** 63n);
    vars.isize.remoteRefMutRaw(cpu).value = -(2 ** 50);
    vars.f32.remoteRefMutRaw(cpu).value = 0.5;
    vars.f64.remoteRefMutRaw(cpu).value = 0.25;
  }
  // No wrapping: the sums are the mathematical ones.
  assert.equal(remoteSum(p, vars.u8), cpus * 0xff);
  assert.equal(remoteSum(p, vars.u16), cpus * 0xffff);
  assert.equal(remoteSum(p, vars.u32), cpus * 0xffff_ffff);
  assert.equal(remoteSum(p, vars.u64), BigInt(cpus) * 0xffff_ffff_ffff_ffffn);
  assert.equal(remoteSum(p, vars.usize), cpus * 2 ** 50);
  assert.equal(remoteSum(p, vars.i8), cpus * -128);
  assert.equal(remoteSum(p, vars.i16), cpus * -0x8000);
  assert.equal(remoteSum(p, vars.i32), cpus * -0x8000_0000);
  assert.equal(remoteSum(p, vars.i64), BigInt(cpus) * -(2n ** 63n));
  assert.equal(remoteSum(p, vars.isize), cpus * -(2 ** 50));
  assert.equal(remoteSum(p, vars.f32), 2.5);
  assert.equal(remoteSum(p, vars.f64), 1.25);

  // A usize sum past 2^53 cannot be a number.
  for (let cpu = 0; cpu < cpus; cpu++) vars.usize.remoteRefMutRaw(cpu).value = 2 ** 52;
  assert.throws(() => remoteSum(p, vars.usize), /outside the safe integers/);
});

Deno.test("remoteSum and atomicRemote reject what they cannot handle", () => {
  const p = createPercpu();
  const flag = p.defPercpu("FLAG", bool, false);
  const pair = p.defPercpu("PAIR", struct({ a: u32 }), { a: 0 });
  p.init(2);
  const foreign = createPercpu().defPercpu("OTHER", u32, 0);
  assert.throws(() => remoteSum(p, flag), { name: "TypeError", message: /FLAG is a bool/ });
  assert.throws(() => atomicRemote(p, pair as never), /atomic access is for scalar variables/);
  assert.throws(() => atomicRemote(p, foreign), /OTHER is not a variable of this system/);
  const flags = atomicRemote(p, flag);
  flags.store(1, true);
  assert.equal(flags.load(1), true);
  assert.throws(() => flags.add(1, true as never), TypeError);
});

Deno.test("atomicRemote loads, stores and adds with the accessors' rules", async (t) => {
  for (const arch of ["x86_64", "arm"] as const) {
    await t.step(arch, () => {
      const p = createPercpu({ arch });
      const U8 = p.defPercpu("U8", u8, 250);
      const I32 = p.defPercpu("I32", i32, 0);
      const U64 = p.defPercpu("U64", u64, 0n);
      const USIZE = p.defPercpu("USIZE", usize, 0);
      const ISIZE = p.defPercpu("ISIZE", isize, 0);
      const F32 = p.defPercpu("F32", f32, 0);
      const F64 = p.defPercpu("F64", f64, 0);
      p.init(2, { buffer: new SharedArrayBuffer(p.percpuAreaLayoutExpected(2).size) });

      const u8s = atomicRemote(p, U8);
      assert.equal(u8s.add(1, 10), 250); // fetch_add returns the old value
      assert.equal(u8s.load(1), 4); // and wraps like addCurrent
      assert.equal(U8.remoteRefRaw(1).value, 4);
      assert.throws(() => u8s.store(1, 256), {
        name: "RangeError",
        message:
          "U8@CPU 1 atomic store: a u8 value must be an integer from 0 to 255, got number 256",
      });
      assert.throws(() => u8s.add(1, 0.5), RangeError);
      assert.equal(u8s.load(1), 4);
      assert.throws(() => u8s.load(2), RangeError);

      const i32s = atomicRemote(p, I32);
      i32s.store(0, 0x7fff_ffff);
      i32s.add(0, 1);
      assert.equal(i32s.load(0), -0x8000_0000);

      const u64s = atomicRemote(p, U64);
      u64s.store(1, 0xffff_ffff_ffff_ffffn);
      assert.equal(u64s.add(1, 2n), 0xffff_ffff_ffff_ffffn);
      assert.equal(u64s.load(1), 1n);
      assert.throws(() => u64s.add(1, 1 as never), TypeError);

      const usizes = atomicRemote(p, USIZE);
      const isizes = atomicRemote(p, ISIZE);
      const max = arch === "arm" ? 0xffff_ffff : Number.MAX_SAFE_INTEGER;
      usizes.store(1, max);
      assert.equal(usizes.load(1), max);
      assert.equal(USIZE.remoteRefRaw(1).value, max);
      isizes.store(0, -5);
      assert.equal(isizes.add(0, 3), -5);
      assert.equal(ISIZE.remoteRefRaw(0).value, -2);
      if (arch === "arm") {
        assert.equal(usizes.add(1, 1), max); // 32-bit usize wraps, as addCurrent does
        assert.equal(usizes.load(1), 0);
      } else {
        assert.throws(() => usizes.add(1, 1), /outside the safe integers/);
        assert.equal(usizes.load(1), max); // refused without writing
      }

      const f32s = atomicRemote(p, F32);
      f32s.store(1, 0.1);
      assert.equal(f32s.add(1, 0.2), Math.fround(0.1));
      assert.equal(f32s.load(1), Math.fround(Math.fround(0.1) + 0.2));
      assert.throws(() => f32s.store(1, 1e39), /overflows f32/);
      const f64s = atomicRemote(p, F64);
      f64s.store(0, 0.1);
      f64s.add(0, 0.2);
      assert.equal(f64s.load(0), 0.1 + 0.2);
      assert.equal(F64.remoteRefRaw(0).value, 0.1 + 0.2);
    });
  }
});

Deno.test("a per-CPU counter folds at the batch; read() lags, sum() is exact", async (t) => {
  await t.step("batch and fold", () => {
    const p = createPercpu({ arch: "riscv64" });
    const rx = defPercpuCounter(p, "RX", { batch: 10 });
    assert.deepEqual(percpuCounters(p), [rx]);
    assert.equal(rx.delta.symbol, "__PERCPU_RX");
    p.init(3);
    p.initPercpuReg(0);
    for (let i = 0; i < 9; i++) rx.add();
    assert.equal(rx.read(), 0); // below the batch: all of it is CPU 0's delta
    assert.equal(rx.sum(), 9);
    rx.add(); // reaches 10: folded
    assert.equal(rx.read(), 10);
    assert.equal(rx.delta.readCurrent(), 0);
    p.initPercpuReg(2);
    rx.add(-25); // past -batch at once: folded whole
    assert.equal(rx.read(), -15);
    rx.add(4);
    assert.equal(rx.sum(), -11);
    assert.equal(rx.delta.remoteRefRaw(2).value, 4);
    rx.add(2 ** 40); // amounts larger than an i32 go straight to the total
    assert.equal(rx.sum(), 2 ** 40 - 11);
  });

  await t.step("bad amounts and options", () => {
    const p = createPercpu();
    const rx = defPercpuCounter(p, "RX");
    assert.equal(rx.batch, 1024);
    p.init(1);
    p.initPercpuReg(0);
    assert.throws(() => rx.add(1.5), {
      name: "RangeError",
      message: "RX.add: the amount must be a safe integer, got number 1.5",
    });
    assert.throws(() => rx.add("1" as never), TypeError);
    assert.equal(rx.sum(), 0);
    assert.throws(() => defPercpuCounter(createPercpu(), "X", { batch: 0 }), RangeError);
    assert.throws(() => defPercpuCounter(createPercpu(), "X", { batch: 2 ** 31 }), RangeError);
    assert.throws(() => defPercpuCounter(createPercpu(), "X", { batch: "8" as never }), TypeError);
    assert.throws(() => defPercpuCounter(p, "LATE"), { name: "DefinitionError" });
    assert.throws(() => defPercpuCounter(createPercpu(), "X", { bacth: 8 } as never), {
      name: "TypeError",
      message: /unknown defPercpuCounter option "bacth"/,
    });
    assert.throws(() => defPercpuCounter({} as never, "X"), {
      name: "TypeError",
      message: /expected a per-CPU system/,
    });
  });

  await t.step(
    "the total never wraps: an add that would leave the safe integers is refused",
    () => {
      const p = createPercpu();
      const big = defPercpuCounter(p, "BIG", { batch: 4 });
      p.init(2);
      p.initPercpuReg(0);
      const max = Number.MAX_SAFE_INTEGER;
      big.add(max - 3);
      big.add(2);
      p.initPercpuReg(1);
      big.add(1);
      assert.equal(big.sum(), max);
      const before = [
        big.read(),
        big.sum(),
        big.delta.remoteRefRaw(0).value,
        big.delta.remoteRefRaw(1).value,
      ];
      // Today's bug: 2,048 adds of 2^53 − 1 wrapped the i64 total to −2048.
      for (const amount of [max, 4]) {
        assert.throws(() => big.add(amount), {
          name: "RangeError",
          message:
            /BIG\.add: adding -?\d+ would take the shared total from .* outside the safe integers.*nothing was added/,
        });
      }
      assert.deepEqual(
        [big.read(), big.sum(), big.delta.remoteRefRaw(0).value, big.delta.remoteRefRaw(1).value],
        before,
      );
      big.add(-max);
      assert.equal(big.sum(), 0);
      for (let i = 0; i < 2048; i++) {
        try {
          big.add(max);
        } catch (e) {
          assert.ok(e instanceof RangeError);
        }
      }
      assert.equal(big.sum(), max);
      assert.ok(big.read() > 0);
    },
  );

  await t.step("a register that points nowhere faults", () => {
    const p = createPercpu({ arch: "loongarch64" });
    const rx = defPercpuCounter(p, "RX");
    p.init(1);
    assert.throws(() => rx.add(), FaultError);
  });

  await t.step("preempt: one guard per add", () => {
    const p = createPercpu({ features: ["preempt"] });
    const rx = defPercpuCounter(p, "RX", { batch: 2 });
    p.init(1);
    p.initPercpuReg(0);
    let depth = 0;
    let taken = 0;
    const kernel: KernelGuardIf = {
      disablePreempt: () => void (depth++, taken++),
      enablePreempt: () => void depth--,
    };
    const previous = setKernelGuardIf(kernel);
    try {
      for (let i = 0; i < 5; i++) rx.add();
    } finally {
      setKernelGuardIf(previous);
    }
    assert.equal(taken, 5);
    assert.equal(depth, 0);
    assert.equal(rx.sum(), 5);
  });
});

Deno.test({
  name: "runOnCpus: Workers count on their own CPUs; the sums are exact",
  async fn() {
    const shared = shareAreas(taskSystem, 2);
    const iterations = 10_000;
    const outcomes = await runOnCpus<{ cpu: number; hits: number }, CountArgs>({
      module: TASK,
      shared,
      args: { iterations },
    });
    assert.deepEqual(outcomes, [
      { cpu: 0, ok: true, value: { cpu: 0, hits: iterations } },
      { cpu: 1, ok: true, value: { cpu: 1, hits: iterations } },
    ]);
    assert.equal(remoteSum(taskSystem, HITS), 2 * iterations);
    assert.equal(EVENTS.sum(), 2 * iterations);
    // Each Worker folded all but its last partial batch into the shared total.
    assert.equal(EVENTS.read(), 2 * (iterations - (iterations % EVENTS.batch)));
  },
});

Deno.test({
  name: "runOnCpus: a crashing Worker is reported with its CPU; the others' data stay",
  async fn() {
    const shared = shareAreas(taskSystem, 3);
    const outcomes = await runOnCpus<{ cpu: number; hits: number }, CountArgs>({
      module: TASK,
      shared,
      args: { iterations: 100, failOn: 1 },
    });
    assert.deepEqual(outcomes.map((o) => [o.cpu, o.ok]), [[0, true], [1, false], [2, true]]);
    const failed = outcomes[1];
    assert.ok(!failed.ok);
    assert.ok(failed.error instanceof CpuTaskError);
    assert.equal(failed.error.cpu, 1);
    assert.equal(failed.error.remoteName, "RangeError");
    assert.equal(failed.error.message, "CPU 1: RangeError: CPU 1 refuses to finish");
    assert.match(failed.error.remoteStack ?? "", /cpu_task\.ts/);
    // Every CPU's data is intact, the failed one's included.
    for (let cpu = 0; cpu < 3; cpu++) assert.equal(HITS.remoteRefRaw(cpu).value, 100);
    assert.equal(EVENTS.sum(), 300);
  },
});

Deno.test({
  name: "runOnCpus: a Worker with another layout is refused; a missing module or task too",
  async fn() {
    const shared = shareAreas(taskSystem, 1);
    const [stale] = await runOnCpus({ module: STALE_TASK, shared });
    assert.ok(!stale.ok);
    assert.equal(stale.error.remoteName, "LayoutMismatchError");
    assert.match(
      stale.error.message,
      /^CPU 0: LayoutMismatchError: .*variable #1: HITS is u64 at offset 8 here but u32 at offset 8 in the creator$/,
    );
    await assert.rejects(
      () => runOnCpus({ module: new URL("./fixtures/no_such_task.ts", import.meta.url), shared }),
      { name: "NotFound", message: /^runOnCpus: no module file at .*no_such_task\.ts$/ },
    );
    const [noTask] = await runOnCpus({ module: TASK, shared, task: "nothing" });
    assert.ok(!noTask.ok);
    assert.match(noTask.error.message, /does not export a function "nothing"/);
  },
});

Deno.test({
  name: "runOnCpus: a task that ends its Worker fails that CPU alone",
  async fn() {
    const { percpu, MARK } = await import(ENDING_TASK.href);
    const shared = shareAreas(percpu, 4);
    const outcomes = await runOnCpus<number>({ module: ENDING_TASK, shared });
    assert.deepEqual(outcomes.map((o) => [o.cpu, o.ok]), [[0, false], [1, false], [2, false], [
      3,
      true,
    ]]);
    const messages = outcomes.map((o) => o.ok ? o.value : o.error.message);
    assert.match(
      String(messages[0]),
      /^CPU 0: Error: the task ended its Worker with Deno\.exit\(3\)/,
    );
    assert.match(String(messages[1]), /^CPU 1: Error: the task ended its Worker with close\(\)/);
    assert.match(
      String(messages[2]),
      /^CPU 2: Error: the task ended its Worker with Deno\.exit\(5\)/,
    );
    assert.equal(messages[3], 3);
    for (const outcome of outcomes) {
      if (!outcome.ok) assert.ok(outcome.error instanceof CpuTaskError);
    }
    // What each task did before it ended is kept.
    for (let cpu = 0; cpu < 4; cpu++) assert.equal(MARK.remoteRefRaw(cpu).value, cpu + 100);
  },
});

Deno.test({
  name: "runOnCpus: args that cannot be cloned are refused before any Worker starts",
  async fn() {
    // The test's resource sanitizer fails it if a Worker is left running.
    const shared = shareAreas(taskSystem, 2);
    for (const args of [{ f: () => 1 }, [Symbol("s")], { nested: { p: new WeakMap() } }]) {
      await assert.rejects(
        () => runOnCpus({ module: TASK, shared, args }),
        (e) => {
          assert.ok(e instanceof TypeError);
          assert.match(e.message, /^runOnCpus: args must be structured-cloneable/);
          assert.equal((e.cause as Error).name, "DataCloneError");
          return true;
        },
      );
    }
    // Args are read once, and every CPU gets that one copy.
    let reads = 0;
    const args = {
      get iterations() {
        reads++;
        return reads === 1 ? 5 : 1e9;
      },
    };
    const outcomes = await runOnCpus<{ hits: number }, CountArgs>({ module: TASK, shared, args });
    assert.equal(reads, 1);
    assert.deepEqual(outcomes.map((o) => o.ok && o.value.hits), [5, 5]);
  },
});

Deno.test("runOnCpus rejects bad options before starting a Worker", async () => {
  const shared = shareAreas(taskSystem, 2);
  await assert.rejects(() => runOnCpus({ module: "./task.ts", shared }), {
    name: "TypeError",
    message: /module must be an absolute URL/,
  });
  await assert.rejects(() => runOnCpus({ module: TASK, shared, workers: 3 }), RangeError);
  await assert.rejects(() => runOnCpus({ module: TASK, shared: {} as never }), TypeError);
  await assert.rejects(() => runOnCpus({ module: TASK, shared, task: "" }), TypeError);
  const aborted = AbortSignal.abort(new Error("stop"));
  await assert.rejects(() => runOnCpus({ module: TASK, shared, signal: aborted }), /stop/);
  await assert.rejects(() => runOnCpus({ module: TASK, shared, workers: "2" as never }), TypeError);
  await assert.rejects(() => runOnCpus({ module: TASK, shared, signal: {} as never }), TypeError);
  await assert.rejects(() => runOnCpus({ module: TASK, shared, wokers: 1 } as never), {
    name: "TypeError",
    message: /unknown runOnCpus option "wokers"/,
  });
  await assert.rejects(() => runOnCpus(undefined as never), TypeError);
  // What cannot be sent to a Worker is refused before any starts (the
  // resource sanitizer fails the test if one is left running).
  await assert.rejects(
    () => runOnCpus({ module: TASK, shared: { ...shared, f: () => 1 } as never }),
    {
      name: "TypeError",
      message: /^runOnCpus: shared must be what shareAreas\(\) returned: /,
    },
  );
});

Deno.test({
  name: "atomic reads of 64-bit values another Worker is storing are never torn",
  async fn() {
    const shared = shareAreas(taskSystem, 2);
    const flags = new Int32Array(new SharedArrayBuffer(12));
    const args: FlipArgs = {
      flags: flags.buffer as SharedArrayBuffer,
      rounds: 200_000,
      reads: 10_000,
    };
    const done = runOnCpus<number, FlipArgs>({ module: TASK, shared, task: "flip", args });
    const wide = atomicRemote(taskSystem, WIDE);
    const pointer = atomicRemote(taskSystem, POINTER);
    // Both Workers flip their own CPU's copies; read CPU 1's while they do
    // (they flip on until this thread has read 10 000 times).
    // Waiting for the start must yield: starting a Worker needs this thread.
    const deadline = Date.now() + 10_000;
    while (Atomics.load(flags, 0) === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    let reads = 0;
    const readDeadline = Date.now() + 60_000; // a Worker that died never says done
    while (Atomics.load(flags, 1) === 0 && Date.now() < readDeadline) {
      assert.ok(PATTERNS.wide.includes(wide.load(1)), "torn u64");
      assert.ok(PATTERNS.pointer.includes(pointer.load(1)), "torn usize");
      reads++;
      Atomics.store(flags, 2, reads);
    }
    const outcomes = await done;
    assert.ok(outcomes.every((o) => o.ok), JSON.stringify(outcomes));
    assert.ok(reads >= 10_000, `read ${reads} times while the values changed`);
  },
});

Deno.test("Workers share dynamic variables", async () => {
  const shared = shareAreas(dynamicSystem, 2);
  assert.equal(shared.dynamic.length, 1, "one chunk holds both");
  assert.ok(shared.dynamic[0] instanceof SharedArrayBuffer);
  const outcomes = await runOnCpus<string, number>({
    module: new URL("./fixtures/dynamic_task.ts", import.meta.url),
    shared,
    args: 1000,
  });
  assert.deepEqual(outcomes.map((o) => o.ok && o.value), ["1000", "2000"]);
  assert.deepEqual([PACKETS.readRemote(0), PACKETS.readRemote(1)], [1000n, 2000n]);
  assert.deepEqual([LAST.readRemote(0), LAST.readRemote(1)], [0, 1]);
});
