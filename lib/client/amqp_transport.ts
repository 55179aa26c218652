/**
 * {@linkcode connectTransport}: the client's transport over
 * `@cloudamqp/amqp-client`, with one connection and channel, a reply path
 * (an exclusive queue or direct reply-to), and reconnection.
 *
 * @module
 */

import type { AMQPChannel, AMQPClient, AMQPMessage } from "../deps.ts";
import { connectedUrl, type ConnectionOptions } from "../amqp/connection.ts";
import {
  type ConnectionState,
  ConnectionSupervisor,
} from "../amqp/supervisor.ts";
import { identityOf } from "../amqp/url.ts";
import { EMPTY_BODY } from "../protocol/message.ts";
import type { MessageProperties } from "../protocol/properties.ts";
import { DIRECT_REPLY_TO } from "../protocol/reply_to.ts";
import { checkOneOf } from "../checks.ts";
import { REPLY_QUEUES, type ReplyQueue } from "./options.ts";
import type { RpcTransport, TransportListener } from "./transport.ts";

/**
 * Options of {@linkcode connectTransport}.
 *
 * @example
 * ```ts
 * import type { TransportOptions } from "./amqp_transport.ts";
 *
 * const options: TransportOptions = { url: "amqp://localhost", replyQueue: "direct" };
 * console.log(options.replyQueue); // direct
 * ```
 */
export interface TransportOptions extends ConnectionOptions {
  /**
   * Where replies come back.
   *
   * @default {"exclusive"}
   */
  replyQueue?: ReplyQueue;
}

/**
 * Connects a transport over one AMQP connection and channel, with its
 * reply path consuming before it returns. After a loss it reconnects, with
 * the reply path made anew.
 *
 * @example
 * ```ts ignore
 * import { connectTransport } from "./amqp_transport.ts";
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
  const replyQueue = options.replyQueue === undefined
    ? "exclusive"
    : checkOneOf("replyQueue", options.replyQueue, {
      choices: REPLY_QUEUES,
    });
  const transport = new AmqpTransport(options, replyQueue);
  await transport.start();
  return transport;
}

class AmqpTransport implements RpcTransport {
  replyTo: string = DIRECT_REPLY_TO;
  userId?: string;
  readonly #supervisor: ConnectionSupervisor;
  readonly #replyQueue: ReplyQueue;
  #channel?: AMQPChannel;
  #listener?: TransportListener;

  constructor(options: ConnectionOptions, replyQueue: ReplyQueue) {
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
      message.body ?? EMPTY_BODY,
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
