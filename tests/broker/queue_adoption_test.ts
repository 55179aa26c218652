/**
 * A worker consumes a request queue that exists as it is, whatever its
 * type and arguments, and declares one only when it is missing; only
 * options given explicitly demand anything of a queue found. On the real
 * broker.
 */

import assert from "node:assert/strict";
import {
  HandlerError,
  QueueError,
  RemoteError,
  RpcClient,
  serve,
  TUTORIAL_QUORUM_QUEUE,
} from "../../mod.ts";
import { closeConnection, openConnection } from "../../lib/amqp/connection.ts";
import type { Field } from "../../lib/deps.ts";
import { fibHandler } from "../../services/fib/method.ts";
import { AMQP_URL, queueInfo, scratchQueue, waitFor } from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const url = AMQP_URL;

/** Today's tutorials' declaration of `rpc_queue`, in every language. */
const TUTORIAL_QUORUM = {
  durable: true,
  arguments: { "x-queue-type": "quorum" },
} as const;

/** How `rabbitmqctl list_queues` shows `{x-queue-type: quorum}`. */
const QUORUM_ARGUMENTS = [["x-queue-type", "longstr", "quorum"]];

/**
 * Declares `queue` as another program would (`durable`, `autoDelete`,
 * `args`): resolves with the broker's refusal text, or `undefined` if it
 * took the declaration.
 */
async function declareAsOther(
  queue: string,
  options: { durable: boolean; autoDelete?: boolean },
  args: Record<string, Field> = {},
): Promise<string | undefined> {
  const connection = await openConnection({ url });
  try {
    const channel = await connection.channel();
    await channel.queueDeclare(queue, {
      durable: options.durable,
      autoDelete: options.autoDelete ?? false,
      exclusive: false,
    }, args);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await closeConnection(connection);
  }
}

/**
 * Declares `queue` as a tutorial worker of today does: resolves with the
 * broker's refusal, or `undefined` if it took the declaration.
 */
function declareAsTutorial(queue: string): Promise<string | undefined> {
  return declareAsOther(queue, TUTORIAL_QUORUM, TUTORIAL_QUORUM.arguments);
}

