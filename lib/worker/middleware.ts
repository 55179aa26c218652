/**
 * Worker middleware, Hono-style: a function around the handling of each
 * request, once it is routed to a method.
 *
 * @module
 */

import type { RpcRequest } from "../protocol/message.ts";

/**
 * Runs around the handling of each request: may look at the request (and
 * `request.state`), throw to refuse it (a `HandlerError` picks the error
 * reply's code), call `next()` to run the rest of the chain and the method,
 * and return its result or another.
 *
 * @example An authorization check on the broker-validated user
 * ```ts
 * import { HandlerError } from "../errors.ts";
 * import type { ServerMiddleware } from "./middleware.ts";
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
