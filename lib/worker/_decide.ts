/**
 * What a worker does with each delivery, decided without I/O, in two steps
 * (`PROTOCOL.md` section 5.2):
 *
 * 1. {@linkcode admit}, when a request arrives: drop it (no reply can reach
 *    anyone), refuse it with an error reply without running anything (past
 *    its deadline, too large, no such method), answer it from the reply
 *    cache, or run its method;
 * 2. {@linkcode conclude}, once its reply is known: ack it, hand it back
 *    for another try (quorum queues), park it in the dead-letter queue
 *    after its last try, or requeue it (the worker is closing).
 *
 * The worker (`rpc_server.ts`) does the I/O around them: deliver → decide →
 * run → reply → ack. A new outcome is one more case of a union here and
 * one more `case` there. The decisions on the hot path (run, then ack) are
 * objects made once per route and strings: no allocation per delivery.
 *
 * @module
 */

import { fitsShortString } from "../checks.ts";
import { errorReply } from "../protocol/error_reply.ts";
import type { Reply } from "../protocol/reply.ts";
import {
  deadlineOf,
  DELIVERY_COUNT_HEADER,
  deliveryCountOf,
  isIdempotent,
} from "../protocol/request.ts";
import { cacheKeyOf, fingerprintOf, type ReplyCache } from "./_reply_cache.ts";
import type { ReplyToGuard } from "./_reply_to_guard.ts";
import type { Route, Router } from "./_router.ts";
import type { Delivery } from "./transport.ts";

/**
 * Ack the request without a reply: nobody could read one (no `reply_to`,
 * or one no reply can reach).
 */
export interface DropAdmission {
  readonly kind: "drop";
  /** Why, for the log. */
  readonly reason: "no reply_to" | "unanswerable";
}

/** Answer the request with an error reply without running its method. */
export interface RefuseAdmission {
  readonly kind: "refuse";
  /** Why: each is counted and logged its own way. */
  readonly reason: "expired" | "too large" | "no such method" | "reused key";
  /** The error reply. */
  readonly reply: Reply;
  /** Its route (the unknown route for `no such method`), for metrics. */
  readonly route: Route | undefined;
}

/**
 * Answer a repeat of an idempotent call (the same caller, key, method and
 * body) with the reply of the first, once the middleware lets it pass.
 */
export interface ReuseAdmission {
  readonly kind: "reuse";
  /** The cached reply, or the promise of it while the first still runs. */
  readonly reply: Promise<Reply | undefined>;
  /** Its route. */
  readonly route: Route;
}

/** Where the reply of an idempotent call is remembered. */
export interface CacheSlot {
  /** Its key in the reply cache: the caller's scope and idempotency key. */
  readonly key: string;
  /** The request's method and body digest. */
  readonly fingerprint: string;
}

/** Run the route's method, and maybe remember its reply. */
export interface RunAdmission {
  readonly kind: "run";
  /** The route to run. */
  readonly route: Route;
  /** Where to remember the reply of an idempotent call; none for others. */
  readonly remember: CacheSlot | undefined;
}

/**
 * What to do with a request that just arrived.
 *
 * @example
 * ```ts
 * import type { Admission } from "./_decide.ts";
 *
 * const describe = (admission: Admission): string => {
 *   switch (admission.kind) {
 *     case "drop":
 *       return `dropped: ${admission.reason}`;
 *     case "refuse":
 *       return `refused: ${admission.reason}`;
 *     case "reuse":
 *       return "answered from the cache";
 *     case "run":
 *       return `run ${admission.route.name}`;
 *   }
 * };
 * console.log(describe({ kind: "drop", reason: "no reply_to" })); // dropped: no reply_to
 * ```
 */
export type Admission =
  | DropAdmission
  | RefuseAdmission
  | ReuseAdmission
  | RunAdmission;

/**
 * What to do with a request once its reply is known:
 * - `ack`: send the reply, then ack the request;
 * - `park`: send the reply, then reject the request without requeueing it,
 *   so that a quorum queue dead-letters it (its last try);
 * - `retry`: no reply; hand the request back to the queue for another try;
 * - `requeue`: no reply; hand it back because this worker is closing.
 *
 * @example
 * ```ts
 * import type { Conclusion } from "./_decide.ts";
 *
 * const sendsReply = (conclusion: Conclusion) =>
 *   conclusion === "ack" || conclusion === "park";
 * console.log(sendsReply("retry")); // false
 * ```
 */
