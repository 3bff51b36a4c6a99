/**
 * What `runOnCpus` and the parallel explorer share about starting a Worker
 * on a caller's module: the module's URL, checked, and the Worker's entry.
 *
 * @module
 */

import { isRevokedProxy, valueText } from "../_describe.ts";

/**
 * The caller's module as an absolute URL string.
 *
 * @param module A `URL` or an absolute URL string.
 * @param what The option's name for the message, e.g. `runOnCpus: module`.
 * @param example A relative path to show in `new URL(…, import.meta.url)`.
 * @returns Its `href`.
 * @throws {TypeError} When it is neither (a relative string would resolve
 *   against this library, not the caller).
 */
export function absoluteModuleUrl(module: unknown, what: string, example: string): string {
  if (!isRevokedProxy(module) && module instanceof URL) return module.href;
  if (typeof module === "string") {
    try {
      return new URL(module).href;
    } catch {
      // Not absolute: it would resolve against this library, not the caller.
    }
  }
  let given: string;
  try {
    given = valueText(module);
  } catch {
    given = "a value that cannot be inspected";
  }
  throw new TypeError(
    `${what} must be an absolute URL such as new URL(${
      JSON.stringify(example)
    }, import.meta.url), got ${given}`,
  );
}

/**
 * A Worker's entry: imports the library's Worker side, then the caller's
 * module, statically and in that order (so that the library's side is
 * evaluated first and can watch the module end its Worker), and hands the
 * module's exports to `serve`.
 *
 * @param library The library's Worker-side module.
 * @param serve The function of `library` that takes the exports.
 * @param module The caller's module (absolute URL).
 * @returns A `data:` URL to start the Worker with.
 */
export function workerEntry(library: URL, serve: string, module: string): string {
  const source = `import { ${serve} } from ${JSON.stringify(library.href)};
import * as exports from ${JSON.stringify(module)};
${serve}(exports);
`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}
