/**
 * `deno task mutants`: mutation testing of `lib/` and `sched/` with StrykerJS
 * over a seeded sample of mutation sites, one Stryker run per group of
 * source files with only that group's tests (see `.mutants/README.md`).
 *
 *     deno task mutants                     the default sample (seed 14, 500 mutants)
 *     deno task mutants --seed 7 --rate 8  another sample
 *     deno task mutants --group isa         only some groups (repeatable)
 *     deno task mutants --all --group isa   every mutant of a group, no sampling
 *     deno task mutants --list              the groups and the sample, nothing run
 *
 * Needs Node ≥ 20 and npm (StrykerJS is installed from npm, pinned by
 * `.mutants/package-lock.json`, into `$PERCPU_MUTANTS_DIR` or
 * `~/.cache/percpu-mutants`). Writes `.mutants/out/mutation.json` and
 * `.mutants/out/mutation.html`, and prints the score with its 95% interval,
 * the survivors, and those of them that `.mutants/survivors.md` does not
 * list.
 *
 * @module
 */

import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const HERE = `${ROOT}/.mutants`;
const OUT = `${HERE}/out`;
const CACHE = Deno.env.get("PERCPU_MUTANTS_DIR") ??
  `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/percpu-mutants`;
/** What is mutated: every TypeScript file of these trees, minus EXCLUDED. */
const SCOPE = ["lib", "sched"];

interface Group {
  name: string;
  /** Source files (globs, `*` within a directory, `**` across them). */
  mutate: string[];
  /** The test files that run for every mutant of the group. */
  tests: string[];
  why: string;
}

interface GroupsFile {
  excluded: { files: string[]; why: string }[];
  groups: Group[];
}

interface Mutant {
  file: string;
  site: [number, number, number, number];
  mutator: string;
  replacement: string;
}

type Site = { file: string; site: Mutant["site"]; mutants: number };

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string", default: "14" },
    rate: { type: "string", default: "5" },
    group: { type: "string", multiple: true },
    all: { type: "boolean", default: false },
    list: { type: "boolean", default: false },
    concurrency: { type: "string", default: "2" },
  },
});

function fail(message: string): never {
  console.error(`mutants: ${message}`);
  Deno.exit(2);
}

const seed = Number(args.seed);
const rate = Number(args.rate);
const concurrency = Number(args.concurrency);
if (!Number.isSafeInteger(seed)) {
  fail(`--seed must be an integer, got ${args.seed}`);
}
if (!Number.isFinite(rate) || rate <= 0 || rate > 100) {
  fail(`--rate must be a percentage above 0 and at most 100, got ${args.rate}`);
}
if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
  fail(`--concurrency must be ≥ 1, got ${args.concurrency}`);
}

async function run(
  command: string,
  commandArgs: string[],
  options: {
    cwd?: string;
    env?: Record<string, string>;
    quiet?: boolean;
    show?: boolean;
  } = {},
): Promise<string> {
  const output = await new Deno.Command(command, {
    args: commandArgs,
    cwd: options.cwd ?? ROOT,
    env: options.env,
    stdout: options.show ? "inherit" : "piped",
    stderr: options.quiet ? "piped" : "inherit",
  }).output();
  const text = options.show ? "" : new TextDecoder().decode(output.stdout);
  if (!output.success) {
    if (options.quiet) console.error(new TextDecoder().decode(output.stderr));
    fail(`${command} ${commandArgs.join(" ")} failed (exit ${output.code})`);
  }
  return text;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Installs StrykerJS from the lockfile, once per lockfile. */
async function install(): Promise<void> {
  await Deno.mkdir(CACHE, { recursive: true });
  const lock = await Deno.readTextFile(`${HERE}/package-lock.json`);
  const installed = await readText(`${CACHE}/package-lock.json`);
  let ready = installed === lock;
  try {
    await Deno.stat(
      `${CACHE}/node_modules/@stryker-mutator/core/bin/stryker.js`,
    );
  } catch {
    ready = false;
  }
  if (!ready) {
    console.log(`installing StrykerJS into ${CACHE} (npm ci)`);
    await Deno.copyFile(`${HERE}/package.json`, `${CACHE}/package.json`);
    await Deno.writeTextFile(`${CACHE}/package-lock.json`, lock);
    await run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], {
      cwd: CACHE,
    });
  }
  // The scripts import Stryker's packages: next to node_modules they resolve.
  for (const script of ["enumerate.mjs", "ignorers.mjs"]) {
    await Deno.copyFile(`${HERE}/${script}`, `${CACHE}/${script}`);
  }
}

