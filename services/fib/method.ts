/**
 * The tutorial's fib service as a handler (one per worker) or a method (one
 * of many): fib(n) in decimal, for a validated n.
 *
 * @module
 */

import { checkInteger } from "../../lib/checks.ts";
import { HandlerError } from "../../lib/errors.ts";
import type { RpcRequest } from "../../lib/protocol/message.ts";
import type { RpcHandler, RpcMethod } from "../../lib/worker/methods.ts";
import { fib } from "./fib.ts";
import { DEFAULT_MAX_N, type FibOptions, parseFibRequest } from "./parse.ts";

/**
 * The fib service's handler: validates n, then answers fib(n) in decimal.
 *
 * @example
 * ```ts ignore
 * import { serve } from "../../mod.ts";
 * import { fibHandler } from "./method.ts";
 *
 * await serve({ queue: "rpc_queue" }, fibHandler({ maxN: 10_000 }));
 * ```
 */
export function fibHandler(options: FibOptions = {}): RpcHandler {
  const maxN = checkInteger("maxN", options.maxN ?? DEFAULT_MAX_N, { min: 0 });
  return (request: RpcRequest): string =>
    fib(parseFibRequest(request.body, { maxN })).toString();
}

/**
 * The fib service as a method (see `serve`'s `methods`): n comes as a JSON
 * number, or in the tutorial's format (an ASCII decimal) as text or as
 * bytes, whatever the content type says (Ruby's Bunny labels every body
 * `application/octet-stream`, and the method then gets bytes); the answer
 * is fib(n) in decimal, as text.
 *
 * @example
 * ```ts
 * import { fibMethod } from "./method.ts";
 * import { RpcRequest } from "../../lib/protocol/message.ts";
 *
 * const fib = fibMethod({ maxN: 1000 });
 * const request = new RpcRequest(new Uint8Array(), {}, {
 *   signal: new AbortController().signal,
 * });
 * console.log(fib(30, request)); // 832040
 * ```
 *
 * @throws {RangeError} if `maxN` is not a non-negative integer.
 */
export function fibMethod(
  options: FibOptions = {},
): RpcMethod<number | string | Uint8Array, string> {
  const maxN = checkInteger("maxN", options.maxN ?? DEFAULT_MAX_N, { min: 0 });
  return (n: number | string | Uint8Array): string => {
    if (typeof n === "string") {
      return fib(parseFibRequest(encoder.encode(n), { maxN })).toString();
    }
    // Bytes that are an ASCII decimal are a number: the tutorial's request
    // under any content type. (Only here: other methods get bytes as bytes.)
    if (n instanceof Uint8Array) {
      return fib(parseFibRequest(n, { maxN })).toString();
    }
    if (typeof n !== "number" || !Number.isInteger(n)) {
      throw new HandlerError(
        "INVALID_ARGUMENT",
        `Expected an integer n, got ${shortJson(n)}`,
      );
    }
    if (n < 0 || n > maxN) {
      throw new HandlerError(
        "OUT_OF_RANGE",
        `n must be from 0 to ${maxN}, got ${n}`,
      );
    }
    return fib(n).toString();
  };
}

const encoder = new TextEncoder();

function shortJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `a ${typeof value}` : text;
}
