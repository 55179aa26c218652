/**
 * The wire protocol shared by clients and workers, as `PROTOCOL.md`
 * specifies it: header names, error codes and the error reply's body.
 *
 * @module
 */

import {
  HandlerError,
  MethodNotFoundError,
  ProtocolError,
  RemoteError,
} from "../errors.ts";

/**
 * The version of `PROTOCOL.md` this library implements.
 *
 * @example
 * ```ts
 * import { PROTOCOL_VERSION } from "./error_reply.ts";
 *
 * console.log(`rabbit-rpc protocol ${PROTOCOL_VERSION}`); // rabbit-rpc protocol 1.3
 * ```
 */
export const PROTOCOL_VERSION = "1.3";

/**
 * The header that marks an error reply; its value is an {@linkcode ErrorCode}.
 *
 * @example
 * ```ts
 * import type { MessageProperties } from "./message.ts";
 * import { ERROR_HEADER } from "./error_reply.ts";
 *
 * const reply: MessageProperties = { headers: { [ERROR_HEADER]: "OUT_OF_RANGE" } };
 * console.log(ERROR_HEADER, reply.headers?.[ERROR_HEADER]); // x-rpc-error OUT_OF_RANGE
 * ```
 */
export const ERROR_HEADER = "x-rpc-error";

/**
 * The request header holding the caller's deadline, in epoch milliseconds.
 *
 * @example
 * ```ts
 * import { DEADLINE_HEADER, deadlineOf } from "./error_reply.ts";
 *
 * const headers = { [DEADLINE_HEADER]: 1700000000000 };
 * console.log(DEADLINE_HEADER, deadlineOf(headers)); // x-deadline 1700000000000
 * ```
 */
export const DEADLINE_HEADER = "x-deadline";

/**
 * The request header that marks a call as idempotent: the client may send it
 * again (with the same `message_id`) after a reconnection, and the worker
 * answers a repeat from its cache of recent replies by `message_id`.
 *
 * @example
 * ```ts
 * import type { MessageProperties } from "./message.ts";
 * import { IDEMPOTENT_HEADER } from "./error_reply.ts";
 *
 * const request: MessageProperties = {
 *   messageId: "ab12.7",
 *   headers: { [IDEMPOTENT_HEADER]: true },
 * };
 * console.log(IDEMPOTENT_HEADER, request.headers?.[IDEMPOTENT_HEADER]); // x-idempotent true
 * ```
 */
export const IDEMPOTENT_HEADER = "x-idempotent";

/**
 * The queue name of RabbitMQ's direct reply-to pseudo-queue.
 *
 * @example
 * ```ts
 * import { DIRECT_REPLY_TO } from "./error_reply.ts";
 *
 * console.log(DIRECT_REPLY_TO); // amq.rabbitmq.reply-to
 * const replyTo = "amq.rabbitmq.reply-to.g1h2AA5yZXBseUAyNzEyMDk4MgAAbLwAAAAAZKmhsQ==";
 * console.log(replyTo.startsWith(DIRECT_REPLY_TO)); // true
 * ```
 */
export const DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";

/**
 * The error codes a worker sends in the `x-rpc-error` header.
 *
 * @example
 * ```ts
 * import { ERROR_CODES } from "./error_reply.ts";
 *
 * console.log(ERROR_CODES.includes("OUT_OF_RANGE")); // true
 * ```
 */
export const ERROR_CODES = [
  "INVALID_ARGUMENT",
  "OUT_OF_RANGE",
  "TOO_LARGE",
  "DEADLINE_EXCEEDED",
  "METHOD_NOT_FOUND",
  "PERMISSION_DENIED",
  "UNAUTHENTICATED",
  "INTERNAL",
] as const;

/**
 * One of the {@linkcode ERROR_CODES}.
 *
 * @example
 * ```ts
 * import { HandlerError } from "../errors.ts";
 * import type { ErrorCode } from "./error_reply.ts";
 *
 * const code: ErrorCode = "PERMISSION_DENIED";
 * const error = new HandlerError(code, "Only billing may call this");
 * console.log(error.code); // PERMISSION_DENIED
 * ```
 */
export type ErrorCode = typeof ERROR_CODES[number];

/**
 * The JSON body of an error reply.
 *
 * @example
 * ```ts
 * import { type ErrorBody, errorBodyOf } from "./error_reply.ts";
 *
 * const body: ErrorBody = errorBodyOf(new TypeError("n must be a number"));
 * console.log(body.code, body.name); // INVALID_ARGUMENT TypeError
 * ```
 */
