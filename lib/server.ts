/**
 * {@linkcode serve}: the worker side, shaped like `Deno.serve`. A handler
 * takes a request and returns the reply's body; the server does the rest
 * (queue, prefetch, deadlines, error replies, acks).
 *
 * @module
 */

import { closeConnection, openConnection } from "./connection.ts";
import type { ConnectionOptions } from "./connection.ts";
import type {
  AMQPChannel,
  AMQPClient,
  AMQPConsumer,
  AMQPMessage,
  Field,
} from "./deps.ts";
import { ConnectionLostError, HandlerError, RpcError } from "./errors.ts";
import { type Logger, silentLogger } from "./logger.ts";
import type { HeaderValue, MessageProperties } from "./message.ts";
import { RpcRequest } from "./message.ts";
import {
  deadlineOf,
  encodeErrorBody,
  ERROR_HEADER,
  type ErrorBody,
  errorBodyOf,
} from "./protocol.ts";

/** What a handler may return: the reply's body, or a promise of it. */
export type RpcHandlerResult = string | Uint8Array;

/**
 * Answers one request. A string is sent as `text/plain`, bytes as
 * `application/octet-stream`. A thrown error becomes an error reply (see
 * {@linkcode HandlerError}).
 */
export type RpcHandler = (
  request: RpcRequest,
) => RpcHandlerResult | Promise<RpcHandlerResult>;

/** How long a closing server lets running handlers finish, by default. */
export const DEFAULT_GRACE_PERIOD = 10_000;

/**
 * How long handlers get to settle after their signals abort, before the
 * connection closes anyway (their requests are then redelivered).
 */
const ABORT_GRACE = 1_000;

/** The default largest request body a worker accepts: 1 MiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

/** Options of {@linkcode serve}. */
export interface ServeOptions extends ConnectionOptions {
  /** The queue to consume (default `rpc_queue`). */
  queue?: string;
  /**
   * How many requests this worker handles at once (`basic.qos`); default 1,
   * as in the tutorial.
   */
  prefetch?: number;
  /**
   * Arguments of the queue declaration (e.g. `x-queue-type`). The default,
   * none, is the tutorial's declaration, which its programs in other
   * languages share.
   */
  queueArguments?: Record<string, HeaderValue>;
  /**
   * Requests with a larger body get a `TOO_LARGE` error reply without
   * running the handler (default 1 MiB).
   */
  maxRequestBytes?: number;
  /**
   * How long {@linkcode RpcServer.close} lets running handlers finish before
   * it aborts their signals, in milliseconds (default 10 000).
   */
  gracePeriod?: number;
  /** Closes the server when it aborts. */
  signal?: AbortSignal;
  /** Called once the server consumes. */
  onListen?: (info: { queue: string }) => void;
}

/**
 * Starts a worker that answers requests from `options.queue` with
 * `handler`, and resolves once it consumes.
 *
 * The queue is declared as the tutorial declares `rpc_queue` (not durable,
 * not exclusive, not auto-delete, no arguments) unless `queueArguments` say
 * otherwise. Each request is acked after its reply is published, so a worker
 * that dies mid-request leaves the request to another worker.
 *
 * @example The tutorial's worker
 * ```ts ignore
 * import { serve } from "./server.ts";
 * import { fibHandler } from "./fib_service.ts";
 *
 * await using server = await serve({ queue: "rpc_queue" }, fibHandler());
 * await server.finished;
 * ```
 *
 * @throws {TypeError} for a bad option.
 * @throws {ConnectionError} if no broker accepts the connection.
 * @throws {QueueError} if the queue cannot be declared or consumed.
 */
