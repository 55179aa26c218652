/**
 * A request on the wire (`PROTOCOL.md` sections 3 and 6.1): the properties
 * a client builds for each call, and what a worker reads back from them.
 *
 * @module
 */

import { BYTES_CONTENT_TYPE, TEXT_CONTENT_TYPE } from "./codec.ts";
import type { HeaderValue, MessageProperties } from "./properties.ts";

/**
 * The request header holding the caller's deadline, in epoch milliseconds.
 *
 * @example
 * ```ts
 * import { DEADLINE_HEADER, deadlineOf } from "./request.ts";
 *
 * const headers = { [DEADLINE_HEADER]: 1700000000000 };
 * console.log(DEADLINE_HEADER, deadlineOf(headers)); // x-deadline 1700000000000
 * ```
 */
export const DEADLINE_HEADER = "x-deadline";

/**
 * The request header that marks a call as idempotent: the client may send it
 * again (with the same `message_id`) after a reconnection, and the worker
 * answers a repeat from its cache of recent replies by `message_id`.
 *
 * @example
 * ```ts
 * import { IDEMPOTENT_HEADER, isIdempotent } from "./request.ts";
 *
 * const request = { messageId: "ab12.7", headers: { [IDEMPOTENT_HEADER]: true } };
 * console.log(IDEMPOTENT_HEADER, isIdempotent(request)); // x-idempotent true
 * ```
 */
export const IDEMPOTENT_HEADER = "x-idempotent";

/**
 * The header in which a quorum queue counts a message's earlier deliveries
 * (RabbitMQ's, not ours: absent on a classic queue).
 *
 * @example
 * ```ts
 * import { DELIVERY_COUNT_HEADER, deliveryCountOf } from "./request.ts";
 *
 * console.log(deliveryCountOf({ [DELIVERY_COUNT_HEADER]: 2 })); // 2
 * ```
 */
export const DELIVERY_COUNT_HEADER = "x-delivery-count";

/**
 * The parts of a call its request's properties are made of.
 *
 * @example
 * ```ts
 * import type { RequestParts } from "./request.ts";
 *
 * const call: RequestParts = { id: "ab12.1", body: "30", deadline: Infinity };
 * console.log(call.id); // ab12.1
 * ```
 */
export interface RequestParts {
  /** The call's correlation id. */
  readonly id: string;
  /** The request's body. */
  readonly body: string | Uint8Array;
  /** The caller's own properties and headers, if any. */
  readonly properties?: MessageProperties;
  /** When the caller stops waiting, in epoch milliseconds (or `Infinity`). */
  readonly deadline: number;
  /** The message id of an idempotent call (`undefined` for the others). */
  readonly messageId?: string;
  /** Whether it is sent persistent (`delivery_mode` 2). */
  readonly persistent?: boolean;
}

/**
 * Who sends requests: the reply address and the login to vouch for.
 *
 * @example
 * ```ts
 * import type { RequestSender } from "./request.ts";
 *
 * const sender: RequestSender = { replyTo: "amq.gen-xyz", userId: "guest" };
 * console.log(sender.replyTo); // amq.gen-xyz
 * ```
 */
export interface RequestSender {
  /** Where the reply goes: the client's reply queue. */
  readonly replyTo: string;
  /** The login's user name to send as `user_id`, or `undefined` for none. */
  readonly userId: string | undefined;
}

/**
 * The properties of a request as it is published now: the caller's own
 * properties, then the client's `correlation_id`, `reply_to` and `user_id`
 * (the caller cannot set these), the content type of the body unless the
 * caller chose one, delivery mode 2 for a persistent call, and, for a call
 * with a deadline, what is left of its timeout as `expiration` with the
 * deadline in `x-deadline` (a call that waited for a reconnection must not
 * outlive its caller in the queue); an idempotent call's `message_id` and
 * `x-idempotent` header.
 *
 * @example
 * ```ts
 * import { requestProperties } from "./request.ts";
 *
 * const properties = requestProperties(
 *   { id: "ab12.1", body: "30", deadline: Infinity },
 *   { replyTo: "amq.gen-xyz", userId: "guest" },
 * );
 * console.log(properties.correlationId, properties.contentType); // ab12.1 text/plain
 * ```
 */
export function requestProperties(
  call: RequestParts,
  sender: RequestSender,
): MessageProperties {
  const user = call.properties;
  let properties: MessageProperties;
  if (user === undefined) {
    // The common case, as one object literal: V8 gives it a fast shape.
    properties = {
      correlationId: call.id,
      replyTo: sender.replyTo,
      contentType: typeof call.body === "string"
        ? TEXT_CONTENT_TYPE
        : BYTES_CONTENT_TYPE,
      userId: sender.userId,
    };
  } else {
    properties = { ...user };
    // The broker closes the channel (and so fails every call in flight)
    // for a user_id other than the connection's own: only the login's.
    properties.userId = sender.userId;
    properties.correlationId = call.id;
    properties.replyTo = sender.replyTo;
    properties.contentType ??= typeof call.body === "string"
      ? TEXT_CONTENT_TYPE
      : BYTES_CONTENT_TYPE;
  }
  if (call.persistent && properties.deliveryMode === undefined) {
    properties.deliveryMode = 2;
  }
  let headers: Record<string, HeaderValue> | undefined = user?.headers;
  if (call.deadline !== Infinity) {
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
  return properties;
}

/**
 * Reads the `x-deadline` header: an integer number of epoch milliseconds,
 * as any AMQP integer type or a decimal string. Anything else means no
 * deadline.
 *
 * @example
 * ```ts
 * import { deadlineOf } from "./request.ts";
 *
 * console.log(deadlineOf({ "x-deadline": 1700000000000 })); // 1700000000000
 * console.log(deadlineOf({})); // undefined
 * ```
 */
export function deadlineOf(
  headers: Record<string, unknown> | undefined,
): number | undefined {
  const value = headers?.[DEADLINE_HEADER];
  let ms: number;
  if (typeof value === "number") ms = value;
  else if (typeof value === "bigint") ms = Number(value);
  else if (typeof value === "string" && /^\d{1,16}$/.test(value)) {
    ms = Number(value);
  } else return undefined;
  return Number.isSafeInteger(ms) && ms >= 0 ? ms : undefined;
}

/**
 * Whether a request is an idempotent call that a worker may answer from its
 * reply cache: it has a `message_id` and the header `x-idempotent: true`.
 *
 * @example
 * ```ts
 * import { isIdempotent } from "./request.ts";
 *
 * console.log(isIdempotent({ messageId: "m1", headers: { "x-idempotent": true } })); // true
 * console.log(isIdempotent({ headers: { "x-idempotent": true } })); // false
 * ```
 */
export function isIdempotent(properties: MessageProperties): boolean {
  return properties.messageId !== undefined &&
    properties.headers?.[IDEMPOTENT_HEADER] === true;
}

/**
 * How many times a quorum queue delivered a request before (its
 * `x-delivery-count` header): 0 on its first delivery, and on a classic
 * queue.
 *
 * @example
 * ```ts
 * import { deliveryCountOf } from "./request.ts";
 *
 * console.log(deliveryCountOf({ "x-delivery-count": 3 }), deliveryCountOf(undefined)); // 3 0
 * ```
 */
export function deliveryCountOf(
  headers: Record<string, unknown> | undefined,
): number {
  const count = headers?.[DELIVERY_COUNT_HEADER];
  return typeof count === "number" && count > 0 ? count : 0;
}
