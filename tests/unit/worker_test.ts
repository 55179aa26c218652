/**
 * The worker's whole path (deliver → decide → run → reply → ack) over a
 * fake transport: replies, error replies of every kind of handler failure,
 * quorum retries and parking, the reply cache, closing, a blocked broker,
 * a lost channel and reply-to probing, with no broker.
 */

import assert from "node:assert/strict";
import { fakeWorker, textOf } from "../_fake_worker_transport.ts";
import { HandlerError } from "../../lib/errors.ts";

const JSON_BODY = { contentType: "application/json" };
const IDEMPOTENT = { messageId: "m-1", headers: { "x-idempotent": true } };

Deno.test("a worker replies with the handler's result and acks the request", async () => {
  await using worker = await fakeWorker(
    {},
    (request) => `Hello, ${request.text()}!`,
  );
  const outcome = await worker.transport.deliver({ body: "Deno" });
  assert.equal(outcome.settlement, "ack");
  assert.equal(textOf(outcome.reply), "Hello, Deno!");
  assert.equal(outcome.reply?.contentType, "text/plain");
  assert.equal(outcome.reply?.errorCode, undefined);
  await worker.idle();
  const stats = worker.server.stats();
  assert.deepEqual([stats.received, stats.ok, stats.inFlight], [1, 1, 0]);
});

Deno.test("a worker routes methods by type and encodes their results as JSON", async () => {
  await using worker = await fakeWorker({
    methods: {
      add: ({ a, b }: { a: number; b: number }) => ({ sum: a + b }),
      nothing: () => {},
    },
  });
  const added = await worker.transport.deliver({
    body: '{"a":1,"b":2}',
    properties: { ...JSON_BODY, type: "add" },
  });
  assert.equal(textOf(added.reply), '{"sum":3}');
  assert.equal(added.reply?.contentType, "application/json");
  // A method may return nothing: an empty JSON reply.
  const nothing = await worker.transport.deliver({
    properties: { type: "nothing" },
  });
  assert.deepEqual([textOf(nothing.reply), nothing.reply?.errorCode], [
    "",
    undefined,
  ]);
  const missing = await worker.transport.deliver({
    properties: { type: "mul" },
  });
  assert.equal(missing.reply?.errorCode, "METHOD_NOT_FOUND");
  assert.equal(missing.settlement, "ack");
});

Deno.test("a handler's failure becomes the error reply of its kind", async () => {
  const failures: Record<string, () => unknown> = {
    type: () => {
      throw new TypeError("n must be a number");
    },
    range: () => {
      throw new RangeError("n is too large");
    },
    chosen: () => {
      throw new HandlerError("PERMISSION_DENIED", "not you");
    },
    bug: () => {
      throw new Error("boom");
    },
    thrownString: () => {
      throw "a string";
    },
    rejected: () => Promise.reject(new RangeError("later")),
    unsendable: () => 10n,
    badJson: () => "never runs",
  };
  await using worker = await fakeWorker({ methods: failures });
  const codeOf = async (type: string, body = "") =>
    (await worker.transport.deliver({
      body,
      properties: { type, ...JSON_BODY },
    })).reply?.errorCode;
  assert.equal(await codeOf("type"), "INVALID_ARGUMENT");
  assert.equal(await codeOf("range"), "OUT_OF_RANGE");
  assert.equal(await codeOf("chosen"), "PERMISSION_DENIED");
  assert.equal(await codeOf("bug"), "INTERNAL");
  assert.equal(await codeOf("thrownString"), "INTERNAL");
  assert.equal(await codeOf("rejected"), "OUT_OF_RANGE");
  // A result JSON cannot write is the handler's bug, not the caller's.
  assert.equal(await codeOf("unsendable"), "INTERNAL");
  // A body that is not the JSON it claims is the caller's.
  assert.equal(await codeOf("badJson", "{"), "INVALID_ARGUMENT");
  await worker.idle();
  assert.deepEqual(worker.server.stats().errors, {
    INVALID_ARGUMENT: 2,
    OUT_OF_RANGE: 2,
    PERMISSION_DENIED: 1,
    INTERNAL: 3,
  });
});

