/**
 * {@linkcode AmqpWorkerTransport}: the worker's transport over
 * `@cloudamqp/amqp-client`: one supervised connection that declares the
 * request queue, sets the prefetch and consumes with manual acks; replies
 * and their acks leave in one socket write, acks in batches.
 *
 * @module
 */

import {
  closeConnection,
  type ConnectionOptions,
  openConnection,
} from "../amqp/connection.ts";
import { canWrite, MANUAL_ACK_TAG } from "../amqp/patches.ts";
import {
  type ConnectionState,
  ConnectionSupervisor,
} from "../amqp/supervisor.ts";
import type {
  AMQPChannel,
  AMQPClient,
  AMQPConsumer,
  AMQPMessage,
  Field,
} from "../deps.ts";
import { QueueError } from "../errors.ts";
import type { RequestQueue } from "../protocol/queue.ts";
import type { MessageProperties } from "../protocol/properties.ts";
import { DIRECT_REPLY_TO } from "../protocol/reply_to.ts";
import { type Reply, replyProperties } from "../protocol/reply.ts";
import { AckBatcher } from "./_ack_batcher.ts";
import { type QueueDeclarer, setUpQueue } from "./_queue_setup.ts";
import type {
  Delivery,
  Settlement,
  WorkerTransport,
  WorkerTransportListener,
} from "./transport.ts";

/**
 * Options of {@linkcode AmqpWorkerTransport}.
 *
 * @example
 * ```ts
 * import type { AmqpWorkerTransportOptions } from "./amqp_transport.ts";
 *
 * const options: AmqpWorkerTransportOptions = {
 *   url: "amqp://localhost",
 *   queue: { name: "rpc_queue", type: "classic", deliveryLimit: 5, deadLetterQueue: false, arguments: {} },
 *   prefetch: 10,
 * };
 * console.log(options.prefetch); // 10
 * ```
 */
export interface AmqpWorkerTransportOptions extends ConnectionOptions {
  /** The request queue to declare and consume. */
  queue: RequestQueue;
  /** How many requests the broker hands over before an ack (`basic.qos`). */
  prefetch: number;
  /**
   * Whether replies carry the login's user name as their `user_id`, which
   * the broker vouches for, so that callers may check who answered
   * (`replyUserId`). Turned off by itself, with an error line, if the
   * broker refuses it (a login it authenticates as another name).
   *
   * @default {true}
   */
  sendUserId?: boolean;
}

/** How long a closing worker waits for the broker to cancel its consumer. */
const CANCEL_TIMEOUT = 2_000;

/** How long a reply probe waits for the broker's confirm. */
const PROBE_TIMEOUT = 10_000;

const PENDING: unique symbol = Symbol("pending");

/** Wins a race against a promise only if that one has not settled yet. */
const notYet: Promise<typeof PENDING> = Promise.resolve(PENDING);

/**
 * A worker transport over one supervised AMQP connection. After a loss (of
 * the connection, the channel, or the consumer, which the broker cancels
 * when the queue is deleted) it reconnects, declares the queue and consumes
 * again.
 *
 * @example
 * ```ts ignore
 * import { AmqpWorkerTransport } from "./amqp_transport.ts";
 *
 * const transport = new AmqpWorkerTransport({
 *   queue: { name: "rpc_queue", type: "classic", deliveryLimit: 5, deadLetterQueue: false, arguments: {} },
 *   prefetch: 1,
 * });
 * ```
 */
export class AmqpWorkerTransport implements WorkerTransport {
  readonly #options: AmqpWorkerTransportOptions;
  readonly #supervisor: ConnectionSupervisor;
  #listener?: WorkerTransportListener;
  #consumer?: AMQPConsumer;
  #acks?: AckBatcher;
  #ending = false;
  #stopped = false;
  #sendUserId: boolean;

