/**
 * {@linkcode RpcClient}: calls with many in flight on one connection, each
 * matched to its reply by correlation id, across reconnections. The call
 * path reads top to bottom: `call` here, then publish → reply → settle in
 * `_dispatcher.ts`.
 *
 * @module
 */

import { defaultConnectionName } from "../amqp/connection.ts";
import { ConnectionEvent } from "../amqp/events.ts";
import type { ConnectionState } from "../amqp/supervisor.ts";
import { runChain } from "../chain.ts";
import { checkName, checkTimeout, optionTypeError } from "../checks.ts";
import { ClosedError, ConnectionLostError } from "../errors.ts";
import { type Logger, silentLogger } from "../observability/logger.ts";
import { MetricsRegistry } from "../observability/metrics/registry.ts";
import type { ClientStats } from "../observability/stats.ts";
import type { RpcReply } from "../protocol/message.ts";
import { checkProperties } from "../protocol/properties.ts";
import type { RequestSender } from "../protocol/request.ts";
import { withTraceContext } from "../protocol/trace.ts";
import { Call } from "./_call.ts";
import { Dispatcher } from "./_dispatcher.ts";
import { ClientLink } from "./_link.ts";
import { ClientMetrics } from "./_metrics.ts";
import { connectTransport } from "./amqp_transport.ts";
import {
  type ClientMiddleware,
  type OutgoingCall,
  outgoingCall,
} from "./middleware.ts";
import {
  type CallOptions,
  checkClientInit,
  type ClientInit,
  type ClientOptions,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_REPLY_BYTES,
  DEFAULT_TIMEOUT,
} from "./options.ts";
import {
  type MethodCaller,
  methodCaller,
  type ServiceClient,
  serviceClient,
  type ServiceOptions,
} from "./service.ts";
import type { RpcTransport } from "./transport.ts";

/**
 * A client for remote procedure calls over RabbitMQ.
 *
 * One connection and one reply path (an exclusive queue by default) serve any
 * number of concurrent calls. Each call is published with the `mandatory`
 * flag, so a call to a queue nobody declared fails at once with
 * {@linkcode NoRouteError} instead of waiting for its timeout.
 *
 * The client reconnects by itself after the connection is lost. Calls in
 * flight at that moment reject with {@linkcode ConnectionLostError} (their
 * replies can no longer arrive) unless they are `idempotent`; calls made
 * while it reconnects, or while the broker blocks publishing, wait within
 * their timeout. It dispatches a {@linkcode ConnectionEvent} of type
 * `disconnect`, `reconnect`, `blocked`, `unblocked` and `failed`.
 *
 * @example Calling the tutorial's fib worker
 * ```ts ignore
 * import { RpcClient } from "./rpc_client.ts";
 *
 * await using client = await RpcClient.connect({ url: "amqp://localhost" });
 * const reply = await client.call("rpc_queue", "30", { timeout: 5_000 });
 * console.log(reply.text()); // 832040
 * ```
 */
export class RpcClient extends EventTarget implements AsyncDisposable {
  readonly #transport: RpcTransport;
  readonly #logger: Logger;
  readonly #timeout: number;
  readonly #persistent: boolean;
  readonly #replyUserId: string | undefined;
  readonly #middleware: readonly ClientMiddleware[];
  readonly #registry: MetricsRegistry;
  readonly #metrics: ClientMetrics;
  readonly #calls: Dispatcher;
  readonly #link: ClientLink;
  #closing?: Promise<void>;
  /** What requests are sent as: the transport's reply path and login. */
  readonly #sender: Sender;

  /**
   * Connects to the broker and sets up the reply path.
   *
   * @example
   * ```ts ignore
   * import { RpcClient } from "./rpc_client.ts";
   *
   * const client = await RpcClient.connect({ replyQueue: "direct" });
   * await client.close();
   * ```
   *
   * @throws {TypeError} for a bad URL or option.
   * @throws {RangeError} for an option out of range.
   * @throws {ConnectionError} if no broker accepts the connection
   * ({@linkcode AccessRefusedError} if it refuses the login or vhost).
   */
  static async connect(options: ClientOptions = {}): Promise<RpcClient> {
    checkClientInit(options);
    const transport = await connectTransport({
      ...options,
      connectionName: options.connectionName ??
        defaultConnectionName("client"),
    });
    return new RpcClient(transport, options);
  }

