/**
 * A reply on the wire (`PROTOCOL.md` sections 5.3 and 5.4): the properties a
 * worker builds for each reply, and what a client reads back from them.
 *
 * @module
 */

import type { MessageProperties } from "./properties.ts";

/**
 * The header that marks an error reply; its value is the error code.
 *
 * @example
 * ```ts
 * import { ERROR_HEADER, errorCodeOf } from "./reply.ts";
 *
 * const properties = { headers: { [ERROR_HEADER]: "OUT_OF_RANGE" } };
 * console.log(ERROR_HEADER, errorCodeOf(properties)); // x-rpc-error OUT_OF_RANGE
 * ```
 */
export const ERROR_HEADER = "x-rpc-error";

/**
 * A reply as a worker sends it: its body, content type and, for an error
 * reply, its error code.
 *
 * @example
 * ```ts
 * import type { Reply } from "./reply.ts";
 *
 * const reply: Reply = { body: "832040", contentType: "text/plain" };
 * console.log(reply.errorCode); // undefined
 * ```
 */
export interface Reply {
  /** The reply's body: a string is sent as UTF-8. */
  readonly body: string | Uint8Array;
  /** Its content type. */
  readonly contentType: string;
  /** The error code of an error reply. */
  readonly errorCode?: string;
}

/**
 * The properties of a reply: its content type, the request's correlation
 * id (if it had one), and for an error reply the `x-rpc-error` header.
 *
 * @example
 * ```ts
 * import { replyProperties } from "./reply.ts";
 *
 * const properties = replyProperties({ body: "55", contentType: "text/plain" }, "ab12.1");
 * console.log(properties); // { contentType: "text/plain", correlationId: "ab12.1" }
 * ```
 */
export function replyProperties(
  reply: Reply,
  correlationId: string | undefined,
): MessageProperties {
  const properties: MessageProperties = { contentType: reply.contentType };
  if (correlationId !== undefined) properties.correlationId = correlationId;
  if (reply.errorCode !== undefined) {
    properties.headers = { [ERROR_HEADER]: reply.errorCode };
  }
  return properties;
}

/**
 * The error code of an error reply, or `undefined` for a success reply.
 *
 * @example
 * ```ts
 * import { errorCodeOf } from "./reply.ts";
 *
 * console.log(errorCodeOf({ contentType: "text/plain" })); // undefined
 * ```
 */
export function errorCodeOf(
  properties: MessageProperties,
): string | undefined {
  const code = properties.headers?.[ERROR_HEADER];
  return code === undefined || code === null ? undefined : String(code);
}
