/**
 * {@linkcode RpcClient}: calls with many in flight on one connection, each
 * matched to its reply by correlation id, across reconnections.
 *
 * @module
 */

import { runChain } from "../chain.ts";
import { ClientMetrics } from "./_metrics.ts";
import type { ClientStats } from "../observability/stats.ts";
import { encodeValue, type Sent } from "../protocol/codec.ts";
import { MetricsRegistry } from "../observability/metrics/registry.ts";
import {
  ClosedError,
  ConnectionLostError,
  NoRouteError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from "../errors.ts";
import {
  parseTraceparent,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
} from "../protocol/trace.ts";
import { ConnectionEvent, type ConnectionEventType } from "../amqp/events.ts";
import { type Logger, silentLogger } from "../observability/logger.ts";
import {
  type HeaderValue,
  type MessageProperties,
  RpcReply,
} from "../protocol/message.ts";
import { type PendingCall, PendingCalls } from "./pending_calls.ts";
import {
  DEADLINE_HEADER,
  decodeErrorReply,
  ERROR_HEADER,
  IDEMPOTENT_HEADER,
} from "../protocol/error_reply.ts";
import type { ConnectionState } from "../amqp/supervisor.ts";
import { defaultConnectionName } from "../amqp/connection.ts";
import {
  connectTransport,
  type RpcTransport,
  type TransportOptions,
} from "./transport.ts";

/**
 * The timeout of a call that sets none, in milliseconds.
 *
 * @example
 * ```ts
 * import { type CallOptions, DEFAULT_TIMEOUT } from "./rpc_client.ts";
 *
 * console.log(DEFAULT_TIMEOUT); // 30000
 * const patient: CallOptions = { timeout: 4 * DEFAULT_TIMEOUT }; // two minutes
 * ```
 */
export const DEFAULT_TIMEOUT = 30_000;

/**
 * The default cap on calls in flight per client.
 *
 * @example
 * ```ts
 * import { type ClientInit, DEFAULT_MAX_IN_FLIGHT } from "./rpc_client.ts";
 *
 * console.log(DEFAULT_MAX_IN_FLIGHT); // 10000
 * const gentle: ClientInit = { maxInFlight: DEFAULT_MAX_IN_FLIGHT / 100 }; // 100
 * ```
 */
export const DEFAULT_MAX_IN_FLIGHT = 10_000;

/**
 * The default largest reply body a client accepts: 16 MiB.
 *
 * @example
 * ```ts
 * import { type ClientInit, DEFAULT_MAX_REPLY_BYTES } from "./rpc_client.ts";
 *
 * console.log(DEFAULT_MAX_REPLY_BYTES); // 16777216
 * const bulky: ClientInit = { maxReplyBytes: 4 * DEFAULT_MAX_REPLY_BYTES }; // 64 MiB
 * ```
 */
export const DEFAULT_MAX_REPLY_BYTES = 16 * 1024 * 1024;

/**
 * Options of a client that is given its transport.
 *
 * @example
 * ```ts
 * import type { ClientInit } from "./rpc_client.ts";
 * import { formatLogger } from "../observability/logger.ts";
 *
 * const init: ClientInit = {
 *   timeout: 5_000,
 *   maxInFlight: 100,
 *   logger: formatLogger({ level: "warn", write: (line) => console.error(line) }),
 * };
 * console.log(init.timeout, init.maxInFlight); // 5000 100
 * ```
 */
export interface ClientInit {
  /** Where to report what happens (default: nowhere). */
  logger?: Logger;
  /** The default timeout of calls, in milliseconds (default 30 000). */
  timeout?: number;
  /**
   * How many calls may be in flight at once (default 10 000); calls beyond
   * it wait to be sent, within their own timeout.
   */
  maxInFlight?: number;
  /**
   * The largest reply body accepted, in bytes (default 16 MiB); a larger
   * reply rejects its call with {@linkcode ProtocolError}.
   */
  maxReplyBytes?: number;
  /**
   * Whether requests are persistent (`delivery_mode` 2) unless a call says
   * otherwise (default `false`): on a durable classic queue (declared by
   * others; this library's classic queues are not durable) a persistent
   * request survives a broker restart, at the cost of a disk write. Quorum
   * queues keep every message on disk whatever its delivery mode.
   */
  persistent?: boolean;
  /**
   * Whether each request carries the login's user name as its `user_id`
   * (default `true`): RabbitMQ refuses a `user_id` other than the
   * publishing connection's (but from users with the `impersonator` tag),
   * so the worker can trust it to tell who called. Where the broker
   * authenticates the login as another name (an OAuth 2 token's, say), it
   * refuses each request; the client then stops sending it, says so in an
   * error line of its logger, and carries on
   * (see `RpcRequest.userId`).
   */
  sendUserId?: boolean;
  /**
   * Runs around every call, the first outermost: to add headers, log, time
   * or trace calls. See {@linkcode ClientMiddleware}.
   */
  middleware?: readonly ClientMiddleware[];
  /**
   * Where the client counts its calls, for Prometheus (default: a registry
   * of its own, as {@linkcode RpcClient.metrics}). Clients and workers may
   * share one; see `MetricsRegistry.render`.
   */
  metrics?: MetricsRegistry;
}

/**
 * A call on its way out, as {@linkcode ClientMiddleware} sees it.
 *
 * @example
 * ```ts
 * import type { OutgoingCall } from "./rpc_client.ts";
 *
 * const call: OutgoingCall = {
 *   queue: "calc",
 *   method: "add",
 *   body: '{"a":1,"b":2}',
 *   options: { timeout: 5_000 },
 * };
 * call.options.properties = { headers: { tenant: "acme" } }; // as a middleware may
 * console.log(call.method, call.options.properties.headers); // add { tenant: "acme" }
 * ```
 */
export interface OutgoingCall {
  /** The queue it is sent to. */
  readonly queue: string;
  /** The method it names (its `type` property), if any. */
  readonly method: string | undefined;
  /** Its body. */
  body: string | Uint8Array;
  /**
   * Its options, a copy the middleware may change: e.g. set `traceparent`,
   * or add to `properties.headers`.
   */
  options: CallOptions;
}

/**
 * Runs around a call: may change it, call `next()` to send it (and the rest
 * of the chain), and look at the reply or the error.
 *
 * @example Timing every call
 * ```ts
 * import type { ClientMiddleware } from "./rpc_client.ts";
 *
 * const timing: ClientMiddleware = async (call, next) => {
 *   const start = performance.now();
 *   try {
 *     return await next();
 *   } finally {
 *     console.log(call.queue, call.method, performance.now() - start);
 *   }
 * };
 * ```
 */
export type ClientMiddleware = (
  call: OutgoingCall,
  next: () => Promise<RpcReply>,
) => Promise<RpcReply>;

/**
 * A typed function that calls one method of a service; see
 * {@linkcode RpcClient.method}.
 *
 * @example
 * ```ts
 * import type { MethodCaller } from "./rpc_client.ts";
 *
 * // What client.method<{ a: number; b: number }, number>("calc", "add") gives;
 * // here a stand-in, as in a test.
 * const add: MethodCaller<{ a: number; b: number }, number> = ({ a, b }) =>
 *   Promise.resolve(a + b);
 * console.log(await add({ a: 1, b: 2 }, { timeout: 1_000 })); // 3
 * ```
 */
export type MethodCaller<Args, Result> = (
  args: Args,
  options?: CallOptions,
) => Promise<Result>;

/**
 * The names every object has from `Object.prototype`: a service client
 * cannot call methods of these names (use {@linkcode RpcClient.method}).
 *
 * @example
 * ```ts
 * import type { ObjectName } from "./rpc_client.ts";
 *
 * const name: ObjectName = "toString";
 * console.log(name in Object.prototype); // true
 * ```
 */
export type ObjectName =
  | "constructor"
  | "hasOwnProperty"
  | "isPrototypeOf"
  | "propertyIsEnumerable"
  | "toLocaleString"
  | "toString"
  | "valueOf";

/**
 * A typed client of a whole service, from an interface or a handler
 * module's type: each method takes its arguments and call options and
 * resolves with its result. See {@linkcode RpcClient.service}.
 *
 * @example
 * ```ts
 * import type { ServiceClient } from "./rpc_client.ts";
 *
 * interface Calc {
 *   add(args: { a: number; b: number }): number;
 * }
 * // What client.service<Calc>("calc") gives; here a stand-in, as in a test.
 * const calc: ServiceClient<Calc> = { add: ({ a, b }) => Promise.resolve(a + b) };
 * console.log(await calc.add({ a: 1, b: 2 })); // 3
 * ```
 */
export type ServiceClient<Service> = {
  [
    Name in keyof Service as Name extends "then" | "toJSON" | ObjectName ? never
      : Service[Name] extends (...args: never[]) => unknown ? Name & string
      : never
  ]: Service[Name] extends (...args: infer Params) => infer Result
    // No arguments, or optional ones: the argument may be left out.
    // What the reply decodes to: the result after a trip through JSON.
    ? MethodCaller<
      [] extends Params ? Params[0] | void : Params[0],
      Sent<Awaited<Result>>
    >
    : never;
};

/**
 * Options of {@linkcode RpcClient.connect}.
 *
 * @example
 * ```ts
 * import type { ClientOptions } from "./rpc_client.ts";
 *
 * const options: ClientOptions = {
 *   url: "amqp://app:secret@rabbit:5672/prod",
 *   replyQueue: "direct",
 *   timeout: 5_000,
 * };
 * console.log(options.replyQueue, options.timeout); // direct 5000
 * ```
 */
export interface ClientOptions extends TransportOptions, ClientInit {}

/**
 * Options of {@linkcode RpcClient.call}.
 *
 * @example
 * ```ts
 * import type { CallOptions } from "./rpc_client.ts";
 *
 * const options: CallOptions = {
 *   timeout: 2_000,
 *   idempotent: true,
 *   properties: { headers: { tenant: "acme" } },
 * };
 * console.log(options.timeout, options.properties?.headers); // 2000 { tenant: "acme" }
 * ```
 */
export interface CallOptions {
  /**
   * How long to wait for the reply, in milliseconds; `Infinity` waits
   * forever. The time spent waiting for a lost connection to come back
   * counts. The request carries what is left of it as its `expiration`, so
   * the broker drops a request nobody waits for any more, and the deadline
   * as its `x-deadline` header.
   */
  timeout?: number;
  /** Aborts the call: it rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Whether the call may be sent again if the connection is lost before its
   * reply comes (default `false`: it rejects with
   * {@linkcode ConnectionLostError}). An idempotent call carries a
   * `message_id` that stays the same when it is sent again, and workers of
   * this library answer a repeat they have already answered from their
   * cache, without running the handler again. The handler may still run
   * more than once (on two workers), so only mark calls that tolerate it.
   */
  idempotent?: boolean;
  /**
   * Whether the request is persistent (`delivery_mode` 2); default: the
   * client's `persistent` option.
   */
  persistent?: boolean;
  /**
   * A W3C `traceparent` to carry to the worker in the request's
   * `traceparent` header, so that the handler's work joins the caller's
   * trace (see `RpcRequest.trace`).
   */
  traceparent?: string;
  /** A W3C `tracestate` to carry with `traceparent`. */
  tracestate?: string;
  /**
   * AMQP properties and headers of the request. `correlationId` and
   * `replyTo` are always the client's own; `expiration` and the
   * `x-deadline` header come from the timeout unless it is `Infinity`;
   * `type` names the method (see {@linkcode RpcClient.method}); `userId`
   * is always the login's (see `sendUserId`): the broker closes the
   * channel for another.
   */
  properties?: MessageProperties;
}

const MAX_TIMER = 2 ** 31 - 1;
const encoder = new TextEncoder();
const TEXT = "text/plain";
const BYTES = "application/octet-stream";

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
  readonly #maxInFlight: number;
  readonly #maxReplyBytes: number;
  readonly #persistent: boolean;
  #sendUserId: boolean;
  readonly #middleware: readonly ClientMiddleware[];
  readonly #registry: MetricsRegistry;
  readonly #metrics: ClientMetrics;
  readonly #pending = new PendingCalls((id, call) => this.#expire(id, call));
  // Correlation ids are a per-client random prefix and a counter: unique,
  // cheap to make, and cheap to look up.
  readonly #prefix = crypto.randomUUID().slice(0, 8) + ".";
  #sequence = 0;
  #state: ConnectionState = "open";
  #lastLoss?: Error;
  #failure?: Error;
  #closing?: Promise<void>;
  #dropped = 0;

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
    checkInit(options);
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
    checkInit(init);
    this.#transport = transport;
    this.#logger = init.logger ?? silentLogger;
    this.#timeout = init.timeout ?? DEFAULT_TIMEOUT;
    this.#maxInFlight = init.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.#maxReplyBytes = init.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    this.#persistent = init.persistent ?? false;
    this.#sendUserId = init.sendUserId ?? true;
    this.#middleware = [...(init.middleware ?? [])];
    this.#registry = init.metrics ?? new MetricsRegistry();
    this.#metrics = new ClientMetrics(this.#registry, {
      inFlight: () => this.#pending.inFlight,
      waiting: () => this.#pending.waiting,
    });
    const state = transport.state ?? "open";
    if (state === "closed" || state === "failed") {
      this.#state = "failed";
      this.#failure = new Error(`The transport is ${state}`);
    } else {
      this.#state = state;
    }
    transport.listen({
      reply: (body, properties) => this.#onReply(body, properties),
      returned: (properties, replyText) =>
        this.#onReturned(properties, replyText),
      lost: (error) => this.#onLost(error),
      restored: () => this.#onRestored(),
      failed: (error) => this.#onFailed(error),
      blocked: (reason) => this.#onBlocked(reason),
      unblocked: () => this.#onUnblocked(),
    });
  }

  /**
   * Where the connection is: `open`, `blocked`, `reconnecting`, `closed` or
   * `failed`.
   */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The number of calls not yet settled (sent or waiting to be sent). */
  get pending(): number {
    return this.#pending.size;
  }

  /** The number of calls sent and waiting for their reply. */
  get inFlight(): number {
    return this.#pending.inFlight;
  }

  /** The number of replies dropped because no call waited for them. */
  get droppedReplies(): number {
    return this.#dropped;
  }

  /**
   * What the client counted since it was made: calls by outcome, error
   * replies by code, timeouts, returns, late replies, latency, and the
   * calls in flight now.
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
    checkQueue(queue);
    checkBody(body);
    if (options.properties !== undefined) checkProperties(options.properties);
    // Copies, down to the headers: middleware may change them, and the
    // caller's own objects (a shared constant, say) must stay as they are.
    const properties = options.properties;
    const call: OutgoingCall = {
      queue,
      method: properties?.type,
      body,
      options: {
        ...options,
        properties: properties && {
          ...properties,
          headers: properties.headers && { ...properties.headers },
        },
      },
    };
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
    checkQueue(queue);
    if (name !== undefined) checkMethod(name);
    return async (args: Args, options: CallOptions = {}): Promise<Result> => {
      const { body, contentType } = encodeValue(args);
      const reply = await this.call(queue, body, {
        ...options,
        properties: { ...options.properties, type: name, contentType },
      });
      try {
        return reply.decode<Result>();
      } catch (cause) {
        throw new ProtocolError(
          `The reply of "${name ?? "(default)"}" on "${queue}" ${
            cause instanceof SyntaxError
              ? "is not valid JSON"
              : `cannot be decoded: ${(cause as Error).message}`
          }`,
          { cause },
        );
      }
    };
  }

  /**
   * A typed client of the whole service on `queue`: `Service` is an
   * interface of its methods, or the type of the module the worker serves
   * (`typeof import("./my_service.ts")`), so arguments and results are
   * checked end to end. Methods named `then`, `toJSON`, or like a property
   * of every object (`toString`, `constructor`, …) cannot be called this way
   * (the object must not look like a promise): use {@linkcode method}.
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
  service<Service>(queue: string): ServiceClient<Service> {
    checkQueue(queue);
    const callers = new Map<string, MethodCaller<unknown, unknown>>();
    const label = `ServiceClient(${JSON.stringify(queue)})`;
    // Deno prints a proxy by its target: name it there.
    const target = Object.create(null);
    Object.defineProperty(target, Symbol.for("Deno.customInspect"), {
      value: () => label,
    });
    return new Proxy(target, {
      get: (_target, name) => {
        if (typeof name === "symbol") {
          // Printing it, or turning it into a string, names it.
          if (name === Symbol.toStringTag) return label;
          if (name === Symbol.toPrimitive) return () => `[${label}]`;
          if (name === Symbol.for("Deno.customInspect")) {
            return Reflect.get(target, name);
          }
          return undefined;
        }
        // Not methods: `then` would make the object look like a promise to
        // `await`, `toJSON` is what JSON.stringify asks for, and the names
        // of Object.prototype are asked for by code that takes it for a
        // plain object. A call for each would go out unasked.
        if (name === "then" || name === "toJSON" || name in Object.prototype) {
          return undefined;
        }
        let caller = callers.get(name);
        if (caller === undefined) {
          caller = this.method(queue, name);
          callers.set(name, caller);
        }
        return caller;
      },
    }) as ServiceClient<Service>;
  }

  #call(
    queue: string,
    body: string | Uint8Array,
    options: CallOptions,
  ): Promise<RpcReply> {
    checkQueue(queue);
    checkBody(body);
    const timeout = options.timeout ?? this.#timeout;
    if (options.timeout !== undefined) checkTimeout(timeout);
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError("signal must be an AbortSignal");
    }
    if (this.#closing) {
      return this.#refuse(
        queue,
        options,
        new ClosedError("RpcClient is closed"),
      );
    }
    if (this.#failure) {
      return this.#refuse(
        queue,
        options,
        new ConnectionLostError(
          `Cannot call "${queue}": the connection is lost for good`,
          { cause: this.#failure },
        ),
      );
    }
    let user = options.properties;
    if (user !== undefined) checkProperties(user);
    const { traceparent, tracestate } = options;
    if (traceparent !== undefined) {
      if (parseTraceparent(traceparent) === undefined) {
        throw new TypeError(
          `traceparent must be a W3C traceparent such as 00-<32 hex>-<16 hex>-01, got ${
            JSON.stringify(traceparent)
          }`,
        );
      }
      if (tracestate !== undefined && typeof tracestate !== "string") {
        throw new TypeError("tracestate must be a string");
      }
      const headers: Record<string, HeaderValue> = {
        ...user?.headers,
        [TRACEPARENT_HEADER]: traceparent,
      };
      if (tracestate !== undefined) headers[TRACESTATE_HEADER] = tracestate;
      user = { ...user, headers };
    }
    if (signal?.aborted) return this.#refuse(queue, options, signal.reason);

    const id = this.#prefix + (this.#sequence++).toString(36);
    const pending = this.#pending;
    const metrics = this.#metrics;
    metrics.started();
    return new Promise<RpcReply>((resolve, reject) => {
      const call = new Call(
        queue,
        body,
        user,
        timeout,
        options.idempotent ? user?.messageId ?? crypto.randomUUID() : undefined,
        options.persistent ?? this.#persistent,
        resolve,
        reject,
        metrics,
      );
      if (signal) {
        call.signal = signal;
        call.onAbort = () => {
          if (pending.take(id)) call.reject(signal.reason);
          this.#pump();
        };
        signal.addEventListener("abort", call.onAbort, { once: true });
      }
      if (
        this.#state === "open" && pending.waiting === 0 &&
        pending.inFlight < this.#maxInFlight
      ) {
        pending.add(id, call, true);
        this.#publish(id, call);
      } else {
        pending.add(id, call);
        this.#pump();
      }
    });
  }

  /** Fails a call before it starts, and counts it. */
  #refuse(
    queue: string,
    options: CallOptions,
    error: unknown,
  ): Promise<never> {
    this.#metrics.started();
    this.#metrics.settled(queue, options.properties?.type, undefined, error);
    return Promise.reject(error);
  }

  /**
   * Closes the connection; calls still waiting reject with
   * {@linkcode ClosedError}. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (!this.#closing) {
      if (this.#state !== "failed") this.#state = "closed";
      this.#pending.rejectAll((call) =>
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

  /** Rejects a call whose timeout passed. */
  #expire(id: string, call: PendingCall): void {
    this.#pending.take(id);
    // A call that never left names what held it back.
    const cause = call.attempts > 0
      ? undefined
      : this.#state === "blocked"
      ? new Error("The broker blocked publishing")
      : this.#state === "reconnecting"
      ? this.#lastLoss
      : undefined;
    call.reject(new TimeoutError(call.queue, call.timeout, { cause }));
    this.#pump();
  }

  /** Sends waiting calls while the connection takes them. */
  #pump(): void {
    const pending = this.#pending;
    while (
      pending.waiting > 0 && this.#state === "open" &&
      pending.inFlight < this.#maxInFlight
    ) {
      const [id, call] = pending.firstWaiting()!;
      this.#send(id, call);
    }
  }

  #send(id: string, call: PendingCall): void {
    this.#pending.markSent(id, call);
    this.#publish(id, call);
  }

  /** Publishes a call already counted as sent. */
  #publish(id: string, call: PendingCall): void {
    const pending = this.#pending;
    const attempt = call.attempts;
    const user = call.properties;
    let properties: MessageProperties;
    if (user === undefined) {
      // The common case, as one object literal: V8 gives it a fast shape.
      properties = {
        correlationId: id,
        replyTo: this.#transport.replyTo,
        contentType: typeof call.body === "string" ? TEXT : BYTES,
        userId: this.#sendUserId ? this.#transport.userId : undefined,
      };
    } else {
      properties = { ...user };
      // The broker closes the channel (and so fails every call in flight)
      // for a user_id other than the connection's own: only the login's.
      properties.userId = this.#sendUserId ? this.#transport.userId : undefined;
      properties.correlationId = id;
      properties.replyTo = this.#transport.replyTo;
      properties.contentType ??= typeof call.body === "string" ? TEXT : BYTES;
    }
    if (call.persistent && properties.deliveryMode === undefined) {
      properties.deliveryMode = 2;
    }
    let headers = user?.headers;
    if (call.deadline !== Infinity) {
      // What is left of the timeout: a call that waited for a reconnection
      // must not outlive its caller in the queue.
      properties.expiration = String(
        Math.max(1, Math.ceil(call.deadline - Date.now())),
      );
      headers = headers === undefined
        ? { [DEADLINE_HEADER]: call.deadline }
        : { ...headers, [DEADLINE_HEADER]: call.deadline };
    }
    if (call.messageId !== undefined) {
      properties.messageId = call.messageId;
      headers = { ...headers, [IDEMPOTENT_HEADER]: true };
    }
    if (headers !== undefined) properties.headers = headers;
    let published: Promise<unknown>;
    try {
      published = this.#transport.publish(call.queue, call.body, properties);
    } catch (error) {
      // A transport that throws instead of rejecting.
      published = Promise.reject(error);
    }
    published.catch(
      (cause) => {
        // Settled meanwhile, or already handled by the loss of the
        // connection and sent again.
        if (pending.get(id) !== call || call.attempts !== attempt) return;
        if (!call.sent) return;
        if (cause instanceof TypeError || cause instanceof RangeError) {
          // An encoding failure is the caller's bad argument.
          pending.take(id);
          call.reject(cause);
        } else if (
          this.#state === "blocked" ||
          (call.messageId !== undefined && this.#state === "reconnecting")
        ) {
          // Refused before it left while the broker blocks publishing, or
          // idempotent and the connection went away under it: send it again
          // once the connection takes it. (While the connection looks open,
          // sending again at once could fail the same way forever, so the
          // call fails instead.)
          pending.unsend(id, call);
        } else {
          pending.take(id);
          call.reject(
            new ConnectionLostError(
              `Cannot call "${call.queue}": the request could not be sent`,
              { cause },
            ),
          );
        }
        this.#pump();
      },
    );
  }

  #onReply(body: Uint8Array, properties: MessageProperties): void {
    const call = this.#pending.take(properties.correlationId);
    if (call === undefined) {
      // Not ours, or no longer awaited: a late reply to a call that timed
      // out or was aborted, or a duplicate sent when a worker died between
      // replying and acking and the request was redelivered. The tutorial's
      // rule applies: discard it, it is not an error.
      this.#dropped++;
      this.#metrics.lateReply();
      this.#logger.debug(
        `Dropped a reply with unknown correlation id ${properties.correlationId}`,
      );
      return;
    }
    this.#pump();
    if (body.byteLength > this.#maxReplyBytes) {
      call.reject(
        new ProtocolError(
          `The reply from "${call.queue}" has ${body.byteLength} bytes; this client accepts at most ${this.#maxReplyBytes} (maxReplyBytes)`,
        ),
      );
      return;
    }
    const code = properties.headers?.[ERROR_HEADER];
    if (code === undefined || code === null) {
      call.resolve(new RpcReply(body, properties));
      return;
    }
    const error = decodeErrorReply(String(code), body, {
      method: call.properties?.type,
    });
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
    this.#pump();
  }

  #onLost(error: Error): void {
    if (this.#closing) return;
    this.#state = "reconnecting";
    this.#lastLoss = error;
    this.#logger.error(`Connection lost: ${error.message}`);
    if (this.#sendUserId && /user_id property set to/.test(error.message)) {
      // The broker authenticates the login as another name (an OAuth 2
      // token's, say) and closes the channel for every request: send none
      // rather than lose every call.
      this.#sendUserId = false;
      this.#logger.error(
        "The broker refused the login's user name as user_id: requests go without user_id from now on (set sendUserId: false to start that way)",
      );
    }
    let resent = 0;
    for (const [id, call] of this.#pending.sentCalls()) {
      if (call.messageId !== undefined) {
        this.#pending.unsend(id, call);
        resent++;
        continue;
      }
      this.#pending.take(id);
      call.reject(
        new ConnectionLostError(
          `Call to "${call.queue}" lost: the connection closed before its reply came`,
          { cause: error },
        ),
      );
    }
    this.#metrics.disconnected();
    if (resent > 0) {
      this.#metrics.resend(resent);
      this.#logger.info(
        `${resent} idempotent call(s) will be sent again after reconnecting`,
      );
    }
    this.#emit("disconnect", { error });
  }

  #onRestored(): void {
    if (this.#closing) return;
    this.#state = this.#transport.state === "blocked" ? "blocked" : "open";
    this.#logger.info("Reconnected");
    this.#metrics.reconnected();
    this.#emit("reconnect");
    this.#pump();
  }

  #onFailed(error: Error): void {
    if (this.#closing) return;
    this.#state = "failed";
    this.#failure = error;
    this.#pending.rejectAll((call) =>
      new ConnectionLostError(
        `Call to "${call.queue}" failed: the connection is lost for good`,
        { cause: error },
      )
    );
    this.#emit("failed", { error });
  }

  #onBlocked(reason: string): void {
    if (this.#closing || this.#state !== "open") return;
    this.#state = "blocked";
    this.#logger.warn(
      `The broker blocks publishing (${reason}): calls wait until it unblocks`,
    );
    this.#emit("blocked", { reason });
  }

  #onUnblocked(): void {
    if (this.#closing || this.#state !== "blocked") return;
    this.#state = "open";
    this.#logger.info("The broker unblocked publishing");
    this.#emit("unblocked");
    this.#pump();
  }

  #emit(
    type: ConnectionEventType,
    init?: { error?: Error; reason?: string },
  ): void {
    this.dispatchEvent(new ConnectionEvent(type, init));
  }
}

