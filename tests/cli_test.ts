// cli.ts: commands, help and version, exit codes (in-process and as a real
// process), JSON contracts, hints that run, traces, colour, plurals, the
// cycle-limit check, and no stack trace for anything a user can type.

import assert from "node:assert/strict";
import fc from "fast-check";
import { EXIT_CODES, main } from "../cli.ts";
import { launchCommand, shellWord } from "../cli/_invocation.ts";
import { wantsColor } from "../cli/_io.ts";
import { exitCodeOf } from "../cli/_exit.ts";
import { simVerdict } from "../cli/sim.ts";
import { exploreVerdict } from "../cli/explore.ts";
import { RANGES } from "../cli/_scenario.ts";
import { CYCLE_LIMIT } from "../cli/_limits.ts";
import { VERSION } from "../cli/_version.ts";
import { createPercpu } from "../mod.ts";
import {
  checkDfs,
  counterTest,
  type ExploreResult,
  Machine,
  type SimResult,
  simulate,
} from "../sched/mod.ts";

const ROOT = new URL("../", import.meta.url);
const CLI = new URL("../cli.ts", import.meta.url).pathname;

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function cli(...args: string[]): Promise<Run> {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
  });
  return { code, out, err };
}

async function colored(...args: string[]): Promise<Run> {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    color: true,
  });
  return { code, out, err };
}

/** Runs the real CLI in a process of its own. */
async function spawn(
  args: readonly string[],
  options: { denoFlags?: readonly string[]; env?: Record<string, string>; cwd?: string } = {},
): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", ...(options.denoFlags ?? []), CLI, ...args],
    cwd: options.cwd ?? ROOT.pathname,
    env: options.env,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    out: decoder.decode(output.stdout),
    err: decoder.decode(output.stderr),
  };
}

/** Splits a printed command line (words are single-quoted when needed). */
function words(line: string): string[] {
  return [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) =>
    m[1] !== undefined ? m[1].replaceAll(`'\\''`, "'") : m[2]
  );
}

const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;
const ESC = "\x1b";

/** This process's environment without NO_COLOR. */
function withoutNoColor(): Record<string, string> {
  const { NO_COLOR: _, ...env } = Deno.env.toObject();
  return env;
}
/** Whether text holds an ANSI escape sequence. */
const hasAnsi = (text: string) => text.includes(`${ESC}[`);
const stripAnsi = (text: string) => text.replace(new RegExp(`${ESC}\\[\\d+m`, "g"), "");

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
  assert.ok(!("events" in json) && !("taskNames" in json) && !("schedule" in json));
});

Deno.test("sim is deterministic: same flags, same traceHash, and the CLI's defaults are simulate's", async () => {
  const args = ["sim", "--arch", "riscv64", "--seed", "4", "--json"];
  const a = JSON.parse((await cli(...args)).out);
  const b = JSON.parse((await cli(...args)).out);
  assert.equal(a.traceHash, b.traceHash);
  assert.equal(a.corrupted, true);
  assert.equal(a.traceHash, simulate({ arch: "riscv64", seed: 4 }).traceHash);
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
    [
      ["sim", "--arch", "mips"],
      /--arch must be one of x86_64, aarch64, riscv64, riscv32, loongarch64, arm/,
    ],
    [
      ["sim", "--features", "preempt,turbo"],
      /--features must be a comma-separated list of sp-naive, preempt/,
    ],
    [["sim", "--policy", "fifo"], /--policy must be one of cooperative, preemptive/],
    [["sim", "--cpus", "0"], /--cpus must be an integer from 1 to 64, got "0"/],
    [["sim", "--tasks", "many"], /--tasks must be an integer from 1 to 1024, got "many"/],
    [["sim", "--iters", "1.5"], /--iters must be an integer/],
    [["sim", "--seed", "-1"], /Option '--seed' argument is ambiguous/],
    [["sim", "--seed=-1"], /--seed must be an integer from 0 to \d+, got "-1"/],
    [["sim", "--access", "xchg"], /--access must be one of with-current, read-write, add/],
    [["sim", "--scenario", "el2-guest"], /el2-guest needs .*aarch64/],
    [
      ["sim", "--features", "sp-naive", "--cpus", "4"],
      /cpus must be (1|an integer from 1 to 1) with (features )?sp-naive/,
    ],
    [["sim", "--bogus"], /Unknown option '--bogus'; see --help/],
    [["sim", "extra"], /Unexpected argument 'extra'.*; see --help/],
    [["sim", "--seed"], /--seed/],
    [["sim", "--replay", "garbage"], /not a schedule string/],
    [["sim", "--replay", "s1.abc.2.5.2=1", "--seed", "3"], /--seed do not apply with --replay/],
    [["explore", "--mode", "bfs"], /--mode must be one of dfs, random, pct/],
    [
      ["explore", "--max-preemptions", "1001"],
      /--max-preemptions must be an integer from 0 to 1000, or inf \(no limit\), got "1001"/,
    ],
    [["explore", "--max-preemptions", "infinity"], /--max-preemptions .* or inf .*"infinity"/],
    [["explore", "--max-preemptions", "-1"], /Option '--max-preemptions' argument is ambiguous/],
    [["explore", "--reduction", "sleep"], /--reduction must be one of dpor, none, got "sleep"/],
    [
      ["explore", "--violations", "lost-update,race"],
      /--violations must be a comma-separated list of lost-update, wrong-cpu, scheduling-while-atomic, .*task-error, got "race"/,
    ],
    [["explore", "--violations", "none"], /--violations must be .*, at least one, got "none"/],
    [["explore", "--violations", ""], /--violations must be .*, at least one, got ""/],
    [
      ["explore", "--time-limit", "0"],
      /--time-limit must be a number of seconds above 0 .*got "0"/,
    ],
    [["explore", "--time-limit", "1e3"], /--time-limit must be a number of seconds .*got "1e3"/],
    [["explore", "--time-limit", "soon"], /--time-limit must be a number of seconds .*got "soon"/],
    [["explore", "--time-limit", "9999999"], /--time-limit .* at most 604800 .*got "9999999"/],
    [["explore", "--budget", "none"], /--budget must be an integer from 1 to \d+, or inf/],
    [["explore", "--shard", "2/2"], /--shard must be i\/n, part i \(from 0\) of n, .*got "2\/2"/],
    [["explore", "--shard", "0/0"], /--shard must be i\/n.*got "0\/0"/],
    [["explore", "--shard", "1"], /--shard must be i\/n.*got "1"/],
    [["explore", "--shard", "a/b"], /--shard must be i\/n.*got "a\/b"/],
    [["explore", "--shard", "0/1000001"], /--shard must be i\/n.*n ≤ 1000000/],
    [["explore", "--workers", "0"], /--workers must be an integer from 1 to 256, got "0"/],
    [["explore", "--workers", "two"], /--workers must be an integer from 1 to 256, got "two"/],
    [
      ["explore", "--mode", "random", "--reduction", "none", "--shard", "0/2"],
      /--reduction, --shard apply to --mode dfs only, not random/,
    ],
    [["explore", "--mode", "pct", "--exhaustive"], /--exhaustive applies to --mode dfs only/],
    [["explore", "--mode", "pct", "--max-preemptions", "inf"], /pct needs a bug depth/],
    [["explore", "--workers", "2", "--shard", "0/2"], /--workers and --shard do not combine/],
    [
      ["explore", "shard-0.json"],
      /Unexpected argument 'shard-0\.json' \(only --merge takes several values\); see --help/,
    ],
    [["explore", "--budget", "0"], /--budget must be an integer from 1/],
    [["explore", "--seed", "2"], /--seed applies to --mode random and pct only/],
    [["explore", "--policy", "cooperative"], /Unknown option '--policy'/],
    [["frobnicate"], /unknown command "frobnicate"; accepted: sim, explore, help/],
    [["help", "frobnicate"], /unknown command "frobnicate"/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), async () => {
      const { code, out, err } = await cli(...args);
      assert.equal(code, EXIT_CODES.usage);
      assert.equal(out, "", "nothing on stdout");
      assert.match(err, message);
      assert.equal(err.trimEnd().split("\n").length, 1, "one line");
      assert.doesNotMatch(err, STACK_FRAME);
    });
  }
});