  /**
   * Makes a client over a given transport (a fake one in tests, say).
   * {@linkcode RpcClient.connect} is the usual way to get a client.
   */
  constructor(transport: RpcTransport, init: ClientInit = {}) {
    super();
    checkClientInit(init);
    this.#transport = transport;
    this.#logger = init.logger ?? silentLogger;
    this.#timeout = init.timeout ?? DEFAULT_TIMEOUT;
    this.#persistent = init.persistent ?? false;
    this.#replyUserId = init.replyUserId;
    this.#sender = new Sender(transport, init.sendUserId ?? true);
    this.#middleware = [...(init.middleware ?? [])];
    this.#registry = init.metrics ?? new MetricsRegistry();
    const calls: Dispatcher = this.#calls = new Dispatcher({
      transport,
      sender: this.#sender,
      metrics: this.#metrics = new ClientMetrics(this.#registry, {
        inFlight: () => calls.inFlight,
        waiting: () => calls.waiting,
      }),
      logger: this.#logger,
      maxInFlight: init.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      maxReplyBytes: init.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES,
      state: () => this.#link.state,
      lastLoss: () => this.#link.lastLoss,
    });
    const link = this.#link = new ClientLink({
      transport,
      calls,
      metrics: this.#metrics,
      logger: this.#logger,
      sender: this.#sender,
      emit: (type, init) => this.dispatchEvent(new ConnectionEvent(type, init)),
    });
    transport.listen({
      reply: (body, properties) => calls.reply(body, properties),
      returned: (properties, replyText) =>
        calls.returned(properties, replyText),
      lost: (error) => link.lost(error),
      restored: () => link.restored(),
      failed: (error) => link.failed(error),
      blocked: (reason) => link.blocked(reason),
      unblocked: () => link.unblocked(),
    });
  }

  /**
   * Where the connection is: `open`, `blocked`, `reconnecting`, `closed` or
   * `failed`.
   */
  get state(): ConnectionState {
    return this.#link.state;
  }

  /** The number of calls not yet settled (sent or waiting to be sent). */
  get pending(): number {
    return this.#calls.size;
  }

  /** The number of calls sent and waiting for their reply. */
  get inFlight(): number {
    return this.#calls.inFlight;
  }

  /**
   * The number of replies dropped because no call waited for them (late or
   * unknown), as its registry counts them: clients that share a registry
   * share this count.
   */
  get droppedReplies(): number {
    return this.#metrics.lateReplies;
  }

  /**
   * What its registry counted: calls by outcome, error replies by code,
   * timeouts, returns, late replies, latency, and the calls in flight now
   * (of every client that shares the registry, through the `metrics`
   * option).
   *
   * @example
   * ```ts ignore
   * import { RpcClient } from "./rpc_client.ts";
   *
   * await using client = await RpcClient.connect();
   * await client.call("rpc_queue", "30");
   * const stats = client.stats();
   * console.log(stats.ok, stats.latency.p50); // 1 1.2
   * ```
   */
  stats(): ClientStats {
    return this.#metrics.stats();
  }

  /**
   * The registry the client counts in (its own, or the `metrics` option):
   * `client.metrics.render()` is the Prometheus text of its calls.
   */
  get metrics(): MetricsRegistry {
    return this.#registry;
  }

  /**
   * Sends `body` to `queue` and resolves with the reply.
   *
   * @example
   * ```ts ignore
   * import { RpcClient } from "./rpc_client.ts";
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
   * @throws {ProtocolError} if the reply breaks the protocol or is too large.
   * @throws {ConnectionLostError} if the connection was lost before the
   * reply came (and the call is not idempotent), or for good.
   * @throws {ClosedError} if the client was closed first.
   */
  call(
    queue: string,
    body: string | Uint8Array,
    options: CallOptions = {},
  ): Promise<RpcReply> {
    if (this.#middleware.length === 0) return this.#call(queue, body, options);
    checkName("queue", queue);
    checkBody(body);
    if (options.properties !== undefined) checkProperties(options.properties);
    const call: OutgoingCall = outgoingCall(queue, body, options);
    return runChain(
      this.#middleware,
      call,
      () => this.#call(call.queue, call.body, call.options),
    );
  }

  /**
   * A typed function that calls the method `name` of the service on
   * `queue`: its argument is sent as JSON (a string as text, bytes as
   * bytes), and the reply is decoded by its content type. Without `name`,
   * the call names no method, and the worker's default method answers it.
   *
   * @example
   * ```ts ignore
   * import { RpcClient } from "./rpc_client.ts";
   *
   * await using client = await RpcClient.connect();
   * const add = client.method<{ a: number; b: number }, number>("calc", "add");
   * console.log(await add({ a: 1, b: 2 })); // 3
   * ```
   *
   * @throws {TypeError} if `queue` or `name` is not a non-empty string.
   * @throws {RangeError} if `queue` or `name` is longer than 255 bytes.
   */
  method<Args = unknown, Result = unknown>(
    queue: string,
    name?: string,
  ): MethodCaller<Args, Result> {
    return methodCaller<Args, Result>(this, { queue, name });
  }

  /**
   * A typed client of the whole service on `queue`: `Service` is an
   * interface of its methods, or the type of the module the worker serves
   * (`typeof import("./my_service.ts")`), so arguments and results are
   * checked end to end. Methods named `then`, `toJSON`, or like a property
   * of every object (`toString`, `constructor`, …) cannot be called this way
   * (the object must not look like a promise): use {@linkcode method}.
   * With `options.contracts` (the service's module), the arguments of its
   * methods made with `method()` are checked against their input schemas
   * before they are sent.
   *
   * @example
   * ```ts ignore
   * import { RpcClient } from "./rpc_client.ts";
   *
   * interface Calc {
   *   add(args: { a: number; b: number }): number;
   *   negate(n: number): number;
   * }
   * await using client = await RpcClient.connect();
   * const calc = client.service<Calc>("calc");
   * console.log(await calc.add({ a: 1, b: 2 })); // 3
   * ```
   *
   * @throws {TypeError} if `queue` is not a non-empty string.
   * @throws {RangeError} if `queue` is longer than 255 bytes.
   */
  service<Service>(
    queue: string,
    options?: ServiceOptions<Service>,
  ): ServiceClient<Service> {
    return serviceClient<Service>(this, queue, options);
  }

  #call(
    queue: string,
    body: string | Uint8Array,
    options: CallOptions,
  ): Promise<RpcReply> {
    checkName("queue", queue);
    checkBody(body);
    const timeout = options.timeout === undefined
      ? this.#timeout
      : checkTimeout("timeout", options.timeout);
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw optionTypeError("signal", "must be an AbortSignal");
    }
    if (this.#closing) {
      return this.#refuse(
        queue,
        options,
        new ClosedError("RpcClient is closed"),
      );
    }
    if (this.#link.failure) {
      return this.#refuse(
        queue,
        options,
        new ConnectionLostError(
          `Cannot call "${queue}": the connection is lost for good`,
          { cause: this.#link.failure },
        ),
      );
    }
    if (options.properties !== undefined) checkProperties(options.properties);
    if (options.replyUserId !== undefined) {
      checkName("replyUserId", options.replyUserId);
    }
    const properties = withTraceContext(options.properties, options);
    if (signal?.aborted) return this.#refuse(queue, options, signal.reason);

    const settle = Promise.withResolvers<RpcReply>();
    const call = new Call(
      this.#calls.nextId(),
      queue,
      body,
      properties,
      timeout,
      options.idempotent
        ? properties?.messageId ?? crypto.randomUUID()
        : undefined,
      options.persistent ?? this.#persistent,
      settle,
      this.#metrics,
    );
    call.signal = signal;
    call.replyUserId = options.replyUserId ?? this.#replyUserId;
    this.#calls.dispatch(call);
    return settle.promise;
  }

  /** Fails a call before it starts, and counts it. */
  #refuse(
    queue: string,
    options: CallOptions,
    error: unknown,
  ): Promise<never> {
    this.#metrics.settled(queue, options.properties?.type, undefined, error);
    return Promise.reject(error);
  }

  /**
   * Closes the connection; calls still waiting reject with
   * {@linkcode ClosedError}. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#link.closing = true;
      if (this.#link.state !== "failed") this.#link.state = "closed";
      this.#calls.rejectAll((call) =>
        new ClosedError(`Call to "${call.queue}" cancelled: RpcClient closed`)
      );
      this.#closing = this.#transport.close();
      this.#metrics.detach();
    }
    return this.#closing;
  }

  /** Closes the client; for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * What requests are sent as, read at each publish: the reply path changes
 * when the transport reconnects, and `user_id` stops if the broker refuses
 * it.
 */
class Sender implements RequestSender {
  constructor(readonly transport: RpcTransport, public sendUserId: boolean) {}

  get replyTo(): string {
    return this.transport.replyTo;
  }

  get userId(): string | undefined {
    return this.sendUserId ? this.transport.userId : undefined;
  }
}

function checkBody(body: unknown): void {
  if (typeof body !== "string" && !(body instanceof Uint8Array)) {
    throw optionTypeError("body", "must be a string or a Uint8Array");
  }
}
