// The package as users get it. A local HTTP server in JSR's layout serves
// exactly the files `deno publish --dry-run` lists; Deno honours JSR_URL, so
// `deno add jsr:@percpu/percpu` in a fresh project installs them, and the
// project imports every entry point, runs the CLI from its jsr: specifier
// and runs Workers. Also: a timeline written by the README's command does
// not make `deno publish --dry-run` fail.

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;
const CONFIG = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
const [SCOPE, NAME] = (CONFIG.name as string).slice(1).split("/");
const VERSION: string = CONFIG.version;

interface Output {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function run(
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Output> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...args],
    cwd,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code: output.code, out: text.decode(output.stdout), err: text.decode(output.stderr) };
}

/** The files `deno publish --dry-run` would upload, relative to `dir`. */
async function publishedFiles(
  dir: string,
  allowDirty: boolean,
): Promise<Output & { files: string[] }> {
  const result = await run(
    ["publish", "--dry-run", ...(allowDirty ? ["--allow-dirty"] : [])],
    dir,
  );
  const prefix = new URL(`file://${dir.endsWith("/") ? dir : `${dir}/`}`).href;
  const files = [...(result.out + result.err).matchAll(/^\s+(file:\/\/\S+) \(/gm)]
    .map((m) => decodeURIComponent(m[1].slice(prefix.length)));
  return { ...result, files };
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const CONTENT_TYPES: Record<string, string> = {
  ts: "application/typescript",
  json: "application/json",
  md: "text/markdown",
};

/** Serves `files` (read from `ROOT`) as `@scope/name@version` in JSR's layout. */
async function jsrServer(files: readonly string[]) {
  const contents = new Map<string, Uint8Array<ArrayBuffer>>();
  const manifest: Record<string, { size: number; checksum: string }> = {};
  for (const file of files) {
    const bytes = await Deno.readFile(`${ROOT}${file}`);
    contents.set(file, bytes);
    manifest[`/${file}`] = { size: bytes.length, checksum: `sha256-${await sha256(bytes)}` };
  }
  const base = `/@${SCOPE}/${NAME}/`;
  const served: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    served.push(path);
    if (path === `${base}meta.json`) {
      return Response.json({
        scope: SCOPE,
        name: NAME,
        latest: VERSION,
        versions: { [VERSION]: {} },
      });
    }
    if (path === `${base}${VERSION}_meta.json`) {
      return Response.json({ manifest, exports: CONFIG.exports });
    }
    const file = path.startsWith(`${base}${VERSION}/`)
      ? path.slice(`${base}${VERSION}/`.length)
      : "";
    const bytes = contents.get(file);
    if (bytes === undefined) return new Response("not found", { status: 404 });
    const type = CONTENT_TYPES[file.split(".").pop()!] ?? "text/plain";
    return new Response(bytes, { headers: { "content-type": type } });
  });
  return { server, port: server.addr.port, served };
}

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("the published package: deno add, every entry point, the CLI and Workers", async (t) => {
  const listed = await publishedFiles(ROOT, true);
  assert.equal(listed.code, 0, listed.err);
  const files = listed.files;

  await t.step("the published file list is clean", () => {
    for (const entry of Object.values(CONFIG.exports) as string[]) {
      assert.ok(files.includes(entry.slice(2)), `${entry} is published`);
    }
    assert.ok(files.includes("README.md") && files.includes("LICENSE"));
    for (const file of files) {
      assert.doesNotMatch(
        file,
        /^(tests|bench|examples|\.ci|\.git)\/|^deno\.lock$|^\.git$|\.svg$/,
        `${file} is not for users`,
      );
    }
  });

  const { server, port, served } = await jsrServer(files);
  const project = await Deno.makeTempDir({ prefix: "percpu_user_" });
  const cache = await Deno.makeTempDir({ prefix: "percpu_deno_dir_" });
  const env = {
    JSR_URL: `http://127.0.0.1:${port}/`,
    DENO_DIR: cache,
    NPM_CONFIG_REGISTRY: `http://127.0.0.1:${closedPort()}/`,
  };
  const user = (args: readonly string[]) => run(args, project, env);
  try {
    await t.step("deno add jsr:@percpu/percpu", async () => {
      await Deno.writeTextFile(`${project}/deno.json`, "{}\n");
      const added = await user(["add", `jsr:@${SCOPE}/${NAME}`]);
      assert.equal(added.code, 0, added.err);
      const config = JSON.parse(await Deno.readTextFile(`${project}/deno.json`));
      assert.equal(config.imports[`@${SCOPE}/${NAME}`], `jsr:@${SCOPE}/${NAME}@^${VERSION}`);
    });

    await t.step("every entry point imports and works", async () => {
      await Deno.writeTextFile(
        `${project}/main.ts`,
        `import { defPercpu, init, initPercpuReg, usize } from "@percpu/percpu";
import { NoPreempt } from "@percpu/percpu/guards";
import { archTable } from "@percpu/percpu/isa";
import { checkDfs, counterTest, simulate } from "@percpu/percpu/sched";
import { shareAreas } from "@percpu/percpu/workers";
import { EXIT_CODES } from "@percpu/percpu/cli";

const CPU_ID = defPercpu("CPU_ID", usize, 0);
init(4);
initPercpuReg(0);
CPU_ID.writeCurrent(1);
const found = checkDfs(counterTest({ arch: "aarch64" }));
console.log(JSON.stringify({
  current: CPU_ID.readCurrent(),
  remote: CPU_ID.remoteRefRaw(3).value,
  guard: typeof NoPreempt,
  pointerBytes: archTable("arm").pointerBytes,
  corrupted: simulate({ arch: "riscv64" }).corrupted,
  preemptions: found.violation?.preemptions,
  kind: found.violation?.kind,
  shared: typeof shareAreas,
  usage: EXIT_CODES.usage,
}));
`,
      );
      const { code, out, err } = await user(["run", "main.ts"]);
      assert.equal(code, 0, err);
      assert.deepEqual(JSON.parse(out), {
        current: 1,
        remote: 0,
        guard: "function",
        pointerBytes: 4,
        corrupted: true,
        preemptions: 1,
        kind: "wrong-cpu",
        shared: "function",
        usage: 2,
      });
    });

    await t.step("the CLI from its jsr: specifier, and its hints", async () => {
      const cli = `jsr:@${SCOPE}/${NAME}/cli`;
      const version = await user(["run", cli, "--version"]);
      assert.equal(version.out, `percpu ${VERSION}\n`, version.err);
      const failing = await user(["run", cli, "sim", "--arch", "riscv64", "--fail-on-violation"]);
      assert.equal(failing.code, 1, failing.err);
      const explored = await user(["run", cli, "explore", "--arch", "aarch64"]);
      assert.equal(explored.code, 0, explored.err);
      const hint = /^ {2}replay {4}(.+)$/m.exec(explored.out)![1];
      const prefix = `deno run jsr:@${SCOPE}/${NAME}@${VERSION}/cli sim --replay `;
      assert.ok(hint.startsWith(prefix), hint);
      const replayed = await user([...hint.split(" ").slice(1), "--json"]);
      assert.equal(replayed.code, 0, replayed.err);
      assert.equal(JSON.parse(replayed.out).corrupted, true);
      const parallel = await user([
        "run",
        cli,
        "explore",
        "--arch",
        "aarch64",
        "--workers",
        "2",
        "--json",
      ]);
      assert.equal(parallel.code, 0, parallel.err);
      const found = JSON.parse(parallel.out);
      assert.equal(found.stopReason, "complete", JSON.stringify(found.failures));
      assert.equal(found.violation.kind, "wrong-cpu");
      const bad = await user(["run", cli, "sim", "--cpus", "0"]);
      assert.equal(bad.code, 2);
      assert.equal(bad.err, `error: --cpus must be an integer from 1 to 64, got "0"\n`);
    });

    await t.step("deno install -g: the CLI as a command of its own", async () => {
      const root = `${project}/.deno_root`;
      const installed = await user([
        "install",
        "-g",
        "--root",
        root,
        "-n",
        "percpu",
        `jsr:@${SCOPE}/${NAME}/cli`,
      ]);
      assert.equal(installed.code, 0, installed.err);
      const output = await new Deno.Command(`${root}/bin/percpu`, {
        args: ["sim", "--arch", "aarch64", "--features", "preempt", "--fail-on-violation"],
        env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
        stdin: "null",
      }).output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      assert.match(new TextDecoder().decode(output.stdout), /^OK: /m);
    });

    await t.step("Workers run the user's task module against the package", async () => {
      await Deno.writeTextFile(
        `${project}/task.ts`,
        `import { createPercpu, u32 } from "@percpu/percpu";
import type { CpuTaskContext } from "@percpu/percpu/workers";
export const percpu = createPercpu();
export const HITS = percpu.defPercpu("HITS", u32, 0);
export function run({ cpu }: CpuTaskContext): number {
  for (let i = 0; i < 1000; i++) HITS.addCurrent(1);
  return cpu;
}
`,
      );
      await Deno.writeTextFile(
        `${project}/workers.ts`,
        `import { remoteSum, runOnCpus, shareAreas } from "@percpu/percpu/workers";
import { HITS, percpu } from "./task.ts";
const shared = shareAreas(percpu, 2);
const outcomes = await runOnCpus({ module: new URL("./task.ts", import.meta.url), shared });
console.log(JSON.stringify({ ok: outcomes.map((o) => o.ok), sum: remoteSum(percpu, HITS) }));
`,
      );
      // jsr.io is on Deno's default --allow-import list; this registry's host is not.
      const { code, out, err } = await user([
        "run",
        `--allow-read=${project}`,
        `--allow-import=127.0.0.1:${port}`,
        "workers.ts",
      ]);
      assert.equal(code, 0, err);
      assert.deepEqual(JSON.parse(out), { ok: [true, true], sum: 2000 });
    });

    await t.step("only published files were needed", () => {
      // `deno install` looks for a lockfile in the package; none is published.
      const base = `/@${SCOPE}/${NAME}/${VERSION}/`;
      const unpublished = served.filter((path) => path.startsWith(base))
        .map((path) => path.slice(base.length)).filter((file) => !files.includes(file));
      assert.deepEqual([...new Set(unpublished)], ["deno.lock"]);
    });
  } finally {
    await server.shutdown();
    await Deno.remove(project, { recursive: true });
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("the README's --svg command leaves the tree publishable", async () => {
  const git = async (args: string[], cwd: string) => {
    const output = await new Deno.Command("git", { args, cwd, stdin: "null" }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    return new TextDecoder().decode(output.stdout);
  };
  const clone = await Deno.makeTempDir({ prefix: "percpu_clone_" });
  try {
    // The working tree as it is (tracked and new files), committed in a fresh repository.
    const files =
      (await git(["ls-files", "--cached", "--others", "--exclude-standard", "-z"], ROOT))
        .split("\0").filter((f) => f !== "");
    for (const file of files) {
      const target = `${clone}/${file}`;
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      try {
        await Deno.copyFile(`${ROOT}${file}`, target);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error; // deleted, not yet staged
      }
    }
    await git(["init", "-q"], clone);
    await git(["add", "-A"], clone);
    await git(["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "snapshot"], clone);
    const readme = await Deno.readTextFile(`${ROOT}README.md`);
    const command = /^(deno run --allow-write=(\S+) cli\.ts explore .*--svg \2)\s*(#.*)?$/m
      .exec(readme);
    assert.ok(command, "the README has an --svg command");
    const args = command[1].split(/\s+/).slice(1);
    const written = await run(args, clone);
    assert.equal(written.code, 0, written.err);
    const svg = `${clone}/${command[2]}`;
    assert.match(await Deno.readTextFile(svg), /^<svg /);
    const { code, err, files: published } = await publishedFiles(clone, false);
    assert.equal(code, 0, err);
    assert.ok(!published.some((file) => file.endsWith(".svg")));
  } finally {
    await Deno.remove(clone, { recursive: true });
  }
});