function globRegExp(glob: string): RegExp {
  const source = glob.split("**/").map((part) =>
    part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(
      /\?/g,
      "[^/]",
    )
  ).join("(?:.*/)?");
  return new RegExp(`^${source}$`);
}

async function sourceFiles(): Promise<string[]> {
  const listed = await run("git", [
    "ls-files",
    "--cached",
    "--others",
    "--exclude-standard",
    "--",
    ...SCOPE,
  ], { quiet: true });
  const files = listed.split("\n").filter((f) => f.endsWith(".ts"));
  const existing = [];
  for (const file of files) {
    try {
      await Deno.stat(`${ROOT}/${file}`);
      existing.push(file);
    } catch {
      // Deleted in the work tree but still in the index.
    }
  }
  return [...new Set(existing)].sort();
}

/** Which group mutates each file; every file in scope is in one. */
function assign(files: string[], config: GroupsFile): Map<string, string[]> {
  const excluded = config.excluded.flatMap((e) => e.files).map(globRegExp);
  const byGroup = new Map<string, string[]>(
    config.groups.map((g) => [g.name, []]),
  );
  const problems: string[] = [];
  for (const file of files) {
    if (excluded.some((re) => re.test(file))) continue;
    const owners = config.groups.filter((g) =>
      g.mutate.some((glob) => globRegExp(glob).test(file))
    );
    if (owners.length !== 1) {
      problems.push(
        `${file} is in ${owners.length ? owners.map((g) => g.name).join(" and ") : "no group"}`,
      );
    } else byGroup.get(owners[0].name)!.push(file);
  }
  if (problems.length) {
    fail(`.mutants/groups.json:\n  ${problems.join("\n  ")}`);
  }
  return byGroup;
}

