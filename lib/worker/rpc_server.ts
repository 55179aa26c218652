/**
 * {@linkcode serve}: the worker side, shaped like `Deno.serve`. A handler
 * takes a request and returns the reply's body; the server does the rest
 * (queue, prefetch, deadlines, error replies, acks).
 *
 * @module
 */

import { AckBatcher } from "./_ack_batcher.ts";
import { DirectReplyNodes } from "./reply_to_guard.ts";
import {
  closeConnection,
  defaultConnectionName,
  MANUAL_ACK_TAG,
  openConnection,
} from "../amqp/connection.ts";
import type { ConnectionOptions } from "../amqp/connection.ts";
import type { AMQPClient, AMQPConsumer, AMQPMessage, Field } from "../deps.ts";
import { ConnectionLostError, HandlerError, RpcError } from "../errors.ts";
import { ConnectionEvent, type ConnectionEventType } from "../amqp/events.ts";
import { type Logger, silentLogger } from "../observability/logger.ts";
import type { HeaderValue, MessageProperties } from "../protocol/message.ts";
import { RpcRequest } from "../protocol/message.ts";
import {
  composeMiddleware,
  methodsHandler,
  type RpcMethods,
  type ServerMiddleware,
} from "./methods.ts";
import { encodeValue } from "../protocol/codec.ts";
import { answersNothing } from "../chain.ts";
import { MetricsRegistry } from "../observability/metrics/registry.ts";
import { type MethodSeries, ServerMetrics } from "./_metrics.ts";
import type { ServerStats } from "../observability/stats.ts";
import {
  deadlineOf,
  encodeErrorBody,
  ERROR_HEADER,
  type ErrorBody,
  errorBodyOf,
  IDEMPOTENT_HEADER,
} from "../protocol/error_reply.ts";
import {
  type CachedReply,
  DEFAULT_REPLY_CACHE_SIZE,
  ReplyCache,
} from "./reply_cache.ts";
import {
  type ConnectionState,
  ConnectionSupervisor,
} from "../amqp/supervisor.ts";

/**
 * What a handler may return: the reply's body, or a promise of it.
 *
 * @example
 * ```ts
 * import { fib } from "../../services/fib/fib.ts";
 * import type { RpcHandlerResult } from "./rpc_server.ts";
 *
 * const fibReply = (n: number): RpcHandlerResult => fib(n).toString();
 * console.log(fibReply(30)); // 832040
 * ```
 */
export type RpcHandlerResult = string | Uint8Array;

/**
 * Answers one request. A string is sent as `text/plain`, bytes as
 * `application/octet-stream`. A thrown error becomes an error reply (see
 * {@linkcode HandlerError}).
 *
 * @example
 * ```ts
 * import { RpcRequest } from "../protocol/message.ts";
 * import type { RpcHandler } from "./rpc_server.ts";
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
) => RpcHandlerResult | Promise<RpcHandlerResult>;

/**
 * The type of a request queue; see {@linkcode ServeOptions.queueType}.
 *
 * @example
 * ```ts
 * import type { QueueType, ServeOptions } from "./rpc_server.ts";
 *
 * const queueType: QueueType = "quorum";
 * const options: ServeOptions = { queue: "billing", queueType, deliveryLimit: 3 };
 * console.log(options.queueType, options.deliveryLimit); // quorum 3
 * ```
 */
export type QueueType = "classic" | "quorum";

/**
 * The default delivery limit of quorum request queues.
 *
 * @example
 * ```ts
 * import { DEFAULT_DELIVERY_LIMIT, type ServeOptions } from "./rpc_server.ts";
 *
 * console.log(DEFAULT_DELIVERY_LIMIT); // 5
 * const options: ServeOptions = {
 *   queue: "billing",
 *   queueType: "quorum",
 *   deliveryLimit: 2 * DEFAULT_DELIVERY_LIMIT, // 10 tries
 * };
 * ```
 */
export const DEFAULT_DELIVERY_LIMIT = 5;

/**
 * How long a closing server lets running handlers finish, by default.
 *
 * @example
 * ```ts
 * import { DEFAULT_GRACE_PERIOD, type ServeOptions } from "./rpc_server.ts";
 *
 * console.log(DEFAULT_GRACE_PERIOD); // 10000
 * const options: ServeOptions = {
 *   queue: "reports",
 *   gracePeriod: 6 * DEFAULT_GRACE_PERIOD, // a minute
 * };
 * ```
 */
