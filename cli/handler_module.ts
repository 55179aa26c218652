/**
 * Loading the handler module a worker serves (`deno task server
 * --handler`).
 *
 * @module
 */

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * Imports a handler module by URL, or by path from the directory the user
 * is in (`deno task` runs in the project's folder, and says where the user
 * was in INIT_CWD), with an error that says which permission to add when
 * the task's own do not allow it.
 *
 * @example
 * ```ts ignore
 * import { loadModule } from "./handler_module.ts";
 *
 * const module = await loadModule("./services/fib/mod.ts", Deno.cwd());
 * console.log(Object.keys(module)); // [ "defaultMethod", "fib" ]
 * ```
 */
export async function loadModule(
  specifier: string,
  directory: string,
): Promise<Record<string, unknown>> {
  const url =
    /^[a-z][a-z0-9+.-]*:/i.test(specifier) && !/^[a-z]:[\\/]/i.test(specifier)
      ? specifier
      : pathToFileURL(resolve(directory, specifier)).href;
  try {
    return await import(url);
  } catch (cause) {
    const message = String((cause as Error)?.message ?? cause).split("\n")[0];
    const reason = /Requires (read|import) access/.test(message)
      ? `the worker may not ${
        /import/.test(message) ? "import from that host" : "read it"
      }. deno task server may read only the project's folder: run server.ts with deno run and --allow-read=PATH (or --allow-import=HOST)`
      : cause instanceof Deno.errors.NotCapable ||
          /Requires \w+ access/.test(message)
      ? `${message}. The module needs more permissions than the task grants: run server.ts with deno run and the flags it needs`
      : message;
    throw new Error(`Cannot load the handler module ${specifier}: ${reason}`, {
      cause,
    });
  }
}