Deno.test("a single handler that returns nothing is answered INTERNAL: a forgotten return", async () => {
  await using worker = await fakeWorker(
    {},
    (() => undefined) as unknown as () => string,
  );
  const outcome = await worker.transport.deliver();
  assert.equal(outcome.reply?.errorCode, "INTERNAL");
  assert.match(textOf(outcome.reply), /returned nothing/);
});

Deno.test("a worker drops a request without reply_to: acked, never answered", async () => {
  let ran = 0;
  await using worker = await fakeWorker({}, () => String(++ran));
  const outcome = await worker.transport.deliver({
    properties: { replyTo: undefined },
  });
  assert.deepEqual(outcome, { settlement: "ack" });
  assert.equal(ran, 0);
  await worker.idle();
  assert.equal(worker.server.stats().dropped, 1);
});

Deno.test("a worker answers a request past its deadline without running the handler", async () => {
  let ran = 0;
  await using worker = await fakeWorker({}, () => String(++ran));
  const outcome = await worker.transport.deliver({
    properties: { headers: { "x-deadline": Date.now() - 1 } },
  });
  assert.equal(outcome.reply?.errorCode, "DEADLINE_EXCEEDED");
  assert.equal(ran, 0);
  await worker.idle();
  assert.equal(worker.server.stats().expired, 1);
});

Deno.test("a worker answers a request over maxRequestBytes with TOO_LARGE", async () => {
  await using worker = await fakeWorker(
    { maxRequestBytes: 4 },
    (request) => request.text(),
  );
  assert.equal(
    (await worker.transport.deliver({ body: "12345" })).reply?.errorCode,
    "TOO_LARGE",
  );
  assert.equal(
    textOf((await worker.transport.deliver({ body: "1234" })).reply),
    "1234",
  );
});

Deno.test("a repeat of an idempotent call is answered from the cache, not run again", async () => {
  let ran = 0;
  await using worker = await fakeWorker({}, () => String(++ran));
  const first = await worker.transport.deliver({ properties: IDEMPOTENT });
  const repeat = await worker.transport.deliver({ properties: IDEMPOTENT });
  assert.deepEqual([textOf(first.reply), textOf(repeat.reply)], ["1", "1"]);
  assert.equal(ran, 1);
  await worker.idle();
  assert.equal(worker.server.stats().cacheHits, 1);
});

Deno.test("on a quorum queue a failing idempotent request is handed back, and parked after its last try", async () => {
  let ran = 0;
  await using worker = await fakeWorker({
    queueType: "quorum",
    deliveryLimit: 1,
  }, () => {
    ran++;
    throw new Error("flaky");
  });
  const first = await worker.transport.deliver({ properties: IDEMPOTENT });
  assert.deepEqual(first, { settlement: "requeue" });
  // The broker counts the deliveries; the second is the last try.
  const last = await worker.transport.deliver({
    redelivered: true,
    properties: {
      ...IDEMPOTENT,
      headers: { ...IDEMPOTENT.headers, "x-delivery-count": 1 },
    },
  });
  assert.equal(last.settlement, "reject");
  assert.equal(last.reply?.errorCode, "INTERNAL");
  assert.equal(ran, 2);
  await worker.idle();
  const stats = worker.server.stats();
  assert.deepEqual([stats.requeued, stats.deadLettered], [1, 1]);
});

Deno.test("on a classic queue a failing request is answered at once, never handed back", async () => {
  await using worker = await fakeWorker({}, () => {
    throw new Error("flaky");
  });
  const outcome = await worker.transport.deliver({ properties: IDEMPOTENT });
  assert.equal(outcome.settlement, "ack");
  assert.equal(outcome.reply?.errorCode, "INTERNAL");
});

