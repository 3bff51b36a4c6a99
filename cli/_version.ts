/**
 * The package version `--version` prints; a test keeps it equal to
 * `deno.json`'s.
 *
 * @module
 */

/** The version of `@percpu/percpu` this CLI belongs to. */
export const VERSION = "0.1.0";
