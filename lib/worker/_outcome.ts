/**
 * What a handler's result becomes: the reply a worker sends (an error it
 * throws becomes an error reply by `errorBodyOf`, in the protocol). No I/O:
 * unit tests check every kind.
 *
 * @module
 */

import { HandlerError } from "../errors.ts";
import {
  BYTES_CONTENT_TYPE,
  encodeValue,
  TEXT_CONTENT_TYPE,
} from "../protocol/codec.ts";
import type { Reply } from "../protocol/reply.ts";

/**
 * The reply for what a handler returned: a string as text, bytes as bytes,
 * any other value as JSON. `undefined` is a forgotten `return` (an
 * `INTERNAL` error), unless `mayReturnNothing` (a method may return
 * nothing: an empty JSON reply).
 *
 * @example
 * ```ts
 * import { resultReply } from "./_outcome.ts";
 *
 * console.log(resultReply({ sum: 3 }, true)); // { body: '{"sum":3}', contentType: "application/json" }
 * ```
 *
 * @throws {HandlerError} `INTERNAL` for `undefined` where a result is due.
 * @throws {Error} for a value JSON cannot write (a `bigint`, a cycle, a
 * `toJSON` that throws): the handler's bug, not the caller's, answered
 * `INTERNAL` with an error id.
 */
export function resultReply(result: unknown, mayReturnNothing: boolean): Reply {
  if (typeof result === "string") {
    return { body: result, contentType: TEXT_CONTENT_TYPE };
  }
  if (result instanceof Uint8Array) {
    return { body: result, contentType: BYTES_CONTENT_TYPE };
  }
  if (result === undefined && !mayReturnNothing) {
    // A handler's result is the reply's body: nothing is a forgotten
    // `return`, not an empty reply.
    throw new HandlerError(
      "INTERNAL",
      "The handler returned nothing: return the reply's body (a string or a Uint8Array)",
    );
  }
  try {
    return encodeValue(result);
  } catch (error) {
    // Not a HandlerError: the cause (a toJSON that threw, say) may hold
    // anything, so the caller gets an error id and the log the message.
    throw new Error(
      `The handler's result cannot be sent: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
