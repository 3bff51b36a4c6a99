// The playground's static build and its server: the site is self-contained
// (relative URLs, nothing fetched from elsewhere), and the server serves
// that folder and nothing else — GET and HEAD only, no way out of the
// folder, 404 for the rest, 4xx for bad requests — and keeps serving.

import assert from "node:assert/strict";
import { buildSite } from "../playground/build.ts";
import { serveSite } from "../playground/server.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Sends raw bytes (a request fetch would normalise or refuse) and returns the status line. */
async function raw(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const buffer = new Uint8Array(4096);
    let text = "";
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
      if (text.includes("\r\n\r\n")) break;
    }
    return text.split("\r\n")[0];
  } finally {
    conn.close();
  }
}

Deno.test("the static site is self-contained and served as nothing but itself", async (t) => {
  const base = await Deno.makeTempDir({ prefix: "percpu_site_" });
  const site = `${base}/site`;
  try {
    const files = await buildSite(site);
    assert.deepEqual(files.map((f) => f.name), ["index.html", "style.css", "app.js"]);
    const html = await Deno.readTextFile(`${site}/index.html`);
    const app = await Deno.readTextFile(`${site}/app.js`);
    const css = await Deno.readTextFile(`${site}/style.css`);

    await t.step("every URL is relative and nothing is fetched at run time", () => {
      const refs = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
      assert.deepEqual(refs.sort(), ["app.js", "style.css"]);
      assert.doesNotMatch(css, /@import|url\(/);
      for (
        const api of ["XMLHttpRequest", "WebSocket", "EventSource", "import(", "importScripts"]
      ) {
        assert.ok(!app.includes(api), `app.js has no ${api}`);
      }
      // The only absolute URL is the SVG namespace the timeline writes (the
      // browser test also watches every request the page makes).
      const urls = new Set(app.match(/https?:\/\/[^\s"'`)]+/g) ?? []);
      assert.deepEqual([...urls], ["http://www.w3.org/2000/svg"]);
    });

    // Something outside the site, and links inside it that lead there.
    await Deno.writeTextFile(`${base}/secret.txt`, "SECRET");
    await Deno.mkdir(`${site}/sub`);
    await Deno.symlink(`${base}/secret.txt`, `${site}/leak.txt`);
    await Deno.symlink(base, `${site}/sub/up`);

    const controller = new AbortController();
    let url = "";
    const server = serveSite({
      root: site,
      port: 0,
      signal: controller.signal,
      onListen: (u) => (url = u),
    });
    const port = server.addr.port;
    try {
      assert.equal(url, `http://127.0.0.1:${port}/`);
      await t.step("the site's files, with their types", async () => {
        for (
          const [path, type, body] of [
            ["/", "text/html; charset=utf-8", html],
            ["/index.html", "text/html; charset=utf-8", html],
            ["/app.js", "text/javascript; charset=utf-8", app],
            ["/style.css", "text/css; charset=utf-8", css],
          ]
        ) {
          const response = await fetch(`${url}${path.slice(1)}`);
          assert.equal(response.status, 200, path);
          assert.equal(response.headers.get("content-type"), type);
          assert.match(response.headers.get("content-security-policy")!, /default-src 'self'/);
          assert.equal(await response.text(), body);
        }
        const head = await fetch(url, { method: "HEAD" });
        assert.equal(head.status, 200);
        assert.equal(
          head.headers.get("content-length"),
          String(new TextEncoder().encode(html).length),
        );
        assert.equal(await head.text(), "");
      });

      await t.step("only GET and HEAD", async () => {
        for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
          const response = await fetch(url, { method, body: method === "OPTIONS" ? null : "x" });
          assert.equal(response.status, 405, method);
          assert.equal(response.headers.get("allow"), "GET, HEAD");
          await response.body?.cancel();
        }
      });

      await t.step("unknown paths are 404", async () => {
        for (const path of ["nope", "sub/", "sub", "app.js/x", "index.html.bak", "deno.json"]) {
          const response = await fetch(`${url}${path}`);
          assert.equal(response.status, 404, path);
          await response.body?.cancel();
        }
      });

      await t.step("no way out of the site folder", async () => {
        const requests = [
          "/../secret.txt",
          "/%2e%2e/secret.txt",
          "/..%2fsecret.txt",
          "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
          "/sub/..%2f..%2fsecret.txt",
          "/%5c..%5csecret.txt",
          "/..\\secret.txt",
          "/%00",
          "/index.html%00.txt",
          "//etc/passwd",
          "/leak.txt",
          "/sub/up/secret.txt",
          `/${"../".repeat(20)}etc/passwd`,
        ];
        for (const path of requests) {
          const status = await raw(
            port,
            `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
          );
          assert.match(status, /^HTTP\/1\.1 4\d\d /, `${path}: ${status}`);
        }
        const response = await fetch(`${url}leak.txt`);
        assert.equal(response.status, 404);
        assert.doesNotMatch(await response.text(), /SECRET/);
      });

      await t.step("bad requests get a 4xx, and the server keeps serving", async () => {
        assert.match(
          await raw(port, "GET /%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n"),
          /^HTTP\/1\.1 400 /,
        );
        for (
          const garbage of [
            "NOT HTTP\r\n\r\n",
            "GET\r\n\r\n",
            "\x00\x01\x02\r\n\r\n",
            "GET / HTTP/9.9\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
          ]
        ) {
          assert.match(await raw(port, garbage), /^HTTP\/1\.1 400 /, JSON.stringify(garbage));
        }
        const response = await fetch(url);
        assert.equal(response.status, 200);
        await response.body?.cancel();
      });
    } finally {
      controller.abort();
      await server.finished;
    }
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("deno task site builds _site/, and the server's command line", async (t) => {
  const deno = (args: string[], cwd = ROOT) =>
    new Deno.Command(Deno.execPath(), {
      args,
      cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  await t.step("deno task site", async () => {
    const { code, stdout, stderr } = await deno(["task", "site"]).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.match(
      new TextDecoder().decode(stdout),
      /^site written to _site\/: index\.html [\d.]+ kB, style\.css [\d.]+ kB, app\.js [\d.]+ kB/,
    );
    assert.ok((await Deno.stat(`${ROOT}_site/app.js`)).size > 0);
  });
  await t.step("the server prints its 127.0.0.1 URL and serves it", async () => {
    const child = deno([
      "run",
      `--allow-read=${ROOT}_site`,
      "--allow-net=127.0.0.1",
      `${ROOT}playground/server.ts`,
      "--port",
      "0",
    ]).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("\n")) out += (await reader.read()).value ?? "";
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(out)?.[0];
      assert.ok(url, out);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /<title>percpu playground/);
      reader.releaseLock();
    } finally {
      child.kill();
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await child.stderr.cancel();
    }
  });
  await t.step("bad flags: one clear line and exit code 2", async () => {
    for (
      const [args, message] of [
        [["--port", "99999"], /--port must be an integer from 0 to 65535, got "99999"/],
        [["--port", "abc"], /--port must be an integer from 0 to 65535, got "abc"/],
        [["--bogus"], /Unknown option '--bogus'/],
        [["extra"], /Unexpected argument 'extra'/],
      ] as const
    ) {
      const { code, stderr } = await deno([
        "run",
        `--allow-read=${ROOT}_site`,
        "--allow-net=127.0.0.1",
        `${ROOT}playground/server.ts`,
        ...args,
      ]).output();
      const err = new TextDecoder().decode(stderr);
      assert.equal(code, 2, err);
      assert.match(err, message);
      assert.doesNotMatch(err, /^\s+at /m, "no stack trace");
    }
  });
});
