/**
 * A worker against requests and handlers that would cost others more than
 * themselves, on the shared broker. Black-box: the public API and raw AMQP
 * only, so that these also run on a commit before the fixes.
 *
 * - Direct reply-to addresses naming made-up broker nodes, in bulk, do not
 *   hold up an honest call behind them.
 * - A handler that never settles and ignores its signal does not hold its
 *   prefetch slot for good; enough of them make the worker unhealthy.
 * - An unexpected error's message (a connection string, say) does not
 *   reach the caller; its error id does.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { RemoteError, RpcClient, serve, TimeoutError } from "../../mod.ts";
import { serveMetrics } from "../../observability.ts";
import { amqplib } from "../deps.ts";
import {
  AMQP_URL,
  ROOT,
  scratchQueue,
  startCli,
  waitFor,
} from "../_helpers.ts";
import { madeUpReplyTo } from "../_reply_to.ts";
import { rawPeer } from "../_amqp_peer.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  ...opts,
  name:
    "100 requests whose direct reply-to addresses name made-up nodes do not hold up an honest call behind them",
  async fn() {
    await using queue = scratchQueue("security-ghosts");
    // The default prefetch, 1: requests are handled one after another.
    await using _server = await serve(
      { queue: queue.name },
      (request) => `echo ${request.text()}`,
    );
    const raw = await amqplib.connect(AMQP_URL);
    try {
      const channel = await raw.createConfirmChannel();
      for (let i = 0; i < 100; i++) {
        channel.sendToQueue(queue.name, Buffer.from("ghost"), {
          replyTo: madeUpReplyTo(i),
          correlationId: `ghost-${i}`,
        });
      }
      await channel.waitForConfirms();
      await using client = await RpcClient.connect();
      // Behind them in the queue; before the fix it waited for a probe
      // connection per made-up node (5 s for 100), past this timeout.
      const reply = await client.call(queue.name, "honest", { timeout: 3_000 });
      assert.equal(reply.text(), "echo honest");
    } finally {
      await raw.close();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "a handler that never settles and ignores its signal gives its slot back once its caller's deadline passes",
  async fn() {
    await using queue = scratchQueue("security-stuck");
    let hung = 0;
    await using _server = await serve({
      queue: queue.name,
      prefetch: 1,
      maxStuckHandlers: 5,
    }, (request) => {
      if (request.text() === "hang") {
        hung++;
        return new Promise<string>(() => {});
      }
      return `echo ${request.text()}`;
    });
    await using client = await RpcClient.connect();
    await assert.rejects(
      client.call(queue.name, "hang", { timeout: 300 }),
      TimeoutError,
    );
    // Before the fix, the hung handler held the only slot for good.
    const reply = await client.call(queue.name, "honest", { timeout: 15_000 });
    assert.equal(reply.text(), "echo honest");
    assert.equal(hung, 1);
  },
});

Deno.test({
  ...opts,
  name:
    "as many stuck handlers as the prefetch make the worker unhealthy: /healthz answers 503",
  async fn() {
    await using queue = scratchQueue("security-wedged");
    const server = await serve(
      { queue: queue.name, prefetch: 1 },
      () => new Promise<string>(() => {}),
    );
    try {
      await using metrics = serveMetrics(server, {
        port: 0,
        hostname: "127.0.0.1",
      });
      const healthz = `http://127.0.0.1:${metrics.addr.port}/healthz`;
      const status = async () => {
        const response = await fetch(healthz);
        await response.body?.cancel();
        return response.status;
      };
      assert.equal(await status(), 200);
      await using client = await RpcClient.connect();
      await assert.rejects(
        client.call(queue.name, "hang", { timeout: 300 }),
        TimeoutError,
      );
      await waitFor(
        async () => (await status()) === 503,
        "/healthz to answer 503",
        15_000,
      );
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "an unexpected error's message stays in the worker's log: the caller gets its code and an error id",
  async fn() {
    await using scratch = scratchQueue("security-internal");
    const queue = scratch.name;
    const secret = "postgres://billing:hunter2@db.internal:5432/ledger";
    await using _server = await serve({ queue }, () => {
      throw new Error(`could not connect to ${secret}`);
    });
    await using client = await RpcClient.connect();
    const error = await client.call(queue, "x", { timeout: 10_000 }).then(
      () => assert.fail("no error"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof RemoteError);
    assert.equal(error.code, "INTERNAL");
    assert.doesNotMatch(error.message, /hunter2|db\.internal/);
    assert.match(error.message, /error id [0-9a-f]{16}/);
  },
});

Deno.test({
  ...opts,
  name:
    "deno task server stops with exit status 1 once its stuck handlers reach the limit, after answering DEADLINE_EXCEEDED",
  async fn() {
    await using queue = scratchQueue("security-cli-stuck");
    await using worker = startCli("server.ts", [
      "--queue",
      queue.name,
      "--handler",
      `${ROOT}tests/fixtures/hang_service.ts`,
      "--max-handler-time",
      "200",
      "--quiet",
    ]);
    await worker.waitForLine("Awaiting RPC requests");
    let exited: Deno.CommandStatus | undefined;
    worker.status().then((status) => exited = status);
    await using peer = await rawPeer();
    // As the tutorial's clients send it: no deadline.
    peer.send(queue.name, "30", {
      replyTo: peer.replyQueue,
      correlationId: "stuck-1",
    });
    let replies: Awaited<ReturnType<typeof peer.nextReplies>> = [];
    peer.nextReplies(1).then((all) => replies = all);
    await waitFor(() => replies.length === 1, "the answer", 15_000);
    assert.equal(replies[0].headers["x-rpc-error"], "DEADLINE_EXCEEDED");
    await waitFor(
      () => exited !== undefined,
      "the worker to stop by itself",
      20_000,
    );
    assert.equal(exited?.code, 1);
    assert.match(worker.stderr(), /handlers are stuck past their time/);
  },
});
