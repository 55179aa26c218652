/**
 * Client middleware, Hono-style: a function around each call, which may
 * change it, send it with `next()`, and look at the reply or the error.
 *
 * @module
 */

import type { RpcReply } from "../protocol/message.ts";
import type { CallOptions } from "./options.ts";

/**
 * A call on its way out, as {@linkcode ClientMiddleware} sees it.
 *
 * @example
 * ```ts
 * import type { OutgoingCall } from "./middleware.ts";
 *
 * const call: OutgoingCall = {
 *   queue: "calc",
 *   method: "add",
 *   body: '{"a":1,"b":2}',
 *   options: { timeout: 5_000 },
 * };
 * call.options.properties = { headers: { tenant: "acme" } }; // as a middleware may
 * console.log(call.method, call.options.properties.headers); // add { tenant: "acme" }
 * ```
 */
export interface OutgoingCall {
  /** The queue it is sent to. */
  readonly queue: string;
  /** The method it names (its `type` property), if any. */
  readonly method: string | undefined;
  /** Its body. */
  body: string | Uint8Array;
  /**
   * Its options, a copy the middleware may change: e.g. set `traceparent`,
   * or add to `properties.headers`.
   */
  options: CallOptions;
}

/**
 * Runs around a call: may change it, call `next()` to send it (and the rest
 * of the chain), and look at the reply or the error.
 *
 * @example Timing every call
 * ```ts
 * import type { ClientMiddleware } from "./middleware.ts";
 *
 * const timing: ClientMiddleware = async (call, next) => {
 *   const start = performance.now();
 *   try {
 *     return await next();
 *   } finally {
 *     console.log(call.queue, call.method, performance.now() - start);
 *   }
 * };
 * ```
 */
export type ClientMiddleware = (
  call: OutgoingCall,
  next: () => Promise<RpcReply>,
) => Promise<RpcReply>;

/**
/**
 * The call a chain of middleware works on: copies of the caller's options
 * down to the headers, so that a middleware may change them while the
 * caller's own objects (a shared constant, say) stay as they are.
 *
 * @example
 * ```ts
 * import { outgoingCall } from "./middleware.ts";
 *
 * const headers = { tenant: "acme" };
 * const call = outgoingCall("calc", "{}", { properties: { type: "add", headers } });
 * call.options.properties!.headers!.tenant = "other";
 * console.log(call.method, headers.tenant); // add acme
 * ```
 */
export function outgoingCall(
  queue: string,
  body: string | Uint8Array,
  options: CallOptions,
): OutgoingCall {
  const properties = options.properties;
  return {
    queue,
    method: properties?.type,
    body,
    options: {
      ...options,
      properties: properties && {
        ...properties,
        headers: properties.headers && { ...properties.headers },
      },
    },
  };
}
