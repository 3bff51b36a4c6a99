// Lists the mutants Stryker's instrumenter makes in the given files, with
// the same mutators and the message-text ignorer Stryker runs with, so that
// mutants.ts can draw its sample from exactly that population.
//
//   node enumerate.mjs ROOT FILE… > mutants.json
//
// Prints {"mutants": [{file, site: [line, column, endLine, endColumn],
// mutator, replacement}], "ignored": N}; lines from 1, columns from 0 (the
// locations the ignorers see). Run from the directory holding node_modules.

import fs from "node:fs";
import path from "node:path";
import { messageText } from "./ignorers.mjs";

// Resolved by Node next to the installed node_modules (mutants.ts copies this
// file there); a computed specifier keeps `deno check` from resolving it.
const instrumenter = "@stryker-mutator/instrumenter";
const { Instrumenter } = await import(instrumenter);

const [root, ...names] = process.argv.slice(2);
const quiet = () => {};
const logger = {
  trace: quiet,
  debug: quiet,
  info: quiet,
  warn: (...args) => console.error(...args),
  error: (...args) => console.error(...args),
  fatal: (...args) => console.error(...args),
  isTraceEnabled: () => false,
  isDebugEnabled: () => false,
  isInfoEnabled: () => false,
  isWarnEnabled: () => true,
  isErrorEnabled: () => true,
  isFatalEnabled: () => true,
};
const files = names.map((name) => ({
  name: path.join(root, name),
  content: fs.readFileSync(path.join(root, name), "utf8"),
  mutate: true,
}));
const result = await new Instrumenter(logger).instrument(files, {
  plugins: null,
  excludedMutations: [],
  ignorers: [messageText],
});
const mutants = [];
let ignored = 0;
for (const mutant of result.mutants) {
  if (mutant.status === "Ignored") {
    ignored++;
    continue;
  }
  const { start, end } = mutant.location;
  mutants.push({
    file: path.relative(root, mutant.fileName).split(path.sep).join("/"),
    site: [start.line + 1, start.column, end.line + 1, end.column],
    mutator: mutant.mutatorName,
    replacement: mutant.replacement,
  });
}
process.stdout.write(JSON.stringify({ mutants, ignored }));
