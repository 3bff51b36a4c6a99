// Reports from hand-made event logs, so that each detail is there for a
// reason the test states: trace excerpts (the window's cap, every event's
// wording) and timelines in both renderings (event by event, and columns
// for long runs): markers, shades, labels and the legend.

import assert from "node:assert/strict";
import {
  formatSimReport,
  formatTraceExcerpt,
  renderTimelineSvg,
  type SimEvent,
  simulate,
} from "../sched/mod.ts";

const BAD = 100;

function wrongAccess(cycle: number, cpu: number, task = 0): SimEvent {
  return {
    kind: "access",
    cycle,
    cpu,
    task,
    address: 0x1000,
    hitCpu: 1 - cpu,
    write: false,
    text: "ldr x0, [x1]",
    remote: false,
    wrong: true,
  } as SimEvent;
}

/** Task a is preempted at `preemptAt`, later hits CPU 0's area from CPU 1. */
function excerptEvents(preemptAt: number): SimEvent[] {
  return [
    { kind: "dispatch", cycle: 0, cpu: 0, task: 0 },
    { kind: "preempt", cycle: preemptAt, cpu: 0, task: 0, target: 1 },
    { kind: "irq", cycle: BAD - 2, cpu: 1, task: 1, enabled: false },
    { kind: "irq", cycle: BAD - 1, cpu: 1, task: 1, enabled: true },
    wrongAccess(BAD, 1),
    { kind: "exit", cycle: BAD + 1, cpu: 0, task: 1 },
  ] as SimEvent[];
}

Deno.test("a trace excerpt looks back to the preemption, at most 40 cycles", () => {
  const names = ["a", "b"];
  assert.equal(
    formatTraceExcerpt({ events: excerptEvents(BAD - 40), taskNames: names }),
    [
      "Trace around the first wrong-CPU access (cycle 100, a on CPU 1):",
      "   cycle | CPU 0                        | CPU 1",
      "         | ---------------------------- | ------------------------------------",
      "      60 | a preempted, queued on CPU 1 |",
      "      98 |                              | b: IRQs off",
      "      99 |                              | b: IRQs on",
      "     100 |                              | a: ldr x0, [x1]   ✗ hit CPU 0's area",
      "     101 | b exits                      |",
      "",
    ].join("\n"),
  );
  assert.equal(
    formatTraceExcerpt({ events: excerptEvents(BAD - 41), taskNames: names }),
    [
      "Trace around the first wrong-CPU access (cycle 100, a on CPU 1):",
      "   cycle | CPU 0   | CPU 1",
      "         | ------- | ------------------------------------",
      "      98 |         | b: IRQs off",
      "      99 |         | b: IRQs on",
      "     100 |         | a: ldr x0, [x1]   ✗ hit CPU 0's area",
      "     101 | b exits |",
      "",
    ].join("\n"),
  );
});

Deno.test("a trace excerpt of a run without events says to record them", () => {
  for (const events of [undefined, []]) {
    assert.equal(
      formatTraceExcerpt({ events: events as never, taskNames: ["a"] }),
      "No events were recorded (run with record: true).\n",
    );
  }
});

function svg(
  events: SimEvent[],
  cycles: number,
  cpus = 2,
  taskNames = ["a", "b"],
): string {
  const end: SimEvent = {
    kind: "exit",
    cycle: cycles,
    cpu: 0,
    task: 0,
  } as SimEvent;
  return renderTimelineSvg({
    events: [...events, end],
    taskNames,
    cpus,
    title: "t",
  });
}

function titles(text: string): string[] {
  return [...text.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]);
}

Deno.test("a long run's columns show IRQs off, guards, deferred ticks and failures", () => {
  const cycles = 20_000;
  const base = svg([
    { kind: "dispatch", cycle: 0, cpu: 0, task: 0 },
    { kind: "dispatch", cycle: 0, cpu: 1, task: 1 },
  ] as SimEvent[], cycles);
  const got = titles(svg([
    { kind: "dispatch", cycle: 0, cpu: 0, task: 0 },
    { kind: "dispatch", cycle: 0, cpu: 1, task: 1 },
    // Off from the very first cycle, never on again.
    { kind: "irq", cycle: 0, cpu: 1, task: 1, enabled: false },
    { kind: "guard", cycle: 5000, cpu: 0, task: 0, count: 1 },
    { kind: "guard", cycle: 9000, cpu: 0, task: 0, count: 0 },
    { kind: "tick", cycle: 6000, cpu: 0, task: 0, outcome: "deferred-guard" },
    { kind: "tick", cycle: 6001, cpu: 0, task: 0, outcome: "deferred-irq" },
    { kind: "tick", cycle: 7000, cpu: 0, task: 0, outcome: "preempt" },
    {
      kind: "misuse",
      cycle: 12_000,
      cpu: 1,
      task: 1,
      message: "sleeping with a guard",
    },
    { kind: "fail", cycle: 12_001, cpu: 1, task: 1, message: "boom" },
  ] as SimEvent[], cycles));
  assert.deepEqual(
    titles(base).filter((t) => /IRQs disabled|preemption disabled|deferred|kernel reports/.test(t)),
    [],
  );
  assert.ok(got.includes("IRQs disabled"), "the IRQs-off span is drawn");
  assert.ok(
    got.some((t) => /^preemption disabled \d+% of the time$/.test(t)),
    "the guard",
  );
  assert.ok(got.some((t) => /^2 ticks deferred, /.test(t)), got.join("\n"));
  assert.ok(
    got.some((t) => /^2 kernel reports or failures, /.test(t)),
    got.join("\n"),
  );
});

