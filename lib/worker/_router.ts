/**
 * Routing a request to what answers it, by its `type` property
 * (`PROTOCOL.md` section 5.5): one of many methods, the default method for a
 * request that names none, or the one handler of a worker that has no
 * methods. The default-method rule is here and nowhere else.
 *
 * @module
 */

import { runChain } from "../chain.ts";
import { checkFunctions, optionTypeError } from "../checks.ts";
import type { RpcRequest } from "../protocol/message.ts";
import type { RunAdmission } from "./_decide.ts";
import { invoke, type RpcHandler, type RpcMethods } from "./methods.ts";
import type { ServerMiddleware } from "./middleware.ts";

/**
 * What a request is routed to.
 *
 * @example
 * ```ts
 * import { Router } from "./_router.ts";
 *
 * const route = Router.ofMethods({ ping: () => "pong" }).route("ping");
 * console.log(route?.name, route?.mayReturnNothing); // ping true
 * ```
 */
export interface Route {
  /**
   * Its name, as metrics label it: the method's, `""` for the one handler
   * of a worker without methods.
   */
  readonly name: string;
  /**
   * The method a request routed here is for (`RpcRequest.method`), or
   * `undefined` where that is the request's own `type` (one handler).
   */
  readonly method: string | undefined;
  /** Runs the middleware and the method (or handler) for a request. */
  readonly handle: (request: RpcRequest) => unknown;
  /**
   * Runs the middleware around `last` instead of the method: for a repeat
   * answered from the reply cache, which the middleware may still refuse.
   */
  readonly pass: (request: RpcRequest, last: () => unknown) => unknown;
  /**
   * Whether a result of `undefined` is an empty reply (a method may return
   * nothing) rather than a handler's forgotten `return`.
   */
  readonly mayReturnNothing: boolean;
  /**
   * The decision to run a call that is not idempotent (made once: no
   * allocation per request).
   */
  readonly run: RunAdmission;
}

/**
 * The name under which requests for a method that does not exist are
 * counted: one label for every unknown name, since callers choose them.
 */
export const UNKNOWN_METHOD = "(unknown)";

/**
 * Routes requests by their `type` property.
 *
 * @example
 * ```ts
 * import { Router } from "./_router.ts";
 *
 * const router = Router.ofMethods(
 *   { hello: (name: string) => `Hello, ${name}!`, bye: () => "Bye" },
 *   { defaultMethod: "hello" },
 * );
 * console.log(router.route(undefined)?.name, router.route("bye")?.name); // hello bye
 * console.log(router.route("nope")); // undefined
 * ```
 */
export class Router {
  /**
   * The method of requests that name none, if any: with methods, the
   * `defaultMethod` given, else the only method if there is one.
   */
  readonly defaultMethod: string | undefined;
  /** The names of the methods; empty for one handler. */
  readonly methodNames: readonly string[];
  readonly #routes: Map<string, Route>;
  readonly #any: Route | undefined;

  private constructor(
    routes: Map<string, Route>,
    defaultMethod: string | undefined,
    any?: Route,
  ) {
    this.#routes = routes;
    this.defaultMethod = defaultMethod;
    this.methodNames = Object.freeze([...routes.keys()]);
    this.#any = any;
  }

  /**
   * Routes every request to `handler`, with `middleware` around it.
   *
   * @example
   * ```ts
   * import { Router } from "./_router.ts";
   *
   * console.log(Router.ofHandler((request) => request.text()).route("x")?.name === ""); // true
   * ```
   *
   * @throws {TypeError} if `handler` is not a function, or `middleware` is
   * not an array of functions.
   */
  static ofHandler(
    handler: RpcHandler,
    options: { middleware?: readonly ServerMiddleware[] } = {},
  ): Router {
    if (typeof handler !== "function") {
      throw optionTypeError(
        "handler",
        "must be a function (or pass options.methods)",
      );
    }
    const chain = checkFunctions<ServerMiddleware>(
      "middleware",
      options.middleware ?? [],
    );
    const handle = chain.length === 0
      ? handler
      : (request: RpcRequest) =>
        runChain(chain, request, () => handler(request));
    return new Router(
      new Map(),
      undefined,
      makeRoute({ name: "", method: undefined, handle }, chain, false),
    );
  }

  /**
   * Routes each request to one of `methods` by its `type` property, with
   * its body decoded by content type and `middleware` around each method.
   *
   * @example
   * ```ts
   * import { Router } from "./_router.ts";
   *
   * const router = Router.ofMethods({ add: ({ a, b }: { a: number; b: number }) => a + b });
   * console.log(router.defaultMethod); // add
   * ```
   *
   * @throws {TypeError} if `methods` is empty or holds a value that is not a
   * function, if `defaultMethod` is not one of them, or if `middleware` is
   * not an array of functions.
   */
  static ofMethods(
    methods: RpcMethods,
    options: {
      defaultMethod?: string;
      middleware?: readonly ServerMiddleware[];
    } = {},
  ): Router {
    if (typeof methods !== "object" || methods === null) {
      throw optionTypeError("methods", "must be an object of functions");
    }
    const chain = checkFunctions<ServerMiddleware>(
      "middleware",
      options.middleware ?? [],
    );
    const routes = new Map<string, Route>();
    for (const [name, method] of Object.entries(methods)) {
      if (name === "") {
        throw optionTypeError("methods", "must not have an empty name");
      }
      if (typeof method !== "function") {
        throw optionTypeError(`methods.${name}`, "must be a function");
      }
      const handle = chain.length === 0
        ? (request: RpcRequest) => invoke(method, request)
        : (request: RpcRequest) =>
          runChain(chain, request, () => invoke(method, request));
      routes.set(name, makeRoute({ name, method: name, handle }, chain, true));
    }
    if (routes.size === 0) {
      throw optionTypeError("methods", "must not be empty");
    }
    let defaultMethod = options.defaultMethod;
    if (defaultMethod !== undefined && !routes.has(defaultMethod)) {
      throw optionTypeError(
        "defaultMethod",
        `${JSON.stringify(defaultMethod)} is not one of its methods (${
          [...routes.keys()].join(", ")
        })`,
      );
    }
    if (defaultMethod === undefined && routes.size === 1) {
      defaultMethod = routes.keys().next().value;
    }
    return new Router(routes, defaultMethod);
  }

  /**
   * The route of a request whose `type` property is `type`; `undefined` if
   * it names a method that does not exist, or names none and there is no
   * default method.
   */
  route(type: string | undefined): Route | undefined {
    if (this.#any !== undefined) return this.#any;
    const name = type === undefined || type === "" ? this.defaultMethod : type;
    return name === undefined ? undefined : this.#routes.get(name);
  }
}

function makeRoute(
  parts: Pick<Route, "name" | "method" | "handle">,
  chain: readonly ServerMiddleware[],
  mayReturnNothing: boolean,
): Route {
  const pass = chain.length === 0
    ? (_request: RpcRequest, last: () => unknown) => last()
    : (request: RpcRequest, last: () => unknown) =>
      runChain(chain, request, last);
  const route = { ...parts, pass, mayReturnNothing } as {
    -readonly [K in keyof Route]: Route[K];
  };
  route.run = Object.freeze({ kind: "run", route, remember: undefined });
  return Object.freeze(route);
}
