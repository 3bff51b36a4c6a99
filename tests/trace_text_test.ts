// formatTraceExcerpt: the cycles around a run's first bad access, one column
// per CPU; what it finds, what it shows, and what it refuses.

import assert from "node:assert/strict";
import fc from "fast-check";
import { formatTraceExcerpt, type SimEvent, simulate } from "../sched/mod.ts";

const access = (
  cycle: number,
  cpu: number,
  task: number,
  write: boolean,
  extra: { hitCpu?: number; wrong?: boolean; address?: number } = {},
): SimEvent => ({
  kind: "access",
  cycle,
  cpu,
  task,
  address: extra.address ?? 0x1000,
  hitCpu: extra.hitCpu ?? cpu,
  write,
  text: write ? "str x2, [x0]" : "ldr x2, [x0]",
  remote: false,
  wrong: extra.wrong ?? false,
});

Deno.test("a wrong-CPU access: its column, its mark, and the preemption that led to it", () => {
  const run = simulate({ arch: "aarch64", tasks: 3, seed: 3, record: true });
  const text = formatTraceExcerpt({ events: run.events!, taskNames: run.taskNames });
  const lines = text.trimEnd().split("\n");
  const first = run.firstViolation!;
  assert.equal(
    lines[0],
    `Trace around the first wrong-CPU access (cycle ${first.cycle}, ${
      run.taskNames[first.task]
    } on CPU ${first.cpu}):`,
  );
  const header = lines[1];
  const columnStart = header.indexOf(`CPU ${first.cpu}`);
  const marked = lines.find((line) => line.includes("✗"))!;
  assert.equal(marked.indexOf(`${run.taskNames[first.task]}: ${first.text}`), columnStart);
  assert.match(marked, new RegExp(`✗ hit CPU ${first.hitCpu}'s area( *\\||$)`));
  assert.ok(
    lines.some((line) => line.includes(`${run.taskNames[first.task]} preempted`)),
    "the offending task's preemption is in view",
  );
  // Cycles ascend, and each is printed once.
  const cycles = lines.slice(3).map((line) => line.slice(0, 8).trim()).filter((c) => c !== "")
    .map(Number);
  assert.deepEqual(cycles, [...cycles].sort((a, b) => a - b));
  assert.equal(new Set(cycles).size, cycles.length);
});

Deno.test("a lost update: the store that overwrote a store its task had not read", () => {
  const events: SimEvent[] = [
    access(1, 0, 0, false),
    access(2, 1, 1, false, { hitCpu: 0 }),
    access(3, 1, 1, true, { hitCpu: 0 }),
    access(4, 0, 0, true),
  ];
  const text = formatTraceExcerpt({ events, taskNames: ["a", "b"] });
  assert.match(text, /^Trace around the first lost update \(cycle 4, a on CPU 0\):/);
  assert.match(text, /a: str x2, \[x0\] +✗ overwrote b's store: lost update/);
  // Loaded on one CPU, stored on another after a migration: each access hit
  // its own CPU's area, yet CPU 1's count is replaced by CPU 0's plus one.
  const moved: SimEvent[] = [
    access(1, 0, 0, false, { address: 0x1000 }),
    access(2, 1, 0, true, { address: 0x1040 }),
  ];
  assert.match(
    formatTraceExcerpt({ events: moved, taskNames: ["a"] }),
    /a: str x2, \[x0\] +✗ stored a value loaded from CPU 0's copy: lost update/,
  );
  // Another variable (not 64 bytes apart) is not the same counter.
  const other: SimEvent[] = [
    access(1, 0, 0, false, { address: 0x1000 }),
    access(2, 1, 0, true, { address: 0x1048 }),
  ];
  assert.match(formatTraceExcerpt({ events: other, taskNames: ["a"] }), /^No bad access/);
  // Read-modify-write in turn loses nothing.
  const clean: SimEvent[] = [
    access(1, 0, 0, false),
    access(2, 0, 0, true),
    access(3, 1, 1, false, { hitCpu: 0 }),
    access(4, 1, 1, true, { hitCpu: 0 }),
    access(5, 0, 0, false, { address: 0x2000 }),
    access(6, 0, 0, true, { address: 0x2000 }),
  ];
  assert.equal(
    formatTraceExcerpt({ events: clean, taskNames: ["a", "b"] }),
    "No bad access in this run: no wrong-CPU access, no lost update.\n",
  );
});

Deno.test("nothing recorded, nothing wrong, unknown kinds, hostile names", () => {
  assert.equal(
    formatTraceExcerpt({ events: [], taskNames: [] }),
    "No events were recorded (run with record: true).\n",
  );
  const safe = simulate({ arch: "riscv64", features: ["preempt"], record: true });
  assert.match(formatTraceExcerpt({ events: safe.events!, taskNames: safe.taskNames }), /^No bad/);
  const events = [
    { kind: "future-kind", cycle: 1, cpu: 0, task: 0 } as unknown as SimEvent,
    access(2, 0, 0, true, { wrong: true, hitCpu: -1 }),
  ];
  const text = formatTraceExcerpt({ events, taskNames: ["evil\x1b[2J\nname"] });
  assert.match(text, /evil\\x1b\[2J\\x0aname: future-kind/);
  assert.match(text, /✗ outside every area/);
  assert.ok(!text.includes("\x1b"), "no raw control character");
  assert.equal(text.split("\n").length, 6, "a newline in a name does not add a line");
});

Deno.test("the window: before and after, checked", () => {
  const run = simulate({ arch: "arm", tasks: 3, seed: 2, record: true });
  const input = { events: run.events!, taskNames: run.taskNames };
  const narrow = formatTraceExcerpt(input, { before: 0, after: 0 });
  const wide = formatTraceExcerpt(input, { before: 20, after: 10 });
  assert.ok(wide.split("\n").length > narrow.split("\n").length);
  const last = (text: string) =>
    Math.max(...text.split("\n").slice(3).map((l) => Number(l.slice(0, 8).trim()) || 0));
  assert.equal(last(narrow), run.firstViolation!.cycle);
  const bad: [unknown, ErrorConstructor][] = [
    [null, TypeError],
    [[], TypeError],
    [{ befor: 3 }, TypeError],
    [{ before: "4" }, TypeError],
    [{ before: -1 }, RangeError],
    [{ after: 1.5 }, RangeError],
    [{ after: 1001 }, RangeError],
  ];
  for (const [options, error] of bad) {
    assert.throws(
      () => formatTraceExcerpt(input, options as { before?: number }),
      error,
      JSON.stringify(options),
    );
  }
});

Deno.test("any recorded run renders: one header, every line within its columns", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("x86_64", "aarch64", "riscv64", "loongarch64", "arm"),
      fc.constantFrom("with-current", "read-write", "add"),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 0, max: 1000 }),
      (arch, access, cpus, seed) => {
        const run = simulate({ arch, access, cpus, tasks: 3, iters: 10, seed, record: true });
        const text = formatTraceExcerpt({ events: run.events!, taskNames: run.taskNames });
        assert.ok(text.endsWith("\n"));
        if (text.startsWith("No bad access")) {
          assert.equal(run.wrongCpuAccesses, 0);
          assert.equal(run.lostUpdates, 0, "every lost update has a stale store");
          return;
        }
        assert.equal(text.match(/✗/g)?.length, 1, "one mark");
        const lines = text.trimEnd().split("\n");
        const bars = (line: string) => line.split(" | ").length;
        for (const line of lines.slice(1)) assert.ok(bars(line) <= bars(lines[1]), line);
      },
    ),
    { numRuns: 60, seed: 5 },
  );
});