export async function serve(
  options: ServeOptions,
  handler: RpcHandler,
): Promise<RpcServer> {
  if (typeof handler !== "function") {
    throw new TypeError("handler must be a function");
  }
  const queue = options.queue ?? "rpc_queue";
  if (typeof queue !== "string" || queue === "") {
    throw new TypeError("queue must be a non-empty string");
  }
  const prefetch = options.prefetch ?? 1;
  if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 65535) {
    throw new RangeError(
      `prefetch must be an integer from 1 to 65535, got ${prefetch}`,
    );
  }
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  if (!(maxRequestBytes >= 0)) {
    throw new RangeError(
      `maxRequestBytes must be a non-negative number, got ${maxRequestBytes}`,
    );
  }
  const gracePeriod = options.gracePeriod ?? DEFAULT_GRACE_PERIOD;
  if (!(gracePeriod >= 0)) {
    throw new RangeError(
      `gracePeriod must be a non-negative number, got ${gracePeriod}`,
    );
  }
  options.signal?.throwIfAborted();

  const connection = await openConnection({
    ...options,
    connectionName: options.connectionName ??
      `rabbit-rpc worker ${queue} (pid ${Deno.pid})`,
  });
  const server = new RpcServer(connection, {
    queue,
    handler,
    maxRequestBytes,
    gracePeriod,
    logger: options.logger ?? silentLogger,
  });
  try {
    await server.start(prefetch, options.queueArguments ?? {});
  } catch (error) {
    await server.close();
    throw error;
  }
  if (options.signal) {
    const signal = options.signal;
    if (signal.aborted) {
      // Aborted while connecting: do not leave a server nobody can stop.
      await server.close();
      throw signal.reason;
    }
    const onAbort = () => server.close();
    signal.addEventListener("abort", onAbort, { once: true });
    server.finished.finally(() => signal.removeEventListener("abort", onAbort))
      .catch(() => {});
  }
  options.onListen?.({ queue });
  return server;
}

/**
 * The queue could not be declared or consumed: it exists with other
 * arguments (`PRECONDITION_FAILED`), is exclusive to another connection, or
 * the user may not use it.
 *
 * @example
 * ```ts
 * import { QueueError } from "./server.ts";
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
  /** Creates the error from the broker's reply. */
  constructor(
    queue: string,
    reply: { code: number; text: string },
    options?: ErrorOptions,
  ) {
    super(`Cannot use queue "${queue}": ${reply.text}`, options);
    this.name = "QueueError";
    this.queue = queue;
    this.replyCode = reply.code;
  }
}

interface ServerInit {
  queue: string;
  handler: RpcHandler;
  maxRequestBytes: number;
  gracePeriod: number;
  logger: Logger;
}

const TEXT = "text/plain";
const BYTES = "application/octet-stream";
const JSON_TYPE = "application/json";
const EMPTY = new Uint8Array(0);
const MAX_TIMER = 2 ** 31 - 1;

/**
 * A running worker, from {@linkcode serve}.
 *
 * @example Stopping a worker
 * ```ts ignore
 * import { serve } from "./server.ts";
 *
 * const server = await serve({ queue: "echo" }, (request) => request.text());
 * await server.close(); // waits for the requests it is handling
 * ```
 */
export class RpcServer implements AsyncDisposable {
  /** The queue it consumes. */
  readonly queue: string;
  /**
   * Settles when the server stops: resolves after {@linkcode close}, rejects
   * with {@linkcode ConnectionLostError} if the connection is lost.
   */
  readonly finished: Promise<void>;
  readonly #connection: AMQPClient;
  readonly #handler: RpcHandler;
  readonly #maxRequestBytes: number;
  readonly #gracePeriod: number;
  readonly #logger: Logger;
  readonly #running = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  #channel?: AMQPChannel;
  #consumer?: AMQPConsumer;
  #closing?: Promise<void>;
  #settle!: (error?: Error) => void;

  /** @internal Use {@linkcode serve}. */
  constructor(connection: AMQPClient, init: ServerInit) {
    this.#connection = connection;
    this.queue = init.queue;
    this.#handler = init.handler;
    this.#maxRequestBytes = init.maxRequestBytes;
    this.#gracePeriod = init.gracePeriod;
    this.#logger = init.logger;
    this.finished = new Promise<void>((resolve, reject) => {
      this.#settle = (error) => (error ? reject(error) : resolve());
    });
    // Nobody may be listening yet; the rejection is still delivered to
    // whoever awaits `finished` later.
    this.finished.catch(() => {});
    connection.ondisconnect = (error) => this.#lose(error);
  }

