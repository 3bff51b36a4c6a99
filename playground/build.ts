/**
 * Builds the playground as a static site: `index.html`, `style.css`, and
 * `app.js`, the page's code bundled for the browser from the very `lib/`
 * and `sched/` modules the CLI runs. Every URL in it is relative and
 * nothing is fetched at run time, so the folder works from any static host
 * (or straight from disk). `deno task site` writes it to `_site/`.
 *
 * The bundle is made by `deno bundle` (Deno's own bundler, esbuild inside;
 * the first run fetches esbuild's binary from the npm registry once).
 *
 * @module
 */

import { parseArgs } from "node:util";

const HERE = new URL("./", import.meta.url);
const ENTRY = new URL("app/main.ts", HERE);
const STATIC = ["index.html", "style.css"];

/** One file of a built site. */
export interface SiteFile {
  /** Its name in the site folder. */
  readonly name: string;
  /** Its size in bytes. */
  readonly bytes: number;
}

/**
 * Builds the site into a folder (created if needed; other files in it are
 * left alone).
 *
 * @param outDir The folder.
 * @returns The files written, with their sizes.
 * @throws {Error} When bundling fails (with the bundler's message).
 */
export async function buildSite(outDir: string): Promise<SiteFile[]> {
  await Deno.mkdir(outDir, { recursive: true });
  const app = `${outDir}/app.js`;
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--format",
      "iife",
      "--minify",
      // Listings show the closure's name (`bl increment`): it must survive minification.
      "--keep-names",
      "--output",
      app,
      ENTRY.pathname,
    ],
    cwd: new URL("../", HERE).pathname,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  if (bundled.code !== 0) {
    throw new Error(`deno bundle failed: ${new TextDecoder().decode(bundled.stderr).trim()}`);
  }
  for (const name of STATIC) {
    await Deno.copyFile(new URL(`static/${name}`, HERE), `${outDir}/${name}`);
  }
  const files: SiteFile[] = [];
  for (const name of [...STATIC, "app.js"]) {
    files.push({ name, bytes: (await Deno.stat(`${outDir}/${name}`)).size });
  }
  return files;
}

/**
 * Sizes for people: `12.3 kB`.
 *
 * @param bytes A size.
 * @returns The size in kB (1000 bytes), one decimal.
 */
export function kilobytes(bytes: number): string {
  return `${(bytes / 1000).toFixed(1)} kB`;
}

if (import.meta.main) {
  const usage = "usage: deno task site   (writes the static site to _site/)";
  try {
    parseArgs({ args: Deno.args, options: {}, strict: true });
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n${usage}`);
    Deno.exit(2);
  }
  try {
    const files = await buildSite("_site");
    const total = files.reduce((sum, f) => sum + f.bytes, 0);
    console.log(
      `site written to _site/: ${files.map((f) => `${f.name} ${kilobytes(f.bytes)}`).join(", ")} (${
        kilobytes(total)
      } in all)`,
    );
    console.log("open _site/index.html, or put the folder on any static host");
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
