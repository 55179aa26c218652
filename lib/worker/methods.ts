/**
 * Many named methods on one queue: a request names its method in the AMQP
 * `type` property, its arguments are decoded by content type, and the
 * method's result is encoded the same way. Middleware runs around each
 * method, once a request is routed, in the small style of Hono's or Oak's.
 *
 * @module
 */

import { HandlerError } from "../errors.ts";
import type { RpcRequest } from "../protocol/message.ts";
import { answersNothing, runChain } from "../chain.ts";

/**
 * One method of a service: takes the decoded arguments (a JSON value, a
 * string for a text body, bytes for anything else) and the request, and
 * returns the result: a string (sent as text), bytes, or any other value
 * JSON can write (sent as JSON).
 *
 * @example
 * ```ts
 * import type { RpcMethod } from "./methods.ts";
 *
 * const add: RpcMethod<{ a: number; b: number }, number> = ({ a, b }) => a + b;
 * ```
 */
// deno-lint-ignore no-explicit-any -- a map of methods takes any arguments.
export type RpcMethod<Args = any, Result = unknown> = (
  args: Args,
  request: RpcRequest,
) => Result | Promise<Result>;

/**
 * The methods of a service, by name.
 *
 * @example
 * ```ts
 * import type { RpcMethods } from "./methods.ts";
 *
 * const methods: RpcMethods = {
 *   add: ({ a, b }: { a: number; b: number }) => a + b,
 *   upper: (text: string) => text.toUpperCase(),
 * };
 * ```
 */
export type RpcMethods = Record<string, RpcMethod>;

/**
 * Runs around the handling of each request: may look at the request (and
 * `request.state`), throw to refuse it (a {@linkcode HandlerError} picks
 * the error reply's code), call `next()` to run the rest of the chain and
 * the method, and return its result or another.
 *
 * @example An authorization check on the broker-validated user
 * ```ts
 * import { HandlerError } from "../errors.ts";
 * import type { ServerMiddleware } from "./methods.ts";
 *
 * const onlyBilling: ServerMiddleware = (request, next) => {
 *   if (request.userId !== "billing") {
 *     throw new HandlerError("PERMISSION_DENIED", "Only billing may call this");
 *   }
 *   return next();
 * };
 * ```
 */
export type ServerMiddleware = (
  request: RpcRequest,
  next: () => Promise<unknown>,
) => unknown;

/**
 * Options of {@linkcode methodsHandler}.
 *
 * @example
 * ```ts
 * import { methodsHandler, type MethodsHandlerOptions } from "./methods.ts";
 * import { RpcRequest } from "../protocol/message.ts";
 *
 * const options: MethodsHandlerOptions = { queue: "greet", defaultMethod: "hello" };
 * const handle = methodsHandler({
 *   hello: (name: string) => `Hello, ${name}!`,
 *   bye: (name: string) => `Bye, ${name}!`,
 * }, options);
 * const body = new TextEncoder().encode("Deno");
 * // No `type` property names a method, as with the tutorial's clients:
 * const request = new RpcRequest(body, {}, { signal: new AbortController().signal });
 * console.log(handle(request)); // Hello, Deno!
 * ```
 */
export interface MethodsHandlerOptions {
  /** The queue, for error messages. */
  queue?: string;
  /**
   * The method a request without a `type` property runs; by default the
   * only method if there is exactly one, else none (such a request is
   * answered `METHOD_NOT_FOUND`).
   */
  defaultMethod?: string;
  /**
   * Runs around each method, the first outermost, once the request is
   * routed: a request for a method that does not exist is answered
   * `METHOD_NOT_FOUND` without running any.
   */
  middleware?: readonly ServerMiddleware[];
}

const decodeFailed = (error: unknown): never => {
  throw new HandlerError(
    "INVALID_ARGUMENT",
    error instanceof SyntaxError
      ? `The request body is not valid JSON: ${error.message}`
      : `The request body cannot be decoded: ${(error as Error).message}`,
    { cause: error },
  );
};

/**
 * A handler that routes each request to one of `methods` by its `type`
 * property, with its body decoded by content type.
 *
 * @example
 * ```ts
 * import { methodsHandler } from "./methods.ts";
 * import { RpcRequest } from "../protocol/message.ts";
 *
 * const handle = methodsHandler({ add: ({ a, b }) => a + b });
 * const request = new RpcRequest(new TextEncoder().encode('{"a":1,"b":2}'), {
 *   type: "add",
 *   contentType: "application/json",
 * }, { signal: new AbortController().signal });
 * console.log(await handle(request)); // 3
 * ```
 *
 * @throws {TypeError} if a method is not a function, or the default method
 * is not one of them.
 */