/**
 * A call in the pending map. Its `resolve` and `reject` count it before they
 * settle its promise; as methods, not closures, they cost no allocation per
 * call (the hot path makes tens of thousands of calls a second).
 */
class Call implements PendingCall {
  readonly deadline: number;
  attempts = 0;
  sent = false;
  signal?: AbortSignal;
  onAbort?: () => void;
  readonly started: number = performance.now();
  readonly #resolve: (reply: RpcReply) => void;
  readonly #reject: (error: unknown) => void;
  readonly #metrics: ClientMetrics;

  constructor(
    readonly queue: string,
    readonly body: string | Uint8Array,
    readonly properties: MessageProperties | undefined,
    readonly timeout: number,
    readonly messageId: string | undefined,
    readonly persistent: boolean,
    resolve: (reply: RpcReply) => void,
    reject: (error: unknown) => void,
    metrics: ClientMetrics,
  ) {
    this.deadline = timeout === Infinity ? Infinity : Date.now() + timeout;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#metrics = metrics;
  }

  resolve(reply: RpcReply): void {
    try {
      this.#metrics.settled(this.queue, this.properties?.type, this.started);
    } finally {
      this.#resolve(reply);
    }
  }

  reject(error: unknown): void {
    try {
      this.#metrics.settled(
        this.queue,
        this.properties?.type,
        this.started,
        error,
      );
    } finally {
      this.#reject(error);
    }
  }
}

