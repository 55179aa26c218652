import assert from "node:assert/strict";
import { openConnection } from "../../lib/amqp/connection.ts";
import { connectionError } from "../../lib/amqp/_connection_error.ts";
import { failoverOrder } from "../../lib/amqp/_failover.ts";
import { AccessRefusedError, ConnectionError } from "../../lib/errors.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  ...opts,
  name:
    "connectionError() refuses for good a login or a vhost, but not a connection limit or a vhost that is down",
  fn() {
    const url = "amqp://app:secret@broker:5672/prod";
    const error = (text: string) => connectionError(url, new Error(text));
    assert.ok(
      error(
        "connection closed: ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN (403)",
      ) instanceof AccessRefusedError,
    );
    assert.ok(
      error(
        "connection closed: NOT_ALLOWED - vhost prod not found (530)",
      ) instanceof AccessRefusedError,
    );
    for (
      const passing of [
        "connection closed: NOT_ALLOWED - access to vhost 'prod' refused for user 'app': connection limit (10) is reached (530)",
        "connection closed: NOT_ALLOWED - vhost 'prod' is down (530)",
      ]
    ) {
      const e = error(passing);
      assert.ok(!(e instanceof AccessRefusedError), e.message);
      assert.ok(e instanceof ConnectionError);
      assert.ok(!e.message.includes("secret"));
    }
  },
});

Deno.test({
  ...opts,
  name:
    "openConnection() gives up at once when its signal aborts, even against a host that never answers",
  async fn() {
    // Accepts TCP connections and never says a word: a black hole.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn);
    })();
    try {
      const controller = new AbortController();
      const opening = openConnection(
        { url: `amqp://127.0.0.1:${listener.addr.port}` },
        controller.signal,
      );
      setTimeout(() => controller.abort(new Error("closing")), 50);
      await assert.rejects(opening, /closing/);
    } finally {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of held) conn.close();
    }
  },
});

Deno.test({
  name:
    "failoverOrder() tries the brokers after the lost one first, and the lost one last",
  fn() {
    const list = "amqp://a,amqp://b,amqp://c";
    assert.deepEqual(failoverOrder(list, undefined), [
      "amqp://a",
      "amqp://b",
      "amqp://c",
    ]);
    assert.deepEqual(failoverOrder(list, "amqp://a"), [
      "amqp://b",
      "amqp://c",
      "amqp://a",
    ]);
    assert.deepEqual(failoverOrder(list, "amqp://c"), [
      "amqp://a",
      "amqp://b",
      "amqp://c",
    ]);
    // A broker named twice is still tried last.
    assert.deepEqual(
      failoverOrder(["amqp://a", "amqp://a", "amqp://b"], "amqp://a"),
      ["amqp://b", "amqp://a", "amqp://a"],
    );
    // A URL not in the list (the list changed): the list as it is.
    assert.deepEqual(failoverOrder(list, "amqp://z"), [
      "amqp://a",
      "amqp://b",
      "amqp://c",
    ]);
  },
});
