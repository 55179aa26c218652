import assert from "node:assert/strict";
import { RpcClient } from "../../lib/client/rpc_client.ts";
import {
  ClosedError,
  ConnectionLostError,
  NoRouteError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from "../../lib/errors.ts";
import type { ConnectionEvent } from "../../lib/amqp/events.ts";
import { FakeTransport } from "../_fake_transport.ts";
import { RpcReply } from "../../lib/protocol/message.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

function setup(): { transport: FakeTransport; client: RpcClient } {
  const transport = new FakeTransport();
  return { transport, client: new RpcClient(transport) };
}

Deno.test({
  ...opts,
  name: "RpcClient.call() resolves with the reply whose correlation id matches",
  async fn() {
    const { transport, client } = setup();
    const first = client.call("q", "1");
    const second = client.call("q", "2");
    const [a, b] = transport.published;
    transport.reply(b.properties.correlationId, "two");
    transport.reply(a.properties.correlationId, "one");
    assert.equal((await first).text(), "one");
    assert.equal((await second).text(), "two");
    assert.equal(client.pending, 0);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() publishes with reply_to, a unique correlation id, expiration and x-deadline",
  async fn() {
    const { transport, client } = setup();
    const before = Date.now();
    const call = client.call("q", "30", {
      timeout: 5000,
      properties: { headers: { tenant: "a" }, correlationId: "mine" },
    });
    const { queue, body, properties } = transport.last;
    assert.equal(queue, "q");
    assert.equal(body, "30");
    assert.equal(properties.replyTo, "fake.reply-to");
    assert.notEqual(properties.correlationId, "mine");
    // What is left of the timeout when it is sent: all of it, but for the
    // millisecond the clock may tick meanwhile.
    const expiration = Number(properties.expiration);
    assert.ok(expiration >= 4990 && expiration <= 5000, `${expiration}`);
    assert.equal(properties.contentType, "text/plain");
    assert.equal(properties.headers?.tenant, "a");
    const deadline = properties.headers?.["x-deadline"] as number;
    assert.ok(deadline >= before + 5000 && deadline <= Date.now() + 5000);
    client.call("q", "31").catch(() => {});
    assert.notEqual(
      transport.last.properties.correlationId,
      properties.correlationId,
    );
    transport.reply(properties.correlationId, "x");
    await call;
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() sends no expiration or deadline when the timeout is Infinity",
  async fn() {
    const { transport, client } = setup();
    const call = client.call("q", new Uint8Array([1]), { timeout: Infinity });
    assert.equal(transport.last.properties.expiration, undefined);
    assert.equal(transport.last.properties.headers, undefined);
    assert.equal(
      transport.last.properties.contentType,
      "application/octet-stream",
    );
    transport.reply(transport.last.properties.correlationId, "ok");
    assert.equal((await call).text(), "ok");
    await client.close();
  },
});

Deno.test({
  ...opts,
  name: "RpcClient.call() rejects with TimeoutError when no reply comes",
  async fn() {
    const { transport, client } = setup();
    await assert.rejects(client.call("q", "1", { timeout: 20 }), (err) => {
      assert.ok(err instanceof TimeoutError);
      assert.equal(err.queue, "q");
      assert.equal(err.timeout, 20);
      return true;
    });
    assert.equal(client.pending, 0);
    // The late reply is dropped, not an error.
    transport.reply(transport.last.properties.correlationId, "late");
    assert.equal(client.droppedReplies, 1);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name: "RpcClient.call() drops replies with unknown or already-settled ids",
  async fn() {
    const { transport, client } = setup();
    const call = client.call("q", "1");
    const id = transport.last.properties.correlationId;
    transport.reply("not-ours", "stray");
    transport.reply(undefined, "no id");
    transport.reply(id, "first");
    transport.reply(id, "duplicate");
    assert.equal((await call).text(), "first");
    assert.equal(client.droppedReplies, 3);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name: "RpcClient.call() rejects with the signal's reason when aborted",
  async fn() {
    const { client } = setup();
    const controller = new AbortController();
    const call = client.call("q", "1", { signal: controller.signal });
    controller.abort(new Error("user gave up"));
    await assert.rejects(call, /user gave up/);
    assert.equal(client.pending, 0);
    await assert.rejects(
      client.call("q", "1", { signal: AbortSignal.abort() }),
      (err) => err instanceof DOMException && err.name === "AbortError",
    );
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() rejects with NoRouteError when the broker returns the request",
  async fn() {
    const { transport, client } = setup();
    const call = client.call("nobody", "1");
    transport.returnLast();
    await assert.rejects(call, (err) => {
      assert.ok(err instanceof NoRouteError);
      assert.equal(
        err.message,
        'Cannot call "nobody": no queue is bound to that name',
      );
      return true;
    });
    assert.equal(client.pending, 0);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name: "RpcClient.call() rejects with RemoteError for an error reply",
  async fn() {
    const { transport, client } = setup();
    const call = client.call("q", "x");
    transport.reply(
      transport.last.properties.correlationId,
      JSON.stringify({
        code: "INVALID_ARGUMENT",
        name: "TypeError",
        message: "bad n",
      }),
      {
        headers: { "x-rpc-error": "INVALID_ARGUMENT" },
        contentType: "application/json",
      },
    );
    await assert.rejects(call, (err) => {
      assert.ok(err instanceof RemoteError);
      assert.equal(err.code, "INVALID_ARGUMENT");
      assert.equal(err.remoteName, "TypeError");
      assert.equal(err.message, "bad n");
      return true;
    });
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() treats a reply without x-rpc-error as success whatever its content type",
  async fn() {
    const { transport, client } = setup();
    const call = client.call("q", "x");
    transport.reply(transport.last.properties.correlationId, '{"ok":true}', {
      contentType: "application/json",
    });
    assert.deepEqual((await call).json(), { ok: true });
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() rejects with ProtocolError for an error reply that is not JSON",
  async fn() {
    const { transport, client } = setup();
    const call = client.call("q", "x");
    transport.reply(transport.last.properties.correlationId, "<html>", {
      headers: { "x-rpc-error": "INTERNAL" },
    });
    await assert.rejects(call, ProtocolError);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() rejects with TimeoutError when the worker reports DEADLINE_EXCEEDED",
  async fn() {
    const { transport, client } = setup();
    const call = client.call("q", "x", { timeout: 1000 });
    transport.reply(
      transport.last.properties.correlationId,
      JSON.stringify({
        code: "DEADLINE_EXCEEDED",
        name: "TimeoutError",
        message: "late",
      }),
      { headers: { "x-rpc-error": "DEADLINE_EXCEEDED" } },
    );
    await assert.rejects(call, (err) => {
      assert.ok(err instanceof TimeoutError);
      assert.ok(err.cause instanceof RemoteError);
      return true;
    });
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() rejects with ConnectionLostError when the publish fails",
  async fn() {
    const { transport, client } = setup();
    transport.failNextPublish = new Error("channel closed");
    await assert.rejects(client.call("q", "1"), ConnectionLostError);
    assert.equal(client.pending, 0);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "calls in flight reject with ConnectionLostError when the connection is lost",
  async fn() {
    const { transport, client } = setup();
    const calls = [client.call("q", "1"), client.call("q", "2")];
    transport.lose();
    for (const call of calls) await assert.rejects(call, ConnectionLostError);
    assert.equal(client.pending, 0);
    assert.equal(client.state, "reconnecting");
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "a call made while the client reconnects is sent once the connection is back",
  async fn() {
    const { transport, client } = setup();
    const events: string[] = [];
    for (const type of ["disconnect", "reconnect"]) {
      client.addEventListener(type, () => events.push(type));
    }
    transport.lose();
    const call = client.call("q", "1", { timeout: 60_000 });
    assert.equal(transport.published.length, 0);
    assert.equal(client.pending, 1);
    transport.restore();
    assert.equal(transport.published.length, 1);
    assert.equal(client.state, "open");
    transport.reply(transport.last.properties.correlationId, "one");
    assert.equal((await call).text(), "one");
    assert.deepEqual(events, ["disconnect", "reconnect"]);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() rejects with TimeoutError naming the loss when the connection does not come back in time",
  async fn() {
    const { transport, client } = setup();
    const loss = new Error("broker restarting");
    transport.lose(loss);
    const error = await client.call("q", "1", { timeout: 20 }).then(
      () => assert.fail("resolved"),
      (e) => e,
    );
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.cause, loss);
    assert.equal(transport.published.length, 0);
    assert.equal(client.pending, 0);
    transport.restore();
    assert.equal(transport.published.length, 0);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "an idempotent call in flight is sent again after reconnecting, with the same message id",
  async fn() {
    const { transport, client } = setup();
    const call = client.call("q", "1", { idempotent: true });
    const first = transport.last.properties;
    assert.equal(first.headers?.["x-idempotent"], true);
    assert.ok(first.messageId);
    transport.lose();
    assert.equal(client.pending, 1);
    transport.restore();
    assert.equal(transport.published.length, 2);
    const second = transport.last.properties;
    assert.equal(second.messageId, first.messageId);
    assert.equal(second.correlationId, first.correlationId);
    transport.reply(second.correlationId, "one");
    assert.equal((await call).text(), "one");
    // A second answer to the same call is dropped: exactly one per call.
    transport.reply(second.correlationId, "one again");
    assert.equal(client.droppedReplies, 1);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "every call rejects with ConnectionLostError once the transport gives up reconnecting",
  async fn() {
    const { transport, client } = setup();
    const events: string[] = [];
    client.addEventListener("failed", () => events.push("failed"));
    const inFlight = client.call("q", "1", { idempotent: true });
    transport.lose();
    const waiting = client.call("q", "2");
    transport.fail();
    await assert.rejects(inFlight, ConnectionLostError);
    await assert.rejects(waiting, ConnectionLostError);
    await assert.rejects(client.call("q", "3"), ConnectionLostError);
    assert.equal(client.state, "failed");
    assert.equal(client.pending, 0);
    assert.deepEqual(events, ["failed"]);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "calls wait while the broker blocks publishing and are sent when it unblocks",
  async fn() {
    const { transport, client } = setup();
    const reasons: (string | undefined)[] = [];
    client.addEventListener(
      "blocked",
      (event) => reasons.push((event as ConnectionEvent).reason),
    );
    transport.block("low on memory");
    assert.equal(client.state, "blocked");
    const call = client.call("q", "1");
    assert.equal(transport.published.length, 0);
    transport.unblock();
    assert.equal(transport.published.length, 1);
    transport.reply(transport.last.properties.correlationId, "one");
    assert.equal((await call).text(), "one");
    assert.deepEqual(reasons, ["low on memory"]);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name: "calls beyond maxInFlight wait until earlier calls settle",
  async fn() {
    const transport = new FakeTransport();
    const client = new RpcClient(transport, { maxInFlight: 2 });
    const calls = ["1", "2", "3"].map((n) => client.call("q", n));
    assert.equal(transport.published.length, 2);
    assert.equal(client.inFlight, 2);
    assert.equal(client.pending, 3);
    transport.reply(transport.published[0].properties.correlationId, "a");
    assert.equal(transport.published.length, 3);
    assert.equal(transport.last.body, "3");
    transport.reply(transport.published[1].properties.correlationId, "b");
    transport.reply(transport.published[2].properties.correlationId, "c");
    assert.deepEqual(
      (await Promise.all(calls)).map((r) => r.text()),
      ["a", "b", "c"],
    );
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() rejects with ProtocolError for a reply over maxReplyBytes",
  async fn() {
    const transport = new FakeTransport();
    const client = new RpcClient(transport, { maxReplyBytes: 4 });
    const call = client.call("q", "1");
    transport.reply(transport.last.properties.correlationId, "12345");
    await assert.rejects(call, ProtocolError);
    assert.equal(client.pending, 0);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "a call sent after waiting carries what is left of its timeout as expiration",
  async fn() {
    const { transport, client } = setup();
    transport.lose();
    const call = client.call("q", "1", { timeout: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    transport.restore();
    const { expiration, headers } = transport.last.properties;
    assert.ok(Number(expiration) <= 60_000 - 30, `expiration ${expiration}`);
    assert.ok(Number(expiration) > 0);
    assert.equal(typeof headers?.["x-deadline"], "number");
    transport.reply(transport.last.properties.correlationId, "one");
    await call;
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.close() rejects waiting calls with ClosedError and is idempotent",
  async fn() {
    const { transport, client } = setup();
    const call = client.call("q", "1");
    const first = client.close();
    assert.equal(client.close(), first);
    await first;
    await assert.rejects(call, ClosedError);
    await assert.rejects(client.call("q", "2"), ClosedError);
    assert.equal(transport.closed, 1);
    assert.equal(client.pending, 0);
  },
});

Deno.test({
  ...opts,
  name: "RpcClient supports await using",
  async fn() {
    const transport = new FakeTransport();
    {
      await using client = new RpcClient(transport);
      assert.equal(client.pending, 0);
    }
    assert.equal(transport.closed, 1);
  },
});

Deno.test({
  ...opts,
  name: "RpcClient.call() throws TypeError or RangeError for bad arguments",
  async fn() {
    const { client } = setup();
    // deno-lint-ignore no-explicit-any
    const anyClient = client as any;
    assert.throws(() => client.call("", "1"), TypeError);
    assert.throws(() => anyClient.call(42, "1"), TypeError);
    assert.throws(() => client.call("x".repeat(256), "1"), RangeError);
    assert.throws(() => anyClient.call("q", 42), TypeError);
    assert.throws(() => anyClient.call("q", null), TypeError);
    assert.throws(() => client.call("q", "1", { timeout: 0 }), RangeError);
    assert.throws(() => client.call("q", "1", { timeout: -5 }), RangeError);
    assert.throws(() => client.call("q", "1", { timeout: NaN }), RangeError);
    assert.throws(() => anyClient.call("q", "1", { timeout: "5" }), TypeError);
    assert.throws(() => anyClient.call("q", "1", { signal: {} }), TypeError);
    assert.throws(
      () => new RpcClient(new FakeTransport(), { timeout: 0 }),
      RangeError,
    );
    assert.equal(client.pending, 0);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name: "RpcClient.call() rejects timeouts a timer cannot hold with RangeError",
  async fn() {
    const { transport, client } = setup();
    for (const timeout of [2 ** 31, 1e13, 1e21]) {
      assert.throws(() => client.call("q", "1", { timeout }), RangeError);
    }
    assert.equal(transport.published.length, 0);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() rejects properties AMQP cannot carry as bad arguments",
  async fn() {
    const { transport, client } = setup();
    // deno-lint-ignore no-explicit-any
    const bad: any[] = [
      { type: "t".repeat(256) },
      { contentType: 42 },
      { priority: 256 },
      { deliveryMode: 3 },
      { timestamp: "today" },
      { headers: { f: () => {} } },
      { headers: { nested: { deep: [Symbol("x")] } } },
      { headers: { n: Infinity } },
      { headers: { n: 2 ** 31 } },
    ];
    for (const properties of bad) {
      assert.throws(
        () => client.call("q", "1", { properties }),
        (err) => err instanceof TypeError || err instanceof RangeError,
        JSON.stringify(properties),
      );
    }
    assert.equal(transport.published.length, 0);
    assert.equal(client.pending, 0);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() sends the login's user id, never the caller's, unless told not to",
  async fn() {
    const { transport, client } = setup();
    const call = client.call("q", "1", { properties: { userId: "admin" } });
    // The fake transport has no login: no user id at all.
    assert.equal(transport.last.properties.userId, undefined);
    transport.reply(transport.last.properties.correlationId, "ok");
    await call;
    await client.close();

    const withLogin = new FakeTransport();
    Object.defineProperty(withLogin, "userId", { value: "app" });
    const client2 = new RpcClient(withLogin);
    const calls = [
      client2.call("q", "1", { properties: { userId: "admin" } }),
      client2.call("q", "2"),
    ];
    assert.deepEqual(
      withLogin.published.map((p) => p.properties.userId),
      ["app", "app"],
    );
    for (const p of withLogin.published) {
      withLogin.reply(p.properties.correlationId, "ok");
    }
    await Promise.all(calls);
    await client2.close();

    const quiet = new FakeTransport();
    Object.defineProperty(quiet, "userId", { value: "app" });
    const client3 = new RpcClient(quiet, { sendUserId: false });
    const last = client3.call("q", "1");
    assert.equal(quiet.last.properties.userId, undefined);
    quiet.reply(quiet.last.properties.correlationId, "ok");
    await last;
    await client3.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() passes an encoding failure on as the bad argument it is",
  async fn() {
    const { transport, client } = setup();
    transport.failNextPublish = new RangeError("frame too large");
    await assert.rejects(client.call("q", "1"), RangeError);
    assert.equal(client.pending, 0);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "calls wait when the client reconnects onto a connection the broker already blocks",
  async fn() {
    const { transport, client } = setup();
    transport.lose();
    transport.state = "blocked";
    transport.restore();
    assert.equal(client.state, "blocked");
    const call = client.call("q", "1");
    assert.equal(transport.published.length, 0);
    transport.state = "open";
    transport.unblock();
    transport.reply(transport.last.properties.correlationId, "one");
    assert.equal((await call).text(), "one");
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.call() rejects and forgets the call when a transport throws instead of rejecting",
  async fn() {
    const { transport, client } = setup();
    transport.throwNextPublish = new Error("broken transport");
    await assert.rejects(client.call("q", "1"), ConnectionLostError);
    assert.equal(client.pending, 0);
    assert.equal(client.inFlight, 0);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient.service() sends no call when it is printed, stringified or awaited",
  async fn() {
    const { transport, client } = setup();
    interface Calc {
      add(args: { a: number; b: number }): number;
    }
    const calc = client.service<Calc>("calc");
    assert.equal(JSON.stringify({ calc }), '{"calc":{}}');
    assert.equal(`${calc}`, '[ServiceClient("calc")]');
    assert.equal(Deno.inspect(calc), 'ServiceClient("calc")');
    assert.equal(await Promise.resolve(calc), calc);
    const record = calc as unknown as Record<string, unknown>;
    assert.equal(record.constructor, undefined);
    assert.equal(record.hasOwnProperty, undefined);
    assert.equal(transport.published.length, 0);
    // A method is still a method.
    const sum = calc.add({ a: 1, b: 2 });
    assert.equal(transport.last.properties.type, "add");
    transport.reply(transport.last.properties.correlationId, "3", {
      contentType: "application/json",
    });
    assert.equal(await sum, 3);
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "RpcClient refuses NUL in method and queue names, and a worker's odd error code settles the call",
  async fn() {
    const { transport, client } = setup();
    assert.throws(() => client.method("q", "a\u0000b"), TypeError);
    assert.throws(() => client.call("q\u0000", "1"), TypeError);
    const calls = ["A\u0000B", "constructor", "lower_case"].map((code) => {
      const call = client.call("q", "1");
      transport.reply(
        transport.last.properties.correlationId,
        JSON.stringify({ code, name: "Error", message: "odd" }),
        { headers: { "x-rpc-error": code } },
      );
      return call;
    });
    for (const call of calls) await assert.rejects(call, RemoteError);
    const stats = client.stats();
    // Codes the worker chose become labels only when they look like codes.
    assert.deepEqual(stats.remoteErrors, { OTHER: 3 });
    assert.match(
      client.metrics.render(),
      /rabbit_rpc_client_remote_errors_total\{queue="q",method="",code="OTHER"\} 3/,
    );
    await client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "client middleware gets copies of the call's properties and headers, and a forgotten await crashes nothing",
  async fn() {
    const transport = new FakeTransport();
    const client = new RpcClient(transport, {
      middleware: [
        (call, next) => {
          call.options.properties!.headers!.added = "yes";
          return next();
        },
        (_call, next) => {
          // Not awaited: the inner call fails after this returns.
          next();
          return Promise.resolve(
            new RpcReply(new Uint8Array(), { contentType: "text/plain" }),
          );
        },
      ],
    });
    const shared = { headers: { tenant: "a" } as Record<string, string> };
    const reply = await client.call("q", "1", { properties: shared });
    assert.equal(reply.text(), "");
    assert.deepEqual(shared.headers, { tenant: "a" });
    assert.equal(transport.last.properties.headers?.added, "yes");
    assert.equal(transport.last.properties.headers?.tenant, "a");
    // The inner call is still pending: closing rejects it, unhandled by
    // anyone but the client, which must not let it escape.
    await client.close();
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(client.stats().errors.closed, 1);
  },
});

Deno.test({
  ...opts,
  name: "calls refused before they start are counted in stats()",
  async fn() {
    const { client } = setup();
    const aborted = AbortSignal.abort(new Error("no"));
    await assert.rejects(client.call("q", "1", { signal: aborted }), /no/);
    await client.close();
    await assert.rejects(client.call("q", "1"), ClosedError);
    const stats = client.stats();
    assert.equal(stats.calls, 2);
    assert.deepEqual(stats.errors, { aborted: 1, closed: 1 });
  },
});

Deno.test({
  ...opts,
  name:
    "ServiceClient types: optional arguments may be left out, and then and toJSON are no methods",
  async fn() {
    const { client } = setup();
    interface Service {
      optional(n?: number): number;
      none(): string;
      then(x: number): void;
      toJSON(): string;
    }
    const api = client.service<Service>("q");
    // Compile-time checks only: the functions are never called.
    const _optional = () => api.optional();
    const _given = () => api.optional(1);
    const _none = () => api.none();
    // @ts-expect-error: then would make the client look like a promise
    const _then = () => api.then(1);
    // @ts-expect-error: JSON.stringify asks for toJSON
    const _toJson = () => api.toJSON();
    // @ts-expect-error: a required argument may not be left out
    const _required = () => client.service<{ f(n: number): void }>("q").f();
    // Results are typed as they arrive: after a trip through JSON.
    interface Wire {
      when(): Date;
      both(): Promise<{ at: Date; n: number; skip: () => void }>;
      bytes(): Uint8Array;
      text(): string;
      nothing(): void;
    }
    const wire = client.service<Wire>("q");
    const _when: () => Promise<string> = () => wire.when();
    // @ts-expect-error: a Date arrives as a string
    const _date: () => Promise<Date> = () => wire.when();
    const _both: () => Promise<{ at: string; n: number }> = () => wire.both();
    const _bytes: () => Promise<Uint8Array> = () => wire.bytes();
    const _text: () => Promise<string> = () => wire.text();
    const _nothing: () => Promise<void> = () => wire.nothing();
    interface Loose {
      any(): unknown;
      record(): Record<string, unknown>;
      floats(): Float32Array;
    }
    const loose = client.service<Loose>("q");
    // unknown stays unknown: it must not turn into never, which fits all.
    // @ts-expect-error: unknown is not a number
    const _unknown: () => Promise<number> = () => loose.any();
    const _record: () => Promise<Record<string, unknown>> = () =>
      loose.record();
    const _floats: () => Promise<Uint8Array> = () => loose.floats();
    assert.equal(typeof api.optional, "function");
    await client.close();
  },
});