function checkInit(init: ClientInit): void {
  if (init.timeout !== undefined) checkTimeout(init.timeout);
  const { maxInFlight, maxReplyBytes, persistent, sendUserId, middleware } =
    init;
  if (persistent !== undefined && typeof persistent !== "boolean") {
    throw new TypeError(`persistent must be a boolean, got ${persistent}`);
  }
  if (sendUserId !== undefined && typeof sendUserId !== "boolean") {
    throw new TypeError(`sendUserId must be a boolean, got ${sendUserId}`);
  }
  if (middleware !== undefined) {
    if (!Array.isArray(middleware)) {
      throw new TypeError("middleware must be an array of functions");
    }
    middleware.forEach((item, i) => {
      if (typeof item !== "function") {
        throw new TypeError(`middleware[${i}] must be a function`);
      }
    });
  }
  if (
    maxInFlight !== undefined &&
    !(Number.isInteger(maxInFlight) && maxInFlight >= 1)
  ) {
    throw new RangeError(
      `maxInFlight must be a positive integer, got ${maxInFlight}`,
    );
  }
  if (maxReplyBytes !== undefined && !(maxReplyBytes >= 0)) {
    throw new RangeError(
      `maxReplyBytes must be a non-negative number, got ${maxReplyBytes}`,
    );
  }
}

function checkBody(body: unknown): void {
  if (typeof body !== "string" && !(body instanceof Uint8Array)) {
    throw new TypeError("body must be a string or a Uint8Array");
  }
}

function checkMethod(name: string): void {
  if (typeof name !== "string" || name === "") {
    throw new TypeError("A method name must be a non-empty string");
  }
  if (name.includes("\0")) {
    throw new TypeError("A method name must not contain NUL characters");
  }
  if (name.length > 85 && encoder.encode(name).length > 255) {
    throw new RangeError("A method name must be at most 255 bytes long");
  }
}

function checkQueue(queue: string): void {
  if (typeof queue !== "string" || queue === "") {
    throw new TypeError("queue must be a non-empty string");
  }
  if (queue.includes("\0")) {
    throw new TypeError("queue must not contain NUL characters");
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
