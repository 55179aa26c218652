/**
 * The tutorial's client, in TypeScript on @cloudamqp/amqp-client: every call
 * opens a connection and a channel, declares an exclusive server-named reply
 * queue, consumes it, publishes the request with `reply_to` and
 * `correlation_id`, waits for the reply and closes the connection. Its worker
 * is the straightforward worker of `direct.ts`.
 *
 * @module
 */

import {
  type ClientSide,
  closeQuietly,
  connect,
  type Implementation,
} from "./common.ts";
import { directWorker } from "./direct.ts";

export const tutorial: Implementation = {
  client({ url, queue, name }): Promise<ClientSide> {
    let sequence = 0;
    return Promise.resolve({
      async call(body) {
        const connection = await connect(url, `${name} call ${++sequence}`);
        try {
          const channel = await connection.channel();
          const { name: replyTo } = await channel.queueDeclare("", {
            exclusive: true,
          });
          const correlationId = crypto.randomUUID();
          const reply = Promise.withResolvers<Uint8Array>();
          await channel.basicConsume(replyTo, { noAck: true }, (message) => {
            if (message.properties.correlationId === correlationId) {
              reply.resolve(message.body ?? new Uint8Array(0));
            }
          });
          await channel.basicPublish("", queue, body, {
            replyTo,
            correlationId,
          });
          return await reply.promise;
        } finally {
          await closeQuietly(connection);
        }
      },
      close: () => Promise.resolve(),
    });
  },
  worker: (options) => directWorker(options),
};
