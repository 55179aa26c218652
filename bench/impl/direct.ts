/**
 * The straightforward RPC, written directly on @cloudamqp/amqp-client as a
 * careful user would after the tutorial: one connection per client, an
 * exclusive reply queue consumed with no-ack, a map of pending calls by
 * correlation id; a worker with prefetch 100 that publishes the reply to
 * `reply_to` and then acks the request. TCP_NODELAY and a 128 KiB frame size
 * on both sides. No timeouts, no mandatory flag, no reconnection.
 *
 * @module
 */

import {
  type ClientSide,
  closeQuietly,
  connect,
  type Implementation,
  type WorkerSide,
} from "./common.ts";
import type { AMQPClient } from "../deps.ts";

export const direct: Implementation = {
  async client({ url, queue, name }): Promise<ClientSide> {
    const connection = await connect(url, name);
    const channel = await connection.channel();
    const { name: replyTo } = await channel.queueDeclare("", {
      exclusive: true,
      autoDelete: true,
    });
    const pending = new Map<string, PromiseWithResolvers<Uint8Array>>();
    await channel.basicConsume(replyTo, { noAck: true }, (message) => {
      const id = message.properties.correlationId;
      const call = id === undefined ? undefined : pending.get(id);
      if (call === undefined) return; // late or foreign: dropped
      pending.delete(id!);
      call.resolve(message.body ?? new Uint8Array(0));
    });
    let sequence = 0;
    return {
      call(body) {
        const correlationId = String(++sequence);
        const call = Promise.withResolvers<Uint8Array>();
        pending.set(correlationId, call);
        channel.basicPublish("", queue, body, { replyTo, correlationId })
          .catch((error) => {
            pending.delete(correlationId);
            call.reject(error);
          });
        return call.promise;
      },
      close: () => closeQuietly(connection),
    };
  },
  worker: (options) => directWorker(options),
};

/** The straightforward worker; the tutorial's client calls it too. */
export async function directWorker(
  { url, queue, name }: { url: string; queue: string; name: string },
): Promise<WorkerSide> {
  const connection: AMQPClient = await connect(url, name);
  const channel = await connection.channel();
  await channel.queueDeclare(queue);
  await channel.prefetch(100);
  let handled = 0;
  await channel.basicConsume(queue, { noAck: false }, async (message) => {
    const { replyTo, correlationId } = message.properties;
    try {
      if (replyTo) {
        await channel.basicPublish("", replyTo, message.body, {
          correlationId,
        });
      }
      handled++;
      await message.ack();
    } catch {
      // The channel closed; the broker redelivers the request elsewhere.
    }
  });
  return { handled: () => handled, close: () => closeQuietly(connection) };
}
