/**
 * Error replies (`PROTOCOL.md` section 5.4): the error a handler threw as
 * the code, name and message of a JSON body, and back into the
 * {@linkcode RemoteError} a caller sees.
 *
 * @module
 */

import {
  HandlerError,
  MethodNotFoundError,
  ProtocolError,
  RemoteError,
} from "../errors.ts";
import { JSON_CONTENT_TYPE } from "./codec.ts";
import type { Reply } from "./reply.ts";
import { truncate } from "../text.ts";
import { boundedIssues, type Issue, issuesOf } from "../contract/issues.ts";

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
  /** What was wrong with the arguments, each with its path (1.6). */
  issues?: readonly Issue[];
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
  if (isHandlerError(error)) {
    const { code, name, message } = error;
    const issues = error.issues ?? [];
    return issues.length === 0
      ? { code, name, message }
      : { code, name, message, issues: boundedIssues(issues) };
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
 * Whether `error` is a {@linkcode HandlerError}: an error whose message the
 * handler wrote for its caller (`PROTOCOL.md` section 5.4), sent as it is.
 * A `HandlerError` of another copy of this library (a handler module that
 * imports it by another URL) is one too.
 *
 * @example
 * ```ts
 * import { HandlerError } from "../errors.ts";
 * import { isHandlerError } from "./error_reply.ts";
 *
 * console.log(isHandlerError(new HandlerError("NOT_FOUND", "No such user"))); // true
 * console.log(isHandlerError(new Error("connect ECONNREFUSED 10.0.0.5:5432"))); // false
 * ```
 */
export function isHandlerError(error: unknown): error is HandlerError {
  return error instanceof HandlerError ||
    (error instanceof Error && error.name === "HandlerError" &&
      typeof (error as { code?: unknown }).code === "string");
}

/**
 * What a caller sees of an error the handler did not write for it (any
 * error but a {@linkcode HandlerError}): its code and the name of its kind
 * (`TypeError`, `RangeError` or `Error`), and instead of its message, which
 * may hold anything (a connection string, a host, a query), an error id
 * that the worker logs beside the full error.
 *
 * @example
 * ```ts
 * import { errorBodyOf, hiddenErrorBody } from "./error_reply.ts";
 *
 * const body = errorBodyOf(new Error("password authentication failed for user app"));
 * console.log(hiddenErrorBody(body, "5f2c9e0a41d7b3e8").message);
 * // Error (error id 5f2c9e0a41d7b3e8): the worker's log has its message
 * ```
 */
export function hiddenErrorBody(body: ErrorBody, errorId: string): ErrorBody {
  const name = body.code === "INVALID_ARGUMENT"
    ? "TypeError"
    : body.code === "OUT_OF_RANGE"
    ? "RangeError"
    : "Error";
  return {
    code: body.code,
    name,
    message: `${name} (error id ${errorId}): the worker's log has its message`,
  };
}

/**
 * A new error id: 16 hexadecimal digits from a CSPRNG, to find an error's
 * log line from what its caller saw.
 *
 * @example
 * ```ts
 * import { newErrorId } from "./error_reply.ts";
 *
 * console.log(/^[0-9a-f]{16}$/.test(newErrorId())); // true
 * ```
 */
export function newErrorId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let id = "";
  for (const byte of bytes) id += byte.toString(16).padStart(2, "0");
  return id;
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
    JSON.stringify(
      body.issues === undefined || body.issues.length === 0
        ? { code: body.code, name: body.name, message: body.message }
        : {
          code: body.code,
          name: body.name,
          message: body.message,
          issues: body.issues,
        },
    ),
  );
}

/**
 * The error reply that carries `error`: its body as JSON, its code in the
 * `x-rpc-error` header.
 *
 * @example
 * ```ts
 * import { errorReply } from "./error_reply.ts";
 *
 * const reply = errorReply({ code: "TOO_LARGE", name: "RangeError", message: "too big" });
 * console.log(reply.errorCode, reply.contentType); // TOO_LARGE application/json
 * ```
 */
export function errorReply(error: ErrorBody): Reply {
  return {
    body: encodeErrorBody(error),
    contentType: JSON_CONTENT_TYPE,
    errorCode: error.code,
  };
}

/**
 * The most characters of a worker's error message that
 * {@linkcode decodeErrorReply} keeps: the rest is left out, with a
 * `… (N more characters)` marker, so that a worker cannot make its callers
 * carry (and log, and print) megabytes of message.
 *
 * @example
 * ```ts
 * import { decodeErrorReply, MAX_REMOTE_MESSAGE } from "./error_reply.ts";
 *
 * const message = "x".repeat(10_000_000);
 * const body = new TextEncoder().encode(JSON.stringify({ message }));
 * const error = decodeErrorReply("INTERNAL", body);
 * console.log(error.message.length <= MAX_REMOTE_MESSAGE + 30); // true
 * ```
 */
export const MAX_REMOTE_MESSAGE = 4096;

/**
 * The most characters of a worker's error code (the `x-rpc-error` header)
 * and error name that {@linkcode decodeErrorReply} keeps, as for
 * {@linkcode MAX_REMOTE_MESSAGE}. The codes of `PROTOCOL.md` are far
 * shorter.
 *
 * @example
 * ```ts
 * import { RemoteError } from "../errors.ts";
 * import { decodeErrorReply, MAX_REMOTE_CODE } from "./error_reply.ts";
 *
 * const body = new TextEncoder().encode("{}");
 * const error = decodeErrorReply("E".repeat(1000), body);
 * if (error instanceof RemoteError) console.log(error.code.length); // 87
 * console.log(MAX_REMOTE_CODE); // 64
 * ```
 */
export const MAX_REMOTE_CODE = 64;

/**
 * Turns an error reply into the {@linkcode RemoteError} a caller sees.
 *
 * `code` is the reply's `x-rpc-error` header, which is authoritative; the
 * body supplies the name and message. A body that is not the JSON object of
 * `PROTOCOL.md` gives a {@linkcode ProtocolError}. `METHOD_NOT_FOUND` gives
 * a {@linkcode MethodNotFoundError} naming `options.method`. The code and
 * name keep at most {@linkcode MAX_REMOTE_CODE} characters, the message
 * {@linkcode MAX_REMOTE_MESSAGE}.
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
  code = truncate(code, MAX_REMOTE_CODE);
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
  const { name, message, issues } = parsed as Record<string, unknown>;
  const remote = {
    issues: issuesOf(issues),
    code,
    name: typeof name === "string" ? truncate(name, MAX_REMOTE_CODE) : "Error",
    message: typeof message === "string"
      ? truncate(message, MAX_REMOTE_MESSAGE)
      : `Remote error ${code}`,
  };
  return code === "METHOD_NOT_FOUND"
    ? new MethodNotFoundError(remote, { method: options.method })
    : new RemoteError(remote);
}
