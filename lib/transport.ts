/**
 * The seam between {@linkcode RpcClient} and the broker: a transport
 * publishes requests and reports replies, returned requests and the loss of
 * the connection. {@linkcode connectTransport} is the real one, over
 * `@cloudamqp/amqp-client`; tests and users may supply a fake.
 *
 * @module
 */

import { closeConnection, openConnection } from "./connection.ts";
import type { ConnectionOptions } from "./connection.ts";
import type { AMQPChannel, AMQPClient, AMQPMessage } from "./deps.ts";
import type { MessageProperties } from "./message.ts";
import { DIRECT_REPLY_TO } from "./protocol.ts";

/** What a transport reports to its client. */
export interface TransportListener {
  /** A message arrived on the reply path. */
  reply(body: Uint8Array, properties: MessageProperties): void;
  /** The broker returned a request it could not route (`basic.return`). */
  returned(properties: MessageProperties, replyText: string): void;
  /** The connection or channel is gone; no further reply can arrive. */
  lost(error: Error): void;
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
  /** The `reply_to` address to put on requests. */
  readonly replyTo: string;
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

/** Options of {@linkcode connectTransport}. */
export interface TransportOptions extends ConnectionOptions {
  /**
   * Where replies come back: RabbitMQ's direct reply-to (the default: no
   * queue to declare) or an exclusive, server-named queue.
   */
  replyQueue?: "direct" | "exclusive";
}

const EMPTY = new Uint8Array(0);

/**
 * Connects a transport over one AMQP connection and channel, with its
 * reply path consuming before it returns.
 *
 * @example
 * ```ts ignore
 * import { connectTransport } from "./transport.ts";
 *
 * const transport = await connectTransport({ replyQueue: "exclusive" });
 * console.log(transport.replyTo); // amq.gen-…
 * await transport.close();
 * ```
 */
export async function connectTransport(
  options: TransportOptions = {},
): Promise<RpcTransport> {
  const replyQueue = options.replyQueue ?? "direct";
  if (replyQueue !== "direct" && replyQueue !== "exclusive") {
    throw new TypeError(
      `replyQueue must be "direct" or "exclusive", got ${String(replyQueue)}`,
    );
  }
  const connection = await openConnection(options);
  try {
    const channel = await connection.channel();
    let replyTo = DIRECT_REPLY_TO;
    if (replyQueue === "exclusive") {
      const ok = await channel.queueDeclare("", {
        exclusive: true,
        autoDelete: true,
        durable: false,
      });
      replyTo = ok.name;
    }
    const transport = new AmqpTransport(connection, channel, replyTo);
    // Direct reply-to requires consuming, no-ack, on the publishing channel
    // before the first publish.
    const consumer = await channel.basicConsume(
      replyTo,
      { noAck: true, exclusive: replyQueue === "exclusive" },
      (message) => transport.deliver(message),
    );
    // The broker cancels the reply consumer if the reply queue is deleted:
    // no reply can arrive after that, so the transport is lost.
    consumer.wait().catch((error: Error) => transport.lose(error));
    return transport;
  } catch (error) {
    connection.socket?.destroy();
    throw error;
  }
}

class AmqpTransport implements RpcTransport {
  readonly replyTo: string;
  readonly #connection: AMQPClient;
  readonly #channel: AMQPChannel;
  #listener?: TransportListener;
  #closing?: Promise<void>;

  constructor(connection: AMQPClient, channel: AMQPChannel, replyTo: string) {
    this.#connection = connection;
    this.#channel = channel;
    this.replyTo = replyTo;
    channel.onReturn = (message) => {
      this.#listener?.returned(
        message.properties as MessageProperties,
        `${message.replyCode ?? 0} ${message.replyText ?? ""}`.trim(),
      );
    };
    channel.onerror = (reason) => this.lose(new Error(reason));
    connection.ondisconnect = (error) =>
      this.lose(error ?? new Error("Connection closed"));
  }

  listen(listener: TransportListener): void {
    this.#listener = listener;
  }

  deliver(message: AMQPMessage): void {
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
    return this.#channel.basicPublish("", queue, body, properties, true);
  }

  close(): Promise<void> {
    this.#closing ??= closeConnection(this.#connection);
    return this.#closing;
  }

  lose(error: Error): void {
    if (this.#closing) return;
    this.#closing = Promise.resolve();
    this.#connection.socket?.destroy();
    this.#listener?.lost(error);
  }
}
