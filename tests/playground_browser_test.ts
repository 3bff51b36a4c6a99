/// <reference lib="dom" />
// The playground in a real headless Chromium (tests/fixtures/chromium.ts):
// 1. stepping aarch64 without `preempt` to a wrong-CPU access and a lost
//    update, and the page saying so;
// 2. the deferred tick and the safe result with `preempt`;
// 3. an explorer schedule loaded from a link (and pasted, and shared)
//    showing the trace hash `cli.ts sim --replay … --json` prints;
// 4. screenshots at 1280×800 and at phone width, saved under test-artifacts/;
// and the built site opened straight from disk. Throughout: no page error,
// and no request leaves the site.

import assert from "node:assert/strict";
import type { Page } from "./_deps/puppeteer.ts";
import { launchChromium } from "./fixtures/chromium.ts";
import { accessProgram } from "../lib/isa/mod.ts";
import { counterTest } from "../sched/mod.ts";
import { buildSite } from "../playground/build.ts";
import { serveSite } from "../playground/server.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const ARTIFACTS = `${ROOT}test-artifacts`;
const RACE = "arch=aarch64&features=&scenario=counter&access=with-current&cpus=2&tasks=3&iters=1";

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", `${ROOT}cli.ts`, ...args, "--json"],
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  assert.ok(output.code === 0 || output.code === 1, text.decode(output.stderr));
  return JSON.parse(text.decode(output.stdout));
}

async function press(page: Page, code: string, shift = false): Promise<void> {
  if (shift) await page.keyboard.down("Shift");
  await page.keyboard.press(code as never);
  if (shift) await page.keyboard.up("Shift");
}

async function text(page: Page, selector: string): Promise<string> {
  return await page.$eval(selector, (e) => e.textContent ?? "");
}

async function verdictOf(page: Page): Promise<string> {
  await page.waitForSelector("#verdict:not([data-verdict=running])", { timeout: 30_000 });
  return await page.$eval("#verdict", (e) => (e as HTMLElement).dataset.verdict ?? "");
}

async function traceHash(page: Page): Promise<string> {
  return await page.$eval("[data-trace-hash]", (e) => (e as HTMLElement).dataset.traceHash ?? "");
}

