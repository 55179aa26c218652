/**
 * {@linkcode RpcClient}: calls with many in flight on one connection, each
 * matched to its reply by correlation id.
 *
 * @module
 */

import {
  ClosedError,
  ConnectionLostError,
  NoRouteError,
  RemoteError,
  TimeoutError,
} from "./errors.ts";
import { type Logger, silentLogger } from "./logger.ts";
import { type MessageProperties, RpcReply } from "./message.ts";
import { type PendingCall, PendingCalls } from "./pending_calls.ts";
import { DEADLINE_HEADER, decodeErrorReply, ERROR_HEADER } from "./protocol.ts";
import {
  connectTransport,
  type RpcTransport,
  type TransportOptions,
} from "./transport.ts";

/** The timeout of a call that sets none, in milliseconds. */
export const DEFAULT_TIMEOUT = 30_000;

/** Options of {@linkcode RpcClient.connect}. */
export interface ClientOptions extends TransportOptions {
  /** The default timeout of calls, in milliseconds (default 30 000). */
  timeout?: number;
}

/** Options of a client that is given its transport. */
export interface ClientInit {
  /** Where to report what happens (default: nowhere). */
  logger?: Logger;
  /** The default timeout of calls, in milliseconds (default 30 000). */
  timeout?: number;
}

/** Options of {@linkcode RpcClient.call}. */
export interface CallOptions {
  /**
   * How long to wait for the reply, in milliseconds; `Infinity` waits
   * forever. The request carries it as its `expiration`, so the broker drops
   * a request nobody waits for any more, and as its `x-deadline` header.
   */
  timeout?: number;
  /** Aborts the call: it rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * AMQP properties and headers of the request. `correlationId` and
   * `replyTo` are always the client's own; `expiration` and the
   * `x-deadline` header come from the timeout unless it is `Infinity`;
   * `userId` is never sent (the broker closes the channel for a user id
   * other than the connection's).
   */
  properties?: MessageProperties;
}

const MAX_TIMER = 2 ** 31 - 1;
const encoder = new TextEncoder();

/**
 * A client for remote procedure calls over RabbitMQ.
 *
 * One connection and one reply path (direct reply-to by default) serve any
 * number of concurrent calls. Each call is published with the `mandatory`
 * flag, so a call to a queue nobody declared fails at once with
 * {@linkcode NoRouteError} instead of waiting for its timeout.
 *
 * @example Calling the tutorial's fib worker
 * ```ts ignore
 * import { RpcClient } from "./client.ts";
 *
 * await using client = await RpcClient.connect({ url: "amqp://localhost" });
 * const reply = await client.call("rpc_queue", "30", { timeout: 5_000 });
 * console.log(reply.text()); // 832040
 * ```
 */
export class RpcClient implements AsyncDisposable {
  readonly #transport: RpcTransport;
  readonly #logger: Logger;
  readonly #timeout: number;
  readonly #pending = new PendingCalls();
  // Correlation ids are a per-client random prefix and a counter: unique,
  // cheap to make, and cheap to look up.
  readonly #prefix = crypto.randomUUID().slice(0, 8) + ".";
  #sequence = 0;
  #failure?: Error;
  #closing?: Promise<void>;
  #dropped = 0;

  /**
   * Connects to the broker and sets up the reply path.
   *
   * @example
   * ```ts ignore
   * import { RpcClient } from "./client.ts";
   *
   * const client = await RpcClient.connect({ replyQueue: "exclusive" });
   * await client.close();
   * ```
   *
   * @throws {TypeError} for a bad URL or option.
   * @throws {ConnectionError} if no broker accepts the connection.
   */
  static async connect(options: ClientOptions = {}): Promise<RpcClient> {
    if (options.timeout !== undefined) checkTimeout(options.timeout);
    const transport = await connectTransport({
      ...options,
      connectionName: options.connectionName ??
        `rabbit-rpc client (pid ${Deno.pid})`,
    });
    return new RpcClient(transport, options);
  }

  /**
   * Makes a client over a given transport (a fake one in tests, say).
   * {@linkcode RpcClient.connect} is the usual way to get a client.
   */
  constructor(transport: RpcTransport, init: ClientInit = {}) {
    if (init.timeout !== undefined) checkTimeout(init.timeout);
    this.#transport = transport;
    this.#logger = init.logger ?? silentLogger;
    this.#timeout = init.timeout ?? DEFAULT_TIMEOUT;
    transport.listen({
      reply: (body, properties) => this.#onReply(body, properties),
      returned: (properties, replyText) =>
        this.#onReturned(properties, replyText),
      lost: (error) => this.#onLost(error),
    });
  }