/** SplitMix32, seeded from a string: the sample depends on nothing else. */
function prng(key: string): () => number {
  let state = 0;
  for (const ch of key) {
    state = (Math.imul(state, 31) + ch.codePointAt(0)!) >>> 0;
  }
  return () => {
    let z = (state = (state + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 0x1_0000_0000;
  };
}

function siteKey(file: string, site: Mutant["site"]): string {
  return `${file}:${site.join(":")}`;
}

/** Every mutation site (node location) with its number of mutants. */
function sitesOf(mutants: Mutant[]): Site[] {
  const sites = new Map<string, Site>();
  for (const m of mutants) {
    const key = siteKey(m.file, m.site);
    const site = sites.get(key);
    if (site) site.mutants++;
    else sites.set(key, { file: m.file, site: m.site, mutants: 1 });
  }
  return [...sites.values()];
}

/**
 * A proportional stratified sample of sites: each file gets its share of
 * `target` sites (largest remainders), drawn by a generator seeded with the
 * seed and the file's name, so a change in one file leaves the other files'
 * draws as they were.
 */
function drawSample(sites: Site[], percent: number): Site[] {
  // Each file draws its share on its own (the count rounded up or down at
  // random, then a shuffle, both seeded by the seed and the file's name), so
  // a file's draw depends on nothing else: bringing more files into scope,
  // or changing one, leaves the other files' samples as they were.
  const drawn: Site[] = [];
  for (const [file, list] of Map.groupBy(sites, (s) => s.file)) {
    const random = prng(`${seed}:${file}`);
    const exact = list.length * percent / 100;
    const count = Math.floor(exact) +
      (random() < exact - Math.floor(exact) ? 1 : 0);
    const order = [...list].sort((a, b) => compareSites(a.site, b.site));
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    drawn.push(...order.slice(0, count));
  }
  return drawn;
}

function compareSites(a: Mutant["site"], b: Mutant["site"]): number {
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** What a group's run was, kept next to its report. */
interface GroupMeta {
  seed: number;
  rate: number;
  all: boolean;
  seconds: number;
}

interface ReportMutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  statusReason?: string;
  location: {
    start: { line: number; column: number };
    end: { line: number; column: number };
  };
}

interface Report {
  files: Record<
    string,
    { language: string; source: string; mutants: ReportMutant[] }
  >;
  [key: string]: unknown;
}

const DETECTED = new Set(["Killed", "Timeout"]);
const UNDETECTED = new Set(["Survived", "NoCoverage"]);

function strykerConfig(
  group: Group,
  mutate: string[],
  report: string,
): unknown {
  return {
    $schema: `${CACHE}/node_modules/@stryker-mutator/core/schema/stryker-schema.json`,
    testRunner: "command",
    commandRunner: {
      command: `deno test --no-check --allow-all --fail-fast --quiet ${group.tests.join(" ")}`,
    },
    coverageAnalysis: "off",
    mutate,
    plugins: ["@stryker-mutator/*", `${CACHE}/ignorers.mjs`],
    ignorers: args.all ? ["percpu-message-text"] : ["percpu-message-text", "percpu-sample"],
    concurrency,
    // A slow, shared machine must not turn a survivor into a timeout
    // (which counts as killed): three times the dry run plus 30 s.
    timeoutFactor: 3,
    timeoutMS: 30_000,
    disableTypeChecks: false,
    allowEmpty: true,
    reporters: ["json", "progress-append-only"],
    jsonReporter: { fileName: report },
    // One sandbox folder per run: Stryker empties it when done, so two runs
    // of different groups at once must not share it.
    tempDirName: `.mutants/out/tmp-${Deno.pid}`,
    cleanTempDir: "always",
    ignorePatterns: [".mutants/out", "bench", "node_modules"],
    logLevel: "info",
    fileLogLevel: "off",
  };
}

function formatSeconds(seconds: number): string {
  const m = Math.floor(seconds / 60);
  return m ? `${m} min ${Math.round(seconds % 60)} s` : `${Math.round(seconds)} s`;
}

async function main(): Promise<void> {
  const started = performance.now();
  const config: GroupsFile = JSON.parse(
    await Deno.readTextFile(`${HERE}/groups.json`),
  );
  const unknown = (args.group ?? []).filter((g) => !config.groups.some((c) => c.name === g));
  if (unknown.length) {
    fail(
      `no group ${unknown.join(", ")}; groups: ${config.groups.map((g) => g.name).join(", ")}`,
    );
  }
  const selected = config.groups.filter((g) => !args.group || args.group.includes(g.name));
  const byGroup = assign(await sourceFiles(), config);
  await install();

  const inScope = [...byGroup.values()].flat();
  const population: { mutants: Mutant[]; ignored: number } = JSON.parse(
    await run("node", [`${CACHE}/enumerate.mjs`, ROOT, ...inScope], {
      cwd: CACHE,
    }),
  );
  const sites = sitesOf(population.mutants);
  const drawn = drawSample(sites, rate);
  const drawnMutants = drawn.reduce((n, s) => n + s.mutants, 0);
  console.log(
    `population: ${population.mutants.length} mutants at ${sites.length} sites in ` +
      `${inScope.length} files (${population.ignored} message-text mutants ignored)`,
  );
  console.log(
    args.all
      ? "no sampling: every mutant of the selected groups"
      : `sample: seed ${seed}, ${drawn.length} sites, ${drawnMutants} mutants ` +
        `(${(100 * drawnMutants / population.mutants.length).toFixed(1)}%)`,
  );

  await Deno.mkdir(`${OUT}/groups`, { recursive: true });
  const sampleFile = `${OUT}/sample-${Deno.pid}.json`;
  const sampleSites: Record<string, Mutant["site"][]> = {};
  for (const s of drawn) (sampleSites[s.file] ??= []).push(s.site);
  await Deno.writeTextFile(
    sampleFile,
    JSON.stringify({ root: ROOT, seed, sites: sampleSites }),
  );

  const counted = new Map(
    sites.map((s) => [siteKey(s.file, s.site), s.mutants]),
  );
  const inSample = new Set(drawn.map((s) => siteKey(s.file, s.site)));
  for (const group of selected) {
    const files = byGroup.get(group.name)!;
    const groupMutants = args.all
      ? population.mutants.filter((m) => files.includes(m.file)).length
      : drawn.filter((s) => files.includes(s.file)).reduce(
        (n, s) => n + s.mutants,
        0,
      );
    console.log(
      `\n== ${group.name}: ${groupMutants} mutants in ${files.length} files; ` +
        `tests: ${group.tests.join(" ")}`,
    );
    if (groupMutants === 0) continue;
    const groupStart = performance.now();
    const report = `${OUT}/groups/${group.name}.json`;
    const configFile = `${OUT}/groups/${group.name}.config.json`;
    // Sampled: the drawn sites' ranges (columns as babel counts them).
    const mutate = args.all
      ? files
      : drawn.filter((s) => files.includes(s.file)).map((s) =>
        `${s.file}:${s.site[0]}:${s.site[1]}-${s.site[2]}:${s.site[3]}`
      );
    await Deno.writeTextFile(
      configFile,
      JSON.stringify(strykerConfig(group, mutate, report)),
    );
    await run("node", [
      `${CACHE}/node_modules/@stryker-mutator/core/bin/stryker.js`,
      "run",
      configFile,
    ], {
      env: { PERCPU_MUTANTS_SAMPLE: sampleFile, NO_COLOR: "1" },
      show: true,
    });
    const groupSeconds = (performance.now() - groupStart) / 1000;
    console.log(`${group.name}: ${formatSeconds(groupSeconds)}`);
    const meta: GroupMeta = {
      seed,
      rate,
      all: args.all,
      seconds: groupSeconds,
    };
    await Deno.writeTextFile(
      `${OUT}/groups/${group.name}.meta.json`,
      JSON.stringify(meta),
    );
  }

  // One report from the groups' reports (each holds only its own files):
  // the groups run now, and those of an earlier run of the same sample.
  let merged: Report | undefined;
  const earlier: string[] = [];
  let groupsSeconds = 0;
  for (const group of config.groups) {
    const text = await readText(`${OUT}/groups/${group.name}.json`);
    const metaText = await readText(`${OUT}/groups/${group.name}.meta.json`);
    if (text === undefined || metaText === undefined) continue;
    const meta: GroupMeta = JSON.parse(metaText);
    if (meta.seed !== seed || meta.rate !== rate || meta.all !== args.all) {
      continue;
    }
    if (!selected.includes(group)) {
      if (args.all) continue;
      earlier.push(group.name);
    }
    groupsSeconds += meta.seconds;
    const report: Report = JSON.parse(text);
    if (!merged) merged = { ...report, files: {} };
    for (const [name, file] of Object.entries(report.files)) {
      merged.files[name] = file;
    }
  }
  if (!merged) fail("no group produced a report");
  await Deno.writeTextFile(`${OUT}/mutation.json`, JSON.stringify(merged));
  await Deno.writeTextFile(`${OUT}/mutation.html`, await html(merged));

  // The score over the sampled sites; its interval treats sites as the
  // sampling units (a site's mutants live and die together more often than
  // not), with the finite-population correction.
  const perSite = new Map<string, { killed: number; valid: number }>();
  const survivors: string[] = [];
  const counts: Record<string, number> = {};
  for (const [name, file] of Object.entries(merged.files)) {
    for (const m of file.mutants) {
      if (m.status === "Ignored") continue;
      counts[m.status] = (counts[m.status] ?? 0) + 1;
      const { start, end } = m.location;
      const key = siteKey(name, [
        start.line,
        start.column - 1,
        end.line,
        end.column - 1,
      ]);
      const entry = perSite.get(key) ?? { killed: 0, valid: 0 };
      if (DETECTED.has(m.status)) entry.killed++;
      if (DETECTED.has(m.status) || UNDETECTED.has(m.status)) entry.valid++;
      perSite.set(key, entry);
      if (UNDETECTED.has(m.status)) {
        const line = file.source.split("\n")[start.line - 1]?.trim() ?? "";
        survivors.push(
          `${name}:${start.line}:${start.column} ${m.mutatorName} → ${
            JSON.stringify(m.replacement ?? "")
          }   ${line.slice(0, 90)}`,
        );
      }
    }
  }
  const killed = [...perSite.values()].reduce((n, s) => n + s.killed, 0);
  const valid = [...perSite.values()].reduce((n, s) => n + s.valid, 0);
  const score = valid ? killed / valid : 1;
  const m = perSite.size;
  const f = args.all ? 1 : Math.min(1, m / Math.max(1, sites.length));
  const mean = valid / Math.max(1, m);
  const spread = [...perSite.values()].reduce(
    (s, e) => s + (e.killed - score * e.valid) ** 2,
    0,
  ) /
    Math.max(1, m - 1);
  const halfWidth = 1.96 *
    Math.sqrt(((1 - f) * spread) / (Math.max(1, m) * mean * mean));
  const unexpected = [...inSample].filter((k) => !perSite.has(k) && counted.has(k));

  const notes = (await readText(`${HERE}/survivors.md`)) ?? "";
  const unlisted = survivors.filter((s) => !notes.includes(s.split(" ")[0]));
  const seconds = (performance.now() - started) / 1000;
  const summary = [
    `mutation score: ${(100 * score).toFixed(1)}% (${killed} of ${valid} detected; ` +
    `95% interval ${(100 * Math.max(0, score - halfWidth)).toFixed(1)}–` +
    `${(100 * Math.min(1, score + halfWidth)).toFixed(1)}%)`,
    `statuses: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ")}`,
    args.all
      ? `no sampling; groups: ${selected.map((g) => g.name).join(", ")}`
      : `sample: seed ${seed}, rate ${rate}%: ${m} sites of ${sites.length}, ${valid} mutants of ` +
        `${population.mutants.length}; groups: ${selected.map((g) => g.name).join(", ")}`,
    `time: ${formatSeconds(seconds)} this run; ${
      formatSeconds(groupsSeconds)
    } in Stryker over the groups reported`,
    ...(earlier.length ? [`groups from an earlier run: ${earlier.join(", ")}`] : []),
    `report: .mutants/out/mutation.html, .mutants/out/mutation.json`,
    ...(survivors.length ? ["survivors:", ...survivors.map((s) => `  ${s}`)] : []),
    ...(unlisted.length
      ? [
        `survivors not in .mutants/survivors.md:`,
        ...unlisted.map((s) => `  ${s}`),
      ]
      : []),
    ...(unexpected.length && !args.group ? [`sampled sites not run: ${unexpected.length}`] : []),
  ].join("\n");
  await Deno.writeTextFile(`${OUT}/summary.txt`, summary + "\n");
  console.log(`\n${summary}`);
}

/** The HTML report, as Stryker's own HTML reporter writes it. */
async function html(report: Report): Promise<string> {
  const script = await Deno.readTextFile(
    `${CACHE}/node_modules/mutation-testing-elements/dist/mutation-test-elements.js`,
  );
  const json = JSON.stringify(report).replace(/</g, "\\u003c");
  return `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>percpu mutation report</title><script>${script}</script></head>
<body>
<mutation-test-report-app titlePostfix="percpu"></mutation-test-report-app>
<script>
  const app = document.querySelector("mutation-test-report-app");
  app.report = ${json};
  const theme = () => (document.body.style.backgroundColor = app.themeBackgroundColor);
  app.addEventListener("theme-changed", theme);
  theme();
</script>
</body>
</html>
`;
}

if (import.meta.main) {
  if (args.list) {
    const config: GroupsFile = JSON.parse(
      await Deno.readTextFile(`${HERE}/groups.json`),
    );
    const byGroup = assign(await sourceFiles(), config);
    for (const group of config.groups) {
      console.log(
        `${group.name}: ${byGroup.get(group.name)!.length} files; ${group.tests.join(" ")}`,
      );
    }
  } else {
    await main();
  }
}
