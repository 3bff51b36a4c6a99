// runOnCpus when tasks fail or never finish: each CPU's outcome says what its
// task threw (an Error's class and message; for anything else, the value),
// and an abort stops the Workers and rejects with the signal's reason.
//
// Workers load their modules from files: run with --allow-read.

import assert from "node:assert/strict";
import { CpuTaskError, runOnCpus, shareAreas } from "../lib/workers/mod.ts";
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
