/**
 * A handler module as a service: every function it exports is a method,
 * as `deno task server --handler` serves it.
 *
 * @module
 */

import { checkFunctions } from "../checks.ts";
import type { RpcMethod, RpcMethods } from "./methods.ts";
import type { ServerMiddleware } from "./middleware.ts";

/**
 * The service a handler module describes: see {@linkcode serviceOfModule}.
 *
 * @example
 * ```ts
 * import { type ModuleService, serviceOfModule } from "./module_service.ts";
 * import type { ServeOptions } from "./options.ts";
 *
 * const service: ModuleService = serviceOfModule({ ping: () => "pong" });
 * const options: ServeOptions = { queue: "health", ...service };
 * console.log(Object.keys(options.methods ?? {})); // [ "ping" ]
 * ```
 */
export interface ModuleService {
  /** Its exported functions, by name. */
  methods: RpcMethods;
  /** Its `defaultMethod` export, if any. */
  defaultMethod?: string;
  /** Its `middleware` export, if any. */
  middleware?: ServerMiddleware[];
}

/**
 * The service of a module (as `import()` gives it): every exported function
 * is a method by its export name; a string export `defaultMethod` names
 * the method of requests without a method name, and an array export
 * `middleware` runs around every request. Other exports (and classes) are
 * left alone.
 *
 * @example
 * ```ts
 * import { serviceOfModule } from "./module_service.ts";
 *
 * const service = serviceOfModule({
 *   add: ({ a, b }: { a: number; b: number }) => a + b,
 *   defaultMethod: "add",
 *   VERSION: "1.0",
 * });
 * console.log(Object.keys(service.methods), service.defaultMethod); // [ "add" ] add
 * ```
 *
 * @throws {TypeError} if the module exports no function, or its
 * `defaultMethod` or `middleware` export has the wrong type (an array of
 * functions).
 */
export function serviceOfModule(
  module: Record<string, unknown>,
): ModuleService {
  const methods: RpcMethods = {};
  for (const [name, value] of Object.entries(module)) {
    if (name === "default" || typeof value !== "function") continue;
    if (/^class[\s{]/.test(Function.prototype.toString.call(value))) continue;
    methods[name] = value as RpcMethod;
  }
  if (Object.keys(methods).length === 0) {
    throw new TypeError(
      "The handler module exports no function: export each method, e.g. `export function fib(n: number) { … }`",
    );
  }
  const { defaultMethod, middleware } = module;
  if (defaultMethod !== undefined && typeof defaultMethod !== "string") {
    throw new TypeError("The handler module's defaultMethod must be a string");
  }
  let chain: ServerMiddleware[] | undefined;
  if (middleware !== undefined) {
    try {
      chain = checkFunctions<ServerMiddleware>("middleware", middleware);
    } catch (error) {
      // The module's mistake, not an option of the caller's.
      throw new TypeError(`The handler module's ${(error as Error).message}`);
    }
  }
  return { methods, defaultMethod, middleware: chain };
}