Deno.test({
  ...opts,
  name:
    "a worker with no queue options consumes a queue declared as today's tutorials declare it, as it is",
  async fn() {
    await using scratch = scratchQueue("adopt-quorum");
    const queue = scratch.name;
    assert.equal(
      await declareAsTutorial(queue),
      undefined,
    );
    const lines: string[] = [];
    await using server = await serve({
      url,
      queue,
      logger: {
        debug: () => {},
        info: (line) => lines.push(line),
        warn: () => {},
        error: () => {},
      },
    }, fibHandler());
    await using client = await RpcClient.connect({ url });
    assert.equal((await client.call(queue, "30")).text(), "832040");
    assert.equal(server.queueState?.declared, false);
    assert.equal(server.queueState?.deliveryLimit, undefined);
    assert.equal(
      lines.filter((line) => line.startsWith("Using the existing queue"))
        .length,
      1,
    );
    // Untouched: still the tutorials' quorum queue, nothing added.
    const info = await queueInfo(queue);
    assert.equal(info.type, "quorum");
    assert.deepEqual(info.arguments, QUORUM_ARGUMENTS);
    assert.equal(
      await declareAsTutorial(queue),
      undefined,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "on a queue it found, a worker answers a failing idempotent request with its error once and never hands it back",
  async fn() {
    await using scratch = scratchQueue("adopt-no-retry");
    const queue = scratch.name;
    await declareAsTutorial(queue);
    let runs = 0;
    await using server = await serve({ url, queue }, () => {
      runs++;
      throw new Error("flaky");
    });
    await using client = await RpcClient.connect({ url });
    await assert.rejects(
      client.call(queue, "x", { idempotent: true, timeout: 10_000 }),
      (error) => error instanceof RemoteError && error.code === "INTERNAL",
    );
    await waitFor(() => server.inFlight === 0, "the request to settle");
    const stats = server.stats();
    assert.equal(runs, 1);
    assert.deepEqual([stats.requeued, stats.deadLettered], [0, 0]);
    assert.equal(
      await (async () => {
        const connection = await openConnection({ url });
        try {
          const channel = await connection.channel();
          return (await channel.queueDeclare(queue, { passive: true }))
            .messageCount;
        } finally {
          await closeConnection(connection);
        }
      })(),
      0,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "TUTORIAL_QUORUM_QUEUE declares exactly what today's tutorials declare, so that their workers start after ours",
  async fn() {
    await using scratch = scratchQueue("tutorial-quorum");
    const queue = scratch.name;
    await using server = await serve(
      { url, queue, ...TUTORIAL_QUORUM_QUEUE },
      fibHandler(),
    );
    assert.equal(server.queueState?.declared, true);
    assert.equal(server.queueState?.deliveryLimit, undefined);
    const info = await queueInfo(queue);
    assert.deepEqual(
      [info.type, info.durable, info.auto_delete, info.arguments],
      ["quorum", true, false, QUORUM_ARGUMENTS],
    );
    // A tutorial worker's declaration is taken.
    assert.equal(
      await declareAsTutorial(queue),
      undefined,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "an explicit queueType that the queue found does not have is refused in one message with the way out, and nothing is left running",
  async fn() {
    await using scratch = scratchQueue("demand-type");
    const queue = scratch.name;
    // The seed's classic queue, as its Go worker declares it.
    await declareAsOther(queue, { durable: false });
    await assert.rejects(
      serve({ url, queue, queueType: "quorum" }, fibHandler()),
      (error) => {
        assert.ok(error instanceof QueueError);
        assert.equal(error.mismatch?.found, "type classic");
        assert.equal(
          error.message,
          `Queue "${queue}" exists with type classic, but queueType asks for type quorum: leave queueType out to use the queue as it is, or delete the queue (rabbitmqctl delete_queue ${queue}) to have it declared as asked`,
        );
        return true;
      },
    );
  },
});

Deno.test({
  ...opts,
  name:
    "explicit quorum options are checked against a queue found, whatever else it has, and its checked delivery limit rules retries",
  async fn() {
    await using scratch = scratchQueue("demand-limit", {
      also: ["{}.parked"],
    });
    const queue = scratch.name;
    // Declared by another program, with more than the options ask.
    await declareAsOther(`${queue}.parked`, TUTORIAL_QUORUM, {
      "x-queue-type": "quorum",
    });
    await declareAsOther(queue, { durable: true }, {
      "x-queue-type": "quorum",
      "x-delivery-limit": 1,
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": `${queue}.parked`,
      "x-max-length": 1000,
    });
    let runs = 0;
    await using server = await serve({
      url,
      queue,
      queueType: "quorum",
      deliveryLimit: 1,
    }, () => {
      runs++;
      throw new HandlerError("INTERNAL", "flaky");
    });
    assert.deepEqual(
      [
        server.queueState?.declared,
        server.queueState?.deliveryLimit,
        server.queueState?.deadLetterQueue,
        server.queueState?.checked,
      ],
      [false, 1, `${queue}.parked`, ["queueType", "deliveryLimit"]],
    );
    await using client = await RpcClient.connect({ url });
    await assert.rejects(
      client.call(queue, "x", { idempotent: true, timeout: 10_000 }),
      (error) => error instanceof RemoteError && error.code === "INTERNAL",
    );
    await waitFor(() => server.stats().deadLettered === 1, "the park");
    assert.equal(runs, 2);
    await assert.rejects(
      serve({ url, queue, queueType: "quorum", deliveryLimit: 3 }, () => ""),
      (error) =>
        error instanceof QueueError &&
        error.mismatch?.found === "x-delivery-limit 1" &&
        error.mismatch?.asked === "x-delivery-limit 3",
    );
  },
});

Deno.test({
  ...opts,
  name:
    "a worker that found the queue declares it with its own options once it is deleted",
  async fn() {
    await using scratch = scratchQueue("adopt-redeclare");
    const queue = scratch.name;
    await declareAsTutorial(queue);
    await using server = await serve({ url, queue }, fibHandler());
    assert.equal(server.queueState?.declared, false);
    const connection = await openConnection({ url });
    try {
      const channel = await connection.channel();
      await channel.queueDelete(queue);
    } finally {
      await closeConnection(connection);
    }
    await waitFor(
      () => server.queueState?.declared === true && server.state === "open",
      "the worker to declare the queue again",
    );
    const info = await queueInfo(queue);
    assert.deepEqual([info.type, info.durable], ["classic", false]);
    await using client = await RpcClient.connect({ url });
    assert.equal((await client.call(queue, "10")).text(), "55");
  },
});

Deno.test({
  ...opts,
  name:
    "a delivery limit that a classic queue takes unchecked starts no retries: a failing request runs once",
  async fn() {
    await using scratch = scratchQueue("classic-limit");
    const queue = scratch.name;
    await declareAsOther(queue, { durable: false });
    let runs = 0;
    await using server = await serve({
      url,
      queue,
      queueArguments: { "x-delivery-limit": 3 },
    }, () => {
      runs++;
      throw new HandlerError("INTERNAL", "flaky");
    });
    assert.equal(server.queueState?.deliveryLimit, undefined);
    await using client = await RpcClient.connect({ url });
    await assert.rejects(
      client.call(queue, "x", { idempotent: true, timeout: 10_000 }),
      (error) => error instanceof RemoteError && error.code === "INTERNAL",
    );
    await waitFor(() => server.inFlight === 0, "the request to settle");
    assert.equal(runs, 1);
    assert.equal(server.stats().requeued, 0);
  },
});

Deno.test({
  ...opts,
  name:
    "a worker that finds its quorum queue without its dead-letter queue declares that before consuming",
  async fn() {
    await using scratch = scratchQueue("found-dlq", {
      also: ["{}.dead-letter"],
    });
    const queue = scratch.name;
    const options = {
      url,
      queue,
      queueType: "quorum",
      deliveryLimit: 1,
    } as const;
    {
      await using _first = await serve(options, fibHandler());
    }
    const connection = await openConnection({ url });
    try {
      await (await connection.channel()).queueDelete(`${queue}.dead-letter`);
    } finally {
      await closeConnection(connection);
    }
    await using server = await serve(options, fibHandler());
    assert.deepEqual(
      [server.queueState?.declared, server.queueState?.deadLetterQueue],
      [false, `${queue}.dead-letter`],
    );
    const info = await queueInfo(`${queue}.dead-letter`);
    assert.equal(info.type, "quorum");
  },
});
