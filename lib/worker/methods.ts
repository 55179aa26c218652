/**
 * What a worker runs: one handler for every request, or many named methods
 * on one queue, whose arguments are decoded by content type.
 *
 * @module
 */

import { HandlerError } from "../errors.ts";
import type { RpcRequest } from "../protocol/message.ts";

/**
 * Answers one request: returns (or resolves with) the reply's body. A string
 * is sent as `text/plain`, bytes as `application/octet-stream`. A thrown
 * error becomes an error reply (see `HandlerError`).
 *
 * @example
 * ```ts
 * import { RpcRequest } from "../protocol/message.ts";
 * import type { RpcHandler } from "./methods.ts";
 *
 * const shout: RpcHandler = (request) => request.text().toUpperCase();
 * const request = new RpcRequest(new TextEncoder().encode("hello"), {}, {
 *   signal: new AbortController().signal,
 * });
 * console.log(await shout(request)); // HELLO
 * ```
 */
export type RpcHandler = (
  request: RpcRequest,
) => string | Uint8Array | Promise<string | Uint8Array>;

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
 * Runs `method` with the request's body decoded by its content type: a body
 * that is not what it claims to be is the caller's `INVALID_ARGUMENT`.
 *
 * @example
 * ```ts
 * import { invoke } from "./methods.ts";
 * import { RpcRequest } from "../protocol/message.ts";
 *
 * const body = new TextEncoder().encode('{"a":1,"b":2}');
 * const request = new RpcRequest(body, { contentType: "application/json" }, {
 *   signal: new AbortController().signal,
 * });
 * console.log(invoke(({ a, b }) => a + b, request)); // 3
 * ```
 */
export function invoke(method: RpcMethod, request: RpcRequest): unknown {
  let args: unknown;
  try {
    args = request.decode();
  } catch (error) {
    throw new HandlerError(
      "INVALID_ARGUMENT",
      error instanceof SyntaxError
        ? `The request body is not valid JSON: ${error.message}`
        : `The request body cannot be decoded: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return method(args, request);
}