export function methodsHandler(
  methods: RpcMethods,
  options: MethodsHandlerOptions = {},
): (request: RpcRequest) => unknown {
  if (typeof methods !== "object" || methods === null) {
    throw new TypeError("methods must be an object of functions");
  }
  const table = new Map<string, RpcMethod>();
  for (const [name, method] of Object.entries(methods)) {
    if (typeof method !== "function") {
      throw new TypeError(`methods.${name} must be a function`);
    }
    if (name === "") throw new TypeError("A method name must not be empty");
    table.set(name, method);
  }
  if (table.size === 0) throw new TypeError("methods must not be empty");
  let defaultMethod = options.defaultMethod;
  if (defaultMethod !== undefined && !table.has(defaultMethod)) {
    throw new TypeError(
      `defaultMethod "${defaultMethod}" is not one of the methods (${
        [...table.keys()].join(", ")
      })`,
    );
  }
  if (defaultMethod === undefined && table.size === 1) {
    defaultMethod = table.keys().next().value;
  }
  const queue = options.queue === undefined ? "" : ` on "${options.queue}"`;
  const chain = checkMiddleware(options.middleware ?? []);
  const handle = (request: RpcRequest): unknown => {
    const name = request.method ?? defaultMethod;
    const method = name === undefined ? undefined : table.get(name);
    if (method === undefined) {
      throw new HandlerError(
        "METHOD_NOT_FOUND",
        name === undefined
          ? `The request names no method (in its type property) and there is no default method${queue}`
          : `No method "${name}"${queue}`,
      );
    }
    if (chain.length === 0) return invoke(method, request);
    return runChain(chain, request, () => invoke(method, request));
  };
  answersNothing.add(handle);
  return handle;
}

function invoke(method: RpcMethod, request: RpcRequest): unknown {
  let args: unknown;
  try {
    args = request.decode();
  } catch (error) {
    decodeFailed(error);
  }
  return method(args, request);
}

function checkMiddleware(
  middleware: readonly ServerMiddleware[],
): ServerMiddleware[] {
  if (!Array.isArray(middleware)) {
    throw new TypeError("middleware must be an array of functions");
  }
  for (const [i, item] of middleware.entries()) {
    if (typeof item !== "function") {
      throw new TypeError(`middleware[${i}] must be a function`);
    }
  }
  return [...middleware];
}

/**
 * Wraps `handler` in `middleware`, the first outermost.
 *
 * @example
 * ```ts
 * import { composeMiddleware } from "./methods.ts";
 * import { RpcRequest } from "../protocol/message.ts";
 *
 * const seen: string[] = [];
 * const handle = composeMiddleware([
 *   async (_request, next) => {
 *     seen.push("before");
 *     const result = await next();
 *     seen.push("after");
 *     return result;
 *   },
 * ], () => "done");
 * const request = new RpcRequest(new Uint8Array(), {}, { signal: new AbortController().signal });
 * console.log(await handle(request), seen); // done [ "before", "after" ]
 * ```
 *
 * @throws {TypeError} if a middleware is not a function.
 */
export function composeMiddleware(
  middleware: readonly ServerMiddleware[],
  handler: (request: RpcRequest) => unknown,
): (request: RpcRequest) => Promise<unknown> {
  const chain = checkMiddleware(middleware);
  return (request: RpcRequest): Promise<unknown> =>
    runChain(chain, request, () => handler(request));
}

/**
 * The service a handler module describes: see {@linkcode serviceOfModule}.
 *
 * @example
 * ```ts
 * import { type ModuleService, serviceOfModule } from "./methods.ts";
 * import type { ServeOptions } from "./rpc_server.ts";
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
 * import { serviceOfModule } from "./methods.ts";
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
 * `defaultMethod` or `middleware` export has the wrong type.
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
  if (middleware !== undefined && !Array.isArray(middleware)) {
    throw new TypeError(
      "The handler module's middleware must be an array of functions",
    );
  }
  return {
    methods,
    defaultMethod,
    middleware: middleware as ServerMiddleware[] | undefined,
  };
}
