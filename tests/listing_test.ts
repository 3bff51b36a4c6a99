// Every listing, to the last register: what `disassemble()` prints for each
// arch, feature set, scalar kind and access, compared line by line with
// tests/fixtures/listings.txt. That file is the reviewed reference (each
// sequence checked against the crate's asm and the arch's manual: mnemonics
// by width and signedness, register names by width, float forms, register
// pairs); a change to any listing must change it too, deliberately:
//
//     LISTINGS=update deno test --allow-read --allow-write --allow-env tests/listing_test.ts
//
// then review the diff line by line before committing it.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import {
  type AccessOp,
  type Arch,
  ARCHES,
  createPercpu,
  type Feature,
  type ScalarKind,
  type ScalarPercpuVar,
  u64,
} from "../mod.ts";
import { SCALAR_TYPES } from "../lib/types.ts";
import { ACCESS_OPS, accessProgram } from "../lib/isa/mod.ts";

const FILE = new URL("./fixtures/listings.txt", import.meta.url);

/** Ops whose instructions depend on the variable's kind. */
const TYPED: AccessOp[] = [
  "read",
  "write",
  "add",
  "with-current",
  "remote-read",
  "remote-write",
];

function featureSets(arch: Arch): Feature[][] {
  return [
    [],
    ...(arch === "aarch64" ? [["arm-el2"] as Feature[]] : []),
    ["non-zero-vma"],
    ["custom-base"],
    ["sp-naive"],
  ];
}

function initial(kind: ScalarKind): unknown {
  return kind === "u64" || kind === "i64" ? 0n : kind === "bool" ? false : 0;
}

/** One line per listing: `arch [features] kind op | insn; insn; …`. */
function listings(): string[] {
  const lines: string[] = [];
  const put = (label: string, text: readonly string[]) =>
    lines.push(`${label} | ${text.join("; ")}`);
  for (const arch of ARCHES) {
    for (const features of featureSets(arch)) {
      const tag = `${arch} [${features.join(" ")}]`;
      const p = createPercpu({ arch, features });
      p.defPercpu("PAD", u64, 0n);
      // Every kind in the plain form; the kinds with their own instructions
      // (64-bit pairs, floats, signed bytes) in the others.
      const kinds = (features.length === 0
        ? Object.keys(SCALAR_TYPES)
        : ["u32", "u64", "i8", "f32", "f64"]) as ScalarKind[];
      const vars = new Map<ScalarKind, ScalarPercpuVar>();
      for (const kind of kinds) {
        vars.set(
          kind,
          p.defPercpu(`X_${kind}`, SCALAR_TYPES[kind], initial(kind) as never) as ScalarPercpuVar,
        );
      }
      for (const [kind, x] of vars) {
        const ops = kind === "u32" ? ACCESS_OPS : TYPED;
        for (const op of ops) {
          if (kind === "bool" && op === "add") {
            continue;
          }
          put(`${tag} ${kind} ${op}`, x.disassemble(op, { cpu: 3 }));
        }
      }
      const guarded = createPercpu({ arch, features: [...features, "preempt"] });
      const g = guarded.defPercpu("G", SCALAR_TYPES.u32, 0);
      put(`${tag} +preempt u32 with-current`, g.disassemble("with-current", { fn: "bump" }));
      if (!features.includes("sp-naive")) {
        p.init(2);
        for (const kind of ["u32", "u64", "f64"] as const) {
          const d = p.allocPercpu(SCALAR_TYPES[kind]);
          for (const op of ACCESS_OPS) {
            const text = accessProgram(d, op, { cpu: 1 }).instructions.map((i) =>
              i.text.replaceAll(d.symbol, "<ptr>")
            );
            put(`${tag} alloc ${kind} ${op}`, text);
          }
        }
      }
    }
  }
  return lines;
}

Deno.test("every listing is the reviewed one", () => {
  const actual = listings();
  if (process.env.LISTINGS === "update") {
    const header = [
      "# What disassemble() prints, one listing per line (see tests/listing_test.ts).",
      "# Reviewed: each form and each kind's mnemonics and registers checked against the crate's asm and the arch manuals.",
    ];
    writeFileSync(FILE, [...header, ...actual, ""].join("\n"));
  }
  const expected = readFileSync(FILE, "utf8").split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"));
  const missing = expected.filter((line) => !actual.includes(line));
  const unexpected = actual.filter((line) => !expected.includes(line));
  assert.deepEqual(
    { missing: missing.slice(0, 10), unexpected: unexpected.slice(0, 10) },
    { missing: [], unexpected: [] },
    `${missing.length} reviewed listings changed or went, ${unexpected.length} new ones`,
  );
  assert.equal(actual.length, expected.length);
});

Deno.test("listing facts that hold across arches", async (t) => {
  await t.step("x86_64 adds floats with addss/addsd in xmm registers, never in memory", () => {
    for (const features of [[], ["custom-base"], ["sp-naive"]] as Feature[][]) {
      const p = createPercpu({ features });
      const f32 = p.defPercpu("F", SCALAR_TYPES.f32, 0);
      const f64 = p.defPercpu("D", SCALAR_TYPES.f64, 0);
      const add32 = f32.disassemble("add");
      const add64 = f64.disassemble("add");
      assert.ok(add32.includes("addss xmm1, xmm2") && !add32.some((l) => l.includes("addsd")));
      assert.ok(add64.includes("addsd xmm1, xmm2") && !add64.some((l) => l.includes("addss")));
      assert.ok(add32.some((l) => l.startsWith("movss") && l.includes("dword ptr")));
      assert.ok(add64.some((l) => l.startsWith("movsd") && l.includes("qword ptr")));
    }
  });
  await t.step("ARM moves 64-bit integers as register pairs (ldrd/strd, adds + adc)", () => {
    const p = createPercpu({ arch: "arm" });
    for (const kind of ["u64", "i64"] as const) {
      const x = p.defPercpu(`X_${kind}`, SCALAR_TYPES[kind], 0n);
      assert.equal(x.disassemble("read").at(-1), "ldrd r0, r1, [r0]");
      assert.equal(x.disassemble("write").at(-1), "strd r2, r3, [r0]");
      assert.deepEqual(x.disassemble("add").slice(-4), [
        "ldrd r2, r3, [r0]",
        "adds r2, r2, r4",
        "adc r3, r3, r5",
        "strd r2, r3, [r0]",
      ]);
      const memory = accessProgram(x, "add").instructions.filter((i) => i.accessesMemory);
      assert.deepEqual(memory.map((i) => i.kind), [kind, kind], "one 64-bit access each way");
    }
  });
});
