/**
 * Text from users (task names, error messages) made safe to print: control
 * characters, bidirectional overrides, lone surrogates and non-characters
 * are shown as `\x..` / `\u....` escapes, so a name can neither drive a
 * terminal, reorder a listing, nor make an SVG document invalid XML.
 *
 * @module
 */

/** C0 and C1 controls, DEL, bidi controls, lone surrogates, U+FFFE/U+FFFF. */
const UNPRINTABLE =
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escape(char: string): string {
  const code = char.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * The text with every unprintable character escaped.
 *
 * @param text Any text.
 * @returns Text safe for a terminal, a listing or XML content.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { printable } from "./_printable.ts";
 * assert.equal(printable("evil\u001b[2J\u202e"), "evil\\x1b[2J\\u202e");
 * assert.equal(printable("plain ✓"), "plain ✓");
 * ```
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escape);
}
