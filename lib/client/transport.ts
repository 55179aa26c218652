/**
 * The seam between `RpcClient` and the broker: a transport publishes
 * requests and reports replies, returned requests and the loss of the
 * connection. `connectTransport` (in `amqp_transport.ts`) is the real one,
 * over `@cloudamqp/amqp-client`; tests and users may supply a fake.
 *
 * @module
 */

import type { MessageProperties } from "../protocol/properties.ts";
import type { ConnectionState } from "../amqp/supervisor.ts";

/**
 * What a transport reports to its client.
 *
 * @example
 * ```ts
 * import type { TransportListener } from "./transport.ts";
 *
 * const listener: TransportListener = {
 *   reply: (body, { correlationId }) =>
 *     console.log(correlationId, new TextDecoder().decode(body)),
 *   returned: (_properties, replyText) => console.log("returned:", replyText),
 *   lost: (error) => console.log("lost:", error.message),
 * };
 * listener.reply(new TextEncoder().encode("832040"), { correlationId: "ab12.1" }); // ab12.1 832040
 * ```
 */
export interface TransportListener {
  /** A message arrived on the reply path. */
  reply(body: Uint8Array, properties: MessageProperties): void;
  /** The broker returned a request it could not route (`basic.return`). */
  returned(properties: MessageProperties, replyText: string): void;
  /**
   * The connection or channel is gone: no reply to a request published
   * before can arrive any more. The transport reconnects by itself unless
   * it reports `failed` next.
   */
  lost(error: Error): void;
  /** Reconnected: requests may be published again (to a new `replyTo`). */
  restored?(): void;
  /** The transport gave up reconnecting; it will publish nothing again. */
  failed?(error: Error): void;
  /** The broker blocks publishing (memory or disk alarm). */
  blocked?(reason: string): void;
  /** The broker accepts publishes again. */
  unblocked?(): void;
}

/**
 * A way to publish requests and receive replies: what `RpcClient` needs
 * of the broker.
 *
 * @example A transport that answers every request itself
 * ```ts
 * import type { RpcTransport, TransportListener } from "./transport.ts";
 *
 * class EchoTransport implements RpcTransport {
 *   readonly replyTo = "echo";
 *   #listener?: TransportListener;
 *   listen(listener: TransportListener): void {
 *     this.#listener = listener;
 *   }
 *   publish(_queue: string, body: string | Uint8Array, properties: { correlationId?: string }): Promise<void> {
 *     const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
 *     queueMicrotask(() => this.#listener?.reply(bytes, { correlationId: properties.correlationId }));
 *     return Promise.resolve();
 *   }
 *   close(): Promise<void> {
 *     return Promise.resolve();
 *   }
 * }
 * ```
 */
export interface RpcTransport {
  /**
   * The `reply_to` address to put on requests; it may change when the
   * transport reconnects.
   */
  readonly replyTo: string;
  /**
   * The user name the connection logged in with, which the client sends
   * as each request's `user_id` for the broker to vouch for; a transport
   * without it sends none.
   */
  readonly userId?: string;
  /**
   * Whether requests can be published now; a transport without the
   * property is always `open` until it reports a loss.
   */
  readonly state?: ConnectionState;
  /** Sets the listener; called once, before the first publish. */
  listen(listener: TransportListener): void;
  /**
   * Publishes a request to `queue` through the default exchange, with the
   * `mandatory` flag so that an unroutable request comes back.
   */
  publish(
    queue: string,
    body: string | Uint8Array,
    properties: MessageProperties,
  ): Promise<unknown>;
  /** Closes the transport; idempotent. */
  close(): Promise<void>;
}
