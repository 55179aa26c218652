/**
 * The options of `serve`, their defaults, and their checks, in one place:
 * {@linkcode resolveServeOptions} turns what the user gave into what the
 * worker runs with.
 *
 * @module
 */

import {
  type ConnectionOptions,
  defaultConnectionName,
} from "../amqp/connection.ts";
import {
  checkBoolean,
  checkInteger,
  checkName,
  checkNonNegative,
  checkOneOf,
  checkTimeout,
  optionTypeError,
} from "../checks.ts";
import { type Logger, silentLogger } from "../observability/logger.ts";
import { MetricsRegistry } from "../observability/metrics/registry.ts";
import type { HeaderValue } from "../protocol/properties.ts";
import {
  QUEUE_TYPES,
  type QueueOption,
  type QueueType,
  type RequestQueue,
} from "../protocol/queue.ts";
import type { RpcHandler, RpcMethods } from "./methods.ts";
import type { ServerMiddleware } from "./middleware.ts";
import { DEFAULT_REPLY_CACHE_SIZE } from "./_reply_cache.ts";
import { Router } from "./_router.ts";

/** The queue of the tutorial, consumed when none is given. */
export const DEFAULT_QUEUE = "rpc_queue";

/** The default delivery limit of quorum request queues. */
export const DEFAULT_DELIVERY_LIMIT = 5;

/** How long a closing worker lets running handlers finish, by default. */
export const DEFAULT_GRACE_PERIOD = 10_000;

/**
 * The longest a handler may run by default, in milliseconds (5 minutes):
 * the bound for requests without a deadline, such as the tutorial's.
 */
export const DEFAULT_MAX_HANDLER_TIME = 300_000;

/** The default largest request body a worker accepts: 1 MiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

/** The options that shape the queue's declaration, in order. */
const QUEUE_OPTIONS: readonly QueueOption[] = Object.freeze([
  "queueType",
  "deliveryLimit",
  "deadLetterQueue",
  "queueArguments",
]);

/**
 * The request queue as today's RabbitMQ tutorials declare `rpc_queue` in
 * every language: a quorum queue, `durable=true`, arguments
 * `{x-queue-type: quorum}` and nothing else (no delivery limit, no
 * dead-letter queue). A worker that declares it so lets a tutorial worker
 * start after it on the same queue. (On RabbitMQ 4 such a queue has a
 * delivery limit of 20 all the same, the broker's default; 3.x has none.)
 *
 * @example
 * ```ts ignore
 * import { serve, TUTORIAL_QUORUM_QUEUE } from "../../mod.ts";
 *
 * const server = await serve({ ...TUTORIAL_QUORUM_QUEUE }, (request) => request.text());
 * ```
 */
export const TUTORIAL_QUORUM_QUEUE: Readonly<
  Required<
    Pick<ServeOptions, "queueType" | "deliveryLimit" | "deadLetterQueue">
  >
> = Object.freeze({
  queueType: "quorum",
  deliveryLimit: false,
  deadLetterQueue: false,
});

