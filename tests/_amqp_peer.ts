/**
 * A raw AMQP peer written with a different library (amqplib, as the
 * tutorial's JavaScript version uses), for sending what our client would
 * never send and for tutorial-style programs.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { amqplib } from "./deps.ts";
import { AMQP_URL } from "./_helpers.ts";

/** A reply as the raw peer received it. */
export interface RawReply {
  body: string;
  correlationId?: string;
  contentType?: string;
  headers: Record<string, unknown>;
}

/** An amqplib connection with a channel and an exclusive reply queue. */
export interface RawPeer extends AsyncDisposable {
  // deno-lint-ignore no-explicit-any
  channel: any;
  replyQueue: string;
  /** Publishes a request to `queue` with the given properties. */
  send(
    queue: string,
    body: string | Uint8Array,
    properties?: Record<string, unknown>,
  ): void;
  /** Resolves with the next `count` replies received on the reply queue. */
  nextReplies(count: number): Promise<RawReply[]>;
  /** The number of messages in `queue`. */
  messageCount(queue: string): Promise<number>;
}

/** Connects a raw peer. */
export async function rawPeer(): Promise<RawPeer> {
  const connection = await amqplib.connect(AMQP_URL);
  const channel = await connection.createChannel();
  const { queue: replyQueue } = await channel.assertQueue("", {
    exclusive: true,
  });
  const received: RawReply[] = [];
  let waiter: { count: number; resolve: (r: RawReply[]) => void } | undefined;
  const check = () => {
    if (waiter && received.length >= waiter.count) {
      const { count, resolve } = waiter;
      waiter = undefined;
      resolve(received.splice(0, count));
    }
  };
  await channel.consume(replyQueue, (
    msg: {
      content: Uint8Array;
      properties: {
        correlationId?: string;
        contentType?: string;
        headers?: Record<string, unknown>;
      };
    } | null,
  ) => {
    if (!msg) return;
    received.push({
      body: new TextDecoder().decode(msg.content),
      correlationId: msg.properties.correlationId,
      contentType: msg.properties.contentType,
      headers: msg.properties.headers ?? {},
    });
    check();
  }, { noAck: true });
  return {
    channel,
    replyQueue,
    send(queue, body, properties = {}) {
      channel.sendToQueue(
        queue,
        Buffer.from(
          typeof body === "string" ? new TextEncoder().encode(body) : body,
        ),
        properties,
      );
    },
    nextReplies(count) {
      return new Promise((resolve) => {
        waiter = { count, resolve };
        check();
      });
    },
    async messageCount(queue) {
      const ok = await channel.checkQueue(queue);
      return ok.messageCount;
    },
    async [Symbol.asyncDispose]() {
      await connection.close();
    },
  };
}
