/**
 * The messages a caller and a handler see: {@linkcode RpcReply} and
 * {@linkcode RpcRequest}.
 *
 * @module
 */

import { decodeValue, textDecoderOf } from "./codec.ts";
import type { MessageProperties } from "./properties.ts";
import { deliveryCountOf } from "./request.ts";
import {
  parseTraceparent,
  type TraceContext,
  TRACEPARENT_HEADER,
} from "./trace.ts";

const decoder = new TextDecoder();

/** The body of a message that has none (amqp-client gives `null`). */
export const EMPTY_BODY: Uint8Array = new Uint8Array(0);

/**
 * A message's body and properties, with helpers to decode the body.
 *
 * @example
 * ```ts
 * import { RpcMessage } from "./message.ts";
 *
 * const message = new RpcMessage(new TextEncoder().encode('{"a":1}'), {});
 * console.log(message.json()); // { a: 1 }
 * ```
 */
export class RpcMessage {
  /** The raw body. */
  readonly body: Uint8Array;
  /** The AMQP properties and headers. */
  readonly properties: MessageProperties;

  /** Wraps a body and its properties. */
  constructor(body: Uint8Array, properties: MessageProperties) {
    this.body = body;
    this.properties = properties;
  }

  /**
   * The body as text, in the charset of its content type (UTF-8 when it
   * names none, or one no decoder knows); malformed bytes become U+FFFD.
   */
  text(): string {
    const type = this.properties.contentType;
    if (type === undefined || !type.includes("charset")) {
      return decoder.decode(this.body);
    }
    try {
      return textDecoderOf(type).decode(this.body);
    } catch {
      return decoder.decode(this.body);
    }
  }

  /**
   * The body parsed as JSON.
   *
   * @throws {SyntaxError} if the body is not JSON.
   */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /**
   * The body decoded by its content type: JSON (`application/json`) parsed,
   * text (`text/*`, or no content type) as a string, anything else as bytes.
   * The type parameter is the caller's claim, not checked.
   *
   * @example
   * ```ts
   * import { RpcMessage } from "./message.ts";
   *
   * const body = new TextEncoder().encode("[1,2]");
   * const message = new RpcMessage(body, { contentType: "application/json" });
   * console.log(message.decode<number[]>()); // [ 1, 2 ]
   * ```
   *
   * @throws {SyntaxError} if a JSON body is not JSON.
   */
  decode<T = unknown>(): T {
    return decodeValue(this.body, this.properties.contentType) as T;
  }
}

/**
 * A successful reply to a call.
 *
 * @example
 * ```ts ignore
 * import { RpcClient } from "../../mod.ts";
 *
 * await using client = await RpcClient.connect();
 * const reply = await client.call("rpc_queue", "30");
 * console.log(reply.text()); // 832040
 * ```
 */
export class RpcReply extends RpcMessage {}

/**
 * A request as a handler sees it.
 *
 * @example
 * ```ts ignore
 * import { serve } from "../../mod.ts";
 *
 * await serve({ queue: "echo" }, (request) => {
 *   request.signal.throwIfAborted();
 *   return request.text();
 * });
 * ```
 */
export class RpcRequest extends RpcMessage {
  /** The caller's deadline in epoch milliseconds, if it sent one. */
  readonly deadline: number | undefined;
  /** Whether the broker delivered this request before (to a worker that died). */
  readonly redelivered: boolean;
  #signal: AbortSignal | (() => AbortSignal);
  #state?: Record<string, unknown>;
  readonly #method?: string;

  /**
   * Wraps a delivered request. `signal` may be a function that makes the
   * signal: it is then called once, the first time a handler reads it.
   */
  constructor(
    body: Uint8Array,
    properties: MessageProperties,
    init: {
      signal: AbortSignal | (() => AbortSignal);
      deadline?: number;
      redelivered?: boolean;
      /**
       * The method the worker routed it to (by default the one its `type`
       * property names).
       */
      method?: string;
    },
  ) {
    super(body, properties);
    this.#signal = init.signal;
    this.#method = init.method;
    this.deadline = init.deadline;
    this.redelivered = init.redelivered ?? false;
  }

  /**
   * The method the request is for: the one the caller named in the `type`
   * property, or, if it named none (the tutorial's clients do not), the
   * worker's default method; `undefined` if there is neither. Middleware
   * can rely on it: a request that names none is not a way around a check
   * of the default method's name.
   */
  get method(): string | undefined {
    return this.#method ?? (this.properties.type || undefined);
  }

  /**
   * The user that published the request, as the broker validated it: a
   * client of this library sends its login's user name, and RabbitMQ
   * refuses a `user_id` other than the publishing connection's own. So an
   * authorization check can trust it, unless the broker gives some users
   * the `impersonator` tag, which lets them send any. `undefined` if the
   * caller sent none
   * (the tutorial's clients do not).
   */
  get userId(): string | undefined {
    return this.properties.userId;
  }

  /** The caller's W3C `traceparent` header, if it sent a valid one. */
  get traceparent(): string | undefined {
    const value = this.properties.headers?.[TRACEPARENT_HEADER];
    return parseTraceparent(value) === undefined ? undefined : value as string;
  }

  /** The caller's trace context, parsed from its `traceparent`. */
  get trace(): TraceContext | undefined {
    return parseTraceparent(this.properties.headers?.[TRACEPARENT_HEADER]);
  }

  /**
   * Room for middleware to hand values to the handler (the user an
   * authentication middleware found, say); empty at first.
   */
  get state(): Record<string, unknown> {
    return this.#state ??= {};
  }

  /**
   * How many times a quorum queue delivered this request before (its
   * `x-delivery-count` header); 0 on its first delivery, and always on a
   * classic queue.
   */
  get deliveryCount(): number {
    return deliveryCountOf(this.properties.headers);
  }

  /**
   * Aborts when the caller's deadline (the `x-deadline` header) passes, or
   * when the server is closing and its grace period has run out. A request
   * without a deadline is never aborted while the server runs.
   */
  get signal(): AbortSignal {
    if (typeof this.#signal === "function") this.#signal = this.#signal();
    return this.#signal;
  }
}