export type Conclusion = "ack" | "park" | "retry" | "requeue";

/**
 * What the decisions depend on besides the delivery: the worker's limits
 * and what it knows.
 *
 * @example
 * ```ts
 * import { Router } from "./_router.ts";
 * import { ReplyCache } from "./_reply_cache.ts";
 * import { ReplyToGuard } from "./_reply_to_guard.ts";
 * import type { Policy } from "./_decide.ts";
 *
 * const policy: Policy = {
 *   queue: "rpc_queue",
 *   router: Router.ofHandler((request) => request.text()),
 *   maxRequestBytes: 1024 * 1024,
 *   cache: new ReplyCache(100),
 *   replyTo: new ReplyToGuard(),
 *   deliveryLimit: undefined,
 * };
 * console.log(policy.maxRequestBytes); // 1048576
 * ```
 */
export interface Policy {
  /** The queue, for messages. */
  readonly queue: string;
  /** Routes requests to methods. */
  readonly router: Router;
  /** Requests with a larger body are refused `TOO_LARGE`. */
  readonly maxRequestBytes: number;
  /** Replies to idempotent calls, by caller and idempotency key. */
  readonly cache: ReplyCache;
  /** What is known of direct reply-to addresses. */
  readonly replyTo: ReplyToGuard;
  /**
   * The queue's delivery limit, where a failed idempotent request is handed
   * back for another try (a quorum queue this worker declared with one);
   * `undefined` where requests are never handed back.
   */
  readonly deliveryLimit: number | undefined;
}

const NO_REPLY_TO: DropAdmission = Object.freeze({
  kind: "drop",
  reason: "no reply_to",
});
const UNANSWERABLE: DropAdmission = Object.freeze({
  kind: "drop",
  reason: "unanswerable",
});
const EXPIRED_REPLY: Reply = errorReply({
  code: "DEADLINE_EXCEEDED",
  name: "TimeoutError",
  message: "The deadline passed before the request was handled",
});

/**
 * Decides what to do with a request that just arrived at `now` (epoch
 * milliseconds), in this order: drop it if no reply can reach its caller,
 * refuse it if its deadline passed (answered anyway, in case the caller's
 * clock runs behind ours and it still waits), if it is too large, or if it
 * names no method of this worker; refuse an idempotency key its caller
 * used before for another request; answer a repeat of an idempotent call
 * from the cache (the middleware still runs, and may refuse it); else run
 * it.
 *
 * @example
 * ```ts
 * import { admit, type Policy } from "./_decide.ts";
 * import { Router } from "./_router.ts";
 * import { ReplyCache } from "./_reply_cache.ts";
 * import { ReplyToGuard } from "./_reply_to_guard.ts";
 *
 * const policy: Policy = {
 *   queue: "rpc_queue",
 *   router: Router.ofMethods({ fib: (n: number) => n }),
 *   maxRequestBytes: 1024,
 *   cache: new ReplyCache(),
 *   replyTo: new ReplyToGuard(),
 *   deliveryLimit: undefined,
 * };
 * const delivery = {
 *   body: new TextEncoder().encode("30"),
 *   bodySize: 2,
 *   redelivered: false,
 *   properties: { replyTo: "amq.gen-1", correlationId: "c1" },
 * };
 * console.log(admit(delivery, Date.now(), policy).kind); // run
 * console.log(admit({ ...delivery, properties: {} }, Date.now(), policy).kind); // drop
 * ```
 */
