/// <reference lib="dom" />
// The playground's figures, measured in the headless Chromium the browser
// tests use (not a test: timings are reported, never asserted):
//
//   deno run --lock=deno.lock --allow-read --allow-write --allow-run --allow-env \
//     --allow-net=127.0.0.1 tests/playground_figures.ts
//
// - the bundle's size (and gzipped, as a server would send it compressed);
// - page load: navigation start to the page's first render, cold cache, median of 7;
// - stepping with the timeline on, on a 100k-instruction run (aarch64, 4
//   tasks × 4000): near the start, and past 110 000 instructions, where the
//   timeline holds the whole run. "painted": the next step waits until the
//   browser has painted the last one (60/s is a new step in every frame);
//   "capacity": steps only yield to the event loop (the timeline's throttled
//   redraws still run). Each in Chromium as the package configures it (a GPU
//   emulated in software, SwiftShader) and with the GPU off (the page
//   rasterised on the CPU, as on a machine without a GPU);
// - Play (random steps at a set pace; the CPUs are drawn every frame, the
//   other panels at most every 100 ms) at 60 and 240 steps/s: the steps/s it
//   reaches, and the frames/s the browser keeps meanwhile.

import type { Page } from "./_deps/puppeteer.ts";
import { launchChromium } from "./fixtures/chromium.ts";
import { buildSite, kilobytes } from "../playground/build.ts";
import { serveSite } from "../playground/server.ts";

const BIG = "arch=aarch64&features=&scenario=counter&access=with-current&cpus=2&tasks=4&iters=4000";

async function gzipped(path: string): Promise<number> {
  const stream = (await Deno.open(path)).readable.pipeThrough(new CompressionStream("gzip"));
  let size = 0;
  for await (const chunk of stream) size += chunk.length;
  return size;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Steps per second over `n` presses of `code`, painted or not (see above). */
async function rate(page: Page, code: string, n: number, painted: boolean): Promise<string> {
  return await page.evaluate(
    async (key: string, count: number, paint: boolean) => {
      const channel = new MessageChannel();
      const yieldNow = () =>
        new Promise((resolve) => {
          channel.port1.onmessage = resolve;
          channel.port2.postMessage(0);
        });
      const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
      const status = document.querySelector("#status")!;
      const before = status.textContent;
      const redraws = { n: 0 };
      const observer = new MutationObserver(() => redraws.n++);
      observer.observe(document.querySelector("#timeline")!, { childList: true });
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        document.body.dispatchEvent(new KeyboardEvent("keydown", { code: key, bubbles: true }));
        await (paint ? frame() : yieldNow());
      }
      const seconds = (performance.now() - start) / 1000;
      observer.disconnect();
      if (status.textContent === before) throw new Error(`${key} did not step`);
      return `${(count / seconds).toFixed(0)} steps/s (timeline redrawn ${redraws.n} times)`;
    },
    code,
    n,
    painted,
  );
}

/** Steps per second Play reaches at a set speed, in `seconds`. */
async function play(page: Page, speed: number, seconds: number): Promise<string> {
  return await page.evaluate(
    async (perSecond: number, ms: number) => {
      const select = document.querySelector<HTMLSelectElement>("select[name=speed]")!;
      select.value = String(perSecond);
      const slider = document.querySelector<HTMLInputElement>("#position")!;
      const press = () =>
        document.body.dispatchEvent(new KeyboardEvent("keydown", { code: "KeyP", bubbles: true }));
      const from = Number(slider.value);
      const frames = { n: 0, on: true };
      const count = () => {
        frames.n++;
        if (frames.on) requestAnimationFrame(count);
      };
      requestAnimationFrame(count);
      const start = performance.now();
      press();
      await new Promise((resolve) => setTimeout(resolve, ms));
      press();
      const seconds = (performance.now() - start) / 1000;
      frames.on = false;
      const steps = Number(slider.value) - from;
      return `${(steps / seconds).toFixed(0)} steps/s at ${
        (frames.n / seconds).toFixed(0)
      } frames/s`;
    },
    speed,
    seconds * 1000,
  );
}