Deno.test("the integer ranges the CLI checks are the simulator's", async (t) => {
  for (const [name, [min, max]] of Object.entries(RANGES)) {
    await t.step(name, () => {
      const at = (value: number) => counterTest({ cpus: 1, tasks: 1, [name]: value });
      const withName = (value: number) =>
        name === "cpus" ? counterTest({ cpus: value }) : at(value);
      withName(min);
      withName(max);
      assert.throws(() => withName(min - 1), RangeError);
      if (max < Number.MAX_SAFE_INTEGER) assert.throws(() => withName(max + 1), RangeError);
    });
  }
});

Deno.test("help, version and no arguments", async (t) => {
  await t.step("--help and -h print the usage and exit 0", async () => {
    for (const flag of ["--help", "-h"]) {
      const { code, out, err } = await cli(flag);
      assert.equal(code, 0);
      assert.equal(err, "");
      assert.match(out, /Commands:\n {2}sim .*\n {2}explore .*\n {2}help /);
      assert.match(out, /Exit codes:\n {2}0 /);
      assert.match(out, /70 +internal error/);
    }
  });
  await t.step("help <command> and <command> --help exit 0 with every flag", async () => {
    for (const command of ["sim", "explore"]) {
      const viaHelp = await cli("help", command);
      const viaFlag = await cli(command, "--help");
      assert.equal(viaHelp.code, 0);
      assert.equal(viaFlag.code, 0);
      assert.equal(viaHelp.out, viaFlag.out);
      assert.match(viaHelp.out, new RegExp(`^Usage: deno run cli\\.ts ${command} \\[options\\]`));
      for (const flag of ["--arch", "--features", "--trace", "--svg", "--fail-on-violation"]) {
        assert.match(viaHelp.out, new RegExp(flag));
      }
    }
    assert.match((await cli("help", "sim")).out, /--policy .*--quantum/s);
    assert.match((await cli("help", "explore")).out, /--max-preemptions .*--mode .*--budget/s);
  });
  await t.step("help alone is the usage", async () => {
    assert.equal((await cli("help")).out, (await cli("--help")).out);
  });
  await t.step("--version prints deno.json's version", async () => {
    const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
    assert.equal(VERSION, config.version);
    for (const flag of ["--version", "-V"]) {
      const { code, out } = await cli(flag);
      assert.equal(code, 0);
      assert.equal(out, `percpu ${config.version}\n`);
    }
  });
  await t.step("no arguments: the usage on stderr, exit 2", async () => {
    const { code, out, err } = await cli();
    assert.equal(code, 2);
    assert.equal(out, "");
    assert.match(err, /^percpu .*\n\nUsage: /);
  });
});

