// The examples as a newcomer runs them: the demo offline from an empty
// cache, its explanation agreeing with its own table, colour only on a
// terminal, the permission each example needs, and clear messages (never a
// stack trace) when one is missing.

import assert from "node:assert/strict";
import { ARCHES } from "../mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const ESC = "\x1b";

/** This process's environment without NO_COLOR. */
function withoutNoColor(): Record<string, string> {
  const { NO_COLOR: _, ...env } = Deno.env.toObject();
  return env;
}

interface Output {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function deno(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Output> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...args],
    cwd: ROOT,
    env,
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code: output.code, out: text.decode(output.stdout), err: text.decode(output.stderr) };
}

/** A port nothing listens on: any registry request fails at once. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

Deno.test("deno task demo works from an empty cache with no registry reachable", async () => {
  const cache = await Deno.makeTempDir();
  try {
    const port = closedPort();
    const { code, out, err } = await deno(["task", "demo"], {
      DENO_DIR: cache,
      NPM_CONFIG_REGISTRY: `http://127.0.0.1:${port}/`,
      JSR_URL: `http://127.0.0.1:${port}/`,
      NO_COLOR: "1",
    });
    assert.equal(code, 0, err);
    assert.doesNotMatch(err, /Download|npm|jsr/i);
    assert.match(out, /^Per-CPU counter race: /);
    assert.match(out, /\nWhy: /);
    assert.ok(!out.includes(ESC), "no colour in a pipe");
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("the demo's explanation matches the table it printed", async () => {
  const { code, out } = await deno(["run", "examples/preempt_race.ts"]);
  assert.equal(code, 0);
  const lines = out.split("\n");
  // Table: the unguarded with_current row under each arch's heading, and the this_cpu_add rows.
  const table = new Map<string, string>();
  let arch = "";
  for (const line of lines) {
    const heading = /^(\w+): with_current is (\d+) instructions, the register is read by #(\d+)/
      .exec(line);
    if (heading) arch = heading[1];
    const row = /^ {2}preemptive, with_current, no `preempt` +(\d)\/5 /.exec(line);
    if (row) table.set(`${arch} with_current`, row[1]);
    const add = /^ {2}(\w+): .* +(\d)\/5 /.exec(line);
    if (add && !line.includes("sp-naive") && !line.includes("+")) {
      table.set(`${add[1]} this_cpu_add`, add[2]);
    }
  }
  const why = lines.slice(lines.findIndex((l) => l.startsWith("Why:")));
  let checked = 0;
  for (const line of why) {
    const item =
      /^ {2}(\w+) +(with_current|this_cpu_add) +.*(no boundary|(\d+) boundar(y|ies)) → (corrupted in (\d)\/5|safe in every run)$/
        .exec(line);
    if (!item) continue;
    const printed = table.get(`${item[1]} ${item[2]}`);
    assert.ok(printed !== undefined, `no table row for ${item[1]} ${item[2]}`);
    assert.equal(item[7] ?? "0", printed, line);
    checked++;
  }
  assert.equal(
    checked,
    ARCHES.length + 2,
    "each arch's with_current row and two this_cpu_add rows",
  );
  // The table's own claim: x86_64 with_current is corrupted, so the text may not say otherwise.
  assert.doesNotMatch(out, /every architecture but x86_64/);
  // Identical rows get their word.
  const same =
    /^([\w, ]+ and \w+) print the same numbers: with_current is (\d+) instructions on each,/m
      .exec(out);
  if (same) {
    const archs = same[1].split(/, | and /);
    for (const a of archs) {
      assert.match(out, new RegExp(`^${a}: with_current is ${same[2]} instructions`, "m"));
    }
  }
});

Deno.test("the demo colours a terminal only, and never with NO_COLOR", async () => {
  const inTerminal = async (env: Record<string, string>) => {
    const output = await new Deno.Command("script", {
      args: ["-qec", `'${Deno.execPath()}' run '${ROOT}examples/preempt_race.ts'`, "/dev/null"],
      // The caller's environment minus NO_COLOR (CI sets it), plus the case's.
      clearEnv: true,
      env: { ...withoutNoColor(), ...env },
      stdin: "null",
    }).output();
    assert.equal(output.code, 0);
    return new TextDecoder().decode(output.stdout);
  };
  assert.ok((await inTerminal({})).includes(`${ESC}[31m✗ CORRUPTED`));
  assert.ok(!(await inTerminal({ NO_COLOR: "1" })).includes(ESC));
});

Deno.test("examples need no permission, except worker_counter's --allow-read", async (t) => {
  for (
    const name of ["quick_start", "arch_tour", "struct_and_remote", "linker_script", "sched_tour"]
  ) {
    await t.step(name, async () => {
      const { code, err } = await deno(["run", `examples/${name}.ts`]);
      assert.equal(code, 0, err);
    });
  }
  await t.step("worker_counter without --allow-read: a clear message, exit 2", async () => {
    const { code, out, err } = await deno(["run", "examples/worker_counter.ts"]);
    assert.equal(code, 2);
    assert.equal(out, "");
    assert.match(
      err,
      /^worker_counter: Workers load their modules from files: run with --allow-read/,
    );
    assert.doesNotMatch(err, STACK_FRAME);
  });
  await t.step("worker_counter refuses more Workers than cores", async () => {
    const cores = navigator.hardwareConcurrency;
    const { code, err } = await deno([
      "run",
      "--allow-read",
      "examples/worker_counter.ts",
      "--workers",
      String(cores + 1),
    ]);
    assert.equal(code, 2);
    assert.match(err, new RegExp(`--workers ${cores + 1} is more than the ${cores} cores here`));
    assert.doesNotMatch(err, STACK_FRAME);
  });
  await t.step("worker_counter: bad options, exit 2", async () => {
    for (const args of [["--iterations", "0"], ["--bogus"], ["--workers", "x"]]) {
      const { code, err } = await deno([
        "run",
        "--allow-read",
        "examples/worker_counter.ts",
        ...args,
      ]);
      assert.equal(code, 2, args.join(" "));
      assert.match(err, /^worker_counter: .*\nusage: /);
      assert.doesNotMatch(err, STACK_FRAME);
    }
  });
  await t.step("worker_counter with --allow-read: exact sums, the cores it ran on", async () => {
    const { code, out, err } = await deno([
      "run",
      "--allow-read",
      "examples/worker_counter.ts",
      "--workers",
      "1",
      "--iterations",
      "100000",
      "--json",
    ]);
    assert.equal(code, 0, err);
    const json = JSON.parse(out);
    assert.equal(json.workers, 1);
    assert.equal(json.cores, navigator.hardwareConcurrency);
    for (const mode of ["percpu", "counter", "padded", "packed", "atomic"]) {
      assert.equal(json.sums[mode], 100000, mode);
      assert.ok(json.opsPerSec[mode] > 0, mode);
    }
    for (const ratio of ["falseSharing", "atomic", "library"]) {
      assert.ok(json.ratios[ratio] > 0, ratio);
    }
  });
  await t.step("worker_counter --oversubscribe says what its figures mean", async () => {
    const workers = navigator.hardwareConcurrency + 1;
    const { code, out } = await deno([
      "run",
      "--allow-read",
      "examples/worker_counter.ts",
      "--workers",
      String(workers),
      "--iterations",
      "10000",
      "--oversubscribe",
    ]);
    assert.equal(code, 0);
    assert.match(out, /oversubscribed: Workers take turns, figures measure time slicing/);
  });
});

Deno.test("the README's demo excerpt is what the demo prints today", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const start = readme.indexOf("`deno task demo` runs `examples/preempt_race.ts`");
  const block = /```\n([\s\S]*?)\n```/.exec(readme.slice(start))![1];
  const { out } = await deno(["run", "examples/preempt_race.ts"], { NO_COLOR: "1" });
  const printed = new Set(out.split("\n").map((line) => line.trimEnd()));
  for (const line of block.split("\n")) {
    assert.ok(printed.has(line), `the demo no longer prints: ${line}`);
  }
});