async function instructions(page: Page): Promise<number> {
  const status = await page.$eval("#status", (e) => e.textContent ?? "");
  return Number(/(\d+) instructions/.exec(status)![1]);
}

/** Moves the step slider, as a person dragging it would. */
async function seek(page: Page, fromEnd: number): Promise<number> {
  return await page.evaluate((back: number) => {
    const slider = document.querySelector<HTMLInputElement>("#position")!;
    const start = performance.now();
    slider.value = String(Number(slider.max) - back);
    slider.dispatchEvent(new Event("change"));
    return performance.now() - start;
  }, fromEnd);
}

async function measure(origin: string, gpu: boolean): Promise<void> {
  const browser = await launchChromium({ gpu });
  try {
    console.log(gpu ? "Chromium, GPU emulated in software:" : "Chromium, GPU off:");
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    await page.setCacheEnabled(false);
    const loads: number[] = [];
    for (let i = 0; i < 7; i++) {
      await page.goto("about:blank");
      await page.goto(`${origin}/#${BIG}`);
      await page.waitForSelector("html[data-ready]");
      loads.push(await page.$eval("html", (e) => Number((e as HTMLElement).dataset.ready)));
    }
    console.log(
      `  page load (navigation start to first render, cold cache): median ${median(loads)} ms (${
        loads.join(", ")
      })`,
    );
    const early = [await rate(page, "KeyR", 300, true), await rate(page, "KeyR", 300, false)];
    console.log(
      `  random steps near the start (${await instructions(page)} instructions after them):`,
    );
    console.log(`    painted ${early[0]}; capacity ${early[1]}`);

    // The whole run, back 600 steps (a rewind is a replay of the rest), forward again.
    await page.keyboard.press("KeyE");
    await page.waitForSelector("#verdict:not([data-verdict=running])", { timeout: 120_000 });
    const total = await instructions(page);
    const rewind = await seek(page, 600);
    const elements = await page.$eval("#timeline svg", (svg) => svg.querySelectorAll("*").length);
    console.log(
      `  after a ${total}-instruction run (timeline of ${elements} SVG elements), rewinding 600 steps took ${
        rewind.toFixed(0)
      } ms; then past ${await instructions(page)} instructions:`,
    );
    const redo = [await rate(page, "KeyY", 300, true), await rate(page, "KeyY", 300, false)];
    console.log(`    redoing the run: painted ${redo[0]}; capacity ${redo[1]}`);
    await seek(page, 600);
    const random = [await rate(page, "KeyR", 300, true), await rate(page, "KeyR", 300, false)];
    console.log(`    random steps:    painted ${random[0]}; capacity ${random[1]}`);
    await seek(page, 1200);
    const at60 = await play(page, 60, 4);
    await seek(page, 1200);
    const at240 = await play(page, 240, 4);
    console.log(`    Play at 60 steps/s: ${at60}; at 240 steps/s: ${at240}`);
  } finally {
    await browser.close();
  }
}

const base = await Deno.makeTempDir({ prefix: "percpu_figures_" });
const controller = new AbortController();
try {
  const files = await buildSite(`${base}/site`);
  const app = files.find((f) => f.name === "app.js")!;
  console.log(
    `bundle: app.js ${kilobytes(app.bytes)} (${
      kilobytes(await gzipped(`${base}/site/app.js`))
    } gzipped); whole site ${kilobytes(files.reduce((s, f) => s + f.bytes, 0))}`,
  );
  const server = serveSite({ root: `${base}/site`, port: 0, signal: controller.signal });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  await measure(origin, true);
  await measure(origin, false);
} finally {
  controller.abort();
  await Deno.remove(base, { recursive: true });
}