Deno.test("--fail-on-violation: the verdict in the exit code", async (t) => {
  const racy = ["--arch", "aarch64", "--seed", "3"];
  await t.step("sim: corrupted 1, safe 0; without the flag always 0", async () => {
    assert.equal((await cli("sim", ...racy, "--fail-on-violation")).code, 1);
    assert.equal((await cli("sim", ...racy, "--fail-on-violation", "--json")).code, 1);
    assert.equal((await cli("sim", ...racy)).code, 0);
    assert.equal(
      (await cli("sim", ...racy, "--features", "preempt", "--fail-on-violation")).code,
      0,
    );
  });
  await t.step("explore: violation 1, exhaustive safety 0", async () => {
    assert.equal((await cli("explore", "--arch", "arm", "--fail-on-violation")).code, 1);
    const safe = await cli(
      "explore",
      "--arch",
      "arm",
      "--features",
      "preempt",
      "--fail-on-violation",
    );
    assert.equal(safe.code, 0);
    assert.match(safe.out, /SAFE/);
  });
  await t.step("an undecided run is neither: 3", () => {
    const base = simulate({ arch: "x86_64", access: "add" });
    const incomplete = { ...base, completed: false } as SimResult;
    assert.equal(simVerdict(incomplete), "incomplete");
    assert.equal(exitCodeOf("incomplete", true), 3);
    assert.equal(exitCodeOf("incomplete", false), 0);
    // A run that saw a violation before it stopped is a violation.
    assert.equal(simVerdict({ ...incomplete, corrupted: true }), "violation");
    assert.equal(simVerdict(base), "ok");
    assert.deepEqual(EXIT_CODES, { ok: 0, violation: 1, usage: 2, incomplete: 3, internal: 70 });
  });
});

