/**
 * `deno task playground`: serves the built site (`_site/`, which the task
 * builds first) on 127.0.0.1 and prints its URL. A static file server that
 * serves nothing but the site: GET and HEAD only, no path out of the site
 * folder (`..`, encoded or not, backslashes, NUL bytes and symbolic links
 * leading outside are refused), 404 for anything else, and a bad request
 * never stops it.
 *
 * ```sh
 * deno task playground              # http://127.0.0.1:8000/
 * deno task playground --port 8080
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
};

/** Headers on every response: nothing may be loaded from anywhere but the site. */
const COMMON = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "cache-control": "no-cache",
};

function plain(status: number, text: string, extra: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { ...COMMON, "content-type": "text/plain; charset=utf-8", ...extra },
  });
}

/**
 * The request handler of a site folder.
 *
 * @param root The site folder.
 * @returns A handler for `Deno.serve`.
 */
export function siteHandler(root: string): (request: Request) => Promise<Response> {
  const rootReal = Deno.realPathSync(root);
  return async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return plain(405, "method not allowed: GET and HEAD only", { allow: "GET, HEAD" });
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url).pathname);
    } catch {
      return plain(400, "bad request: malformed path");
    }
    const segments = path.split("/").slice(1);
    if (
      !path.startsWith("/") || path.includes("\\") || path.includes("\0") ||
      segments.some((s) => s === ".." || s === ".")
    ) {
      return plain(400, "bad request: the path leaves the site");
    }
    const relative = path.endsWith("/") ? `${path}index.html` : path;
    let real: string;
    try {
      real = await Deno.realPath(`${rootReal}${relative}`);
    } catch {
      return plain(404, "not found");
    }
    if (!real.startsWith(`${rootReal}/`)) return plain(404, "not found");
    let file: Deno.FsFile;
    try {
      file = await Deno.open(real, { read: true });
    } catch {
      return plain(404, "not found");
    }
    const info = await file.stat();
    if (!info.isFile) {
      file.close();
      return plain(404, "not found");
    }
    const type = TYPES[real.slice(real.lastIndexOf(".") + 1)] ?? "application/octet-stream";
    const headers = { ...COMMON, "content-type": type, "content-length": String(info.size) };
    if (request.method === "HEAD") {
      file.close();
      return new Response(null, { headers });
    }
    return new Response(file.readable, { headers });
  };
}

/** Options of {@linkcode serveSite}. */
export interface ServeOptions {
  /** The site folder. */
  readonly root: string;
  /** Interface to bind (default 127.0.0.1). */
  readonly hostname?: string;
  /** Port (default 8000; 0 picks a free one). */
  readonly port?: number;
  /** Stops the server. */
  readonly signal?: AbortSignal;
  /** Called once listening, with the URL. */
  readonly onListen?: (url: string) => void;
}

/**
 * Serves a site folder.
 *
 * @param options The folder, where to listen, how to stop.
 * @returns The server.
 */
export function serveSite(options: ServeOptions): Deno.HttpServer<Deno.NetAddr> {
  const hostname = options.hostname ?? "127.0.0.1";
  return Deno.serve({
    hostname,
    port: options.port ?? 8000,
    signal: options.signal,
    onListen: ({ port }) => options.onListen?.(`http://${hostname}:${port}/`),
    onError: () => plain(500, "internal error"),
  }, siteHandler(options.root));
}

if (import.meta.main) {
  const usage = "usage: deno task playground [--port <0-65535>]";
  let port = 8000;
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: { port: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    });
    if (values.help) {
      console.log(usage);
      Deno.exit(0);
    }
    if (values.port !== undefined) {
      if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) {
        throw new RangeError(`--port must be an integer from 0 to 65535, got "${values.port}"`);
      }
      port = Number(values.port);
    }
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n${usage}`);
    Deno.exit(2);
  }
  try {
    serveSite({
      root: "_site",
      port,
      onListen: (url) => console.log(`percpu playground: ${url}  (Ctrl+C stops it)`),
    });
  } catch (error) {
    const why = error instanceof Deno.errors.AddrInUse
      ? `port ${port} is in use; choose another with --port`
      : (error as Error).message;
    console.error(`error: ${why}`);
    Deno.exit(1);
  }
}