Deno.test("a short run's timeline marks failures and reports, and shades IRQs off", () => {
  const events = [
    { kind: "dispatch", cycle: 0, cpu: 0, task: 0 },
    { kind: "irq", cycle: 10, cpu: 0, task: 0, enabled: false },
    { kind: "irq", cycle: 20, cpu: 0, task: 0, enabled: true },
    {
      kind: "misuse",
      cycle: 30,
      cpu: 0,
      task: 0,
      message: "sleeping with a guard",
    },
    { kind: "fail", cycle: 40, cpu: 1, task: 1, message: "boom" },
  ] as SimEvent[];
  const text = svg(events, 100);
  const got = titles(text);
  assert.ok(got.includes("sleeping with a guard"));
  assert.ok(got.includes("b failed: boom"));
  assert.equal(text.match(/>⚠</g)?.length, 2);
  // The shade spans cycles 10 to 20, not 20 to the end.
  const shade = (t: string) => {
    const m = t.match(
      /<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="5"[^>]*><title>IRQs disabled/,
    );
    assert.ok(m, "an IRQs-off shade");
    return { x: Number(m[1]), width: Number(m[2]) };
  };
  const closed = shade(text);
  const open = shade(svg(events.slice(0, 2), 100));
  assert.equal(closed.x, open.x);
  assert.ok(closed.width < open.width / 5, `${closed.width} vs ${open.width}`);
});

Deno.test("wrong-access labels: at most six, inside the picture, in their lane", () => {
  const events: SimEvent[] = [
    { kind: "dispatch", cycle: 0, cpu: 0, task: 0 } as SimEvent,
    { kind: "dispatch", cycle: 0, cpu: 1, task: 1 } as SimEvent,
  ];
  for (let i = 0; i < 10; i++) events.push(wrongAccess(i * 100, i % 2, i % 2));
  events.push(wrongAccess(1000, 0));
  const text = svg(events, 1000);
  const labels = [
    ...text.matchAll(
      /<text x="([\d.]+)" y="([\d.]+)" fill="#e3001b" text-anchor="(\w+)">/g,
    ),
  ];
  assert.equal(labels.length, 6);
  const width = Number(text.match(/<svg[^>]* width="([\d.]+)"/)![1]);
  // The one at the right edge ends there, anchored at its end.
  const last = svg([events[0], wrongAccess(1000, 0)], 1000);
  assert.match(last, /fill="#e3001b" text-anchor="end">/);
  for (const [, x, , anchor] of labels) {
    assert.ok(anchor === "start" ? Number(x) < width : Number(x) <= width);
  }
  // Each red dot lies on its CPU's lane (the lane's grey background).
  const lanes = [
    ...text.matchAll(
      /<rect x="70" y="(\d+)" width="[\d.]+" height="30" fill="#f6f6f6"/g,
    ),
  ]
    .map((m) => Number(m[1]));
  assert.equal(lanes.length, 2);
  const dots = [
    ...text.matchAll(
      /<circle cx="[\d.]+" cy="([\d.]+)" r="6"[^>]*><title>cycle \d+: \w+ on CPU (\d)/g,
    ),
  ];
  assert.equal(dots.length, 11);
  for (const [, cy, cpu] of dots) {
    const top = lanes[Number(cpu)];
    assert.ok(
      Number(cy) >= top && Number(cy) <= top + 30,
      `${cy} in ${top}–${top + 30}`,
    );
  }
});