  /** Makes the transport; nothing connects before {@linkcode start}. */
  constructor(options: AmqpWorkerTransportOptions) {
    this.#options = options;
    this.#sendUserId = options.sendUserId ?? true;
    this.#supervisor = new ConnectionSupervisor(options, {
      setup: (connection) => this.#setup(connection),
      lost: (error) => {
        this.#consumer = undefined;
        this.#refusedUserId(error);
        this.#listener?.lost(error);
      },
      restored: () => this.#listener?.restored(),
      failed: (error) => this.#listener?.failed(error),
      blocked: (reason) => this.#listener?.blocked(reason),
      unblocked: () => this.#listener?.unblocked(),
    });
  }

  get state(): ConnectionState {
    return this.#supervisor.state;
  }

  listen(listener: WorkerTransportListener): void {
    this.#listener = listener;
  }

  start(): Promise<void> {
    return this.#supervisor.start();
  }

  async #setup(connection: AMQPClient): Promise<void> {
    const queue = this.#options.queue.name;
    // A refused declare closes its channel: each declare after one takes a
    // new channel, and the last one, open, consumes.
    let channel: AMQPChannel | undefined;
    const declarer: QueueDeclarer = {
      declare: async (declaration, passive) => {
        if (channel === undefined || channel.closed) {
          channel = await connection.channel();
          // While setting up, a channel error is reported as a QueueError.
          channel.onerror = () => {};
        }
        try {
          return await channel.queueDeclare(
            declaration.name,
            {
              passive,
              durable: declaration.durable,
              autoDelete: declaration.autoDelete ?? false,
              exclusive: false,
            },
            declaration.arguments as Record<string, Field>,
          );
        } catch (cause) {
          throw queueError(declaration.name, cause);
        }
      },
    };
    const state = await setUpQueue(declarer, this.#options.queue);
    if (channel === undefined || channel.closed) {
      channel = await connection.channel();
      channel.onerror = () => {};
    }
    const consuming: AMQPChannel = channel;
    let consumer: AMQPConsumer;
    try {
      await consuming.basicQos(this.#options.prefetch);
      // Stopped for good: set up again after a loss, it consumes no more.
      if (this.#stopped) return;
      this.#listener?.queue(state);
      consumer = await consuming.basicConsume(
        queue,
        { noAck: false, tag: MANUAL_ACK_TAG + crypto.randomUUID() },
        (message) => this.#listener?.delivery(message as unknown as Delivery),
      );
    } catch (cause) {
      throw queueError(queue, cause);
    }
    // Stopped while the consume was on its way: cancel it again.
    if (this.#stopped) {
      await consumer.cancel().catch(() => {});
      return;
    }
    const lose = (error: Error) => this.#supervisor.lose(connection, error);
    consuming.onerror = (reason) => lose(new Error(reason));
    // The broker cancels the consumer when the queue is deleted: declare
    // it again and consume again on a new connection.
    consumer.wait().catch((error: Error) => {
      if (!consuming.closed && !this.#ending) lose(error);
    });
    this.#consumer = consumer;
    this.#acks = new AckBatcher(consuming);
  }

  isLive(delivery: Delivery): boolean {
    // Not compared with the supervisor's connection: deliveries arrive as
    // soon as the consumer is set up, before the supervisor adopts it.
    const channel = (delivery as unknown as AMQPMessage).channel;
    return !channel.closed && canWrite(channel.connection as AMQPClient);
  }

  isSettled(delivery: Delivery): boolean {
    const message = delivery as unknown as AMQPMessage;
    const acks = this.#acks;
    return acks?.channel === message.channel
      ? acks.isSettled(message.deliveryTag)
      : message.isAcked;
  }

  async reply(
    delivery: Delivery,
    reply: Reply,
    settlement: "ack" | "reject",
  ): Promise<void> {
    const message = delivery as unknown as AMQPMessage;
    const properties = this.#replyProperties(message, reply);
    // The ack follows the reply on the same channel, so the broker always
    // sees the reply first: no need to wait for the reply's write before
    // acking, and both leave in one socket write. (A reply that fails before
    // it is written, e.g. to encode, rejects at once and is never acked.)
    const published = message.channel.basicPublish(
      "",
      message.properties.replyTo!,
      reply.body,
      properties,
    );
    if ((await Promise.race([published, notYet])) === PENDING) {
      await Promise.all([published, this.settle(delivery, settlement)]);
    }
  }

  async probe(delivery: Delivery, reply: Reply): Promise<boolean> {
    const message = delivery as unknown as AMQPMessage;
    const connection = await openConnection({
      ...this.#options,
      connectionName: `${this.#options.connectionName} (reply probe)`,
      logger: undefined,
    });
    try {
      const channel = await connection.channel();
      await channel.confirmSelect();
      await withTimeout(
        channel.basicPublish(
          "",
          message.properties.replyTo!,
          reply.body,
          this.#replyProperties(message, reply),
        ),
        PROBE_TIMEOUT,
      );
      return true;
    } catch (error) {
      if (/INTERNAL_ERROR|\(541\)/.test(String(error))) return false;
      this.#refusedUserId(error);
      throw error;
    } finally {
      await closeConnection(connection);
    }
  }

  /**
   * Stops sending `user_id` on replies if `error` says the broker refused
   * the login's name (it authenticates the login as another).
   */
  #refusedUserId(error: unknown): void {
    if (!this.#sendUserId || !/user_id property set to/.test(String(error))) {
      return;
    }
    this.#sendUserId = false;
    this.#options.logger?.error(
      "The broker refused the login's user name as the user_id of replies: replies go without user_id from now on (set sendUserId: false to start that way)",
    );
  }

  #replyProperties(message: AMQPMessage, reply: Reply): MessageProperties {
    const properties = replyProperties(reply, message.properties.correlationId);
    if (this.#sendUserId) {
      properties.userId = (message.channel.connection as AMQPClient).username;
    }
    return properties;
  }

  async ownReplyTo(): Promise<string | undefined> {
    const connection = this.#acks?.channel.connection as AMQPClient | undefined;
    if (connection === undefined || connection.closed) return undefined;
    // The broker writes a direct reply-to address of this connection into
    // a request it is given to publish; a mandatory publish to no queue
    // hands it back. One round trip, on a channel of its own.
    const channel = await connection.channel();
    try {
      const returned = new Promise<AMQPMessage>((resolve) =>
        channel.onReturn = resolve
      );
      await channel.basicConsume(DIRECT_REPLY_TO, { noAck: true }, () => {});
      await channel.basicPublish(
        "",
        `rabbit-rpc.no-queue.${crypto.randomUUID()}`,
        "",
        { replyTo: DIRECT_REPLY_TO },
        true,
      );
      return (await withTimeout(returned, PROBE_TIMEOUT)).properties.replyTo;
    } finally {
      await channel.close().catch(() => {});
    }
  }

  settle(delivery: Delivery, settlement: Settlement): Promise<void> {
    const message = delivery as unknown as AMQPMessage;
    const acks = this.#acks;
    const batched = acks?.channel === message.channel;
    if (settlement === "ack") {
      // In a batch with the other acks of this turn.
      return batched ? acks!.ack(message.deliveryTag) : message.ack();
    }
    if (batched) acks!.settled(message.deliveryTag);
    return message.nack(settlement === "requeue");
  }

  async stopConsuming(): Promise<void> {
    this.#ending = true;
    this.#stopped = true;
    const consumer = this.#consumer;
    const channel: AMQPChannel | undefined = consumer?.channel;
    if (consumer && channel && !channel.closed && !channel.connection.blocked) {
      // A broker under a memory alarm reads nothing from a blocked
      // connection, so the cancel may never be answered: closing the
      // connection later cancels the consumer anyway.
      await withTimeout(consumer.cancel(), CANCEL_TIMEOUT).catch(() => {});
    }
  }

  endReconnects(): void {
    this.#ending = true;
    this.#supervisor.endReconnects();
  }

  close(): Promise<void> {
    this.#ending = true;
    return this.#supervisor.close();
  }
}

/** `promise`, or a rejection after `ms` milliseconds. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`No answer within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function queueError(queue: string, cause: unknown): QueueError {
  const text = cause instanceof Error ? cause.message : String(cause);
  // amqp-client reports "channel 1 closed: PRECONDITION_FAILED - … (406)".
  const match = /closed: (.*) \((\d+)\)$/s.exec(text);
  return new QueueError(
    queue,
    { code: match ? Number(match[2]) : 0, text: match ? match[1] : text },
    { cause },
  );
}
