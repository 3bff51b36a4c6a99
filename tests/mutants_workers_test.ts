// runOnCpus when tasks fail or never finish: each CPU's outcome says what its
// task threw (an Error's class and message; for anything else, the value),
// and an abort stops the Workers and rejects with the signal's reason.
//
// Workers load their modules from files: run with --allow-read.

import assert from "node:assert/strict";
import { createPercpu, FaultError, u32, u64 } from "../mod.ts";
import {
  atomicRemote,
  attachShared,
  CpuTaskError,
  defPercpuCounter,
  runOnCpus,
  shareAreas,
} from "../lib/workers/mod.ts";
import { percpuCounters } from "../lib/workers/percpu_counter.ts";
import { percpu } from "./fixtures/failing_task.ts";

const TASK = new URL("./fixtures/failing_task.ts", import.meta.url);

Deno.test("runOnCpus reports each CPU's thrown Error and thrown value", async () => {
  const shared = shareAreas(percpu, 2);
  const errors = await runOnCpus({ module: TASK, shared, task: "fails" });
  assert.deepEqual(errors.map((o) => o.ok), [false, false]);
  errors.forEach((outcome, cpu) => {
    assert.ok(!outcome.ok);
    assert.ok(outcome.error instanceof CpuTaskError);
    assert.equal(outcome.error.cpu, cpu);
    assert.equal(outcome.error.remoteName, "RangeError");
    assert.match(outcome.error.message, new RegExp(`CPU ${cpu} gave up`));
  });
  const values = await runOnCpus({ module: TASK, shared, task: "throwsText" });
  values.forEach((outcome, cpu) => {
    assert.ok(!outcome.ok);
    assert.match(outcome.error.message, /threw a non-Error value/);
    assert.match(outcome.error.message, new RegExp(`text from CPU ${cpu}`));
  });
});

Deno.test("aborting runOnCpus mid-run rejects with the reason", async () => {
  const shared = shareAreas(percpu, 2);
  const controller = new AbortController();
  const reason = new Error("enough");
  const timer = setTimeout(() => controller.abort(reason), 200);
  try {
    await assert.rejects(
      () => runOnCpus({ module: TASK, shared, task: "hangs", signal: controller.signal }),
      (e: unknown) => e === reason,
    );
  } finally {
    clearTimeout(timer);
  }
});

Deno.test("runOnCpus: a module without the named system says so", async () => {
  const shared = shareAreas(percpu, 1);
  const [outcome] = await runOnCpus({ module: TASK, shared, task: "fails", system: "MARK" });
  assert.ok(!outcome.ok);
  assert.match(outcome.error.message, /does not export its per-CPU system as "MARK"/);
});

Deno.test("attachShared names a dynamic variable the creator lacks", () => {
  const make = (dynamic: boolean) => {
    const p = createPercpu();
    p.defPercpu("X", u32, 0);
    if (dynamic) p.allocPercpu(u32, 1);
    return p;
  };
  const shared = shareAreas(make(false), 2);
  assert.throws(() => attachShared(make(true), shared, 0), /dynamic variable/);
});

Deno.test("every counter of a system is registered, in order", () => {
  const p = createPercpu();
  const a = defPercpuCounter(p, "A");
  const b = defPercpuCounter(p, "B");
  const c = defPercpuCounter(p, "C");
  assert.deepEqual(percpuCounters(p), [a, b, c]);
});

Deno.test("atomicRemote faults on a CPU whose memory shrank away, not before", () => {
  const p = createPercpu({ arch: "aarch64" });
  const X = p.defPercpu("X", u64, 5n);
  const size = p.percpuAreaLayoutExpected(2).size;
  const buffer = new ArrayBuffer(size, { maxByteLength: size });
  p.init(2, { buffer });
  const cells = atomicRemote(p, X);
  const end = X.remotePtr(1) - p.percpuAreaBase(0) + 8;
  // Cut the last 4 bytes of CPU 1's X.
  buffer.resize(end - 4);
  assert.equal(cells.load(0), 5n);
  assert.throws(() => cells.load(1), FaultError);
  assert.throws(() => cells.store(1, 1n), FaultError);
});