Deno.test("a legend of many tasks fits in the picture", () => {
  const names = Array.from({ length: 75 }, (_, i) => `task${i}`);
  const text = svg(
    [{ kind: "dispatch", cycle: 0, cpu: 0, task: 0 } as SimEvent],
    50,
    2,
    names,
  );
  const height = Number(text.match(/<svg[^>]* height="([\d.]+)"/)![1]);
  assert.match(text, /… and 15 more tasks/);
  const ys = [...text.matchAll(/<text x="[\d.]+" y="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.ok(Math.max(...ys) < height, `${Math.max(...ys)} < ${height}`);
});

Deno.test("a wrong-access label never runs past the right margin", () => {
  const text = "ldr x0, [x1] → CPU 1's area";
  for (let cycle = 700; cycle <= 1000; cycle += 4) {
    const out = svg([
      { kind: "dispatch", cycle: 0, cpu: 0, task: 0 } as SimEvent,
      wrongAccess(cycle, 0),
    ], 1000);
    const width = Number(out.match(/<svg[^>]* width="([\d.]+)"/)![1]);
    const m = out.match(
      /<text x="([\d.]+)" y="[\d.]+" fill="#e3001b" text-anchor="(\w+)">/,
    )!;
    const x = Number(m[1]);
    // 7 px per character, a 24 px right margin.
    const right = m[2] === "start" ? x + text.length * 7 : x;
    assert.ok(
      right < width - 24 + 1e-9,
      `cycle ${cycle}: ends at ${right} of ${width}`,
    );
  }
});

Deno.test("a simulation report counts wrong-CPU accesses in words", () => {
  const run = simulate({ arch: "aarch64", tasks: 3, seed: 3 });
  assert.ok(run.wrongCpuAccesses > 1 && run.corrupted);
  assert.match(
    formatSimReport(run),
    new RegExp(`${run.wrongCpuAccesses} accesses hit another CPU's area`),
  );
  assert.match(
    formatSimReport({ ...run, wrongCpuAccesses: 1 }),
    /[^\d]1 access hit another CPU's area/,
  );
});

Deno.test("a simulation report says why a run stopped early, and names tasks", () => {
  const run = simulate({ arch: "aarch64", tasks: 3, seed: 3 });
  assert.match(
    formatSimReport({ ...run, stopReason: "stopped" }),
    /^INCOMPLETE: stopped before the tasks ended after \d+ cycles; no verdict/m,
  );
  const names = ["alpha", "beta", "gamma"];
  const text = formatSimReport({ ...run, taskNames: names });
  const task = run.firstViolation!.task;
  assert.match(
    text,
    new RegExp(`first: cycle \\d+, ${names[task]} running on CPU`),
  );
});

Deno.test("labels of wrong accesses close together: two rows, then none", () => {
  const events: SimEvent[] = [
    { kind: "dispatch", cycle: 0, cpu: 0, task: 0 } as SimEvent,
  ];
  for (let i = 0; i < 5; i++) events.push(wrongAccess(10 + i, 0));
  const text = svg(events, 1000);
  assert.equal([...text.matchAll(/fill="#e3001b" text-anchor=/g)].length, 2);
});

Deno.test("columns: a guard's shade ends where it was released; busy lanes name tasks", () => {
  const cycles = 20_000;
  const text = svg([
    { kind: "dispatch", cycle: 0, cpu: 0, task: 0 },
    { kind: "dispatch", cycle: 0, cpu: 1, task: 1 },
    { kind: "irq", cycle: 0, cpu: 1, task: 1, enabled: false },
    { kind: "guard", cycle: 5000, cpu: 0, task: 0, count: 1 },
    { kind: "guard", cycle: 6000, cpu: 0, task: 0, count: 2 },
    { kind: "guard", cycle: 7000, cpu: 0, task: 0, count: 1 },
    { kind: "guard", cycle: 9000, cpu: 0, task: 0, count: 0 },
  ] as SimEvent[], cycles);
  const shades = [
    ...text.matchAll(
      /<rect x="([\d.]+)" y="\d+" width="([\d.]+)"[^>]*fill="url\(#guard\)" fill-opacity="[\d.]+"><title>preemption disabled (\d+)% of the time/g,
    ),
  ];
  assert.ok(shades.length > 0);
  const width = shades.reduce((w, m) => w + Number(m[2]), 0);
  const lane = Number(
    text.match(
      /<rect x="70" y="\d+" width="([\d.]+)" height="30" fill="#f6f6f6"/,
    )![1],
  );
  // 4,000 of 20,000 cycles of the lane, give or take a column.
  assert.ok(Math.abs(width - lane / 5) <= lane / 40, `${width} of ${lane}`);
  assert.ok(shades.some((m) => m[3] === "100"), "fully guarded columns say so");
  // Nested: the count going 1, 2, 1 keeps it shaded (cycle 6,500 is at x = 525).
  const at = (x: number) =>
    shades.some((m) => Number(m[1]) <= x && x <= Number(m[1]) + Number(m[2]));
  assert.ok(at(70 + 6500 / cycles * lane));
  const got = titles(text);
  assert.ok(got.some((t) => /^CPU 0, .*: mostly a, busy/.test(t)));
  assert.ok(got.some((t) => /^CPU 1, .*: mostly b, busy/.test(t)));
  assert.ok(!got.some((t) => /mostly task/.test(t)), got.join("\n"));
});

Deno.test("the legend lies below the lanes", () => {
  const names = Array.from({ length: 75 }, (_, i) => `task${i}`);
  const text = svg(
    [{ kind: "dispatch", cycle: 0, cpu: 0, task: 0 } as SimEvent],
    50,
    2,
    names,
  );
  const lanes = [
    ...text.matchAll(
      /<rect x="70" y="(\d+)" width="[\d.]+" height="30" fill="#f6f6f6"/g,
    ),
  ]
    .map((m) => Number(m[1]));
  const bottom = Math.max(...lanes) + 30;
  const legend = [
    ...text.matchAll(/<text x="[\d.]+" y="([\d.]+)">(task\d+|… and)/g),
  ].map((m) => Number(m[1]));
  assert.ok(legend.length > 60);
  assert.ok(Math.min(...legend) > bottom, `${Math.min(...legend)} > ${bottom}`);
});