/**
 * Options of `serve`.
 *
 * @example
 * ```ts
 * import type { ServeOptions } from "./options.ts";
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
  /**
   * The queue to consume.
   *
   * @default {"rpc_queue"}
   */
  queue?: string;
  /**
   * How many requests this worker handles at once (`basic.qos`), from 1 to
   * 65535; 1, as in the tutorial, deals requests round-robin.
   *
   * @default {1}
   */
  prefetch?: number;
  /**
   * Arguments of the queue declaration (e.g. `x-max-length`), when the
   * worker declares the queue. Given, a queue that exists must have them.
   * The default, none, is the tutorial's declaration, which its programs in
   * other languages share.
   *
   * @default {{}}
   */
  queueArguments?: Record<string, HeaderValue>;
  /**
   * The type of the request queue, when the worker declares it (it finds
   * it missing): `classic`, declared as the seed tutorial declares it (not
   * durable, no arguments), or `quorum`: durable and replicated across a
   * cluster's nodes, with a delivery limit and a dead-letter queue unless
   * `deliveryLimit` and `deadLetterQueue` are `false` (see
   * {@linkcode TUTORIAL_QUORUM_QUEUE} for today's tutorials' declaration).
   *
   * A queue that exists is consumed as it is, whatever its type; given
   * explicitly, this option demands that type of it, and a queue of
   * another type is refused with a {@linkcode QueueError} that says so.
   *
   * Where the worker knows the queue's delivery limit (it declared the
   * queue with one, or checked `deliveryLimit` against it), an idempotent
   * request whose handler fails unexpectedly (an error reply with code
   * `INTERNAL`) goes back to the queue for another try, on this worker or
   * another; its last try is answered with the error and parked in the
   * dead-letter queue instead of looping. On any other queue, failures are
   * answered at once and never handed back.
   *
   * @default {"classic"}
   */
  queueType?: QueueType;
  /**
   * Quorum queues: how many times a request is handed back before it is
   * parked (`x-delivery-limit`), or `false` to declare none. Every return
   * counts, those of workers that stop or lose their connection while
   * holding it too. Given explicitly, a queue that exists must have it
   * (checked), and the worker then tries failed requests again on it.
   *
   * @default {5}
   */
  deliveryLimit?: number | false;
  /**
   * Quorum queues: the queue where parked requests go (declared as a
   * quorum queue too), or `false` for none (the broker drops them). Given
   * explicitly, a queue that exists must dead-letter there.
   *
   * @default {"<queue>.dead-letter"}
   */
  deadLetterQueue?: string | false;
  /**
   * Requests with a larger body, in bytes, get a `TOO_LARGE` error reply
   * without running the handler.
   *
   * @default {1048576}
   */
  maxRequestBytes?: number;
  /**
   * How long `RpcServer.close` lets running handlers finish before it
   * aborts their signals, in milliseconds.
   *
   * @default {10000}
   */
  gracePeriod?: number;
  /**
   * How many replies to idempotent calls the worker remembers, by caller
   * and idempotency key, to answer a repeat without running the handler
   * again (at most 32 MiB of them); 0 turns the cache off.
   *
   * @default {10000}
   */
  replyCacheSize?: number;
  /**
   * The longest a handler may run, in milliseconds, whatever its caller's
   * deadline. A handler still running past it, or past its caller's
   * deadline by a grace of a second, has its signal aborted and its
   * request answered `DEADLINE_EXCEEDED` and acked, so that its prefetch
   * slot frees; it is counted and logged as stuck until it stops.
   *
   * @default {300000}
   */
  maxHandlerTime?: number;
  /**
   * How many stuck handlers (running past their time, see
   * `maxHandlerTime`) the worker tolerates: at this many it stops
   * consuming for good and reports itself unhealthy (`/healthz` answers
   * 503), so that an orchestrator restarts it. Defaults to the prefetch.
   */
  maxStuckHandlers?: number;
  /**
   * Whether callers see the message of every error a handler throws. By
   * default only a `HandlerError`'s message reaches the caller; any other
   * error (which may hold a connection string, a host, a query) reaches it
   * as its code and an error id, logged by the worker beside the full
   * error. Turn on for development only.
   *
   * @default {false}
   */
  exposeErrors?: boolean;
  /**
   * Whether replies carry the login's user name as their `user_id`, which
   * the broker vouches for, so that callers may check who answered them
   * (the client's `replyUserId`). Turned off by itself, with an error line,
   * if the broker refuses it (a login it authenticates as another name).
   *
   * @default {true}
   */
  sendUserId?: boolean;
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
   * tutorial's clients do.
   *
   * @default {the only method, if there is one}
   */
  defaultMethod?: string;
  /**
   * Runs around every request, the first outermost: for authorization,
   * logging, metrics or tracing. See {@linkcode ServerMiddleware}. With
   * `methods`, it runs once a request is routed to a method: a request for
   * a method that does not exist is answered `METHOD_NOT_FOUND` before any.
   *
   * @default {[]}
   */
  middleware?: readonly ServerMiddleware[];
  /**
   * Where the worker counts its requests, for Prometheus (by default a
   * registry of its own, as `RpcServer.metrics`).
   */
  metrics?: MetricsRegistry;
}

/**
 * What a worker runs with: the options checked, with their defaults.
 *
 * @example
 * ```ts
 * import { resolveServeOptions, type WorkerConfig } from "./options.ts";
 *
 * const config: WorkerConfig = resolveServeOptions({ queue: "echo" }, (r) => r.text());
 * console.log(config.queue.name, config.prefetch); // echo 1
 * ```
 */