Deno.test("work that cannot fit the cycle limit is refused up front", async (t) => {
  await t.step("the CLI's limit is the machine's default", () => {
    const machine = new Machine({ percpu: createPercpu(), cpus: 1, record: false });
    machine.spawn(function* () {
      while (true) yield;
    });
    const stats = machine.run();
    assert.equal(stats.completed, false);
    assert.equal(stats.cycles, CYCLE_LIMIT);
  });
  await t.step("too many increments: exit 2 before running, with what would fit", async () => {
    const started = performance.now();
    const { code, out, err } = await cli("sim", "--iters", "2000000", "--features", "preempt");
    assert.equal(code, 2);
    assert.equal(out, "");
    assert.match(
      err,
      /need about [\d.]+ M cycles on 2 CPUs, more than the simulator's limit of 10\.0 M: use --iters (\d+) or less/,
    );
    assert.ok(performance.now() - started < 2000, "refused without running");
    const most = Number(/--iters (\d+) or less/.exec(err)![1]);
    const fits = simulate({ iters: most, features: ["preempt"] });
    assert.ok(fits.cycles < CYCLE_LIMIT, `--iters ${most} fits`);
  });
  await t.step("explore checks one schedule's run the same way", async () => {
    const { code, err } = await cli("explore", "--iters", "3000000", "--tasks", "4");
    assert.equal(code, 2);
    assert.match(err, /more than the simulator's limit/);
  });
});

Deno.test("hints print a command that runs", async (t) => {
  await t.step("explore's replay command reproduces the violation", async () => {
    const { out } = await cli("explore", "--arch", "riscv64", "--features", "arm-el2");
    const line = /^ {2}replay {4}(.+)$/m.exec(out)![1];
    assert.match(
      line,
      /^deno run cli\.ts sim --replay s2\.\S+ --arch riscv64 --features arm-el2 --tasks 3 --iters 1$/,
    );
    const args = words(line);
    assert.deepEqual(args.slice(0, 3), ["deno", "run", "cli.ts"]);
    const replayed = await cli(...args.slice(3), "--json");
    assert.equal(replayed.code, 0);
    assert.equal(JSON.parse(replayed.out).corrupted, true);
  });
  await t.step("explore --json carries the same command", async () => {
    const json = JSON.parse((await cli("explore", "--arch", "aarch64", "--json")).out);
    const args = words(json.violation.replay);
    assert.equal(JSON.parse((await cli(...args.slice(3), "--json")).out).corrupted, true);
  });
  await t.step("sim's trace hint adds --trace to the same run", async () => {
    const { out } = await cli("sim", "--arch", "aarch64", "--seed", "3", "--quantum", "12");
    const line = /^ {2}trace {5}(.+)$/m.exec(out)![1];
    assert.equal(line, "deno run cli.ts sim --arch aarch64 --quantum 12 --seed 3 --trace");
    const dir = await Deno.makeTempDir();
    try {
      const svg = await cli("sim", "--arch", "arm", "--svg", `${dir}/a.svg`);
      assert.equal(
        /^ {2}trace {5}(.+)$/m.exec(svg.out)![1],
        `deno run --allow-write=${dir}/a.svg cli.ts sim --arch arm --svg ${dir}/a.svg --trace`,
        "a hint that writes the SVG again asks for the permission",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("the launch command: JSR, a clone, anywhere else", () => {
    const cases: [string, string | null, string[], string][] = [
      [
        "https://jsr.io/@percpu/percpu/0.1.0/cli.ts",
        "/x",
        [],
        "deno run jsr:@percpu/percpu@0.1.0/cli",
      ],
      [
        "http://127.0.0.1:4507/@percpu/percpu/1.2.3/cli.ts",
        null,
        [],
        "deno run jsr:@percpu/percpu@1.2.3/cli",
      ],
      ["file:///home/me/percpu/cli.ts", "/home/me/percpu", [], "deno run cli.ts"],
      ["file:///home/me/percpu/cli.ts", "/home/me", [], "deno run percpu/cli.ts"],
      ["file:///home/me/percpu/cli.ts", "/tmp", [], "deno run /home/me/percpu/cli.ts"],
      ["file:///home/me/percpu/cli.ts", null, [], "deno run /home/me/percpu/cli.ts"],
      ["file:///home/me/my%20dir/cli.ts", "/tmp", [], "deno run '/home/me/my dir/cli.ts'"],
      ["file:///C:/work/cli.ts", null, [], "deno run C:/work/cli.ts"],
      [
        "file:///r/cli.ts",
        "/r",
        ["--allow-write=a b.svg"],
        "deno run '--allow-write=a b.svg' cli.ts",
      ],
    ];
    for (const [url, cwd, flags, expected] of cases) {
      assert.equal(launchCommand(url, cwd, flags), expected, url);
    }
    assert.equal(shellWord("it's"), `'it'\\''s'`);
    assert.deepEqual(words(shellWord("it's") + " b"), ["it's", "b"]);
  });
});

Deno.test("--trace shows the cycles around the first bad access, per CPU", async (t) => {
  await t.step("sim", async () => {
    const { code, out } = await cli(
      "sim",
      "--arch",
      "aarch64",
      "--tasks",
      "3",
      "--seed",
      "3",
      "--trace",
    );
    assert.equal(code, 0);
    assert.match(out, /Trace around the first wrong-CPU access \(cycle \d+, task\d on CPU \d\):/);
    assert.match(out, /^ +cycle \| CPU 0 +\| CPU 1$/m);
    assert.match(out, /task\d: (ldr|str) x2, \[x0\] +✗ hit CPU \d's area/);
    assert.match(out, /preempted, queued on CPU \d/);
    assert.doesNotMatch(out, /^ {2}trace {5}/m, "no hint when the trace is shown");
  });
  await t.step("a lost update on one CPU (sp-naive)", async () => {
    const { out } = await cli("sim", "--features", "sp-naive", "--trace");
    assert.match(out, /Trace around the first lost update/);
    assert.match(out, /✗ overwrote task\d's store: lost update/);
  });
  await t.step("explore, and in JSON", async () => {
    const { out } = await cli("explore", "--arch", "loongarch64", "--trace");
    assert.match(out, /VIOLATION[\s\S]*replay[\s\S]*Trace around the first wrong-CPU access/);
    const json = JSON.parse(
      (await cli("explore", "--arch", "loongarch64", "--trace", "--json")).out,
    );
    assert.match(json.violation.trace, /^Trace around the first wrong-CPU access/);
    const sim = JSON.parse(
      (await cli("sim", "--arch", "arm", "--tasks", "3", "--trace", "--json")).out,
    );
    assert.match(sim.trace, /✗ hit CPU \d's area/);
  });
  await t.step("no violation, no trace", async () => {
    const { out } = await cli("sim", "--features", "preempt", "--trace");
    assert.match(out, /No violation: no trace to show/);
    const json = JSON.parse((await cli("sim", "--features", "preempt", "--trace", "--json")).out);
    assert.ok(!("trace" in json));
  });
});

Deno.test("reports and JSON name only what applies", async (t) => {
  const schedule = JSON.parse((await cli("explore", "--arch", "aarch64", "--json")).out)
    .violation.schedule;
  const replayArgs = [
    "sim",
    "--arch",
    "aarch64",
    "--tasks",
    "3",
    "--iters",
    "1",
    "--replay",
    schedule,
  ];
  await t.step("sim --replay: no policy, quantum or seed", async () => {
    const { out } = await cli(...replayArgs);
    assert.match(out, /replaying a schedule/);
    assert.match(out, new RegExp(`schedule ${schedule.replaceAll(".", "\\.")}`));
    assert.doesNotMatch(out, /tick every|seed|quantum|preemptive/);
    const json = JSON.parse((await cli(...replayArgs, "--json")).out);
    assert.equal(json.schedule, schedule);
    for (const key of ["policy", "quantum", "seed"]) assert.ok(!(key in json), key);
  });
  await t.step("explore --json: dfs has no seed; random has no dfs statistics", async () => {
    const dfs = JSON.parse((await cli("explore", "--json")).out);
    for (const key of ["policy", "quantum", "seed"]) assert.ok(!(key in dfs), key);
    for (const key of ["boundReached", "pruned", "statesCached"]) assert.ok(key in dfs, key);
    const random = JSON.parse(
      (await cli("explore", "--mode", "random", "--seed", "5", "--json", "--budget", "200")).out,
    );
    assert.equal(random.seed, 5);
    for (const key of ["policy", "quantum", "boundReached", "pruned", "statesCached"]) {
      assert.ok(!(key in random), key);
    }
  });
  await t.step("plurals", async () => {
    const explore = (await cli("explore", "--arch", "riscv64", "--max-preemptions", "1")).out;
    assert.match(explore, /up to 1 preemption\)/);
    assert.match(explore, /2 CPUs, 3 tasks × 1 increment \(/);
    assert.match(explore, /^VIOLATION with 1 preemption \(wrong-cpu\): 2 kinds found/m);
    assert.match(explore, /^ {2}lost-update: the test's invariant failed: updates were lost$/m);
    assert.match(explore, /^ {2}wrong-cpu: a local per-CPU access hit another CPU's area$/m);
    assert.match(explore, /^ {4}1 preemption, at instruction \d+$/m);
    assert.match(explore, / - 2 local accesses hit another CPU's area/);
    assert.match(explore, /complete: every schedule with ≤ 1 preemption, up to equivalence/);
    const one = (await cli("explore", "--cpus", "1", "--tasks", "2", "--access", "read-write"))
      .out;
    assert.match(one, /1 CPU, 2 tasks × 1 increment \(/);
    assert.match(one, /^VIOLATION with 1 preemption \(lost-update\): 1 kind found/m);
    assert.match(one, /judged at the end of the run \(\d+ instructions\)/);
    assert.match(one, /lost updates: 2 increments, the per-CPU counters sum to 1/);
    const replayed = (await cli(...replayArgs)).out;
    assert.match(replayed, /CORRUPTED: 2 accesses hit another CPU's area\./);
    assert.doesNotMatch(replayed + explore + one, /\(s\)|\(es\)/);
  });
});

Deno.test("colour: only when asked for, never with NO_COLOR or without a terminal", async (t) => {
  await t.step("the rule", () => {
    assert.equal(wantsColor(true, false), true);
    assert.equal(wantsColor(true, true), false);
    assert.equal(wantsColor(false, false), false);
    assert.equal(wantsColor(false, true), false);
  });
  await t.step("in-process: plain unless the io asks for colour", async () => {
    const plain = await cli("sim", "--arch", "aarch64", "--seed", "3");
    assert.ok(!hasAnsi(plain.out));
    const painted = await colored("sim", "--arch", "aarch64", "--seed", "3");
    assert.ok(painted.out.includes(`${ESC}[1m${ESC}[31mCORRUPTED${ESC}[39m${ESC}[22m:`));
    assert.equal(stripAnsi(painted.out), plain.out);
    assert.ok((await colored("sim", "--features", "preempt")).out.includes(`${ESC}[32mOK`));
  });
  await t.step("a real terminal: colour, unless NO_COLOR is set", async () => {
    const inTerminal = async (env: Record<string, string>) => {
      // script(1) gives the CLI a pseudo-terminal for stdout.
      const output = await new Deno.Command("script", {
        args: [
          "-qec",
          `'${Deno.execPath()}' run --no-lock '${CLI}' sim --arch aarch64 --seed 3`,
          "/dev/null",
        ],
        // The caller's environment minus NO_COLOR (CI sets it), plus the case's.
        clearEnv: true,
        env: { ...withoutNoColor(), ...env },
        stdin: "null",
      }).output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      return new TextDecoder().decode(output.stdout);
    };
    assert.ok((await inTerminal({})).includes(`${ESC}[31mCORRUPTED`));
    assert.ok(!hasAnsi(await inTerminal({ NO_COLOR: "1" })));
  });
  await t.step("a pipe: no colour", async () => {
    const { out } = await spawn(["sim", "--arch", "aarch64", "--seed", "3"]);
    assert.ok(!hasAnsi(out));
  });
});

Deno.test("the real process: exit codes, one-line errors, no stack traces", async (t) => {
  await t.step("0, 1, 2", async () => {
    const ok = await spawn(["sim", "--features", "preempt", "--fail-on-violation"]);
    assert.equal(ok.code, 0);
    assert.match(ok.out, /^OK: /m);
    const violation = await spawn(["sim", "--arch", "riscv64", "--fail-on-violation"]);
    assert.equal(violation.code, 1);
    const bad = await spawn(["sim", "--cpus", "lots"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.out, "");
    assert.equal(bad.err, `error: --cpus must be an integer from 1 to 64, got "lots"\n`);
    const none = await spawn([]);
    assert.equal(none.code, 2);
    assert.match(none.err, /^percpu /);
    assert.equal((await spawn(["--version"])).out, `percpu ${VERSION}\n`);
    assert.equal((await spawn(["help", "explore"])).code, 0);
  });
  await t.step(
    "--svg without permission: exit 2 before running, with the command that works",
    async () => {
      const dir = await Deno.makeTempDir();
      try {
        const file = `${dir}/race.svg`;
        const denied = await spawn(["explore", "--arch", "riscv64", "--svg", file]);
        assert.equal(denied.code, 2);
        assert.equal(denied.out, "");
        const line = /run (deno run .*)$/m.exec(denied.err)![1];
        assert.equal(
          line,
          `deno run --allow-write=${file} cli.ts explore --arch riscv64 --svg ${file}`,
        );
        const args = words(line);
        const allowed = await spawn(args.slice(4), { denoFlags: [args[2]] });
        assert.equal(allowed.code, 0, allowed.err);
        assert.match(allowed.err, /timeline written to /);
        assert.match(await Deno.readTextFile(file), /^<svg /);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
  await t.step("an internal error is code 70 and says it is a bug", async () => {
    let err = "";
    const code = await main(["sim", "--json"], {
      out: () => {
        throw new Error("the disk is full");
      },
      err: (text) => void (err += text),
    });
    assert.equal(code, EXIT_CODES.internal);
    assert.match(err, /^internal error \(a bug in percpu .*\): Error: the disk is full\n$/);
  });
});

Deno.test("no command line a user can type prints a stack trace or an internal error", async () => {
  const flag = fc.constantFrom(
    "--arch",
    "--features",
    "--policy",
    "--cpus",
    "--tasks",
    "--iters",
    "--quantum",
    "--seed",
    "--access",
    "--scenario",
    "--replay",
    "--mode",
    "--max-preemptions",
    "--reduction",
    "--violations",
    "--exhaustive",
    "--time-limit",
    "--shard",
    "--merge",
    "--json",
    "--trace",
    "--fail-on-violation",
    "--help",
    "-h",
    "--",
    "--bogus",
  );
  const value = fc.oneof(
    fc.constantFrom(
      "aarch64",
      "arm",
      "sp-naive",
      "preempt,arm-el2",
      "el2-guest",
      "cooperative",
      "read-write",
      "add",
      "random",
      "pct",
      "0",
      "1",
      "2",
      "3",
      "65",
      "-1",
      "1e3",
      "0x10",
      "9007199254740993",
      "s1.abc.2.5.2=1",
      "s1.zzzzzz.2.zzzz.",
      "dpor",
      "none",
      "inf",
      "0/2",
      "1/2",
      "2/2",
      "lost-update,wrong-cpu",
      "task-error",
      "0.5",
      "",
      " ",
      "\u0000",
      "ü",
    ),
    fc.string({ maxLength: 8 }),
  );
  const argv = fc.tuple(
    fc.constantFrom("sim", "explore", "help", "--version", "bogus"),
    fc.array(fc.oneof(flag, value), { maxLength: 8 }),
  ).map(([command, rest]) =>
    // Keep explorations small: a few hundred schedules at most.
    command === "explore" ? [command, ...rest, "--budget", "300"] : [command, ...rest]
  );
  await fc.assert(
    fc.asyncProperty(argv, async (args) => {
      const { code, out, err } = await cli(...args);
      // 1 and 3 are verdicts, only with --fail-on-violation.
      const codes = args.includes("--fail-on-violation") ? [0, 1, 2, 3] : [0, 2];
      assert.ok(codes.includes(code), `exit ${code} for ${JSON.stringify(args)}: ${err}`);
      assert.doesNotMatch(err, STACK_FRAME);
      if (code === 2) {
        assert.equal(out, "", JSON.stringify(args));
        assert.ok(err.length > 0);
      }
    }),
    { numRuns: 150, seed: 12 },
  );
});

Deno.test("every CLI command in the README runs as shown", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const commands = [...readme.matchAll(/^deno task cli (.+?)(?: +#.*)?$/gm)].map((m) => m[1]);
  assert.ok(commands.length >= 6, `${commands.length} commands found`);
  for (const command of commands) {
    const { code, err } = await cli(...words(command));
    assert.equal(code, 0, `${command}: ${err}`);
  }
});

Deno.test("the CLI uses only the package's public entry points", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const entries = new Set(
    (Object.values(config.exports) as string[]).map((path) => new URL(path, ROOT).href),
  );
  const cliDir = new URL("cli/", ROOT).href;
  const files = [new URL("cli.ts", ROOT)];
  for await (const entry of Deno.readDir(new URL("cli/", ROOT))) {
    if (entry.name.endsWith(".ts")) files.push(new URL(`cli/${entry.name}`, ROOT));
  }
  for (const file of files) {
    const source = await Deno.readTextFile(file);
    for (const [, specifier] of source.matchAll(/^\s*(?:import|export)[^"']*from\s+"([^"]+)"/gm)) {
      if (specifier.startsWith("node:")) continue;
      const target = new URL(specifier, file).href;
      assert.ok(
        target.startsWith(cliDir) || entries.has(target),
        `${file.pathname.slice(ROOT.pathname.length)} imports ${specifier}`,
      );
    }
  }
});

Deno.test("explore's search flags: good values do what they say", async (t) => {
  const json = async (...args: string[]) => {
    const run = await cli("explore", ...args, "--json");
    assert.equal(run.code, 0, run.err);
    return JSON.parse(run.out);
  };
  await t.step("--max-preemptions inf: complete and unbounded", async () => {
    const args = ["--arch", "aarch64", "--features", "preempt", "--max-preemptions", "inf"];
    const result = await json(...args);
    assert.equal(result.maxPreemptions, "inf");
    assert.equal(result.boundReached, "inf");
    assert.equal(result.stopReason, "complete");
    assert.equal(result.complete, true);
    assert.equal(result.violation, null);
    assert.deepEqual(result.violations, []);
    assert.ok(result.equivalenceClasses > 0);
    const text = await cli("explore", ...args, "--fail-on-violation");
    assert.equal(text.code, 0);
    assert.match(text.out, /\(dfs, dpor, unbounded\)/);
    assert.match(text.out, /complete: every schedule \(unbounded\), up to equivalence/);
    assert.match(text.out, /^SAFE: no schedule violates the test\.$/m);
  });
  await t.step("--reduction none runs every interleaving, to the same verdict", async () => {
    const scenario = ["--cpus", "1", "--tasks", "3", "--access", "read-write"];
    const none = await json(...scenario, "--reduction", "none");
    const dpor = await json(...scenario);
    assert.equal(none.reduction, "none");
    assert.equal(dpor.reduction, "dpor");
    assert.equal(none.violation.kind, dpor.violation.kind);
    assert.equal(none.violation.preemptions, dpor.violation.preemptions);
    assert.deepEqual(none.violations.map((v: { kind: string }) => v.kind), ["lost-update"]);
    assert.ok(none.schedulesExplored >= dpor.schedulesExplored);
    assert.match(
      (await cli("explore", ...scenario, "--reduction", "none")).out,
      /\(dfs, no reduction,/,
    );
  });
  await t.step("--violations: only the kinds named count", async () => {
    const result = await json(
      "--arch",
      "riscv64",
      "--max-preemptions",
      "1",
      "--violations",
      "lost-update",
    );
    assert.deepEqual(result.scope.violations, ["lost-update"]);
    assert.equal(result.violation.kind, "lost-update");
    assert.deepEqual(result.violations.map((v: { kind: string }) => v.kind), ["lost-update"]);
    const all = await json("--arch", "riscv64", "--max-preemptions", "1");
    assert.deepEqual(all.violations.map((v: { kind: string }) => v.kind), [
      "lost-update",
      "wrong-cpu",
    ]);
    assert.equal(all.violation.kind, "wrong-cpu", "the smallest: fewer instructions");
    assert.ok(all.violation.steps < all.violations[0].steps);
    const text = await cli(
      "explore",
      "--arch",
      "riscv64",
      "--max-preemptions",
      "1",
      "--violations",
      "wrong-cpu",
    );
    assert.match(text.out, /counting {3}wrong-cpu \(the other kinds are ignored\)/);
    assert.doesNotMatch(text.out, /lost-update:/);
  });
  await t.step("--exhaustive goes on to the bound after a violation", async () => {
    const scenario = ["--cpus", "1", "--tasks", "3", "--access", "read-write"];
    const first = await json(...scenario);
    assert.equal(first.boundReached, 1);
    const all = await json(...scenario, "--exhaustive");
    assert.equal(all.boundReached, 2);
    assert.equal(all.scope.exhaustive, true);
    assert.equal(all.violation.preemptions, first.violation.preemptions);
  });
  await t.step(
    "--budget and --time-limit: incomplete, exit 3 with --fail-on-violation",
    async () => {
      const safe = ["--arch", "aarch64", "--features", "preempt", "--tasks", "4", "--iters", "2"];
      const budget = await cli("explore", ...safe, "--budget", "50", "--fail-on-violation");
      assert.equal(budget.code, 3);
      assert.match(budget.out, /incomplete: stopped by the budget after 50 schedules/);
      assert.match(budget.out, /^INCOMPLETE: no violation in 50 schedules/m);
      const timed = await json(...safe, "--time-limit", "0.3");
      assert.equal(timed.stopReason, "time");
      assert.equal(timed.complete, false);
      assert.equal(timed.violation, null);
      assert.equal(
        (await cli("explore", ...safe, "--time-limit", "0.3", "--fail-on-violation")).code,
        3,
      );
      assert.equal((await cli("explore", ...safe, "--time-limit", "0.3")).code, 0);
    },
  );
  await t.step(
    "progress: one overwritten stderr line on a terminal, none with --json",
    async () => {
      const slow = [
        "explore",
        "--arch",
        "aarch64",
        "--features",
        "preempt",
        "--tasks",
        "4",
        "--iters",
        "2",
        "--time-limit",
        "1.6",
      ];
      let err = "";
      let out = "";
      const io = {
        out: (x: string) => void (out += x),
        err: (x: string) => void (err += x),
        progress: true,
      };
      assert.equal(await main(slow, io), 0);
      assert.ok(err.startsWith(`\r${ESC}[K  dfs: `), JSON.stringify(err));
      assert.match(err, /dfs: \d+ schedules, \d+\/s, bound \d, 1 s…/);
      assert.ok(err.endsWith("\r\x1b[K"), "the line is cleared at the end");
      assert.doesNotMatch(err, /\n/);
      assert.match(out, /stopped by the time limit/);
      err = "";
      out = "";
      assert.equal(await main([...slow, "--json"], io), 0);
      assert.equal(err, "");
      assert.equal(JSON.parse(out).stopReason, "time");
    },
  );
  await t.step("the verdict: incomplete for any search that did not cover its space", () => {
    const done = checkDfs(counterTest({ arch: "aarch64", features: ["preempt"] }));
    assert.equal(exploreVerdict(done), "ok");
    const variants: Partial<ExploreResult>[] = [
      { complete: false, stopReason: "budget" },
      { complete: false, stopReason: "time" },
      { complete: false, stopReason: "failed", failures: ["shard 1 of 2 is missing"] },
      { complete: false, cutOff: 1 },
    ];
    for (const variant of variants) {
      assert.equal(exploreVerdict({ ...done, ...variant }), "incomplete", JSON.stringify(variant));
    }
    const racy = checkDfs(counterTest({ arch: "aarch64" }), { budget: 5000 });
    assert.equal(exploreVerdict(racy), "violation");
    assert.equal(exploreVerdict({ ...racy, complete: false, stopReason: "budget" }), "violation");
  });
});

Deno.test("--shard i/n and --merge: the parts' files give the whole search's verdict", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "percpu_cli_shards_" });
  const write = async (name: string, args: string[]) => {
    const run = await cli("explore", ...args, "--json");
    assert.equal(run.code, 0, run.err);
    await Deno.writeTextFile(`${dir}/${name}`, run.out);
    return JSON.parse(run.out);
  };
  const racy = ["--arch", "aarch64"];
  const safe = ["--arch", "riscv64", "--features", "preempt"];
  try {
    await t.step("0/2 + 1/2 merged = the whole search", async () => {
      for (const [name, scenario] of [["racy", racy], ["safe", safe]] as const) {
        const whole = JSON.parse((await cli("explore", ...scenario, "--json")).out);
        const part0 = await write(`${name}-0.json`, [...scenario, "--shard", "0/2"]);
        await write(`${name}-1.json`, [...scenario, "--shard", "1/2"]);
        assert.deepEqual(part0.shard, { index: 0, count: 2 });
        assert.equal(part0.format, "percpu.explore-result.1");
        const merged = await cli(
          "explore",
          "--merge",
          `${dir}/${name}-1.json`,
          `${dir}/${name}-0.json`,
          "--json",
        );
        assert.equal(merged.code, 0, merged.err);
        const m = JSON.parse(merged.out);
        assert.equal(m.shard, null);
        assert.equal(m.complete, whole.complete);
        assert.equal(m.stopReason, whole.stopReason);
        assert.equal(m.boundReached, whole.boundReached);
        assert.deepEqual(m.violation?.kind, whole.violation?.kind);
        assert.deepEqual(m.violation?.preemptions, whole.violation?.preemptions);
        assert.deepEqual(m.violation?.steps, whole.violation?.steps);
        assert.deepEqual(
          m.violations.map((v: { kind: string }) => v.kind),
          whole.violations.map((v: { kind: string }) => v.kind),
        );
        for (const key of ["arch", "features", "cpus", "tasks", "iters", "access", "scenario"]) {
          assert.deepEqual(m[key], whole[key], key);
        }
        const code = (await cli(
          "explore",
          "--merge",
          `${dir}/${name}-0.json`,
          `${dir}/${name}-1.json`,
          "--fail-on-violation",
        )).code;
        assert.equal(code, name === "racy" ? 1 : 0);
      }
      const text = await cli("explore", "--merge", `${dir}/racy-0.json`, `${dir}/racy-1.json`);
      assert.match(text.out, /^VIOLATION with 1 preemption \(wrong-cpu\)/m);
      const line = /^ {2}replay {4}(.+)$/m.exec(text.out)![1];
      const replayed = await cli(...words(line).slice(3), "--json");
      assert.equal(
        JSON.parse(replayed.out).wrongCpuAccesses > 0,
        true,
        "the merged violation replays",
      );
      const safeText = await cli("explore", "--merge", `${dir}/safe-0.json`, `${dir}/safe-1.json`);
      assert.match(
        safeText.out,
        /^SAFE: no schedule with at most 2 preemptions violates the test\.$/m,
      );
    });
    await t.step("a missing shard: incomplete, exit 3 with --fail-on-violation", async () => {
      const run = await cli("explore", "--merge", `${dir}/safe-1.json`, "--fail-on-violation");
      assert.equal(run.code, 3);
      assert.match(run.out, /incomplete: a part of the search failed or is missing/);
      assert.match(run.out, /failed {5}shard 0 of 2 is missing/);
      assert.doesNotMatch(run.out, /SAFE/);
      const json = JSON.parse(
        (await cli("explore", "--merge", `${dir}/safe-1.json`, "--json")).out,
      );
      assert.equal(json.complete, false);
      assert.equal(json.stopReason, "failed");
      assert.deepEqual(json.failures, ["shard 0 of 2 is missing"]);
      const twice = await cli(
        "explore",
        "--merge",
        `${dir}/safe-1.json`,
        "--merge",
        `${dir}/safe-0.json`,
        "--json",
      );
      assert.equal(JSON.parse(twice.out).complete, true, "--merge given twice takes both files");
    });
    await t.step("bad files are refused: exit 2, one line naming the file", async () => {
      const good = await Deno.readTextFile(`${dir}/safe-0.json`);
      const edit = (f: (o: Record<string, unknown>) => void) => {
        const o = JSON.parse(good);
        f(o);
        return JSON.stringify(o);
      };
      const random = (await cli("explore", "--mode", "random", "--budget", "20", "--json")).out;
      const cases: [string, string, RegExp][] = [
        ["truncated.json", good.slice(0, good.length / 2), /truncated\.json is not JSON/],
        ["empty.json", "", /empty\.json is not JSON/],
        ["array.json", "[]", /array\.json holds no explore result/],
        ["random.json", random, /random\.json holds a "random" search: only .* can be merged/],
        [
          "count.json",
          edit((o) => (o.schedulesExplored = -1)),
          /count\.json: schedulesExplored must be an integer ≥ 0, got (number )?-1/,
        ],
        [
          "format.json",
          edit((o) => (o.format = "other")),
          /format\.json: .*format must be "percpu\.explore-result\.1"/,
        ],
        [
          "stop.json",
          edit((o) => (o.stopReason = "done")),
          /stop\.json: .*stopReason must be one of/,
        ],
        [
          "arch.json",
          edit((o) => (o.arch = "aarch64")),
          /arch\.json: its scenario fields .* are not those of its result's test/,
        ],
        [
          "tasks.json",
          edit((o) => (o.tasks = 0)),
          /tasks\.json: tasks must be an integer from 1 to 1024, got 0/,
        ],
      ];
      for (const [name, text, message] of cases) {
        await Deno.writeTextFile(`${dir}/${name}`, text);
        const run = await cli("explore", "--merge", `${dir}/${name}`, `${dir}/safe-1.json`);
        assert.equal(run.code, 2, `${name}: ${run.out}`);
        assert.equal(run.out, "");
        assert.match(run.err, message, name);
        assert.equal(run.err.trimEnd().split("\n").length, 1, name);
        assert.doesNotMatch(run.err, STACK_FRAME);
      }
      const refused: [string[], RegExp][] = [
        [[`${dir}/nothing.json`], /--merge: cannot read .*nothing\.json/],
        [
          [`${dir}/safe-0.json`, `${dir}/safe-0.json`],
          /safe-0\.json is shard 0 of 2, which is given twice/,
        ],
        [
          [`${dir}/safe-0.json`, `${dir}/racy-1.json`],
          /racy-1\.json is not a shard of the same search as .*safe-0\.json: its test fingerprint/,
        ],
        [[`${dir}/safe-0.json`, "--arch", "arm"], /--arch does not apply with --merge/],
        [
          [`${dir}/safe-0.json`, "--mode", "dfs", "--budget", "9"],
          /--mode, --budget do not apply with --merge/,
        ],
      ];
      for (const [args, message] of refused) {
        const run = await cli("explore", "--merge", ...args);
        assert.equal(run.code, 2, args.join(" "));
        assert.match(run.err, message);
        assert.equal(run.err.trimEnd().split("\n").length, 1);
      }
    });
    await t.step("--merge without --allow-read: exit 2 with the command that works", async () => {
      const run = await spawn(["explore", "--merge", "safe-0.json", "safe-1.json"], { cwd: dir });
      assert.equal(run.code, 2);
      assert.match(
        run.err,
        /--merge needs permission to read safe-0\.json: run deno run --allow-read=safe-0\.json,safe-1\.json .*cli\.ts explore --merge safe-0\.json safe-1\.json\n$/,
      );
      const allowed = await spawn(["explore", "--merge", "safe-0.json", "safe-1.json"], {
        cwd: dir,
        denoFlags: ["--allow-read=safe-0.json,safe-1.json"],
      });
      assert.equal(allowed.code, 0, allowed.err);
      assert.match(allowed.out, /^SAFE/m);
      for (const args of [["explore", "--merge", ""], ["sim", "--svg", ""]]) {
        const empty = await spawn(args, { cwd: dir });
        assert.equal(empty.code, 2, empty.err);
        assert.match(empty.err, /^error: --(merge|svg): "" is not a file name: .*\n$/);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--workers n: the same verdict as the sequential search", async () => {
  const sequential = JSON.parse((await cli("explore", "--arch", "aarch64", "--json")).out);
  const run = await cli("explore", "--arch", "aarch64", "--workers", "2", "--json");
  assert.equal(run.code, 0, run.err);
  const parallel = JSON.parse(run.out);
  assert.equal(parallel.complete, sequential.complete);
  assert.equal(parallel.stopReason, "complete");
  assert.equal(parallel.boundReached, sequential.boundReached);
  assert.equal(parallel.violation.kind, sequential.violation.kind);
  assert.equal(parallel.violation.preemptions, sequential.violation.preemptions);
  assert.equal(parallel.violation.steps, sequential.violation.steps);
  assert.deepEqual(
    parallel.violations.map((v: { kind: string }) => v.kind),
    sequential.violations.map((v: { kind: string }) => v.kind),
  );
  const replayed = await cli(...words(parallel.violation.replay).slice(3), "--json");
  assert.equal(JSON.parse(replayed.out).traceHash, parallel.violation.traceHash);
  // From a clone, the Workers read the package's files: asked for before any work.
  const denied = await spawn(["explore", "--workers", "2"]);
  assert.equal(denied.code, 2);
  assert.equal(denied.out, "");
  const root = ROOT.pathname.replace(/\/$/, "");
  assert.equal(
    denied.err,
    `error: --workers needs permission to read ${root} (its Workers load the package's modules from there): run deno run --allow-read=${root} cli.ts explore --workers 2\n`,
  );
});
