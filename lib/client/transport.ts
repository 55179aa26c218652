/**
 * The seam between {@linkcode RpcClient} and the broker: a transport
 * publishes requests and reports replies, returned requests and the loss of
 * the connection. {@linkcode connectTransport} is the real one, over
 * `@cloudamqp/amqp-client`; tests and users may supply a fake.
 *
 * @module
 */

import type { AMQPChannel, AMQPClient, AMQPMessage } from "../deps.ts";
import { connectedUrl, type ConnectionOptions } from "../amqp/connection.ts";
import { identityOf } from "../amqp/url.ts";
import type { MessageProperties } from "../protocol/message.ts";
import { DIRECT_REPLY_TO } from "../protocol/error_reply.ts";
import {
  type ConnectionState,
  ConnectionSupervisor,
} from "../amqp/supervisor.ts";

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
 * A way to publish requests and receive replies: what {@linkcode RpcClient}
 * needs of the broker.
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

/**
 * Options of {@linkcode connectTransport}.
 *
 * @example
 * ```ts
 * import type { TransportOptions } from "./transport.ts";
 *
 * const options: TransportOptions = { url: "amqp://localhost", replyQueue: "direct" };
 * console.log(options.replyQueue); // direct
 * ```
 */
export interface TransportOptions extends ConnectionOptions {
  /**
   * Where replies come back: an exclusive, server-named queue, as in the
   * tutorial (the default), or RabbitMQ's direct reply-to (no queue, but
   * in RabbitMQ 3.10 it cost the broker about a fifth more CPU per call
   * than a reply queue in `deno task bench`).
   */
  replyQueue?: "direct" | "exclusive";
}

const EMPTY = new Uint8Array(0);

/**
 * Connects a transport over one AMQP connection and channel, with its
 * reply path consuming before it returns. After a loss it reconnects, with
 * the reply path made anew.
 *
 * @example
 * ```ts ignore
 * import { connectTransport } from "./transport.ts";
 *
 * const transport = await connectTransport();
 * console.log(transport.replyTo); // amq.gen-…
 * await transport.close();
 * ```
 *
 * @throws {TypeError} for a bad option.
 * @throws {ConnectionError} if no broker accepts the first connection.
 */
export async function connectTransport(
  options: TransportOptions = {},
): Promise<RpcTransport> {
  const replyQueue = options.replyQueue ?? "exclusive";
  if (replyQueue !== "direct" && replyQueue !== "exclusive") {
    throw new TypeError(
      `replyQueue must be "direct" or "exclusive", got ${String(replyQueue)}`,
    );
  }
  const transport = new AmqpTransport(options, replyQueue);
  await transport.start();
  return transport;
}

class AmqpTransport implements RpcTransport {
  replyTo: string = DIRECT_REPLY_TO;
  userId?: string;
  readonly #supervisor: ConnectionSupervisor;
  readonly #replyQueue: "direct" | "exclusive";
  #channel?: AMQPChannel;
  #listener?: TransportListener;

  constructor(options: ConnectionOptions, replyQueue: "direct" | "exclusive") {
    this.#replyQueue = replyQueue;
    this.#supervisor = new ConnectionSupervisor(options, {
      setup: (connection) => this.#setup(connection),
      lost: (error) => {
        this.#channel = undefined;
        this.#listener?.lost(error);
      },
      restored: () => this.#listener?.restored?.(),
      failed: (error) => this.#listener?.failed?.(error),
      blocked: (reason) => this.#listener?.blocked?.(reason),
      unblocked: () => this.#listener?.unblocked?.(),
    });
  }

  get state(): ConnectionState {
    return this.#supervisor.state;
  }

  start(): Promise<void> {
    return this.#supervisor.start();
  }

  async #setup(connection: AMQPClient): Promise<void> {
    const channel = await connection.channel();
    let replyTo = DIRECT_REPLY_TO;
    if (this.#replyQueue === "exclusive") {
      const ok = await channel.queueDeclare("", {
        exclusive: true,
        autoDelete: true,
        durable: false,
      });
      replyTo = ok.name;
    }
    channel.onReturn = (message) => {
      this.#listener?.returned(
        message.properties as MessageProperties,
        `${message.replyCode ?? 0} ${message.replyText ?? ""}`.trim(),
      );
    };
    // Direct reply-to requires consuming, no-ack, on the publishing channel
    // before the first publish.
    const consumer = await channel.basicConsume(
      replyTo,
      { noAck: true, exclusive: this.#replyQueue === "exclusive" },
      (message) => this.#deliver(message),
    );
    const lose = (error: Error) => this.#supervisor.lose(connection, error);
    channel.onerror = (reason) => lose(new Error(reason));
    // The broker cancels the reply consumer if the reply queue is deleted:
    // no reply can arrive after that, so the connection is made anew.
    consumer.wait().catch((error: Error) => {
      if (!channel.closed) lose(error);
    });
    this.#channel = channel;
    this.replyTo = replyTo;
    const url = connectedUrl(connection);
    this.userId = url === undefined ? undefined : identityOf(url).user;
  }

  listen(listener: TransportListener): void {
    this.#listener = listener;
  }

  #deliver(message: AMQPMessage): void {
    this.#listener?.reply(
      message.body ?? EMPTY,
      message.properties as MessageProperties,
    );
  }

  publish(
    queue: string,
    body: string | Uint8Array,
    properties: MessageProperties,
  ): Promise<unknown> {
    const channel = this.#channel;
    if (channel === undefined) {
      return Promise.reject(new Error("Not connected"));
    }
    return channel.basicPublish("", queue, body, properties, true).catch(
      (error) => {
        // Refused before writing while the broker blocks publishing; any
        // other failure (closed channel, socket write error) is the first
        // sign of a loss the connection may not have reported yet.
        const connection = channel.connection as AMQPClient;
        if (
          !connection.blocked &&
          !(error instanceof TypeError || error instanceof RangeError)
        ) this.#supervisor.lose(connection, error);
        throw error;
      },
    );
  }

  close(): Promise<void> {
    return this.#supervisor.close();
  }
}