export interface WorkerConfig extends ConnectionOptions {
  /** The request queue and its declaration. */
  readonly queue: RequestQueue;
  /** The prefetch. */
  readonly prefetch: number;
  /** Routes requests to what answers them. */
  readonly router: Router;
  /** The largest request body accepted. */
  readonly maxRequestBytes: number;
  /** How long a close lets handlers finish. */
  readonly gracePeriod: number;
  /** How many replies the cache holds. */
  readonly replyCacheSize: number;
  /** The longest a handler may run. */
  readonly maxHandlerTime: number;
  /** How many stuck handlers make the worker stop consuming. */
  readonly maxStuckHandlers: number;
  /** Whether callers see every error's message. */
  readonly exposeErrors: boolean;
  /** Whether replies carry the login's user name as `user_id`. */
  readonly sendUserId: boolean;
  /** Where the worker counts. */
  readonly metrics: MetricsRegistry;
  /** Where it reports. */
  readonly logger: Logger;
  /** The name the broker shows for its connection. */
  readonly connectionName: string;
}

/**
 * Checks `serve`'s options and fills in the defaults.
 *
 * @example
 * ```ts
 * import { resolveServeOptions } from "./options.ts";
 *
 * const config = resolveServeOptions({ queue: "calc", methods: { add: () => 0 } });
 * console.log(config.router.defaultMethod); // add
 * ```
 *
 * @throws {TypeError} for an option of the wrong type, or both or neither of
 * a handler and `methods`.
 * @throws {RangeError} for an option out of range.
 */
export function resolveServeOptions(
  options: ServeOptions,
  handler?: RpcHandler,
): WorkerConfig {
  const queue = checkName("queue", options.queue ?? DEFAULT_QUEUE);
  let router: Router;
  if (options.methods !== undefined) {
    if (handler !== undefined) {
      throw optionTypeError(
        "methods",
        "must not be given with a handler: pass one or the other",
      );
    }
    router = Router.ofMethods(options.methods, {
      defaultMethod: options.defaultMethod,
      middleware: options.middleware,
    });
  } else {
    if (options.defaultMethod !== undefined) {
      throw optionTypeError("defaultMethod", "needs options.methods");
    }
    router = Router.ofHandler(handler!, { middleware: options.middleware });
  }
  const type = checkOneOf("queueType", options.queueType ?? "classic", {
    choices: QUEUE_TYPES,
  });
  const deliveryLimit = options.deliveryLimit === false ? false : checkInteger(
    "deliveryLimit",
    options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT,
    { min: 0 },
  );
  const deadLetterQueue = options.deadLetterQueue ?? `${queue}.dead-letter`;
  if (deadLetterQueue !== false) checkName("deadLetterQueue", deadLetterQueue);
  const arguments_ = options.queueArguments ?? {};
  if (typeof arguments_ !== "object" || arguments_ === null) {
    throw optionTypeError("queueArguments", "must be an object");
  }
  const demands = QUEUE_OPTIONS.filter((option) =>
    options[option] !== undefined
  );
  for (const option of ["deliveryLimit", "deadLetterQueue"] as const) {
    if (type === "classic" && options[option] !== undefined) {
      throw optionTypeError(
        option,
        "is for quorum queues only: set the queue type to quorum too",
      );
    }
  }
  checkBoolean("exposeErrors", options.exposeErrors);
  checkBoolean("sendUserId", options.sendUserId);
  const prefetch = checkInteger("prefetch", options.prefetch ?? 1, {
    min: 1,
    max: 65535,
  });
  return {
    url: options.url,
    tls: options.tls,
    reconnect: options.reconnect,
    queue: {
      name: queue,
      type,
      deliveryLimit,
      deadLetterQueue: type === "quorum" ? deadLetterQueue : false,
      arguments: arguments_,
      demands,
    },
    prefetch,
    router,
    maxRequestBytes: checkNonNegative(
      "maxRequestBytes",
      options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
    ),
    gracePeriod: checkNonNegative(
      "gracePeriod",
      options.gracePeriod ?? DEFAULT_GRACE_PERIOD,
    ),
    replyCacheSize: checkInteger(
      "replyCacheSize",
      options.replyCacheSize ?? DEFAULT_REPLY_CACHE_SIZE,
      { min: 0 },
    ),
    maxHandlerTime: checkTimeout(
      "maxHandlerTime",
      options.maxHandlerTime ?? DEFAULT_MAX_HANDLER_TIME,
    ),
    maxStuckHandlers: checkInteger(
      "maxStuckHandlers",
      options.maxStuckHandlers ?? prefetch,
      { min: 1 },
    ),
    exposeErrors: options.exposeErrors ?? false,
    sendUserId: options.sendUserId ?? true,
    metrics: options.metrics ?? new MetricsRegistry(),
    logger: options.logger ?? silentLogger,
    connectionName: options.connectionName ??
      defaultConnectionName(`worker ${queue}`),
  };
}
