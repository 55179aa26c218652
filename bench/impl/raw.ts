/**
 * The limit: a raw ping-pong on @cloudamqp/amqp-client with TCP_NODELAY on
 * both sides. The client publishes to the request queue and consumes a reply
 * queue with no-ack; the echo side consumes the request queue with no-ack and
 * publishes the body back to the reply queue. No properties, no acks, no
 * confirms. One echo consumer on one channel keeps replies in order, so the
 * client matches a reply to the oldest outstanding request.
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

export const raw: Implementation = {
  async client({ url, queue, replyQueue, name }): Promise<ClientSide> {
    const connection = await connect(url, name);
    const channel = await connection.channel();
    await channel.queueDeclare(replyQueue);
    // Waiting callers, oldest first (a ring would save the shifts; at 1,000
    // in flight the array stays small and V8 handles shift() in O(1) here).
    const waiting: PromiseWithResolvers<Uint8Array>[] = [];
    await channel.basicConsume(replyQueue, { noAck: true }, (message) => {
      waiting.shift()?.resolve(message.body ?? new Uint8Array(0));
    });
    return {
      call(body) {
        const reply = Promise.withResolvers<Uint8Array>();
        waiting.push(reply);
        channel.basicPublish("", queue, body).catch(reply.reject);
        return reply.promise;
      },
      close: () => closeQuietly(connection),
    };
  },
  async worker({ url, queue, replyQueue, name }): Promise<WorkerSide> {
    const connection = await connect(url, name);
    const channel = await connection.channel();
    await channel.queueDeclare(queue);
    let handled = 0;
    await channel.basicConsume(queue, { noAck: true }, (message) => {
      handled++;
      channel.basicPublish("", replyQueue, message.body).catch(() => {});
    });
    return { handled: () => handled, close: () => closeQuietly(connection) };
  },
};
