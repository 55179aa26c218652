/**
 * Quorum request queues on the real (single-node) broker: declaration,
 * retries of failing requests, the delivery limit and the dead-letter queue,
 * persistent requests.
 */

import assert from "node:assert/strict";
import { HandlerError, RemoteError, RpcClient, serve } from "../../mod.ts";
import { closeConnection, openConnection } from "../../lib/amqp/connection.ts";
import { AMQP_URL, queueInfo, scratchQueue } from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const url = AMQP_URL;

/** The messages of `queue`, taken off it (acked). */
async function drain(
  queue: string,
): Promise<{ body: string; correlationId?: string }[]> {
  const connection = await openConnection({ url });
  try {
    const channel = await connection.channel();
    const out: { body: string; correlationId?: string }[] = [];
    for (;;) {
      const message = await channel.basicGet(queue, { noAck: true });
      if (!message) return out;
      out.push({
        body: message.bodyToString() ?? "",
        correlationId: message.properties.correlationId,
      });
    }
  } finally {
    await closeConnection(connection);
  }
}

Deno.test({
  ...opts,
  name:
    "a request whose handler always fails is tried deliveryLimit + 1 times, answered with the error, and parked in the dead-letter queue",
  async fn() {
    await using scratch = scratchQueue("poison", { also: ["{}.dead-letter"] });
    const queue = scratch.name;
    let runs = 0;
    await using _server = await serve(
      { url, queue, queueType: "quorum", deliveryLimit: 2, prefetch: 1 },
      () => {
        runs++;
        throw new HandlerError("INTERNAL", "the database is on fire");
      },
    );
    const info = await queueInfo(queue);
    assert.equal(info.type, "quorum");
    assert.equal(info.durable, true);
    await using client = await RpcClient.connect({ url });
    await assert.rejects(
      client.call(queue, "poison pill", { timeout: 20_000, idempotent: true }),
      (error: unknown) => {
        assert.ok(error instanceof RemoteError);
        assert.equal(error.code, "INTERNAL");
        assert.match(error.message, /database is on fire/);
        return true;
      },
    );
    assert.equal(runs, 3);
    // The reply went out before the request was dead-lettered; wait until
    // the dead-letter queue has it.
    let parked: Awaited<ReturnType<typeof drain>> = [];
    for (let i = 0; i < 100 && parked.length === 0; i++) {
      parked = await drain(`${queue}.dead-letter`);
      if (parked.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(parked.length, 1);
    assert.equal(parked[0].body, "poison pill");
    assert.deepEqual(await drain(queue), []);
  },
});

Deno.test({
  ...opts,
  name:
    "a request that fails once on a quorum queue is tried again and answered",
  async fn() {
    await using scratch = scratchQueue("flaky", { also: ["{}.dead-letter"] });
    const queue = scratch.name;
    const counts: number[] = [];
    await using _server = await serve(
      { url, queue, queueType: "quorum" },
      (request) => {
        counts.push(request.deliveryCount);
        if (counts.length === 1) throw new Error("transient");
        return "ok";
      },
    );
    await using client = await RpcClient.connect({ url });
    assert.equal(
      (await client.call(queue, "x", { timeout: 20_000, idempotent: true }))
        .text(),
      "ok",
    );
    assert.deepEqual(counts, [0, 1]);
    assert.deepEqual(await drain(`${queue}.dead-letter`), []);
  },
});

Deno.test({
  ...opts,
  name:
    "bad arguments, and failures of calls that are not idempotent, are answered at once on a quorum queue, not tried again",
  async fn() {
    await using scratch = scratchQueue("badarg", { also: ["{}.dead-letter"] });
    const queue = scratch.name;
    let runs = 0;
    await using _server = await serve(
      { url, queue, queueType: "quorum", prefetch: 10 },
      (request) => {
        runs++;
        if (request.text() === "type") throw new TypeError("not a number");
        throw new Error("failed");
      },
    );
    await using client = await RpcClient.connect({ url });
    await assert.rejects(
      client.call(queue, "type", { idempotent: true }),
      (error: unknown) =>
        error instanceof RemoteError && error.code === "INVALID_ARGUMENT",
    );
    await assert.rejects(
      client.call(queue, "internal"),
      (error: unknown) =>
        error instanceof RemoteError && error.code === "INTERNAL",
    );
    assert.equal(runs, 2);
    assert.deepEqual(await drain(`${queue}.dead-letter`), []);
    assert.deepEqual(await drain(queue), []);
  },
});

Deno.test({
  ...opts,
  name: "persistent calls reach the handler with delivery mode 2",
  async fn() {
    await using scratch = scratchQueue("persistent", {
      also: ["{}.dead-letter"],
    });
    const queue = scratch.name;
    const modes: (number | undefined)[] = [];
    await using _server = await serve(
      { url, queue, queueType: "quorum" },
      (request) => {
        modes.push(request.properties.deliveryMode);
        return "ok";
      },
    );
    await using client = await RpcClient.connect({ url, persistent: true });
    await client.call(queue, "a");
    await client.call(queue, "b", { persistent: false });
    assert.deepEqual(modes, [2, undefined]);
  },
});
