/**
 * The errors a caller can tell apart with `instanceof`.
 *
 * Every error raised by this library for a failed call or connection is an
 * {@linkcode RpcError}. Bad arguments throw the platform's `TypeError` or
 * `RangeError` instead, as Deno's own APIs do.
 *
 * @module
 */

import type { Issue } from "./contract/issues.ts";
import { escapeControls } from "./text.ts";

/**
 * The base class of every error this library raises for a call or a
 * connection that failed.
 *
 * @example Telling errors apart
 * ```ts
 * import { RpcError, TimeoutError } from "./errors.ts";
 *
 * const err: unknown = new TimeoutError("rpc_queue", 1000);
 * if (err instanceof TimeoutError) console.log("retry later");
 * else if (err instanceof RpcError) console.log(err.message);
 * ```
 */
export class RpcError extends Error {
  /** Creates an error with a message and an optional `cause`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RpcError";
  }
}

/**
 * No reply came before the call's timeout, or the worker found the call's
 * deadline already past.
 *
 * @example
 * ```ts
 * import { TimeoutError } from "./errors.ts";
 *
 * const err = new TimeoutError("rpc_queue", 3000);
 * console.log(err.message); // Call to "rpc_queue" timed out after 3000 ms
 * ```
 */
export class TimeoutError extends RpcError {
  /** The queue that was called. */
  readonly queue: string;
  /** The timeout of the call, in milliseconds. */
  readonly timeout: number;
  /** Creates the error for a call to `queue` that waited `timeout` ms. */
  constructor(queue: string, timeout: number, options?: ErrorOptions) {
    super(`Call to "${queue}" timed out after ${timeout} ms`, options);
    this.name = "TimeoutError";
    this.queue = queue;
    this.timeout = timeout;
  }
}

/**
 * The broker returned the request: no queue is bound to the name it was
 * sent to (no worker has declared it, or it was deleted).
 *
 * @example
 * ```ts
 * import { NoRouteError } from "./errors.ts";
 *
 * console.log(new NoRouteError("rpc_queue").message);
 * // Cannot call "rpc_queue": no queue is bound to that name
 * ```
 */
export class NoRouteError extends RpcError {
  /** The queue that was called. */
  readonly queue: string;
  /** Creates the error for a request to `queue` that the broker returned. */
  constructor(queue: string, options?: ErrorOptions) {
    super(`Cannot call "${queue}": no queue is bound to that name`, options);
    this.name = "NoRouteError";
    this.queue = queue;
  }
}

/**
 * The connection to the broker could not be opened: the broker is
 * unreachable, refused the credentials, or does not have the virtual host.
 *
 * @example
 * ```ts
 * import { ConnectionError } from "./errors.ts";
 *
 * const err = new ConnectionError("Cannot connect to amqp://localhost:5672: connection refused");
 * console.log(err instanceof ConnectionError); // true
 * ```
 */
export class ConnectionError extends RpcError {
  /** Creates the error; the message must never contain a password. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionError";
  }
}

/**
 * The broker refused the login or the virtual host: retrying cannot help,
 * so neither the client nor the worker retries it.
 *
 * @example
 * ```ts
 * import { AccessRefusedError, ConnectionError } from "./errors.ts";
 *
 * const err = new AccessRefusedError('Cannot connect as "app" (vhost "/"): login refused', { user: "app", vhost: "/" });
 * console.log(err instanceof ConnectionError, err.user); // true app
 * ```
 */
export class AccessRefusedError extends ConnectionError {
  /** The user name of the refused login. */
  readonly user: string;
  /** The virtual host that was asked for. */
  readonly vhost: string;
  /** Creates the error; the message must never contain a password. */
  constructor(
    message: string,
    identity: { user: string; vhost: string },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "AccessRefusedError";
    this.user = identity.user;
    this.vhost = identity.vhost;
  }
}

/**
 * The connection or channel was lost while a call was in flight, so its
 * reply can no longer arrive.
 *
 * @example
 * ```ts
 * import { ConnectionLostError } from "./errors.ts";
 *
 * const err = new ConnectionLostError('Call to "rpc_queue" lost: connection closed');
 * console.log(err.name); // ConnectionLostError
 * ```
 */
export class ConnectionLostError extends RpcError {
  /** Creates the error, with the broker's or socket's error as `cause`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionLostError";
  }
}

/**
 * The client or server was closed by its owner; calls that were still
 * waiting reject with this error.
 *
 * @example
 * ```ts
 * import { ClosedError } from "./errors.ts";
 *
 * console.log(new ClosedError("RpcClient is closed").name); // ClosedError
 * ```
 */
export class ClosedError extends RpcError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClosedError";
  }
}

/**
 * The worker answered with an error reply: its handler threw, or it
 * rejected the request (invalid argument, out of range, too large, …).
 *
 * @example
 * ```ts
 * import { RemoteError } from "./errors.ts";
 *
 * const err = new RemoteError({
 *   code: "OUT_OF_RANGE",
 *   name: "RangeError",
 *   message: "n must be at most 100000",
 * });
 * console.log(err.code, err.remoteName, err.message);
 * ```
 */
export class RemoteError extends RpcError {
  /** The error code of the reply, e.g. `INVALID_ARGUMENT` (see `PROTOCOL.md`). */
  readonly code: string;
  /** The `name` of the error on the worker, e.g. `RangeError`. */
  readonly remoteName: string;
  /**
   * What was wrong with the arguments, each with its path, where the worker
   * said (a method's input schema failed: `INVALID_ARGUMENT`); else empty.
   */
  readonly issues: readonly Issue[];
  /** Creates the error from the fields of an error reply. */
  constructor(
    remote: {
      code: string;
      name: string;
      message: string;
      issues?: readonly Issue[];
    },
    options?: ErrorOptions,
  ) {
    super(remote.message, options);
    this.name = "RemoteError";
    this.code = remote.code;
    this.remoteName = remote.name;
    this.issues = remote.issues ?? [];
  }
}

/**
 * The worker has no method of the name the call asked for (or the call
 * named none and the worker has no default method): an error reply with
 * code `METHOD_NOT_FOUND`.
 *
 * @example
 * ```ts
 * import { MethodNotFoundError, RemoteError } from "./errors.ts";
 *
 * const err = new MethodNotFoundError({
 *   code: "METHOD_NOT_FOUND",
 *   name: "HandlerError",
 *   message: 'No method "mul" on "calc"; methods: add, negate',
 * }, { method: "mul" });
 * console.log(err instanceof RemoteError, err.method); // true mul
 * ```
 */
export class MethodNotFoundError extends RemoteError {
  /** The method the call asked for; `undefined` if it named none. */
  readonly method: string | undefined;
  /** Creates the error from an error reply's fields and the call's method. */
  constructor(
    remote: { code: string; name: string; message: string },
    options?: ErrorOptions & { method?: string },
  ) {
    super(remote, options);
    this.name = "MethodNotFoundError";
    this.method = options?.method;
  }
}

/**
 * A reply that does not follow the protocol (for example an error reply
 * whose body is not the JSON object `PROTOCOL.md` specifies).
 *
 * @example
 * ```ts
 * import { ProtocolError } from "./errors.ts";
 *
 * console.log(new ProtocolError("error reply is not JSON").name); // ProtocolError
 * ```
 */
export class ProtocolError extends RpcError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}