export const DEFAULT_GRACE_PERIOD = 10_000;

/**
 * How long handlers get to settle after their signals abort, before the
 * connection closes anyway (their requests are then redelivered).
 */
const ABORT_GRACE = 1_000;

/**
 * The default largest request body a worker accepts: 1 MiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_REQUEST_BYTES, type ServeOptions } from "./rpc_server.ts";
 *
 * console.log(DEFAULT_MAX_REQUEST_BYTES); // 1048576
 * const options: ServeOptions = {
 *   queue: "uploads",
 *   maxRequestBytes: 8 * DEFAULT_MAX_REQUEST_BYTES, // 8 MiB
 * };
 * ```
 */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

/**
 * Options of {@linkcode serve}.
 *
 * @example
 * ```ts
 * import type { ServeOptions } from "./rpc_server.ts";
 *
 * const options: ServeOptions = {
 *   queue: "calc",
 *   prefetch: 10,
 *   methods: { add: ({ a, b }: { a: number; b: number }) => a + b },
 * };
 * console.log(options.queue, options.prefetch); // calc 10
 * ```
 */
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
   * The type of the request queue: `classic` (the default, declared as the
   * tutorial declares it) or `quorum`: durable and replicated across a
   * cluster's nodes, with a delivery limit and a dead-letter queue. On a
   * quorum queue, an idempotent request whose handler fails unexpectedly
   * (an error reply with code `INTERNAL`) goes back to the queue for
   * another try, on this worker or another; after `deliveryLimit` tries it
   * is answered with the error and parked in the dead-letter queue instead
   * of looping. A request whose workers died holding it more than
   * `deliveryLimit` times is parked by the broker.
   */
  queueType?: QueueType;
  /**
   * Quorum queues: how many times a request is handed back before it is
   * parked (`x-delivery-limit`; default 5). Every return counts, those of
   * workers that stop or lose their connection while holding it too.
   */
  deliveryLimit?: number;
  /**
   * Quorum queues: the queue where parked requests go (default
   * `<queue>.dead-letter`, declared as a quorum queue too), or `false` to
   * drop them instead.
   */
  deadLetterQueue?: string | false;
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
  /**
   * How many replies to idempotent calls the worker remembers, by message
   * id, to answer a repeat without running the handler again (default
   * 10 000; 0 turns the cache off).
   */
  replyCacheSize?: number;
  /** Closes the server when it aborts. */
  signal?: AbortSignal;
  /** Called once the server consumes. */
  onListen?: (info: { queue: string }) => void;
  /**
   * Many methods on one queue, by name, instead of one handler: a request
   * names its method in the AMQP `type` property; its body is decoded by
   * content type and handed to the method, whose result is encoded the
   * same way (a string as text, bytes as bytes, anything else as JSON). A
   * request for a method not here is answered `METHOD_NOT_FOUND`.
   */
  methods?: RpcMethods;
  /**
   * With `methods`: the method of requests that name none, as the
   * tutorial's clients do (default: the only method, if there is one).
   */
  defaultMethod?: string;
  /**
   * Runs around every request, the first outermost: for authorization,
   * logging, metrics or tracing. See {@linkcode ServerMiddleware}. With
   * `methods`, it runs once a request is routed to a method: a request for
   * a method that does not exist is answered `METHOD_NOT_FOUND` before any.
   */
  middleware?: readonly ServerMiddleware[];
  /**
   * Where the worker counts its requests, for Prometheus (default: a
   * registry of its own, as {@linkcode RpcServer.metrics}).
   */
  metrics?: MetricsRegistry;
}

/**
 * Starts a worker that answers requests from `options.queue` with
 * `handler` (or with `options.methods`), and resolves once it consumes.
 *
 * The queue is declared as the tutorial declares `rpc_queue` (not durable,
 * not exclusive, not auto-delete, no arguments) unless `queueArguments` say
 * otherwise. Each request is acked after its reply is published, so a worker
 * that dies mid-request leaves the request to another worker.
 *
 * @example The tutorial's worker
 * ```ts ignore
 * import { serve } from "./rpc_server.ts";
 * import { fibHandler } from "../../services/fib/method.ts";
 *
 * await using server = await serve({ queue: "rpc_queue" }, fibHandler());
 * await server.finished;
 * ```
 *
 * @example Many methods on one queue
 * ```ts ignore
 * import { serve } from "./rpc_server.ts";
 *
 * await using server = await serve({
 *   queue: "calc",
 *   methods: {
 *     add: ({ a, b }: { a: number; b: number }) => a + b,
 *     negate: (n: number) => -n,
 *   },
 * });
 * ```
 *
 * @throws {TypeError} for a bad option.
 * @throws {ConnectionError} if no broker accepts the connection.
 * @throws {QueueError} if the queue cannot be declared or consumed.
 */
