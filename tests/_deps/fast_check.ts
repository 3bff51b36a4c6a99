// fast-check for the tests, pinned. Mapped from "fast-check" in deno.json so
// that the library, the demo and the CLI never depend on an npm package:
// only test files import this, and their lockfile entries live in deno.lock,
// which only the test and check tasks read.
export * from "npm:fast-check@4.10.2";
export { default } from "npm:fast-check@4.10.2";