/**
 * What an existing queue has that an option, given explicitly, asks
 * otherwise: see {@linkcode QueueError.mismatch}.
 *
 * @example
 * ```ts
 * import type { QueueMismatch } from "./errors.ts";
 *
 * const mismatch: QueueMismatch = {
 *   options: ["queueType"],
 *   property: "x-queue-type",
 *   found: "type classic",
 *   asked: "type quorum",
 * };
 * console.log(mismatch.found); // a classic queue
 * ```
 */
export interface QueueMismatch {
  /**
   * The option that asks (`queueType`, `deliveryLimit`, …); where the
   * queue could not be checked, every option that demands.
   */
  readonly options: readonly string[];
  /** The property that differs: `durable`, `x-queue-type`, … */
  readonly property: string;
  /**
   * What the queue has, in words ("type classic"); `undefined` where the
   * broker's answer could not be read, so that the option could not be
   * checked.
   */
  readonly found: string | undefined;
  /** What the option asks, in words ("type quorum"). */
  readonly asked?: string;
}

/**
 * The queue could not be declared or consumed: it exists with properties
 * other than an option asks for ({@linkcode QueueError.mismatch}), is
 * exclusive to another connection, or the user may not use it.
 *
 * @example
 * ```ts
 * import { QueueError } from "./errors.ts";
 *
 * const err = new QueueError("rpc_queue", {
 *   code: 406,
 *   text: "PRECONDITION_FAILED - inequivalent arg 'durable'",
 * });
 * console.log(err.replyCode); // 406
 * ```
 */