export interface ErrorBody {
  /** The error code, the same as the `x-rpc-error` header. */
  code: string;
  /** The name of the error on the worker, e.g. `RangeError`. */
  name: string;
  /** A message for humans. */
  message: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The code, name and message of the error reply for an error a handler threw.
 *
 * @example
 * ```ts
 * import { errorBodyOf } from "./error_reply.ts";
 *
 * console.log(errorBodyOf(new RangeError("too big")).code); // OUT_OF_RANGE
 * ```
 */
export function errorBodyOf(error: unknown): ErrorBody {
  // Never throws: it runs on the path that must still reply and ack.
  if (
    error instanceof HandlerError ||
    // A HandlerError of another copy of this library (a handler module
    // that imports it by another URL) is one too.
    (error instanceof Error && error.name === "HandlerError" &&
      typeof (error as { code?: unknown }).code === "string")
  ) {
    const { code, name, message } = error as HandlerError;
    return { code, name, message };
  }
  if (error instanceof TypeError) {
    return {
      code: "INVALID_ARGUMENT",
      name: error.name,
      message: error.message,
    };
  }
  if (error instanceof RangeError) {
    return { code: "OUT_OF_RANGE", name: error.name, message: error.message };
  }
  if (error instanceof Error) {
    return { code: "INTERNAL", name: error.name, message: error.message };
  }
  let message: string;
  try {
    message = String(error);
  } catch {
    message = "The handler threw a value that cannot be shown";
  }
  return { code: "INTERNAL", name: "Error", message };
}

/**
 * Encodes an error reply's body as UTF-8 JSON.
 *
 * @example
 * ```ts
 * import { encodeErrorBody } from "./error_reply.ts";
 *
 * const bytes = encodeErrorBody({ code: "INTERNAL", name: "Error", message: "boom" });
 * console.log(new TextDecoder().decode(bytes));
 * ```
 */
export function encodeErrorBody(body: ErrorBody): Uint8Array {
  return encoder.encode(
    JSON.stringify({ code: body.code, name: body.name, message: body.message }),
  );
}

/**
 * Turns an error reply into the {@linkcode RemoteError} a caller sees.
 *
 * `code` is the reply's `x-rpc-error` header, which is authoritative; the
 * body supplies the name and message. A body that is not the JSON object of
 * `PROTOCOL.md` gives a {@linkcode ProtocolError}. `METHOD_NOT_FOUND` gives
 * a {@linkcode MethodNotFoundError} naming `options.method`.
 *
 * @example
 * ```ts
 * import { decodeErrorReply } from "./error_reply.ts";
 *
 * const body = new TextEncoder().encode('{"code":"INTERNAL","name":"Error","message":"boom"}');
 * console.log(decodeErrorReply("INTERNAL", body).message); // boom
 * ```
 */
export function decodeErrorReply(
  code: string,
  body: Uint8Array,
  options: { method?: string } = {},
): RemoteError | ProtocolError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch (cause) {
    return new ProtocolError(
      `Error reply (${code}) has a body that is not JSON`,
      { cause },
    );
  }
  if (typeof parsed !== "object" || parsed === null) {
    return new ProtocolError(`Error reply (${code}) is not a JSON object`);
  }
  const { name, message } = parsed as Record<string, unknown>;
  const remote = {
    code,
    name: typeof name === "string" ? name : "Error",
    message: typeof message === "string" ? message : `Remote error ${code}`,
  };
  return code === "METHOD_NOT_FOUND"
    ? new MethodNotFoundError(remote, { method: options.method })
    : new RemoteError(remote);
}

/**
 * Reads the `x-deadline` header: an integer number of epoch milliseconds,
 * as any AMQP integer type or a decimal string. Anything else means no
 * deadline.
 *
 * @example
 * ```ts
 * import { deadlineOf } from "./error_reply.ts";
 *
 * console.log(deadlineOf({ "x-deadline": 1700000000000 })); // 1700000000000
 * console.log(deadlineOf({})); // undefined
 * ```
 */
export function deadlineOf(
  headers: Record<string, unknown> | undefined,
): number | undefined {
  const value = headers?.[DEADLINE_HEADER];
  let ms: number;
  if (typeof value === "number") ms = value;
  else if (typeof value === "bigint") ms = Number(value);
  else if (typeof value === "string" && /^\d{1,16}$/.test(value)) {
    ms = Number(value);
  } else return undefined;
  return Number.isSafeInteger(ms) && ms >= 0 ? ms : undefined;
}