Deno.test("the playground in a real browser", async (t) => {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const base = await Deno.makeTempDir({ prefix: "percpu_browser_" });
  await buildSite(`${base}/site`);
  const controller = new AbortController();
  const server = serveSite({ root: `${base}/site`, port: 0, signal: controller.signal });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const browser = await launchChromium();
  const page = await browser.newPage();
  const problems: string[] = [];
  const foreign: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${(error as Error).message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("request", (request) => {
    // data: URLs are not fetched (the greyscale emulation uses one).
    const url = request.url();
    const local = url.startsWith(`${origin}/`) || url.startsWith(`file://${base}/site/`);
    if (!local && !url.startsWith("data:")) foreign.push(url);
  });
  const open = async (hash: string) => {
    // A real load each time (a change of fragment alone would restart the run asynchronously).
    await page.goto("about:blank");
    await page.goto(`${origin}/${hash}`);
    await page.waitForSelector("html[data-ready]");
  };
  try {
    await page.setViewport({ width: 1280, height: 800 });

    await t.step("1. aarch64 without preempt: a wrong-CPU access and a lost update", async () => {
      await open(`#${RACE}`);
      assert.match(await text(page, "#challenge"), /make the counter lose an update/);
      await press(page, "Digit1"); // CPU 0: task0 samples TPIDR_EL1
      assert.match(await text(page, "#cpu-0 .listing li.done"), /mrs x0, TPIDR_EL1/);
      assert.match(await text(page, "#cpu-0 .listing"), /reads TPIDR_EL1/);
      // The same listing as the CLI's, from the same arch table (and the closure's own name).
      assert.deepEqual(
        await page.$$eval(
          "#cpu-0 .listing li",
          (items) => items.map((li) => li.firstChild?.textContent),
        ),
        accessProgram(counterTest({ arch: "aarch64" }).percpu.variables()[0], "with-current", {
          fn: "increment",
        }).instructions.map((i) => i.text),
      );
      await press(page, "Digit1", true); // a tick on CPU 0: task0 preempted mid-access
      assert.match(await text(page, "#cpu-0 .queue"), /task0 \(mid-access, next: movz/);
      await press(page, "Digit2"); // task1 starts on CPU 1
      await page.click("#cpu-1 button.pull"); // a tick on CPU 1 pulls task0 over
      assert.match(await text(page, "#cpu-1 .running"), /runs task0/);
      assert.match(await text(page, "#cpu-1 dl"), /TPIDR_EL1.*CPU 1's area/);
      for (const code of ["Digit2", "Digit2"]) await press(page, code); // add, then ldr: CPU 0's area
      assert.match(
        await text(page, "#log"),
        /ldr x2, \[x0\] — reads 0x[0-9a-f]+ in CPU 0's area ✗ WRONG CPU/,
      );
      for (let i = 0; i < 5; i++) await press(page, "Digit1"); // task2 increments CPU 0's counter
      for (const code of ["Digit2", "Digit2"]) await press(page, code); // task0's stale store
      const win = await text(page, "#win");
      assert.match(win, /You won: an update was lost/);
      assert.match(win, /task0 sampled TPIDR_EL1 with mrs x0, TPIDR_EL1 on CPU 0/);
      assert.match(win, /overwrote task2's increment/);
      assert.equal(await page.$$eval("#challenge .checklist li.reached", (l) => l.length), 5);
      // The bytes the stale store just wrote, highlighted in CPU 0's area.
      assert.match(
        await text(page, "#memory tbody tr:first-child"),
        /✎ written at step 13 by task0/,
      );
      assert.equal(await text(page, "#memory tbody tr:first-child .bytes .w"), "01");
      await page.screenshot({ path: `${ARTIFACTS}/playground-desktop.png` });
      // The same, as someone who sees no colour would (the states are in words and symbols too).
      await page.emulateVisionDeficiency("achromatopsia");
      await page.screenshot({ path: `${ARTIFACTS}/playground-greyscale.png` });
      await page.emulateVisionDeficiency("none");
      await press(page, "KeyE");
      assert.equal(await verdictOf(page), "corrupted");
      const verdict = await text(page, "#verdict");
      assert.match(
        verdict,
        /lost-update: lost updates: 3 increments, the per-CPU counters sum to 2/,
      );
      assert.match(verdict, /wrong-cpu/);
    });

    await t.step("2. with preempt: the tick is deferred and the counter is safe", async () => {
      await open(`#${RACE.replace("features=", "features=preempt")}`);
      assert.match(
        await text(page, "#challenge"),
        /preempt is on: every access runs between disable_preempt and enable_preempt/,
      );
      await press(page, "Digit1"); // task0: disable_preempt
      await press(page, "Digit1", true); // the tick arrives inside the guard
      assert.match(await text(page, "#cpu-0 dl"), /preempt count1/);
      assert.match(await text(page, "#cpu-0 dl"), /switch DEFERRED until the count is 0/);
      assert.match(await text(page, "#challenge"), /1 tick deferred; last at step 2 on CPU 0/);
      assert.match(
        await text(page, "#log"),
        /tick on CPU 0 DEFERRED: task0 holds preempt count > 0/,
      );
      assert.match(await text(page, "#cpu-0 .running"), /runs task0/, "task0 keeps its CPU");
      // The timeline (the --svg renderer) marks the deferred tick.
      await page.waitForFunction(
        () => document.querySelector("#timeline svg")?.textContent?.includes("tick deferred-guard"),
        { timeout: 10_000 },
      );
      // Step on to the end of task0's access: the switch happens at enable_preempt.
      for (let i = 0; i < 6; i++) await press(page, "Digit1");
      assert.match(await text(page, "#log"), /task0 preempted on CPU 0/);
      await press(page, "KeyE");
      assert.equal(await verdictOf(page), "ok");
      assert.match(await text(page, "#safe"), /Safe: no update was lost/);
      assert.equal(await page.$("#win"), null);
    });

    await t.step("3. an explorer schedule from a link: the CLI's trace hash", async () => {
      const scenario = ["--arch", "aarch64", "--tasks", "3", "--iters", "1"];
      const explored = await cli(["explore", ...scenario]);
      const schedule = (explored.violation as { schedule: string }).schedule;
      const replayed = await cli(["sim", "--replay", schedule, ...scenario]);
      assert.equal(replayed.corrupted, true);
      await open(`#${RACE}&schedule=${encodeURIComponent(schedule)}`);
      assert.match(await text(page, "#status"), /steps ahead \(of the loaded schedule/);
      for (let i = 0; i < 3; i++) await press(page, "KeyY"); // step through the counterexample
      assert.match(await text(page, "#status"), /step 3 ·/);
      await press(page, "KeyE");
      assert.equal(await verdictOf(page), "corrupted");
      assert.equal(await traceHash(page), replayed.traceHash);
      // The command the page prints replays the run it shows.
      const command = /--replay (\S+) /.exec(await text(page, "#replay-command"))![1];
      assert.equal(
        (await cli(["sim", "--replay", command, ...scenario])).traceHash,
        replayed.traceHash,
      );

      // Shared: the link the page makes opens the same run.
      await press(page, "KeyS");
      const link = await page.$eval("#share-link", (e) => (e as HTMLInputElement).value);
      await open(link.slice(origin.length + 1));
      await press(page, "KeyE");
      await verdictOf(page);
      assert.equal(await traceHash(page), replayed.traceHash);

      // Pasted: the replay command `explore` prints, over sim's defaults.
      await open("#");
      await page.type(
        "#load-text",
        `deno run cli.ts sim --replay ${schedule} ${scenario.join(" ")}`,
      );
      await page.click("#load button[type=submit]");
      await press(page, "KeyE");
      await verdictOf(page);
      assert.equal(await traceHash(page), replayed.traceHash);
    });

    await t.step("4. screenshots at 1280×800 and at phone width", async () => {
      await open(`#${RACE}`);
      const top = await page.$eval("#cpus", (e) => e.getBoundingClientRect().top);
      assert.ok(top < 800, "the CPUs are on the first screen at 1280×800");
      // (A mobile viewport reloads the page: set it first, then play.)
      await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
      await open(`#${RACE}`);
      await press(page, "Digit1");
      await press(page, "Digit1", true);
      await press(page, "Digit2");
      await page.click("#cpu-1 button.pull");
      assert.match(await text(page, "#status"), /step 4 ·/);
      const overflow = await page.evaluate(() =>
        document.documentElement.scrollWidth - document.documentElement.clientWidth
      );
      assert.equal(overflow, 0, "nothing sticks out sideways at phone width");
      await page.screenshot({ path: `${ARTIFACTS}/playground-phone.png`, fullPage: true });
      await page.setViewport({ width: 1280, height: 800 });
      for (const name of ["desktop", "greyscale", "phone"]) {
        const png = await Deno.readFile(`${ARTIFACTS}/playground-${name}.png`);
        assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `${name} is a PNG`);
      }
    });

    await t.step("the built site works straight from disk", async () => {
      await page.goto("about:blank");
      await page.goto(`file://${base}/site/index.html#${RACE}`);
      await page.waitForSelector("html[data-ready]");
      await press(page, "KeyE");
      assert.equal(await verdictOf(page), "ok");
    });

    assert.deepEqual(problems, []);
    assert.deepEqual(foreign, [], "every request stays on the page's origin");
  } finally {
    await browser.close();
    controller.abort();
    await server.finished;
    await Deno.remove(base, { recursive: true });
  }
});
