// cli.ts: the sim command's JSON contract, its report and its errors.

import assert from "node:assert/strict";
import { main } from "../cli.ts";

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
  });
  return { code, out, err };
}

const JSON_FIELDS = [
  "arch",
  "features",
  "policy",
  "cpus",
  "tasks",
  "iters",
  "seed",
  "expected",
  "observed",
  "lostUpdates",
  "wrongCpuAccesses",
  "preemptions",
  "migrations",
  "contextSwitches",
  "instructions",
  "corrupted",
  "traceHash",
];

Deno.test("sim --json prints one object with the contract's fields", async () => {
  const { code, out, err } = await cli(
    "sim",
    "--arch",
    "aarch64",
    "--features",
    "preempt",
    "--cpus",
    "2",
    "--tasks",
    "3",
    "--iters",
    "20",
    "--seed",
    "9",
    "--json",
  );
  assert.equal(code, 0);
  assert.equal(err, "");
  const json = JSON.parse(out);
  for (const field of JSON_FIELDS) assert.ok(field in json, `missing ${field}`);
  assert.equal(json.arch, "aarch64");
  assert.deepEqual(json.features, ["preempt"]);
  assert.equal(json.expected, 60);
  assert.equal(json.corrupted, json.observed !== json.expected || json.wrongCpuAccesses > 0);
  assert.equal(json.corrupted, false);
});

Deno.test("sim is deterministic: same flags, same traceHash", async () => {
  const args = ["sim", "--arch", "riscv64", "--seed", "4", "--json"];
  const a = JSON.parse((await cli(...args)).out);
  const b = JSON.parse((await cli(...args)).out);
  assert.equal(a.traceHash, b.traceHash);
  assert.equal(a.corrupted, true);
});

Deno.test("sim without --json prints a report naming the first violation", async () => {
  const { code, out } = await cli("sim", "--arch", "aarch64", "--tasks", "3", "--seed", "3");
  assert.equal(code, 0);
  assert.match(out, /CORRUPTED/);
  assert.match(out, /first: cycle \d+, task\d running on CPU \d executed `(ldr|str) x2, \[x0\]`/);
  assert.match(out, /mrs x0, TPIDR_EL1 +<- samples the per-CPU register/);
});

Deno.test("bad options exit 2 with one line naming the option and what it accepts", async (t) => {
  const cases: [string[], RegExp][] = [
    [["sim", "--arch", "mips"], /arch must be one of x86_64, aarch64, riscv64, loongarch64, arm/],
    [["sim", "--features", "preempt,turbo"], /features must be one of sp-naive, preempt/],
    [["sim", "--policy", "fifo"], /policy must be one of cooperative, preemptive/],
    [["sim", "--cpus", "0"], /cpus must be an integer from 1 to 64/],
    [["sim", "--tasks", "many"], /tasks must be a number, got string "many"/],
    [["sim", "--access", "xchg"], /access must be one of with-current, read-write, add/],
    [["sim", "--scenario", "el2-guest"], /scenario el2-guest needs arch aarch64/],
    [
      ["sim", "--features", "sp-naive", "--cpus", "4"],
      /cpus must be an integer from 1 to 1 with features sp-naive/,
    ],
    [["sim", "--bogus"], /Unknown option '--bogus'/],
    [["sim", "--seed"], /--seed/],
    [["frobnicate"], /unknown command "frobnicate"; accepted: sim/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), async () => {
      const { code, out, err } = await cli(...args);
      assert.equal(code, 2);
      assert.equal(out, "", "nothing on stdout");
      assert.match(err, message);
      assert.equal(err.trimEnd().split("\n").length, 1, "one line");
    });
  }
});

Deno.test("--help works for the CLI and for sim", async () => {
  const top = await cli("--help");
  assert.equal(top.code, 0);
  assert.match(top.out, /Commands:/);
  const sim = await cli("sim", "--help");
  assert.equal(sim.code, 0);
  for (const option of ["--arch", "--features", "--policy", "--quantum", "--access", "--json"]) {
    assert.match(sim.out, new RegExp(option));
  }
});
