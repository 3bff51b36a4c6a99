// Reports, excerpts and timelines of fixed runs, compared with reviewed
// references in tests/fixtures/reports/ (`.svg.txt`: SVG files are
// git-ignored; they were looked at rendered:
// lanes, slices, shading, marks, arrows, the highlighted accesses, the
// column mode of a long run). A change to any of them must change the
// reference too, deliberately:
//
//     REPORTS=update deno test --allow-read --allow-write --allow-env tests/report_reference_test.ts
//
// then review the diff (and the SVGs rendered) before committing it.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import {
  formatSimReport,
  formatTraceExcerpt,
  renderTimelineSvg,
  type SimOptions,
  simulate,
} from "../sched/mod.ts";

const DIR = new URL("./fixtures/reports/", import.meta.url);

function timeline(options: SimOptions, title: string): string {
  const run = simulate({ ...options, record: true });
  return renderTimelineSvg({
    events: run.events!,
    taskNames: run.taskNames,
    cpus: run.cpus,
    title,
  });
}

function excerpt(options: SimOptions): string {
  const run = simulate({ ...options, record: true });
  return formatTraceExcerpt({ events: run.events!, taskNames: run.taskNames });
}

const CASES: [string, () => string][] = [
  [
    "sim-x86_64-add.txt",
    () => formatSimReport(simulate({ arch: "x86_64", access: "add", seed: 1 })),
  ],
  [
    "sim-aarch64-with-current.txt",
    () => formatSimReport(simulate({ arch: "aarch64", tasks: 3, seed: 3 })),
  ],
  ["sim-riscv32-preempt-read-write.txt", () =>
    formatSimReport(
      simulate({ arch: "riscv32", features: ["preempt"], access: "read-write", seed: 2 }),
    )],
  [
    "sim-arm-stress.txt",
    () => formatSimReport(simulate({ arch: "arm", policy: "stress", tasks: 3, seed: 5 })),
  ],
  ["sim-el2-guest.txt", () =>
    formatSimReport(
      simulate({ scenario: "el2-guest", arch: "aarch64", features: ["arm-el2"], seed: 4 }),
    )],
  ["excerpt-aarch64.txt", () => excerpt({ arch: "aarch64", tasks: 3, seed: 3 })],
  [
    "excerpt-loongarch64-stress.txt",
    () => excerpt({ arch: "loongarch64", policy: "stress", tasks: 3, seed: 7 }),
  ],
  [
    "timeline-aarch64.svg.txt",
    () => timeline({ arch: "aarch64", iters: 5, tasks: 3, seed: 3 }, "aarch64"),
  ],
  [
    "timeline-riscv64-preempt.svg.txt",
    () =>
      timeline({ arch: "riscv64", features: ["preempt"], iters: 4, seed: 2 }, "riscv64 + preempt"),
  ],
  ["timeline-el2-guest.svg.txt", () =>
    timeline(
      { scenario: "el2-guest", arch: "aarch64", features: ["arm-el2"], iters: 4, seed: 4 },
      "el2-guest",
    )],
  [
    "timeline-long.svg.txt",
    () => timeline({ arch: "arm", policy: "stress", iters: 450, tasks: 2, seed: 6 }, "long run"),
  ],
];

Deno.test("reports, excerpts and timelines are the reviewed ones", async (t) => {
  for (const [name, make] of CASES) {
    await t.step(name, () => {
      const actual = make();
      const file = new URL(name, DIR);
      if (process.env.REPORTS === "update") writeFileSync(file, actual);
      const expected = readFileSync(file, "utf8");
      if (actual !== expected) {
        const a = actual.split("\n"), e = expected.split("\n");
        const line = a.findIndex((l, i) => l !== e[i]);
        assert.fail(
          `${name} differs from line ${line + 1}:\n  got      ${
            a[line]?.slice(0, 300)
          }\n  expected ${e[line]?.slice(0, 300)}`,
        );
      }
    });
  }
});
