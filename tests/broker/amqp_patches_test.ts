/**
 * What the patches of amqp-client (`lib/amqp/patches.ts`) rely on, checked
 * against a real connection to the broker, so that a new version of the
 * dependency that changes it fails here, loudly, rather than in production.
 */

import assert from "node:assert/strict";
import { closeConnection, openConnection } from "../../lib/amqp/connection.ts";
import { AMQPClient, type AMQPMessage } from "../../lib/deps.ts";
import { AMQP_URL, scratchQueue } from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

interface Internals {
  socket: {
    listeners(event: string): unknown[];
    write(...args: unknown[]): boolean;
  };
  send(bytes: Uint8Array): Promise<void>;
}

/** A connection as amqp-client makes it, without the library's patches. */
async function rawConnection(): Promise<AMQPClient> {
  const connection = new AMQPClient(AMQP_URL);
  await connection.connect();
  return connection;
}

Deno.test({
  ...opts,
  name:
    "amqp-client reads frames in one socket 'data' listener, which the parser guard replaces",
  async fn() {
    const raw = await rawConnection();
    try {
      const readers = (raw as unknown as Internals).socket.listeners("data");
      assert.equal(
        readers.length,
        1,
        "the parser guard wraps amqp-client's only 'data' listener",
      );
    } finally {
      await raw.close();
    }
    const patched = await openConnection({ url: AMQP_URL });
    try {
      const readers = (patched as unknown as Internals).socket.listeners(
        "data",
      );
      assert.equal(readers.length, 1);
      assert.notEqual(readers[0], undefined);
    } finally {
      await closeConnection(patched);
    }
  },
});

Deno.test({
  ...opts,
  name: "amqp-client writes every frame through send(), as the coalescer needs",
  async fn() {
    await using scratch = scratchQueue("patch-send");
    const raw = await rawConnection();
    try {
      const internals = raw as unknown as Internals;
      const channel = await raw.channel();
      await channel.queueDeclare(scratch.name, { autoDelete: false });
      let sends = 0;
      let writes = 0;
      const send = internals.send.bind(raw);
      internals.send = (bytes) => {
        sends++;
        return send(bytes);
      };
      const write = internals.socket.write.bind(internals.socket);
      internals.socket.write = (...args: unknown[]) => {
        writes++;
        return write(...args);
      };
      await Promise.all(
        [1, 2, 3].map((n) => channel.basicPublish("", scratch.name, String(n))),
      );
      assert.ok(sends >= 3, `sends: ${sends}`);
      assert.equal(
        writes,
        sends,
        "every socket write comes from send(): the coalescer sees them all",
      );
    } finally {
      await raw.close();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "amqp-client keeps the delivery it is reading in channel.delivery until it is whole, as the parser guard needs",
  async fn() {
    await using scratch = scratchQueue("patch-delivery");
    const raw = await rawConnection();
    try {
      const channel = await raw.channel();
      await channel.queueDeclare(scratch.name, { autoDelete: false });
      const internals = channel as unknown as {
        delivery?: AMQPMessage;
        onMessageReady(message: AMQPMessage): void;
      };
      const ready = internals.onMessageReady.bind(channel);
      const seen = Promise.withResolvers<boolean>();
      internals.onMessageReady = (message) => {
        seen.resolve(internals.delivery === message);
        ready(message);
      };
      const consumer = await channel.basicConsume(
        scratch.name,
        { noAck: true },
        () => {},
      );
      await channel.basicPublish("", scratch.name, "x".repeat(300_000));
      assert.equal(
        await seen.promise,
        true,
        "channel.delivery holds the message while its frames are read",
      );
      await consumer.cancel();
    } finally {
      await raw.close();
    }
  },
});
