/**
 * The options of a client and of its calls, their defaults, and their
 * checks.
 *
 * @module
 */

import type { ConnectionOptions } from "../amqp/connection.ts";
import {
  checkBoolean,
  checkFunctions,
  checkInteger,
  checkName,
  checkNonNegative,
  checkOneOf,
  checkTimeout,
} from "../checks.ts";
import type { Logger } from "../observability/logger.ts";
import type { MetricsRegistry } from "../observability/metrics/registry.ts";
import type { MessageProperties } from "../protocol/properties.ts";
import type { ClientMiddleware } from "./middleware.ts";

/** The timeout of a call that sets none, in milliseconds. */
export const DEFAULT_TIMEOUT = 30_000;

/** The default cap on calls in flight per client. */
export const DEFAULT_MAX_IN_FLIGHT = 10_000;

/** The default largest reply body a client accepts: 16 MiB. */
export const DEFAULT_MAX_REPLY_BYTES = 16 * 1024 * 1024;

/**
 * Where replies come back: `exclusive`, an exclusive server-named queue as
 * in the tutorial, or `direct`, RabbitMQ's direct reply-to.
 *
 * @example
 * ```ts
 * import type { ReplyQueue } from "./options.ts";
 *
 * const replyQueue: ReplyQueue = "direct";
 * console.log(replyQueue); // direct
 * ```
 */
export type ReplyQueue = "direct" | "exclusive";

/** The reply paths, for checks. */
export const REPLY_QUEUES: readonly ReplyQueue[] = ["direct", "exclusive"];

/**
 * Options of a client that is given its transport (see the `RpcClient`
 * constructor).
 *
 * @example
 * ```ts
 * import type { ClientInit } from "./options.ts";
 *
 * const init: ClientInit = { timeout: 5_000, maxInFlight: 100 };
 * console.log(init.timeout, init.maxInFlight); // 5000 100
 * ```
 */
export interface ClientInit {
  /** Where to report what happens (by default nowhere). */
  logger?: Logger;
  /**
   * The default timeout of calls, in milliseconds.
   *
   * @default {30000}
   */
  timeout?: number;
  /**
   * How many calls may be in flight at once; calls beyond it wait to be
   * sent, within their own timeout.
   *
   * @default {10000}
   */
  maxInFlight?: number;
  /**
   * The largest reply body accepted, in bytes; a larger reply rejects its
   * call with `ProtocolError`.
   *
   * @default {16777216}
   */
  maxReplyBytes?: number;
  /**
   * Whether requests are persistent (`delivery_mode` 2) unless a call says
   * otherwise: on a durable classic queue (declared by others; this
   * library's classic queues are not durable) a persistent request survives
   * a broker restart, at the cost of a disk write. Quorum queues keep every
   * message on disk whatever its delivery mode.
   *
   * @default {false}
   */
  persistent?: boolean;
  /**
   * The user the workers this client calls connect as, for every call that
   * does not name its own (see `CallOptions.replyUserId`): replies whose
   * `user_id` is another are dropped as forged.
   */
  replyUserId?: string;
  /**
   * Whether each request carries the login's user name as its `user_id`:
   * RabbitMQ refuses a `user_id` other than the publishing connection's
   * (but from users with the `impersonator` tag), so the worker can trust
   * it to tell who called. Where the broker authenticates the login as
   * another name (an OAuth 2 token's, say), it refuses each request; the
   * client then stops sending it, says so in an error line of its logger,
   * and carries on (see `RpcRequest.userId`).
   *
   * @default {true}
   */
  sendUserId?: boolean;
  /**
   * Runs around every call, the first outermost: to add headers, log, time
   * or trace calls. See {@linkcode ClientMiddleware}.
   *
   * @default {[]}
   */
  middleware?: readonly ClientMiddleware[];
  /**
   * Where the client counts its calls, for Prometheus (by default a
   * registry of its own, as `RpcClient.metrics`). Clients and workers may
   * share one: their counts (and `stats()`) then add up.
   */
  metrics?: MetricsRegistry;
}

/**
 * Options of `RpcClient.connect`.
 *
 * @example
 * ```ts
 * import type { ClientOptions } from "./options.ts";
 *
 * const options: ClientOptions = {
 *   url: "amqp://app:secret@rabbit:5672/prod",
 *   replyQueue: "direct",
 *   timeout: 5_000,
 * };
 * console.log(options.replyQueue, options.timeout); // direct 5000
 * ```
 */
export interface ClientOptions extends ConnectionOptions, ClientInit {
  /**
   * Where replies come back: an exclusive, server-named queue, as in the
   * tutorial, or RabbitMQ's direct reply-to (no queue, but in RabbitMQ 3.10
   * it cost the broker about a fifth more CPU per call than a reply queue
   * in `deno task bench`).
   *
   * @default {"exclusive"}
   */
  replyQueue?: "direct" | "exclusive";
}

/**
 * Options of `RpcClient.call`.
 *
 * @example
 * ```ts
 * import type { CallOptions } from "./options.ts";
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
   *
   * @default {the client's `timeout`}
   */
  timeout?: number;
  /** Aborts the call: it rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Whether the call may be sent again if the connection is lost before its
   * reply comes (otherwise it rejects with `ConnectionLostError`). An
   * idempotent call carries a `message_id` that stays the same when it is
   * sent again, and workers of this library answer a repeat they have
   * already answered from their cache, without running the handler again.
   * The handler may still run more than once (on two workers), so only mark
   * calls that tolerate it.
   *
   * @default {false}
   */
  idempotent?: boolean;
  /**
   * Whether the request is persistent (`delivery_mode` 2).
   *
   * @default {the client's `persistent`}
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
   * The user the worker answering this call connects as: a reply is
   * accepted only if its `user_id` (which the broker vouches for, and the
   * worker sets on its replies) is this one. Replies from anyone else who
   * knows the reply address (a worker of another service, say) are dropped
   * and counted, and the call waits on for its real reply.
   *
   * @default {the client's `replyUserId`: none, any reply is accepted}
   */
  replyUserId?: string;
  /**
   * AMQP properties and headers of the request. `correlationId` and
   * `replyTo` are always the client's own; `expiration` and the
   * `x-deadline` header come from the timeout unless it is `Infinity`;
   * `type` names the method (see `RpcClient.method`); `userId` is always
   * the login's (see `sendUserId`): the broker closes the channel for
   * another.
   */
  properties?: MessageProperties;
}

/**
 * Checks the options of a client.
 *
 * @example
 * ```ts
 * import { checkClientInit } from "./options.ts";
 *
 * checkClientInit({ timeout: 5_000, maxInFlight: 100 });
 * ```
 *
 * @throws {TypeError} for an option of the wrong type.
 * @throws {RangeError} for an option out of range.
 */
export function checkClientInit(init: ClientOptions): void {
  if (init.timeout !== undefined) checkTimeout("timeout", init.timeout);
  checkBoolean("persistent", init.persistent);
  checkBoolean("sendUserId", init.sendUserId);
  if (init.replyUserId !== undefined) {
    checkName("replyUserId", init.replyUserId);
  }
  if (init.middleware !== undefined) {
    checkFunctions("middleware", init.middleware);
  }
  if (init.maxInFlight !== undefined) {
    checkInteger("maxInFlight", init.maxInFlight, { min: 1 });
  }
  if (init.maxReplyBytes !== undefined) {
    checkNonNegative("maxReplyBytes", init.maxReplyBytes);
  }
  if (init.replyQueue !== undefined) {
    checkOneOf("replyQueue", init.replyQueue, { choices: REPLY_QUEUES });
  }
}