Deno.test("closing requeues a request whose handler stops on its signal, and answers one that finishes", async () => {
  const worker = await fakeWorker(
    { gracePeriod: 0 },
    (request) =>
      new Promise<string>((resolve, reject) => {
        if (request.text() === "quick") resolve("done");
        request.signal.addEventListener(
          "abort",
          () => reject(request.signal.reason),
        );
      }),
  );
  const quick = worker.transport.deliver({ body: "quick" });
  const slow = worker.transport.deliver({ body: "slow" });
  assert.equal(textOf((await quick).reply), "done");
  await worker.server.close();
  assert.deepEqual(await slow, { settlement: "requeue" });
  assert.equal(worker.transport.closed, 1);
  assert.equal(worker.transport.stoppedConsuming, 1);
  await worker.server.finished;
});

Deno.test("while the broker blocks publishing, replies wait; they leave when it unblocks", async () => {
  await using worker = await fakeWorker({}, (request) => request.text());
  worker.transport.block();
  let settled = false;
  const outcome = worker.transport.deliver({ body: "held" });
  outcome.then(() => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(settled, false);
  worker.transport.unblock();
  assert.equal(textOf((await outcome).reply), "held");
});

Deno.test("a request whose channel is lost while it runs is neither answered nor settled", async () => {
  const { promise: release, resolve } = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  await using worker = await fakeWorker({}, async () => {
    started.resolve();
    await release;
    return "late";
  });
  const delivery = {
    body: new Uint8Array(),
    bodySize: 0,
    redelivered: false,
    properties: { replyTo: "amq.gen-1", correlationId: "c" },
  };
  const outcome = worker.transport.handOver(delivery);
  await started.promise;
  worker.transport.loseDelivery(delivery);
  resolve();
  await worker.idle();
  assert.equal(worker.transport.isSettled(delivery), false);
  void outcome;
});

Deno.test("a reply to a direct reply-to node not seen before goes out on a probe; an unknown node is dropped from then on", async () => {
  const direct =
    "amq.rabbitmq.reply-to.g1h2AA1yZXBseUA5MjQ4ODg0AAB/7gAAAAFrCWXt.PbeAjZZTwwEvu4TKSP19Yw==";
  let ran = 0;
  await using worker = await fakeWorker({}, () => String(++ran));
  worker.transport.probeResult = false;
  const probed = await worker.transport.deliver({
    properties: { replyTo: direct },
  });
  assert.deepEqual(probed, { settlement: "ack" });
  const next = await worker.transport.deliver({
    properties: { replyTo: direct },
  });
  assert.deepEqual(next, { settlement: "ack" });
  // The second never ran: dropped as unanswerable on arrival.
  assert.equal(ran, 1);
  await worker.idle();
  assert.equal(worker.server.stats().dropped, 2);
});

Deno.test("a direct reply-to node the probe finds real is answered directly from then on", async () => {
  const direct =
    "amq.rabbitmq.reply-to.g1h2AA1yZXBseUA5MjQ4ODg0AAB/7gAAAAFrCWXt.PbeAjZZTwwEvu4TKSP19Yw==";
  await using worker = await fakeWorker({}, () => "hi");
  const first = await worker.transport.deliver({
    properties: { replyTo: direct },
  });
  assert.equal(first.probed, true);
  assert.equal(textOf(first.reply), "hi");
  const second = await worker.transport.deliver({
    properties: { replyTo: direct },
  });
  assert.equal(second.probed, undefined);
  assert.equal(textOf(second.reply), "hi");
});

Deno.test("a worker reports the life of its connection as events, and fails for good when its transport does", async () => {
  await using worker = await fakeWorker({}, () => "x");
  const events: string[] = [];
  for (const type of ["disconnect", "reconnect", "blocked", "failed"]) {
    worker.server.addEventListener(type, () => events.push(type));
  }
  worker.transport.lose();
  assert.equal(worker.server.state, "reconnecting");
  worker.transport.restore();
  worker.transport.block();
  worker.transport.unblock();
  worker.transport.fail();
  assert.deepEqual(events, ["disconnect", "reconnect", "blocked", "failed"]);
  await assert.rejects(worker.server.finished, /lost its connection for good/);
  await worker.idle();
  const stats = worker.server.stats();
  assert.deepEqual([stats.disconnects, stats.reconnects], [1, 1]);
});