export class QueueError extends RpcError {
  /** The queue. */
  readonly queue: string;
  /** The AMQP reply code: 406 precondition failed, 405 locked, 403 refused. */
  readonly replyCode: number;
  /** The broker's reply text. */
  readonly replyText: string;
  /**
   * Set when the queue exists with a property other than an explicit option
   * asks for: the worker does not consume it.
   */
  readonly mismatch?: QueueMismatch;
  /** Creates the error from the broker's reply. */
  constructor(
    queue: string,
    reply: { code: number; text: string },
    options?: ErrorOptions & { mismatch?: QueueMismatch },
  ) {
    super(queueErrorMessage(queue, reply.text, options?.mismatch), options);
    this.name = "QueueError";
    this.queue = queue;
    this.replyCode = reply.code;
    this.replyText = reply.text;
    if (options?.mismatch) this.mismatch = options.mismatch;
  }
}

function queueErrorMessage(
  queue: string,
  text: string,
  mismatch: QueueMismatch | undefined,
): string {
  // The broker's text may quote another user's queue arguments.
  text = escapeControls(text);
  if (mismatch === undefined) return `Cannot use queue "${queue}": ${text}`;
  const option = mismatch.options.join(", ");
  const wayOut = `leave ${option} out to use the queue as it is, ` +
    `or delete the queue (rabbitmqctl delete_queue ${queue}) to have it declared as asked`;
  return mismatch.found === undefined
    ? `Cannot check queue "${queue}" against ${option}: the broker says ${text}; ${wayOut}`
    : `Queue "${queue}" exists with ${mismatch.found}, but ${option} asks for ${
      mismatch.asked ?? "another"
    }: ${wayOut}`;
}

/**
 * Thrown by a handler to send an error reply with a chosen code.
 *
 * A handler may throw any error: a `TypeError` is answered with
 * `INVALID_ARGUMENT`, a `RangeError` with `OUT_OF_RANGE`, anything else with
 * `INTERNAL`. Throw a `HandlerError` to pick the code yourself.
 *
 * @example
 * ```ts
 * import { HandlerError } from "./errors.ts";
 *
 * function handler(): string {
 *   throw new HandlerError("INVALID_ARGUMENT", "expected a name");
 * }
 * ```
 */
export class HandlerError extends RpcError {
  /** The code sent in the `x-rpc-error` header of the reply. */
  readonly code: string;
  /** What was wrong with the arguments, sent with the reply; may be empty. */
  readonly issues: readonly Issue[];
  /**
   * Creates an error whose reply carries `code`, `message` and, if given,
   * `issues` (at most 20 are sent).
   */
  constructor(
    code: string,
    message: string,
    options?: ErrorOptions & { issues?: readonly Issue[] },
  ) {
    super(message, options);
    this.name = "HandlerError";
    this.code = code;
    this.issues = options?.issues ?? [];
  }
}
