// Stryker ignorer plugins for `deno task mutants` (loaded by Stryker's Node
// process, and by enumerate.mjs so that the sample is drawn from exactly the
// mutants Stryker would run). A plain object per plugin: this file is loaded
// from the repository, where `@stryker-mutator/api` cannot be resolved.
//
// - `percpu-message-text` ignores the string mutants (`"…"` → `""`) inside
//   error messages: the message argument of `new …Error(…)` and the `what`
//   argument of the check helpers, whose only use is the message. Whether an
//   error is thrown, its class and its `kind` stay under test; the wording
//   is not behaviour a mutation score should measure.
// - `percpu-sample` ignores the mutants inside a drawn mutation site that
//   were not drawn themselves. Stryker mutates each drawn site's range
//   (mutants.ts passes them as `file:line:column-line:column`), and with it
//   every node inside; the file named by PERCPU_MUTANTS_SAMPLE maps each
//   source file to its drawn sites (node locations), so a node inside is kept
//   only when it is a drawn site or contains one.

import fs from "node:fs";
import path from "node:path";

/** Where the message is among an error constructor's arguments (else first). */
const MESSAGE_ARGUMENT = new Map([
  ["InitError", 1],
  ["DefinitionError", 1],
  ["SimulationError", 1],
  ["FaultError", 1],
  ["SuppressedError", 2],
]);
/** The check helpers (lib/_check.ts, checkCpuCount) and the index of their message-only `what`. */
const WHAT_ARGUMENT = new Map([
  ["checkInteger", 1],
  ["checkOneOf", 2],
  ["checkOptions", 2],
  ["checkCpuCount", 1],
]);

function calleeName(node) {
  const callee = node.callee;
  if (callee?.type === "Identifier") return callee.name;
  if (
    callee?.type === "MemberExpression" &&
    callee.property?.type === "Identifier"
  ) {
    return callee.property.name;
  }
  return undefined;
}

/** The argument of a call or `new` that only feeds a message, if any. */
function messageArgument(node) {
  const name = calleeName(node);
  if (name === undefined) return undefined;
  if (node.type === "NewExpression" && name.endsWith("Error")) {
    return node.arguments[MESSAGE_ARGUMENT.get(name) ?? 0];
  }
  if (node.type === "CallExpression" && WHAT_ARGUMENT.has(name)) {
    return node.arguments[WHAT_ARGUMENT.get(name)];
  }
  return undefined;
}

const messageText = {
  shouldIgnore(path) {
    if (!path.isStringLiteral() && !path.isTemplateLiteral()) return undefined;
    for (let p = path; p.parentPath; p = p.parentPath) {
      const parent = p.parentPath.node;
      if (
        (parent.type === "NewExpression" || parent.type === "CallExpression") &&
        messageArgument(parent) === p.node
      ) {
        return "Message text only (see .mutants/README.md)";
      }
      if (p.isStatement() || p.isFunction()) return undefined;
    }
    return undefined;
  },
};

function loadSample() {
  const file = process.env.PERCPU_MUTANTS_SAMPLE;
  if (!file) return undefined;
  const sample = JSON.parse(fs.readFileSync(file, "utf8"));
  const sites = new Map();
  for (const [name, locations] of Object.entries(sample.sites)) {
    sites.set(name, locations);
  }
  return { root: sample.root, sites };
}

let sample;

/** A location (babel's: lines from 1, columns from 0) as [l1, c1, l2, c2]. */
function babelLocation(node) {
  const { start, end } = node.loc;
  return [start.line, start.column, end.line, end.column];
}

function contains(outer, inner) {
  const startsBefore = outer[0] < inner[0] ||
    (outer[0] === inner[0] && outer[1] <= inner[1]);
  const endsAfter = outer[2] > inner[2] ||
    (outer[2] === inner[2] && outer[3] >= inner[3]);
  return startsBefore && endsAfter;
}

const sampled = {
  shouldIgnore(nodePath) {
    sample ??= loadSample();
    if (sample === undefined || !nodePath.node.loc) return undefined;
    const filename = nodePath.hub?.file?.opts?.filename;
    if (!filename) return undefined;
    const name = path.relative(sample.root, path.resolve(filename)).split(
      path.sep,
    ).join("/");
    const sites = sample.sites.get(name) ?? [];
    const location = babelLocation(nodePath.node);
    if (sites.some((site) => contains(location, site))) return undefined;
    return "Not in this run's sample (see .mutants/README.md)";
  },
};

export const strykerPlugins = [
  { kind: "Ignore", name: "percpu-message-text", value: messageText },
  { kind: "Ignore", name: "percpu-sample", value: sampled },
];

export { messageText };