export function admit(
  delivery: Delivery,
  now: number,
  policy: Policy,
): Admission {
  const properties = delivery.properties;
  const replyTo = properties.replyTo;
  if (!replyTo) return NO_REPLY_TO;
  const correlationId = properties.correlationId;
  if (
    // Not valid UTF-8 (the AMQP library decodes it lossily, and the result
    // may not fit a short string again), or a direct reply-to address that
    // no client can own: no reply can reach the caller.
    !fitsShortString(replyTo) || policy.replyTo.verdict(replyTo) === "bad" ||
    (correlationId !== undefined && !fitsShortString(correlationId))
  ) return UNANSWERABLE;
  const route = policy.router.route(properties.type);
  const deadline = deadlineOf(properties.headers);
  if (deadline !== undefined && deadline <= now) {
    return { kind: "refuse", reason: "expired", reply: EXPIRED_REPLY, route };
  }
  if (delivery.bodySize > policy.maxRequestBytes) {
    return {
      kind: "refuse",
      reason: "too large",
      reply: errorReply({
        code: "TOO_LARGE",
        name: "RangeError",
        message:
          `The request has ${delivery.bodySize} bytes; the limit is ${policy.maxRequestBytes}`,
      }),
      route,
    };
  }
  if (route === undefined) {
    const type = properties.type;
    return {
      kind: "refuse",
      reason: "no such method",
      reply: errorReply({
        code: "METHOD_NOT_FOUND",
        name: "HandlerError",
        // The reply does not list the methods: callers need not learn them
        // all (the worker's own log does).
        message: type === undefined || type === ""
          ? `The request names no method (in its type property) and there is no default method on ${
            JSON.stringify(policy.queue)
          }`
          : `No method ${JSON.stringify(type)} on ${
            JSON.stringify(policy.queue)
          }`,
      }),
      route,
    };
  }
  if (!isIdempotent(properties)) return route.run;
  const key = cacheKeyOf(properties);
  const fingerprint = fingerprintOf(properties, delivery.body);
  const cached = policy.cache.get(key);
  if (cached === undefined) {
    return { kind: "run", route, remember: { key, fingerprint } };
  }
  if (cached.fingerprint !== fingerprint) {
    return {
      kind: "refuse",
      reason: "reused key",
      reply: errorReply({
        code: "INVALID_ARGUMENT",
        name: "HandlerError",
        message: `The idempotency key (message_id) ${
          JSON.stringify(properties.messageId)
        } was already used for a different request: use a new key for each call`,
      }),
      route,
    };
  }
  return { kind: "reuse", reply: cached.reply, route };
}

/**
 * Decides what to do with a request once its reply is known (`undefined`:
 * its handler stopped because the worker is closing, not because the
 * request is bad). An idempotent request whose handler failed unexpectedly
 * (`INTERNAL`) on a queue with a delivery limit goes back for another try,
 * here or on another worker, while the broker's count of its deliveries is
 * below the limit; its last try is answered and parked. Anything else is
 * answered and acked: argument errors and failures of calls that are not
 * idempotent are never tried again.
 *
 * @example
 * ```ts
 * import { conclude, type Policy } from "./_decide.ts";
 * import { Router } from "./_router.ts";
 * import { ReplyCache } from "./_reply_cache.ts";
 * import { ReplyToGuard } from "./_reply_to_guard.ts";
 *
 * const policy: Policy = {
 *   queue: "rpc_queue",
 *   router: Router.ofHandler((request) => request.text()),
 *   maxRequestBytes: 1024,
 *   cache: new ReplyCache(),
 *   replyTo: new ReplyToGuard(),
 *   deliveryLimit: 2,
 * };
 * const failed = { body: "{}", contentType: "application/json", errorCode: "INTERNAL" };
 * const delivery = {
 *   body: null,
 *   bodySize: 0,
 *   redelivered: true,
 *   properties: { messageId: "m1", headers: { "x-idempotent": true, "x-delivery-count": 1 } },
 * };
 * console.log(conclude(delivery, failed, policy)); // retry
 * ```
 */
export function conclude(
  delivery: Delivery,
  reply: Reply | undefined,
  policy: Policy,
): Conclusion {
  if (reply === undefined) return "requeue";
  const limit = policy.deliveryLimit;
  if (
    reply.errorCode !== "INTERNAL" || limit === undefined ||
    !isIdempotent(delivery.properties) ||
    // A redelivery the broker did not count: the queue counts nothing (it
    // is not the quorum queue it was taken for), so never hand it back.
    (delivery.redelivered &&
      delivery.properties.headers?.[DELIVERY_COUNT_HEADER] === undefined)
  ) return "ack";
  return deliveryCountOf(delivery.properties.headers) < limit
    ? "retry"
    : "park";
}
