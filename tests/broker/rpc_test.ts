/**
 * The client and the worker against the real broker.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  ConnectionError,
  ConnectionLostError,
  HandlerError,
  NoRouteError,
  QueueError,
  RemoteError,
  RpcClient,
  serve,
  TimeoutError,
} from "../../mod.ts";
import { fib } from "../../services/fib/fib.ts";
import { fibHandler } from "../../services/fib/method.ts";
import { startRig } from "./_rig.ts";
import { AMQP_URL, scratchQueue, waitFor } from "../_helpers.ts";
import { rawPeer } from "../_amqp_peer.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const url = AMQP_URL;

Deno.test({
  ...opts,
  name: "a call round-trips through a worker on the real broker",
  async fn() {
    await using rig = await startRig("roundtrip", { handler: fibHandler() });
    const { queue, client } = rig;
    const reply = await client.call(queue, "30");
    assert.equal(reply.text(), "832040");
    assert.equal(reply.properties.contentType, "text/plain");
    assert.equal(client.pending, 0);
  },
});

Deno.test({
  ...opts,
  name: "a client with direct reply-to gets its replies",
  async fn() {
    await using rig = await startRig("direct", {
      handler: fibHandler(),
      client: { replyQueue: "direct" },
    });
    const { queue, client } = rig;
    assert.equal((await client.call(queue, "10")).text(), "55");
  },
});

Deno.test({
  ...opts,
  name: "1,000 concurrent calls on one client each get their own answer",
  async fn() {
    await using rig = await startRig("concurrent", {
      handler: fibHandler(),
      serve: { prefetch: 50 },
    });
    const { queue, client } = rig;
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, n) => client.call(queue, String(n))),
    );
    replies.forEach((reply, n) => assert.equal(reply.text(), String(fib(n))));
    assert.equal(client.pending, 0);
    assert.equal(client.droppedReplies, 0);
  },
});

Deno.test({
  ...opts,
  name: "two workers on one queue share the load",
  async fn() {
    await using scratch = scratchQueue("share");
    const queue = scratch.name;
    const counts = [0, 0];
    const worker = (i: number) => (request: { text(): string }) => {
      counts[i]++;
      return request.text();
    };
    await using _a = await serve({ url, queue }, worker(0));
    await using _b = await serve({ url, queue }, worker(1));
    await using client = await RpcClient.connect({ url });
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => client.call(queue, String(i))),
    );
    replies.forEach((reply, i) => assert.equal(reply.text(), String(i)));
    assert.equal(counts[0] + counts[1], 200);
    assert.ok(counts[0] > 0 && counts[1] > 0, `counts: ${counts}`);
  },
});

Deno.test({
  ...opts,
  name: "duplicate and unknown replies are ignored by the client",
  async fn() {
    await using scratch = scratchQueue("duplicates");
    const queue = scratch.name;
    await using peer = await rawPeer();
    await peer.channel.assertQueue(queue, { exclusive: true });
    // A worker that sends a stray reply, the real one, then a duplicate, as
    // happens when a worker dies between replying and acking.
    await peer.channel.consume(queue, (msg: {
      content: Uint8Array;
      properties: { replyTo: string; correlationId: string };
    }) => {
      const { replyTo, correlationId } = msg.properties;
      const answer = Buffer.from(`re:${msg.content}`);
      peer.channel.sendToQueue(replyTo, answer, { correlationId: "stray" });
      peer.channel.sendToQueue(replyTo, answer, { correlationId });
      peer.channel.sendToQueue(replyTo, answer, { correlationId });
    }, { noAck: true });
    await using client = await RpcClient.connect({ url });
    assert.equal((await client.call(queue, "a")).text(), "re:a");
    assert.equal((await client.call(queue, "b")).text(), "re:b");
    // Stray and duplicate of the first call, stray of the second at least.
    assert.ok(client.droppedReplies >= 3, `${client.droppedReplies}`);
    assert.equal(client.pending, 0);
  },
});

Deno.test({
  ...opts,
  name:
    "a call to an idle queue rejects with TimeoutError and leaves no stale request",
  async fn() {
    await using scratch = scratchQueue("idle");
    const queue = scratch.name;
    await using peer = await rawPeer();
    await peer.channel.assertQueue(queue, { autoDelete: false });
    await using client = await RpcClient.connect({ url });
    await assert.rejects(
      client.call(queue, "30", { timeout: 300 }),
      TimeoutError,
    );
    assert.equal(client.pending, 0);
    // The request carried its timeout as its expiration: the broker drops
    // it, so no worker started later answers a call nobody awaits.
    await waitFor(async () => (await peer.messageCount(queue)) === 0);
  },
});

Deno.test({
  ...opts,
  name: "RpcClient.call() rejects with the abort reason when its signal aborts",
  async fn() {
    await using scratch = scratchQueue("abort");
    const queue = scratch.name;
    await using peer = await rawPeer();
    await peer.channel.assertQueue(queue, { exclusive: true });
    await using client = await RpcClient.connect({ url });
    const controller = new AbortController();
    const call = client.call(queue, "1", { signal: controller.signal });
    controller.abort();
    await assert.rejects(call, { name: "AbortError" });
    assert.equal(client.pending, 0);
  },
});

Deno.test({
  ...opts,
  name: "a call to a queue nobody declared rejects with NoRouteError",
  async fn() {
    await using client = await RpcClient.connect({ url });
    await using scratch = scratchQueue("noroute");
    const queue = scratch.name;
    await assert.rejects(
      client.call(queue, "30", { timeout: 60_000 }),
      (err) => {
        assert.ok(err instanceof NoRouteError);
        assert.equal(
          err.message,
          `Cannot call "${queue}": no queue is bound to that name`,
        );
        return true;
      },
    );
    assert.equal(client.pending, 0);
  },
});

Deno.test({
  ...opts,
  name: "handler errors reach the caller as RemoteError with their code",
  async fn() {
    await using rig = await startRig("remote-error", {
      handler: (request) => {
        switch (request.text()) {
          case "type":
            throw new TypeError("not a number");
          case "range":
            throw new RangeError("too big");
          case "custom":
            throw new HandlerError("METHOD_NOT_FOUND", "no such method");
          case "bytes":
            return new Uint8Array([1, 2, 3]);
          default:
            throw new Error("boom");
        }
      },
    });
    const { queue, client } = rig;
    const expect = async (body: string, code: string, name: string) => {
      await assert.rejects(client.call(queue, body), (err) => {
        assert.ok(err instanceof RemoteError);
        assert.equal(err.code, code);
        assert.equal(err.remoteName, name);
        return true;
      });
    };
    await expect("type", "INVALID_ARGUMENT", "TypeError");
    await expect("range", "OUT_OF_RANGE", "RangeError");
    await expect("custom", "METHOD_NOT_FOUND", "HandlerError");
    await expect("other", "INTERNAL", "Error");
    const bytes = await client.call(queue, "bytes");
    assert.deepEqual([...bytes.body], [1, 2, 3]);
    assert.equal(bytes.properties.contentType, "application/octet-stream");
    // The worker is still up after its handler failed.
    await expect("other", "INTERNAL", "Error");
  },
});

Deno.test({
  ...opts,
  name: "the handler's signal aborts at the caller's deadline",
  async fn() {
    await using scratch = scratchQueue("deadline-signal");
    const queue = scratch.name;
    let sawAbort!: (reason: unknown) => void;
    const aborted = new Promise((resolve) => (sawAbort = resolve));
    await using _server = await serve({ url, queue }, (request) => {
      assert.ok(request.deadline !== undefined);
      return new Promise((_, reject) => {
        request.signal.addEventListener("abort", () => {
          sawAbort(request.signal.reason);
          reject(request.signal.reason);
        });
      });
    });
    await using client = await RpcClient.connect({ url });
    await assert.rejects(
      client.call(queue, "x", { timeout: 200 }),
      TimeoutError,
    );
    const reason = await aborted;
    assert.ok(reason instanceof HandlerError);
    assert.equal(reason.code, "DEADLINE_EXCEEDED");
  },
});

Deno.test({
  ...opts,
  name:
    "a request already past its deadline is answered without running the handler",
  async fn() {
    await using scratch = scratchQueue("deadline-past");
    const queue = scratch.name;
    let calls = 0;
    await using _server = await serve({ url, queue }, () => {
      calls++;
      return "ran";
    });
    await using peer = await rawPeer();
    peer.send(queue, "1", {
      replyTo: peer.replyQueue,
      correlationId: "late",
      headers: { "x-deadline": Date.now() - 1000 },
    });
    peer.send(queue, "2", { replyTo: peer.replyQueue, correlationId: "ok" });
    const [late, ok] = await peer.nextReplies(2);
    assert.equal(late.correlationId, "late");
    assert.equal(late.headers["x-rpc-error"], "DEADLINE_EXCEEDED");
    assert.equal(ok.body, "ran");
    assert.equal(calls, 1);
  },
});

Deno.test({
  ...opts,
  name:
    "malformed requests get error replies or are dropped, and the worker stays up",
  async fn() {
    await using scratch = scratchQueue("malformed");
    const queue = scratch.name;
    await using server = await serve(
      { url, queue, maxRequestBytes: 4096 },
      fibHandler(),
    );
    await using peer = await rawPeer();
    const cases: [string | Uint8Array, string][] = [
      ["abc", "INVALID_ARGUMENT"],
      ["", "INVALID_ARGUMENT"],
      ["3.5", "INVALID_ARGUMENT"],
      ["-5", "OUT_OF_RANGE"],
      ["99999999999999999999999999", "OUT_OF_RANGE"],
      [new Uint8Array([0, 159, 146, 150, 255]), "INVALID_ARGUMENT"],
      ["9".repeat(5000), "TOO_LARGE"],
      [" 7\n", "13"],
    ];
    // Requests nobody can be answered: no reply_to, or a reply_to naming
    // no queue. The worker acks them and carries on.
    peer.send(queue, "30", { correlationId: "no-reply-to" });
    peer.send(queue, "30", { replyTo: "no.such.queue", correlationId: "x" });
    peer.send(queue, "30", {
      replyTo: "amq.rabbitmq.reply-to.bogus",
      correlationId: "y",
    });
    cases.forEach(([body, _], i) =>
      peer.send(queue, body, {
        replyTo: peer.replyQueue,
        correlationId: `${i}`,
      })
    );
    const replies = await peer.nextReplies(cases.length);
    replies.forEach((reply, i) => {
      assert.equal(reply.correlationId, `${i}`);
      const expected = cases[i][1];
      if (/^\d+$/.test(expected)) {
        assert.equal(reply.body, expected);
        assert.equal(reply.headers["x-rpc-error"], undefined);
      } else {
        assert.equal(reply.headers["x-rpc-error"], expected, reply.body);
        assert.equal(reply.contentType, "application/json");
        const body = JSON.parse(reply.body);
        assert.equal(body.code, expected);
        assert.equal(typeof body.message, "string");
        assert.equal(typeof body.name, "string");
      }
    });
    // Still consuming, and every request was acked: once the worker is
    // closed, anything unacked would be back in the queue.
    await using client = await RpcClient.connect({ url });
    assert.equal((await client.call(queue, "30")).text(), "832040");
    await server.close();
    assert.equal(await peer.messageCount(queue), 0);
  },
});

Deno.test({
  ...opts,
  name: "a tutorial-style amqplib client gets its answer from serve()",
  async fn() {
    await using scratch = scratchQueue("interop-in");
    const queue = scratch.name;
    await using _server = await serve({ url, queue }, fibHandler());
    await using peer = await rawPeer();
    // As the tutorial's JavaScript client: text body, reply_to and
    // correlation_id only, no content type, no deadline.
    peer.send(queue, "30", { replyTo: peer.replyQueue, correlationId: "c1" });
    const [reply] = await peer.nextReplies(1);
    assert.equal(reply.body, "832040");
    assert.equal(reply.correlationId, "c1");
  },
});

Deno.test({
  ...opts,
  name: "RpcClient gets its answer from a tutorial-style amqplib worker",
  async fn() {
    await using scratch = scratchQueue("interop-out");
    const queue = scratch.name;
    await using peer = await rawPeer();
    // As the tutorial's JavaScript server: prefetch 1, manual ack, replies
    // with the request's correlation id, ignores every other property.
    await peer.channel.assertQueue(queue, { durable: false, exclusive: true });
    await peer.channel.prefetch(1);
    await peer.channel.consume(queue, (msg: {
      content: Uint8Array;
      properties: { replyTo: string; correlationId: string };
    }) => {
      const n = Number(new TextDecoder().decode(msg.content));
      peer.channel.sendToQueue(
        msg.properties.replyTo,
        Buffer.from(String(fib(n))),
        { correlationId: msg.properties.correlationId },
      );
      peer.channel.ack(msg);
    });
    await using client = await RpcClient.connect({ url });
    assert.equal((await client.call(queue, "30")).text(), "832040");
  },
});

Deno.test({
  ...opts,
  name:
    "serve() rejects with QueueError when the queue exists with other arguments than an explicit option asks",
  async fn() {
    await using scratch = scratchQueue("precondition");
    const queue = scratch.name;
    await using peer = await rawPeer();
    await peer.channel.assertQueue(queue, { durable: true });
    await assert.rejects(
      serve({ url, queue, queueType: "quorum" }, fibHandler()),
      (err) => {
        assert.ok(err instanceof QueueError);
        assert.equal(err.replyCode, 406);
        assert.deepEqual(err.mismatch, {
          options: ["queueType"],
          property: "x-queue-type",
          found: "type classic",
          asked: "type quorum",
        });
        assert.match(err.message, /rabbitmqctl delete_queue/);
        return true;
      },
    );
  },
});

Deno.test({
  ...opts,
  name: "connecting to an unreachable broker rejects with ConnectionError",
  async fn() {
    await assert.rejects(
      RpcClient.connect({ url: "amqp://guest:guest@127.0.0.1:1" }),
      (err) => {
        assert.ok(err instanceof ConnectionError);
        assert.match(err.message, /connection refused/);
        return true;
      },
    );
    await assert.rejects(
      serve({ url: "amqp://guest:guest@127.0.0.1:1" }, fibHandler()),
      ConnectionError,
    );
  },
});

Deno.test({
  ...opts,
  name: "a wrong password rejects with ConnectionError that does not show it",
  async fn() {
    const bad = new URL(url);
    bad.password = "not-the-password";
    await assert.rejects(RpcClient.connect({ url: bad.href }), (err) => {
      assert.ok(err instanceof ConnectionError);
      assert.match(err.message, /refused the login of user "guest"/);
      assert.ok(!err.message.includes("not-the-password"));
      assert.ok(!String(err.cause).includes("not-the-password"));
      return true;
    });
  },
});

Deno.test({
  ...opts,
  name: "RpcServer.close() lets running handlers answer, and is idempotent",
  async fn() {
    await using scratch = scratchQueue("close");
    const queue = scratch.name;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const server = await serve({ url, queue }, async () => {
      started();
      await released;
      return "done";
    });
    await using client = await RpcClient.connect({ url });
    const call = client.call(queue, "x");
    await running;
    const closing = server.close();
    assert.equal(server.close(), closing);
    assert.equal(server.inFlight, 1);
    release();
    assert.equal((await call).text(), "done");
    await closing;
    await server.finished;
  },
});

Deno.test({
  ...opts,
  name: "serve() stops when its signal aborts",
  async fn() {
    await using scratch = scratchQueue("signal");
    const queue = scratch.name;
    const controller = new AbortController();
    const server = await serve(
      { url, queue, signal: controller.signal },
      fibHandler(),
    );
    controller.abort();
    await server.finished;
    await using client = await RpcClient.connect({ url });
    // Its queue is still declared but nobody consumes it any more.
    await assert.rejects(
      client.call(queue, "1", { timeout: 200 }),
      TimeoutError,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "RpcServer.close() aborts handlers after its grace period and requeues their requests",
  async fn() {
    await using scratch = scratchQueue("grace");
    const queue = scratch.name;
    let aborted = false;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const first = await serve({ url, queue, gracePeriod: 50 }, (request) => {
      started();
      // Waits for its signal only: no deadline, so only the close aborts it.
      return new Promise((_, reject) =>
        request.signal.addEventListener("abort", () => {
          aborted = true;
          reject(request.signal.reason);
        })
      );
    });
    await using client = await RpcClient.connect({ url });
    const call = client.call(queue, "x", { timeout: Infinity });
    await running;
    await first.close();
    assert.ok(aborted);
    // The request went back to the queue; the next worker answers it.
    await using _second = await serve({ url, queue }, () => "second");
    assert.equal((await call).text(), "second");
  },
});

Deno.test({
  ...opts,
  name:
    "calls in flight reject with ConnectionLostError when the reply queue is deleted",
  async fn() {
    await using scratch = scratchQueue("reply-lost");
    const queue = scratch.name;
    await using peer = await rawPeer();
    await peer.channel.assertQueue(queue, { exclusive: true });
    // A "worker" that tells us the caller's reply queue instead of answering.
    let gotReplyTo!: (name: string) => void;
    const replyTo = new Promise<string>((resolve) => (gotReplyTo = resolve));
    await peer.channel.consume(queue, (msg: {
      properties: { replyTo: string };
    }) => gotReplyTo(msg.properties.replyTo), { noAck: true });
    await using client = await RpcClient.connect({
      url,
      replyQueue: "exclusive",
    });
    const rejected = assert.rejects(
      client.call(queue, "1", { timeout: 60_000 }),
      ConnectionLostError,
    );
    // An operator deletes the reply queue (only an admin can: it is
    // exclusive to the client's connection).
    const deleted = await new Deno.Command("rabbitmqctl", {
      args: ["delete_queue", await replyTo],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.ok(deleted.success, "rabbitmqctl delete_queue failed");
    await rejected;
    assert.equal(client.pending, 0);
  },
});

Deno.test({
  ...opts,
  name:
    "serve() rejects and leaves nothing running when aborted while starting",
  async fn() {
    await using scratch = scratchQueue("abort-start");
    const queue = scratch.name;
    const controller = new AbortController();
    const starting = serve(
      { url, queue, signal: controller.signal },
      fibHandler(),
    );
    controller.abort(new Error("not now"));
    await assert.rejects(starting, /not now/);
    await using peer = await rawPeer();
    const ok = await peer.channel.checkQueue(queue).catch(() => undefined);
    assert.equal(ok?.consumerCount ?? 0, 0);
  },
});

Deno.test({
  ...opts,
  name: "a worker whose queue is deleted declares it again and keeps answering",
  async fn() {
    await using scratch = scratchQueue("deleted");
    const queue = scratch.name;
    await using server = await serve({ url, queue }, fibHandler());
    let reconnected = false;
    server.addEventListener("reconnect", () => reconnected = true);
    await using client = await RpcClient.connect({ url });
    assert.equal((await client.call(queue, "10")).text(), "55");
    await using peer = await rawPeer();
    await peer.channel.deleteQueue(queue);
    // The broker cancels the consumer (consumer_cancel_notify); the worker
    // sets itself up again on a new connection.
    await waitFor(() => reconnected, "the worker to reconnect");
    assert.equal(server.state, "open");
    assert.equal((await client.call(queue, "11")).text(), "89");
  },
});

Deno.test({
  ...opts,
  name:
    "a repeated idempotent request is answered from the worker's cache without running the handler again",
  async fn() {
    await using scratch = scratchQueue("idempotent");
    const queue = scratch.name;
    let runs = 0;
    await using _server = await serve({ url, queue }, (request) => {
      runs++;
      return `run ${runs}: ${request.text()}`;
    });
    await using peer = await rawPeer();
    const send = (correlationId: string, messageId: string) =>
      peer.send(queue, "x", {
        replyTo: peer.replyQueue,
        correlationId,
        messageId,
        headers: { "x-idempotent": true },
      });
    send("a", "m-1");
    send("b", "m-1");
    send("c", "m-2");
    const replies = await peer.nextReplies(3);
    const byId = new Map(replies.map((r) => [r.correlationId, r.body]));
    assert.equal(byId.get("a"), "run 1: x");
    assert.equal(byId.get("b"), "run 1: x");
    assert.equal(byId.get("c"), "run 2: x");
    assert.equal(runs, 2);
    // Without the header, a message id alone is not a promise of
    // idempotency: the handler runs.
    peer.send(queue, "y", {
      replyTo: peer.replyQueue,
      correlationId: "d",
      messageId: "m-1",
    });
    const [plain] = await peer.nextReplies(1);
    assert.equal(plain.body, "run 3: y");
  },
});

Deno.test({
  ...opts,
  name:
    "requests with made-up direct reply-to addresses are dropped without costing the worker its connection",
  async fn() {
    await using scratch = scratchQueue("badreplyto");
    const queue = scratch.name;
    await using server = await serve({ url, queue, prefetch: 5 }, fibHandler());
    let disconnects = 0;
    server.addEventListener("disconnect", () => disconnects++);
    await using peer = await rawPeer();
    // A pid of a node no broker has (its name hashes to nothing), and an
    // address that is not a pid at all: RabbitMQ closes the connection of
    // whoever publishes to either.
    const node = [..."reply@1234567"].map((c) => c.charCodeAt(0));
    const pid = [131, 88, 118, 0, node.length, ...node];
    pid.push(0, 0, 1, 2, 0, 0, 0, 1, 107, 9, 101, 237);
    const unknownNode = `amq.rabbitmq.reply-to.${
      btoa(String.fromCharCode(...pid))
    }.a2V5`;
    for (const replyTo of [unknownNode, "amq.rabbitmq.reply-to.abc.def"]) {
      for (let i = 0; i < 3; i++) {
        peer.send(queue, "10", { replyTo, correlationId: `bad-${i}` });
      }
    }
    peer.send(queue, "10", { replyTo: peer.replyQueue, correlationId: "ok" });
    const [reply] = await peer.nextReplies(1);
    assert.equal(reply.correlationId, "ok");
    assert.equal(reply.body, "55");
    await using client = await RpcClient.connect({ url });
    assert.equal((await client.call(queue, "11")).text(), "89");
    await waitFor(async () => (await peer.messageCount(queue)) === 0);
    assert.equal(disconnects, 0);
    assert.equal(server.state, "open");
  },
});
