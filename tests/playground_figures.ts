/// <reference lib="dom" />
// The playground's figures, measured in the headless Chromium the browser
// tests use (not a test: timings are reported, never asserted):
//
//   deno run --lock=deno.lock --allow-read --allow-write --allow-run --allow-env \
//     --allow-net=127.0.0.1 tests/playground_figures.ts
//
// - the bundle's size (and gzipped, as a server would send it compressed);
// - page load: navigation start to the page's first render, cold cache, median of 7;
// - stepping with the timeline on: steps per second on a 100k-instruction
//   run (aarch64, 4 tasks × 4000), each step fully rendered (the next step
//   waits for the browser to paint), near the start of the run and again
//   past 110 000 instructions, where the timeline holds the whole run.

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

const base = await Deno.makeTempDir({ prefix: "percpu_figures_" });
const files = await buildSite(`${base}/site`);
const controller = new AbortController();
const server = serveSite({ root: `${base}/site`, port: 0, signal: controller.signal });
const origin = `http://127.0.0.1:${server.addr.port}`;
const browser = await launchChromium();
try {
  const app = files.find((f) => f.name === "app.js")!;
  console.log(
    `bundle: app.js ${kilobytes(app.bytes)} (${
      kilobytes(await gzipped(`${base}/site/app.js`))
    } gzipped); whole site ${kilobytes(files.reduce((s, f) => s + f.bytes, 0))}`,
  );

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
    `page load (navigation start to first render, cold cache): median ${median(loads)} ms, all ${
      loads.join(", ")
    } ms`,
  );

  /**
   * Steps per second over `n` steps of `key`: `painted` waits for the
   * browser to paint after each step (so it cannot exceed the display's
   * refresh rate: 60/s here means a new step in every frame); `capacity`
   * only yields to the event loop between steps (the timeline's redraws
   * still run), which is how fast stepping could go.
   */
  const rate = async (key: string, n: number, painted: boolean) =>
    await page.evaluate(
      async (code: string, count: number, paint: boolean) => {
        const channel = new MessageChannel();
        const yieldNow = () =>
          new Promise((resolve) => {
            channel.port1.onmessage = resolve;
            channel.port2.postMessage(0);
          });
        const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
        const redraws = { n: 0 };
        const observer = new MutationObserver(() => redraws.n++);
        observer.observe(document.querySelector("#timeline")!, { childList: true });
        const start = performance.now();
        for (let i = 0; i < count; i++) {
          document.body.dispatchEvent(new KeyboardEvent("keydown", { code, bubbles: true }));
          await (paint ? frame() : yieldNow());
        }
        const seconds = (performance.now() - start) / 1000;
        observer.disconnect();
        return `${(count / seconds).toFixed(0)} steps/s (timeline redrawn ${redraws.n} times)`;
      },
      key,
      n,
      painted,
    );
  const instructions = async () =>
    Number(/(\d+) instructions/.exec(await page.$eval("#status", (e) => e.textContent ?? ""))![1]);

  const early = [await rate("KeyR", 300, true), await rate("KeyR", 300, false)];
  console.log(
    `random steps near the start (${await instructions()} instructions after them): painted ${
      early[0]
    }; capacity ${early[1]}`,
  );

  // The whole run, then back 600 steps (a rewind replays the rest), then forward again.
  await page.keyboard.press("KeyE");
  await page.waitForSelector("#verdict:not([data-verdict=running])", { timeout: 120_000 });
  const total = await instructions();
  const rewind = await page.evaluate(() => {
    const slider = document.querySelector<HTMLInputElement>("#position")!;
    const start = performance.now();
    slider.value = String(Number(slider.max) - 600);
    slider.dispatchEvent(new Event("change"));
    return performance.now() - start;
  });
  const redo = [await rate("KeyY", 300, true), await rate("KeyY", 300, false)];
  const events = await page.$eval("#timeline svg", (svg) => svg.querySelectorAll("*").length);
  const random = [await rate("KeyR", 300, true), await rate("KeyR", 300, false)];
  console.log(
    `a ${total}-instruction run: rewinding 600 steps (a replay of the first ${
      128_003 - 600
    } moves) took ${rewind.toFixed(0)} ms`,
  );
  console.log(
    `stepping past ${total - 1200} instructions, timeline on (${events} SVG elements):`,
  );
  console.log(`  redoing the run: painted ${redo[0]}; capacity ${redo[1]}`);
  console.log(`  random steps:    painted ${random[0]}; capacity ${random[1]}`);
} finally {
  await browser.close();
  controller.abort();
  await server.finished;
  await Deno.remove(base, { recursive: true });
}