  /** The number of requests being handled now. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** @internal Declares the queue, sets the prefetch, and consumes. */
  async start(
    prefetch: number,
    queueArguments: Record<string, HeaderValue>,
  ): Promise<void> {
    const channel = await this.#connection.channel();
    this.#channel = channel;
    // While starting, a channel error is reported as the QueueError below.
    channel.onerror = () => {};
    try {
      await channel.queueDeclare(
        this.queue,
        { durable: false, exclusive: false, autoDelete: false },
        queueArguments as Record<string, Field>,
      );
      await channel.basicQos(prefetch);
      this.#consumer = await channel.basicConsume(
        this.queue,
        { noAck: false },
        (message) => this.#track(message),
      );
    } catch (cause) {
      throw queueError(this.queue, cause);
    }
    channel.onerror = (reason) => this.#lose(new Error(reason));
    this.#consumer.wait().catch((error: Error) => this.#lose(error));
    this.#logger.info(
      `Consuming "${this.queue}" with prefetch ${prefetch}`,
    );
  }

  /**
   * Stops consuming, lets the requests being handled finish within the
   * grace period (then aborts their signals and requeues those that stop),
   * and closes the connection. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Closes the server; for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    try {
      if (this.#consumer && !this.#connection.closed) {
        await this.#consumer.cancel().catch(() => {});
      }
      // Let running handlers answer; past the grace period, abort their
      // signals and give them a moment to settle. Whatever is still unacked
      // when the connection closes goes back to the queue for another worker.
      if (!(await this.#settled(this.#gracePeriod))) {
        this.#logger.warn(
          `Aborting ${this.#running.size} request(s) still running after the grace period`,
        );
        this.#stop.abort(new RpcError("RpcServer closed"));
        await this.#settled(ABORT_GRACE);
      }
      this.#stop.abort(new RpcError("RpcServer closed"));
      await closeConnection(this.#connection);
    } finally {
      this.#logger.info(`Stopped consuming "${this.queue}"`);
      this.#settle();
    }
  }

  /** Waits until no handler runs, for at most `ms`; true if none runs. */
  async #settled(ms: number): Promise<boolean> {
    if (this.#running.size === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      while (this.#running.size > 0) {
        const done = await Promise.race([
          Promise.allSettled([...this.#running]).then(() => true),
          expired,
        ]);
        if (!done) return false;
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  #lose(error: Error | undefined): void {
    if (this.#closing) return;
    const lost = new ConnectionLostError(
      `Worker for "${this.queue}" lost its connection: ${
        error?.message ?? "closed"
      }`,
      { cause: error },
    );
    this.#logger.error(lost.message);
    this.#closing = Promise.resolve();
    this.#stop.abort(lost);
    this.#connection.socket?.destroy();
    this.#settle(lost);
  }

  #track(message: AMQPMessage): Promise<void> {
    const work = this.#handle(message).catch((error) => {
      this.#logger.error(
        `Failed to answer a request: ${
          error instanceof Error ? error.message : "unknown error"
        }`,
      );
      // Never leave a request unacked: it would hold a prefetch slot for
      // good. Requeue it once for another try; drop it if it failed before.
      if (!message.isAcked && !message.channel.closed) {
        message.nack(!message.redelivered).catch(() => {});
      }
    });
    this.#running.add(work);
    return work.finally(() => this.#running.delete(work));
  }

  async #handle(message: AMQPMessage): Promise<void> {
    const properties = message.properties;
    const replyTo = properties.replyTo;
    if (!replyTo) {
      this.#logger.warn(
        `Dropped a request without reply_to (correlation id ${
          properties.correlationId ?? "none"
        })`,
      );
      await message.ack();
      return;
    }
    const deadline = deadlineOf(properties.headers);
    const now = Date.now();
    if (deadline !== undefined && deadline <= now) {
      // The caller has given up; answer without working, in case its clock
      // runs behind ours and it still waits.
      await this.#replyError(message, replyTo, {
        code: "DEADLINE_EXCEEDED",
        name: "TimeoutError",
        message: "The deadline passed before the request was handled",
      });
      await message.ack();
      return;
    }
    if (message.bodySize > this.#maxRequestBytes) {
      await this.#replyError(message, replyTo, {
        code: "TOO_LARGE",
        name: "RangeError",
        message:
          `The request has ${message.bodySize} bytes; the limit is ${this.#maxRequestBytes}`,
      });
      await message.ack();
      return;
    }

    const controller = new AbortController();
    const onStop = () => controller.abort(this.#stop.signal.reason);
    this.#stop.signal.addEventListener("abort", onStop, { once: true });
    const timer = deadline === undefined || deadline - now > MAX_TIMER
      ? undefined
      : setTimeout(
        () =>
          controller.abort(
            new HandlerError(
              "DEADLINE_EXCEEDED",
              "The caller's deadline passed",
            ),
          ),
        deadline - now,
      );
    let body: Uint8Array | string;
    let contentType: string;
    let errorBody: ErrorBody | undefined;
    let stopped = false;
    try {
      const request = new RpcRequest(
        message.body ?? EMPTY,
        properties as MessageProperties,
        {
          signal: controller.signal,
          deadline,
          redelivered: message.redelivered,
        },
      );
      const result = await this.#handler(request);
      if (typeof result === "string") {
        body = result;
        contentType = TEXT;
      } else if (result instanceof Uint8Array) {
        body = result;
        contentType = BYTES;
      } else {
        // A bug in the handler, not a bad argument from the caller.
        throw new HandlerError(
          "INTERNAL",
          `The handler returned ${typeof result}, not a string or Uint8Array`,
        );
      }
    } catch (error) {
      stopped = controller.signal.aborted &&
        controller.signal.reason === this.#stop.signal.reason;
      errorBody = errorBodyOf(error);
      if (errorBody.code === "INTERNAL") {
        this.#logger.error(`Handler failed: ${errorBody.message}`);
      }
      body = EMPTY;
      contentType = TEXT;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      this.#stop.signal.removeEventListener("abort", onStop);
    }
    if (stopped) {
      // Aborted because this worker is stopping, not because the request is
      // bad: hand it back to the queue for another worker to answer.
      await message.nack(true);
      return;
    }
    if (errorBody) await this.#replyError(message, replyTo, errorBody);
    else await this.#reply(message, replyTo, body, { contentType });
    await message.ack();
  }

  #replyError(
    message: AMQPMessage,
    replyTo: string,
    error: ErrorBody,
  ): Promise<unknown> {
    this.#logger.debug(`Error reply ${error.code}: ${error.message}`);
    return this.#reply(message, replyTo, encodeErrorBody(error), {
      contentType: JSON_TYPE,
      headers: { [ERROR_HEADER]: error.code },
    });
  }

  #reply(
    message: AMQPMessage,
    replyTo: string,
    body: string | Uint8Array,
    properties: MessageProperties,
  ): Promise<unknown> {
    const correlationId = message.properties.correlationId;
    if (correlationId !== undefined) properties.correlationId = correlationId;
    return this.#channel!.basicPublish("", replyTo, body, properties);
  }
}

function queueError(queue: string, cause: unknown): QueueError {
  const text = cause instanceof Error ? cause.message : String(cause);
  // amqp-client reports "channel 1 closed: PRECONDITION_FAILED - … (406)".
  const match = /closed: (.*) \((\d+)\)$/.exec(text);
  return new QueueError(
    queue,
    { code: match ? Number(match[2]) : 0, text: match ? match[1] : text },
    { cause },
  );
}