export async function serve(
  options: ServeOptions,
  handler?: RpcHandler,
): Promise<RpcServer> {
  const queue = options.queue ?? "rpc_queue";
  if (typeof queue !== "string" || queue === "") {
    throw new TypeError("queue must be a non-empty string");
  }
  let handle: (request: RpcRequest) => unknown;
  let methodNames: ReadonlySet<string> | undefined;
  let defaultMethod: string | undefined;
  if (options.methods !== undefined) {
    if (handler !== undefined) {
      throw new TypeError("Pass either a handler or options.methods, not both");
    }
    // Middleware runs once the request is routed: a request for a method
    // that does not exist is answered before any.
    handle = methodsHandler(options.methods, {
      queue,
      defaultMethod: options.defaultMethod,
      middleware: options.middleware,
    });
    methodNames = new Set(Object.keys(options.methods));
    defaultMethod = options.defaultMethod ??
      (methodNames.size === 1 ? [...methodNames][0] : undefined);
  } else if (typeof handler === "function") {
    if (options.defaultMethod !== undefined) {
      throw new TypeError("defaultMethod needs options.methods");
    }
    handle = handler;
  } else {
    throw new TypeError("handler must be a function (or pass options.methods)");
  }
  const middleware = options.middleware ?? [];
  if (
    options.methods === undefined &&
    (!Array.isArray(middleware) || middleware.length > 0)
  ) {
    handle = composeMiddleware(middleware, handle);
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
  const replyCacheSize = options.replyCacheSize ?? DEFAULT_REPLY_CACHE_SIZE;
  if (!(Number.isInteger(replyCacheSize) && replyCacheSize >= 0)) {
    throw new RangeError(
      `replyCacheSize must be a non-negative integer, got ${replyCacheSize}`,
    );
  }
  const queueType = options.queueType ?? "classic";
  if (queueType !== "classic" && queueType !== "quorum") {
    throw new TypeError(
      `queueType must be "classic" or "quorum", got ${String(queueType)}`,
    );
  }
  const deliveryLimit = options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT;
  if (!(Number.isInteger(deliveryLimit) && deliveryLimit >= 0)) {
    throw new RangeError(
      `deliveryLimit must be a non-negative integer, got ${deliveryLimit}`,
    );
  }
  const deadLetterQueue = options.deadLetterQueue ?? `${queue}.dead-letter`;
  if (
    deadLetterQueue !== false &&
    (typeof deadLetterQueue !== "string" || deadLetterQueue === "")
  ) {
    throw new TypeError("deadLetterQueue must be a non-empty string or false");
  }
  options.signal?.throwIfAborted();

  const server = new RpcServer({
    ...options,
    connectionName: options.connectionName ??
      defaultConnectionName(`worker ${queue}`),
    queue,
    prefetch,
    queueArguments: options.queueArguments ?? {},
    queueType,
    deliveryLimit,
    deadLetterQueue: queueType === "quorum" ? deadLetterQueue : false,
    handler: handle,
    methodNames,
    defaultMethod,
    mayReturnNothing: methodNames !== undefined ||
      (handler !== undefined && answersNothing.has(handler)),
    metrics: options.metrics ?? new MetricsRegistry(),
    maxRequestBytes,
    gracePeriod,
    replyCacheSize,
    logger: options.logger ?? silentLogger,
  });
  await server.start();
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
 * import { QueueError } from "./rpc_server.ts";
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

interface ServerInit extends ConnectionOptions {
  queue: string;
  prefetch: number;
  queueArguments: Record<string, HeaderValue>;
  queueType: QueueType;
  deliveryLimit: number;
  deadLetterQueue: string | false;
  handler: (request: RpcRequest) => unknown;
  methodNames: ReadonlySet<string> | undefined;
  defaultMethod: string | undefined;
  /** Whether a result of `undefined` is an empty reply (methods may). */
  mayReturnNothing: boolean;
  metrics: MetricsRegistry;
  maxRequestBytes: number;
  gracePeriod: number;
  replyCacheSize: number;
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
 * It reconnects by itself after the connection or channel is lost, or its
 * consumer is cancelled by the broker (the queue was deleted): it declares
 * the queue again and consumes again. Requests it was handling at the loss
 * are redelivered by the broker; their handlers finish, and their replies to
 * idempotent calls are remembered to answer the redelivered copies. It
 * dispatches a {@linkcode ConnectionEvent} of type `disconnect`,
 * `reconnect`, `blocked`, `unblocked` and `failed`.
 *
 * @example Stopping a worker
 * ```ts ignore
 * import { serve } from "./rpc_server.ts";
 *
 * const server = await serve({ queue: "echo" }, (request) => request.text());
 * await server.close(); // waits for the requests it is handling
 * ```
 */
export class RpcServer extends EventTarget implements AsyncDisposable {
  /** The queue it consumes. */
  readonly queue: string;
  /**
   * Settles when the server stops: resolves after {@linkcode close}, rejects
   * with {@linkcode ConnectionLostError} if the connection is lost for good
   * (reconnecting was refused, given up, or turned off).
   */
  readonly finished: Promise<void>;
  readonly #init: ServerInit;
  readonly #supervisor: ConnectionSupervisor;
  readonly #handler: (request: RpcRequest) => unknown;
  readonly #logger: Logger;
  readonly #cache: ReplyCache;
  readonly #metrics: ServerMetrics;
  readonly #nodes = new DirectReplyNodes();
  #acks?: AckBatcher;
  readonly #running = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  #consumer?: AMQPConsumer;
  #closing?: Promise<void>;
  #settle!: (error?: Error) => void;
  /** Set while the broker blocks publishing; resolves when it no longer does. */
  #blocked?: PromiseWithResolvers<void>;

  /** @internal Use {@linkcode serve}. */
  constructor(init: ServerInit) {
    super();
    this.#init = init;
    this.queue = init.queue;
    this.#handler = init.handler;
    this.#logger = init.logger;
    this.#cache = new ReplyCache(init.replyCacheSize);
    this.#metrics = new ServerMetrics(init.metrics, init.queue);
    this.finished = new Promise<void>((resolve, reject) => {
      this.#settle = (error) => (error ? reject(error) : resolve());
    });
    // Nobody may be listening yet; the rejection is still delivered to
    // whoever awaits `finished` later.
    this.finished.catch(() => {});
    this.#supervisor = new ConnectionSupervisor(init, {
      setup: (connection) => this.#setup(connection),
      lost: (error) => {
        this.#consumer = undefined;
        this.#metrics.connected(false);
        this.#unblock();
        this.#emit("disconnect", { error });
      },
      restored: () => {
        this.#metrics.connected(true);
        this.#emit("reconnect");
      },
      failed: (error) => {
        this.#unblock();
        this.#fail(error);
      },
      blocked: (reason) => {
        this.#blocked ??= Promise.withResolvers<void>();
        this.#emit("blocked", { reason });
      },
      unblocked: () => {
        this.#unblock();
        this.#emit("unblocked");
      },
    });
  }

  /** The number of requests being handled now. */
  get inFlight(): number {
    return this.#running.size;
  }

  /**
   * The registry the worker counts in (its own, or the `metrics` option):
   * `server.metrics.render()` is the Prometheus text that `serveMetrics`
   * serves.
   */
  get metrics(): MetricsRegistry {
    return this.#init.metrics;
  }

  /**
   * What the worker counted since it started: requests by outcome, error
   * replies by code, redeliveries, expired requests, cache hits, requeues,
   * dead-letters, drops, handling time, and the requests in hand now.
   *
   * @example
   * ```ts ignore
   * import { serve } from "./rpc_server.ts";
   *
   * await using server = await serve({ queue: "echo" }, (r) => r.text());
   * console.log(server.stats().received); // 0
   * ```
   */
  stats(): ServerStats {
    return this.#metrics.snapshot(this.#running.size);
  }

  /**
   * Where the connection is: `open`, `blocked`, `reconnecting`, `closed` or
   * `failed`. An `open` server consumes its queue.
   */
  get state(): ConnectionState {
    return this.#supervisor.state;
  }

  /**
   * @internal Connects, declares the queue, sets the prefetch, and
   * consumes; used by {@linkcode serve}.
   */
  async start(): Promise<void> {
    await this.#supervisor.start();
    this.#metrics.connected(true);
    this.#logger.info(
      `Consuming "${this.queue}" with prefetch ${this.#init.prefetch}`,
    );
  }

  async #setup(connection: AMQPClient): Promise<void> {
    const channel = await connection.channel();
    // While setting up, a channel error is reported as the QueueError below.
    channel.onerror = () => {};
    let consumer: AMQPConsumer;
    const { queueType, deadLetterQueue } = this.#init;
    try {
      if (queueType === "quorum" && deadLetterQueue !== false) {
        // First, so that nothing parked before it exists is lost.
        await channel.queueDeclare(
          deadLetterQueue,
          { durable: true, exclusive: false, autoDelete: false },
          { "x-queue-type": "quorum" },
        );
      }
      await channel.queueDeclare(
        this.queue,
        {
          durable: queueType === "quorum",
          exclusive: false,
          autoDelete: false,
        },
        queueArgumentsOf(this.#init) as Record<string, Field>,
      );
      await channel.basicQos(this.#init.prefetch);
      consumer = await channel.basicConsume(
        this.queue,
        { noAck: false, tag: MANUAL_ACK_TAG + crypto.randomUUID() },
        (message) => this.#track(message),
      );
    } catch (cause) {
      throw queueError(this.queue, cause);
    }
    const lose = (error: Error) => this.#supervisor.lose(connection, error);
    channel.onerror = (reason) => lose(new Error(reason));
    // The broker cancels the consumer when the queue is deleted: declare
    // it again and consume again on a new connection.
    consumer.wait().catch((error: Error) => {
      if (!channel.closed && !this.#closing) lose(error);
    });
    this.#consumer = consumer;
    this.#acks = new AckBatcher(channel);
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
    // Closing: a loss from now on is not reconnected.
    this.#supervisor.endReconnects();
    try {
      const consumer = this.#consumer;
      if (
        consumer && !consumer.channel.closed &&
        !consumer.channel.connection.blocked
      ) {
        // A broker under a memory alarm reads nothing from a blocked
        // connection, so the cancel may never be answered: closing the
        // connection later cancels the consumer anyway.
        await withTimeout(consumer.cancel(), CANCEL_TIMEOUT).catch(() => {});
      }
      // Let running handlers answer; past the grace period, abort their
      // signals and give them a moment to settle. Whatever is still unacked
      // when the connection closes goes back to the queue for another worker.
      if (!(await this.#settled(this.#init.gracePeriod))) {
        this.#logger.warn(
          `Aborting ${this.#running.size} request(s) still running after the grace period`,
        );
        this.#stop.abort(new RpcError("RpcServer closed"));
        await this.#settled(ABORT_GRACE);
      }
      this.#stop.abort(new RpcError("RpcServer closed"));
      this.#unblock();
      await this.#supervisor.close();
      this.#metrics.stopped();
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

  #fail(error: Error): void {
    if (this.#closing) return;
    const lost = new ConnectionLostError(
      `Worker for "${this.queue}" lost its connection for good: ${error.message}`,
      { cause: error },
    );
    this.#closing = Promise.resolve();
    this.#stop.abort(lost);
    this.#emit("failed", { error });
    this.#settle(lost);
  }

  #emit(
    type: ConnectionEventType,
    init?: { error?: Error; reason?: string },
  ): void {
    if (this.#closing && type !== "failed") return;
    this.dispatchEvent(new ConnectionEvent(type, init));
  }

  #unblock(): void {
    this.#blocked?.resolve();
    this.#blocked = undefined;
  }

  #track(message: AMQPMessage): Promise<void> {
    const metrics = this.#metrics;
    metrics.received(message.redelivered);
    const work = this.#handle(message).catch((error) => {
      const reason = error instanceof Error ? error.message : "unknown error";
      const connection = message.channel.connection as AMQPClient;
      const socket = connection.socket;
      if (
        message.channel.closed || connection !== this.#supervisor.connection ||
        !socket || socket.destroyed || socket.writableEnded
      ) {
        // The connection went away under the reply: the broker redelivers
        // the request, so nothing is lost.
        this.#logger.debug(`Could not answer a request: ${reason}`);
        return;
      }
      this.#logger.error(`Failed to answer a request: ${reason}`);
      // Never leave a request unacked: it would hold a prefetch slot for
      // good. Requeue it once for another try; drop it if it failed before.
      if (!this.#settledAlready(message) && !message.channel.closed) {
        this.#nack(message, !message.redelivered).catch(() => {});
      }
    });
    this.#running.add(work);
    return work.finally(() => {
      this.#running.delete(work);
      metrics.done();
    });
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
      this.#metrics.dropped();
      await this.#ack(message);
      return;
    }
    const correlationId = properties.correlationId;
    if (
      !fitsShortString(replyTo) || this.#nodes.verdict(replyTo) === "bad" ||
      (correlationId !== undefined && !fitsShortString(correlationId))
    ) {
      // Not valid UTF-8 (the AMQP library decodes it lossily, and the
      // result may not fit a short string again), or a direct reply-to
      // address that no client can own: no reply can reach the caller.
      this.#logger.warn(
        `Dropped a request whose reply_to or correlation_id cannot be answered`,
      );
      this.#metrics.dropped();
      await this.#ack(message);
      return;
    }
    const started = performance.now();
    const series = this.#seriesOf(properties.type);
    const deadline = deadlineOf(properties.headers);
    const now = Date.now();
    let reply: CachedReply | undefined;
    // Dead-letter the request instead of acking it, after its reply.
    let park = false;
    if (deadline !== undefined && deadline <= now) {
      this.#metrics.expired();
      // The caller has given up; answer without working, in case its clock
      // runs behind ours and it still waits.
      reply = errorReply({
        code: "DEADLINE_EXCEEDED",
        name: "TimeoutError",
        message: "The deadline passed before the request was handled",
      });
    } else if (message.bodySize > this.#init.maxRequestBytes) {
      reply = errorReply({
        code: "TOO_LARGE",
        name: "RangeError",
        message:
          `The request has ${message.bodySize} bytes; the limit is ${this.#init.maxRequestBytes}`,
      });
    } else {
      const messageId = properties.messageId;
      const idempotent = messageId !== undefined &&
        properties.headers?.[IDEMPOTENT_HEADER] === true;
      let outcome = idempotent ? this.#cache.get(messageId) : undefined;
      if (outcome) {
        this.#metrics.cacheHit();
        this.#logger.debug(`Answered message ${messageId} from the cache`);
      } else {
        outcome = this.#run(message, deadline);
        if (idempotent) this.#cache.set(messageId, outcome);
      }
      reply = await outcome;
      if (reply === undefined) {
        // Stopped because this worker is closing, not because the request
        // is bad: hand it back to the queue for another worker to answer.
        this.#metrics.requeued();
        if (!message.channel.closed) await this.#nack(message, true);
        return;
      }
      if (
        reply.errorCode === "INTERNAL" && this.#init.queueType === "quorum" &&
        idempotent
      ) {
        if (deliveryCountOf(properties.headers) < this.#init.deliveryLimit) {
          // Another try, here or on another worker: the caller said the
          // request may run more than once. The broker counts the tries;
          // the last one is answered and parked below.
          this.#logger.warn(
            `Handing a failed request back to "${this.queue}" for another try`,
          );
          this.#cache.forget(messageId, outcome);
          this.#metrics.requeued();
          if (!message.channel.closed) await this.#nack(message, true);
          return;
        }
        park = true;
        if (this.#init.deadLetterQueue !== false) this.#metrics.deadLettered();
        this.#logger.error(
          this.#init.deadLetterQueue === false
            ? `Dropped a request that failed ${
              this.#init.deliveryLimit + 1
            } times`
            : `Parked a request that failed ${
              this.#init.deliveryLimit + 1
            } times in "${this.#init.deadLetterQueue}"`,
        );
      }
    }
    if (message.channel.closed) {
      // The connection was lost meanwhile: the broker redelivers the request
      // (answered from the cache if it is idempotent), and a reply now would
      // be a duplicate.
      return;
    }
    // The broker refuses every publish while it blocks the connection:
    // wait (the loss of the connection or a close ends the wait too).
    while (this.#blocked) await this.#blocked.promise;
    const channel = message.channel;
    if (channel.closed) return;
    const replyProperties: MessageProperties = {
      contentType: reply.contentType,
    };
    if (reply.errorCode !== undefined) {
      replyProperties.headers = { [ERROR_HEADER]: reply.errorCode };
    }
    if (correlationId !== undefined) {
      replyProperties.correlationId = correlationId;
    }
    const verdict = this.#nodes.verdict(replyTo);
    if (verdict === "unknown") {
      // A direct reply-to address of a node not seen before: the first
      // reply goes out on a connection of its own, in case the broker
      // closes it for an address it cannot decode.
      let probed = false;
      const good = await this.#nodes.probe(replyTo, () => {
        probed = true;
        return this.#probeReply(replyTo, reply.body, replyProperties);
      });
      if (!good) {
        this.#logger.warn(
          `Dropped the reply to a direct reply-to address the broker does not know`,
        );
        this.#metrics.dropped();
      } else if (probed) {
        this.#metrics.answered(series, reply.errorCode, started);
      }
      if (!good || probed) {
        await (park ? this.#nack(message, false) : this.#ack(message));
        return;
      }
    } else if (verdict === "bad") {
      // Found bad by another request's probe meanwhile.
      this.#metrics.dropped();
      await this.#ack(message);
      return;
    }
    // The ack follows the reply on the same channel, so the broker always
    // sees the reply first: no need to wait for the reply's write before
    // acking, and both leave in one socket write. (A reply that fails before
    // it is written, e.g. to encode, rejects at once and is never acked.)
    const published = channel.basicPublish(
      "",
      replyTo,
      reply.body,
      replyProperties,
    );
    if ((await Promise.race([published, notYet])) === PENDING) {
      await Promise.all([
        published,
        park ? this.#nack(message, false) : this.#ack(message),
      ]);
    }
    // Counted once the reply is written: a reply that cannot be sent is not
    // an answer (the request is redelivered, and counted then).
    this.#metrics.answered(series, reply.errorCode, started);
  }

  /**
   * Publishes one reply on a connection of its own, with publisher
   * confirms: true if the broker took it, false if the broker closed the
   * connection with 541 for the address; throws for any other failure.
   */
  async #probeReply(
    replyTo: string,
    body: string | Uint8Array,
    properties: MessageProperties,
  ): Promise<boolean> {
    const connection = await openConnection({
      ...this.#init,
      connectionName: `${this.#init.connectionName} (reply probe)`,
      logger: undefined,
    });
    try {
      const channel = await connection.channel();
      await channel.confirmSelect();
      await withTimeout(
        channel.basicPublish("", replyTo, body, properties),
        PROBE_TIMEOUT,
      );
      return true;
    } catch (error) {
      if (/INTERNAL_ERROR|\(541\)/.test(String(error))) return false;
      throw error;
    } finally {
      await closeConnection(connection);
    }
  }

  /** The metrics series of a request for method `type`. */
  #seriesOf(type: string | undefined): MethodSeries {
    const names = this.#init.methodNames;
    if (names === undefined) return this.#metrics.method("");
    const name = type === undefined || type === ""
      ? this.#init.defaultMethod
      : type;
    // One series for every unknown name: the caller chooses the names.
    return this.#metrics.method(
      name !== undefined && names.has(name) ? name : "(unknown)",
    );
  }

  /** Acks the delivery, in a batch with the others of this turn. */
  #ack(message: AMQPMessage): Promise<void> {
    const acks = this.#acks;
    return acks?.channel === message.channel
      ? acks.ack(message.deliveryTag)
      : message.ack();
  }

  #nack(message: AMQPMessage, requeue: boolean): Promise<void> {
    const acks = this.#acks;
    if (acks?.channel === message.channel) acks.settled(message.deliveryTag);
    return message.nack(requeue);
  }

  #settledAlready(message: AMQPMessage): boolean {
    const acks = this.#acks;
    return acks?.channel === message.channel
      ? acks.isSettled(message.deliveryTag)
      : message.isAcked;
  }

  /** Runs the handler; `undefined` if it was stopped by a close. */
  async #run(
    message: AMQPMessage,
    deadline: number | undefined,
  ): Promise<CachedReply | undefined> {
    // The signal, its timer and its listener cost more than many a handler:
    // they are made only if the handler asks for the signal.
    const stop = this.#stop.signal;
    let controller: AbortController | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onStop: (() => void) | undefined;
    const signal = (): AbortSignal => {
      controller = new AbortController();
      onStop = () => controller!.abort(stop.reason);
      if (stop.aborted) controller.abort(stop.reason);
      else stop.addEventListener("abort", onStop, { once: true });
      const left = deadline === undefined ? Infinity : deadline - Date.now();
      if (left <= MAX_TIMER) {
        timer = setTimeout(
          () =>
            controller!.abort(
              new HandlerError(
                "DEADLINE_EXCEEDED",
                "The caller's deadline passed",
              ),
            ),
          Math.max(0, left),
        );
      }
      return controller.signal;
    };
    try {
      const request = new RpcRequest(
        message.body ?? EMPTY,
        message.properties as MessageProperties,
        {
          signal,
          deadline,
          redelivered: message.redelivered,
          defaultMethod: this.#init.defaultMethod,
        },
      );
      const result = await this.#handler(request);
      if (result === undefined && !this.#init.mayReturnNothing) {
        // A handler's result is the reply's body: nothing is a forgotten
        // `return`, not an empty reply. (A method may return nothing.)
        throw new HandlerError(
          "INTERNAL",
          "The handler returned nothing: return the reply's body (a string or a Uint8Array)",
        );
      }
      if (typeof result === "string") {
        return { body: result, contentType: TEXT };
      }
      if (result instanceof Uint8Array) {
        return { body: result, contentType: BYTES };
      }
      let encoded;
      try {
        encoded = encodeValue(result);
      } catch (error) {
        // A bug in the handler, not a bad argument from the caller.
        throw new HandlerError(
          "INTERNAL",
          `The handler's result cannot be sent: ${(error as Error).message}`,
          { cause: error },
        );
      }
      return encoded;
    } catch (error) {
      if (
        controller?.signal.aborted && controller.signal.reason === stop.reason
      ) {
        return undefined;
      }
      const body = errorBodyOf(error);
      if (body.code === "INTERNAL") {
        this.#logger.error(`Handler failed: ${body.message}`);
      } else if (body.code === "METHOD_NOT_FOUND") {
        // The reply does not list the methods (callers need not learn them
        // all); the worker's own log does.
        this.#logger.debug(`Answered METHOD_NOT_FOUND: ${body.message}`, {
          correlation_id: message.properties.correlationId,
          methods: this.#init.methodNames && [...this.#init.methodNames],
        });
      }
      return errorReply(body);
    } finally {
      if (onStop) {
        clearTimeout(timer);
        stop.removeEventListener("abort", onStop);
      }
    }
  }
}

