/**
 * Colour for the library's plain-text reports: the title in bold, the
 * verdict's keyword in the colour of its meaning.
 *
 * @module
 */

import type { Palette } from "./_io.ts";

const VERDICTS: readonly [RegExp, keyof Palette][] = [
  [/^(CORRUPTED|VIOLATION)\b/, "red"],
  [/^(OK|SAFE)\b/, "green"],
  [/^(INCOMPLETE|Incomplete|No violation found)\b/, "yellow"],
];

/**
 * Colours a report.
 *
 * @param text A report from `formatSimReport` or `formatExploreReport`.
 * @param palette The colours (identity when colour is off).
 * @returns The report, coloured.
 */
export function paintReport(text: string, palette: Palette): string {
  return text.split("\n").map((line, i) => {
    if (i === 0) return palette.bold(line);
    for (const [pattern, color] of VERDICTS) {
      const match = pattern.exec(line);
      if (match) return palette.bold(palette[color](match[0])) + line.slice(match[0].length);
    }
    return line;
  }).join("\n");
}