  /** The number of calls waiting for their reply. */
  get pending(): number {
    return this.#pending.size;
  }

  /** The number of replies dropped because no call waited for them. */
  get droppedReplies(): number {
    return this.#dropped;
  }

  /**
   * Sends `body` to `queue` and resolves with the reply.
   *
   * @example
   * ```ts ignore
   * import { RpcClient } from "./client.ts";
   *
   * await using client = await RpcClient.connect();
   * const reply = await client.call("rpc_queue", "10", {
   *   timeout: 2_000,
   *   properties: { headers: { tenant: "a" } },
   * });
   * console.log(reply.text()); // 55
   * ```
   *
   * @throws {TypeError} if `queue` is not a non-empty string or `body` is
   * neither a string nor a `Uint8Array`.
   * @throws {RangeError} if `queue` is longer than 255 bytes or the timeout
   * is not a positive number.
   * @throws {NoRouteError} if no queue is bound to `queue`.
   * @throws {TimeoutError} if no reply came in time.
   * @throws {RemoteError} if the worker answered with an error.
   * @throws {ConnectionLostError} if the connection was lost first.
   * @throws {ClosedError} if the client was closed first.
   */
  call(
    queue: string,
    body: string | Uint8Array,
    options: CallOptions = {},
  ): Promise<RpcReply> {
    checkQueue(queue);
    if (typeof body !== "string" && !(body instanceof Uint8Array)) {
      throw new TypeError("body must be a string or a Uint8Array");
    }
    const timeout = options.timeout ?? this.#timeout;
    if (options.timeout !== undefined) checkTimeout(timeout);
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError("signal must be an AbortSignal");
    }
    if (this.#closing) {
      return Promise.reject(new ClosedError("RpcClient is closed"));
    }
    if (this.#failure) {
      return Promise.reject(
        new ConnectionLostError(
          `Cannot call "${queue}": the connection was lost`,
          { cause: this.#failure },
        ),
      );
    }
    if (options.properties !== undefined) checkProperties(options.properties);
    if (signal?.aborted) return Promise.reject(signal.reason);

    const id = this.#prefix + (this.#sequence++).toString(36);
    const pending = this.#pending;
    return new Promise<RpcReply>((resolve, reject) => {
      const call: PendingCall = { queue, timeout, resolve, reject };
      if (timeout !== Infinity) {
        call.timer = setTimeout(() => {
          if (pending.take(id)) reject(new TimeoutError(queue, timeout));
        }, timeout);
      }
      if (signal) {
        call.signal = signal;
        call.onAbort = () => {
          if (pending.take(id)) reject(signal.reason);
        };
        signal.addEventListener("abort", call.onAbort, { once: true });
      }
      pending.add(id, call);

      const user = options.properties;
      const properties: MessageProperties = user ? { ...user } : {};
      // The broker closes the channel (and so fails every call in flight)
      // for a user_id other than the connection's own: never send one.
      delete properties.userId;
      properties.correlationId = id;
      properties.replyTo = this.#transport.replyTo;
      properties.contentType ??= typeof body === "string"
        ? "text/plain"
        : "application/octet-stream";
      if (timeout !== Infinity) {
        properties.expiration = String(Math.ceil(timeout));
        properties.headers = {
          ...user?.headers,
          [DEADLINE_HEADER]: Date.now() + Math.ceil(timeout),
        };
      }
      this.#transport.publish(queue, body, properties).catch((cause) => {
        if (!pending.take(id)) return;
        // An encoding failure is the caller's bad argument; anything else
        // means the channel or connection could not take the request.
        reject(
          cause instanceof TypeError || cause instanceof RangeError
            ? cause
            : new ConnectionLostError(
              `Cannot call "${queue}": the request could not be sent`,
              { cause },
            ),
        );
      });
    });
  }

  /**
   * Closes the connection; calls still waiting reject with
   * {@linkcode ClosedError}. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#pending.rejectAll((call) =>
        new ClosedError(`Call to "${call.queue}" cancelled: RpcClient closed`)
      );
      this.#closing = this.#transport.close();
    }
    return this.#closing;
  }

  /** Closes the client; for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #onReply(body: Uint8Array, properties: MessageProperties): void {
    const call = this.#pending.take(properties.correlationId);
    if (call === undefined) {
      // Not ours, or no longer awaited: a late reply to a call that timed
      // out or was aborted, or a duplicate sent when a worker died between
      // replying and acking and the request was redelivered. The tutorial's
      // rule applies: discard it, it is not an error.
      this.#dropped++;
      this.#logger.debug(
        `Dropped a reply with unknown correlation id ${properties.correlationId}`,
      );
      return;
    }
    const code = properties.headers?.[ERROR_HEADER];
    if (code === undefined || code === null) {
      call.resolve(new RpcReply(body, properties));
      return;
    }
    const error = decodeErrorReply(String(code), body);
    if (error instanceof RemoteError && error.code === "DEADLINE_EXCEEDED") {
      call.reject(new TimeoutError(call.queue, call.timeout, { cause: error }));
    } else {
      call.reject(error);
    }
  }

  #onReturned(properties: MessageProperties, replyText: string): void {
    const call = this.#pending.take(properties.correlationId);
    call?.reject(
      new NoRouteError(call.queue, { cause: new Error(replyText) }),
    );
  }

  #onLost(error: Error): void {
    if (this.#closing) return;
    this.#failure = error;
    this.#logger.error(`Connection lost: ${error.message}`);
    this.#pending.rejectAll((call) =>
      new ConnectionLostError(
        `Call to "${call.queue}" lost: the connection closed before its reply came`,
        { cause: error },
      )
    );
  }
}

function checkQueue(queue: string): void {
  if (typeof queue !== "string" || queue === "") {
    throw new TypeError("queue must be a non-empty string");
  }
  if (queue.length > 85 && encoder.encode(queue).length > 255) {
    throw new RangeError("queue must be at most 255 bytes long");
  }
}

const SHORT_STRINGS = [
  "contentType",
  "contentEncoding",
  "messageId",
  "type",
  "appId",
] as const;

function checkProperties(properties: MessageProperties): void {
  if (typeof properties !== "object" || properties === null) {
    throw new TypeError("properties must be an object");
  }
  for (const key of SHORT_STRINGS) {
    const value = properties[key];
    if (value === undefined) continue;
    if (typeof value !== "string") {
      throw new TypeError(`properties.${key} must be a string`);
    }
    if (value.length > 85 && encoder.encode(value).length > 255) {
      throw new RangeError(`properties.${key} must be at most 255 bytes long`);
    }
  }
  const { priority, deliveryMode, headers, timestamp } = properties;
  if (
    priority !== undefined &&
    !(Number.isInteger(priority) && priority >= 0 && priority <= 255)
  ) {
    throw new RangeError(
      "properties.priority must be an integer from 0 to 255",
    );
  }
  if (deliveryMode !== undefined && deliveryMode !== 1 && deliveryMode !== 2) {
    throw new RangeError("properties.deliveryMode must be 1 or 2");
  }
  if (timestamp !== undefined && !(timestamp instanceof Date)) {
    throw new TypeError("properties.timestamp must be a Date");
  }
  if (headers !== undefined) checkHeaderValue(headers, "properties.headers");
}

function checkHeaderValue(value: unknown, path: string): void {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "bigint":
    case "undefined":
      return;
    case "number":
      // amqp-client writes integers below 2^32 as signed 32-bit: those from
      // 2^31 would arrive negative.
      if (Number.isInteger(value) && value >= 2 ** 31 && value < 2 ** 32) {
        throw new RangeError(
          `${path} is from 2^31 to 2^32: pass it as a bigint to send it intact`,
        );
      }
      if (Number.isFinite(value)) return;
      throw new RangeError(`${path} must be a finite number`);
    case "object":
      if (
        value === null || value instanceof Date || value instanceof Uint8Array
      ) return;
      if (Array.isArray(value)) {
        value.forEach((item, i) => checkHeaderValue(item, `${path}[${i}]`));
        return;
      }
      for (const [key, item] of Object.entries(value)) {
        if (key.length > 85 && encoder.encode(key).length > 255) {
          throw new RangeError(`${path} has a key longer than 255 bytes`);
        }
        checkHeaderValue(item, `${path}.${key}`);
      }
      return;
    default:
      throw new TypeError(`${path} cannot be sent in an AMQP header`);
  }
}

function checkTimeout(timeout: number): void {
  if (typeof timeout !== "number") {
    throw new TypeError(`timeout must be a number, got ${typeof timeout}`);
  }
  if (!(timeout > 0) || (timeout > MAX_TIMER && timeout !== Infinity)) {
    throw new RangeError(
      `timeout must be from 1 to ${MAX_TIMER} milliseconds, or Infinity, got ${timeout}`,
    );
  }
}