/** How many times a quorum queue delivered the request before (0 if none). */
function deliveryCountOf(headers: Record<string, unknown> | undefined): number {
  const count = headers?.["x-delivery-count"];
  return typeof count === "number" && count > 0 ? count : 0;
}

/** The request queue's arguments: those of its type, then the user's. */
function queueArgumentsOf(init: ServerInit): Record<string, HeaderValue> {
  if (init.queueType === "classic") return init.queueArguments;
  const args: Record<string, HeaderValue> = {
    "x-queue-type": "quorum",
    "x-delivery-limit": init.deliveryLimit,
  };
  if (init.deadLetterQueue !== false) {
    args["x-dead-letter-exchange"] = "";
    args["x-dead-letter-routing-key"] = init.deadLetterQueue;
  }
  return { ...args, ...init.queueArguments };
}

function errorReply(error: ErrorBody): CachedReply {
  return {
    body: encodeErrorBody(error),
    contentType: JSON_TYPE,
    errorCode: error.code,
  };
}

const encoder = new TextEncoder();
const PENDING: unique symbol = Symbol("pending");

/** Wins a race against a promise only if that one has not settled yet. */
const notYet: Promise<typeof PENDING> = Promise.resolve(PENDING);

/** How long a closing worker waits for the broker to cancel its consumer. */
const CANCEL_TIMEOUT = 2_000;

/** How long a reply probe waits for the broker's confirm. */
const PROBE_TIMEOUT = 10_000;

/** `promise`, or a rejection after `ms` milliseconds. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`No answer within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `text` fits an AMQP short string (255 bytes of UTF-8). */
function fitsShortString(text: string): boolean {
  return text.length <= 85 || encoder.encode(text).length <= 255;
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
