/**
 * The client against forged replies, with no broker: correlation ids no one
 * can predict, and replies accepted only from the user a call expects.
 */

import assert from "node:assert/strict";
import { FakeTransport } from "../_fake_transport.ts";
import { RpcClient } from "../../lib/client/rpc_client.ts";
import { ID_LENGTH } from "../../lib/client/_ids.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  ...opts,
  name:
    "correlation ids carry 126 random bits each: one call's id tells nothing of the next",
  async fn() {
    const transport = new FakeTransport();
    await using client = new RpcClient(transport);
    const ids: string[] = [];
    const calls = [];
    for (let i = 0; i < 2_000; i++) {
      calls.push(client.call("q", "x", { timeout: 60_000 }).catch(() => {}));
      ids.push(transport.last.properties.correlationId!);
    }
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{21}$/);
    assert.equal(ID_LENGTH * 6 >= 122, true);
    // No shared prefix, as a per-client prefix and a counter would have.
    const prefixes = new Set(ids.map((id) => id.slice(0, 4)));
    assert.ok(prefixes.size > ids.length * 0.99, `${prefixes.size} prefixes`);
    await client.close();
    await Promise.all(calls);
  },
});

Deno.test({
  ...opts,
  name:
    "with replyUserId, a reply from another user is dropped as forged and the call waits for the real one",
  async fn() {
    const transport = new FakeTransport();
    await using client = new RpcClient(transport, {
      replyUserId: "fib-worker",
    });
    const call = client.call("q", "30");
    const id = transport.last.properties.correlationId;
    transport.reply(id, "forged", { userId: "mallory" });
    transport.reply(id, "forged too");
    assert.equal(client.stats().forgedReplies, 2);
    transport.reply(id, "832040", { userId: "fib-worker" });
    assert.equal((await call).text(), "832040");
    // A call may name its own worker's user.
    const other = client.call("q2", "1", { replyUserId: "other-worker" });
    const otherId = transport.last.properties.correlationId;
    transport.reply(otherId, "forged", { userId: "fib-worker" });
    transport.reply(otherId, "1", { userId: "other-worker" });
    assert.equal((await other).text(), "1");
    assert.throws(
      () => client.call("q", "1", { replyUserId: "" }),
      TypeError,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "without replyUserId, any reply with the call's id is accepted (the tutorial's rule)",
  async fn() {
    const transport = new FakeTransport();
    await using client = new RpcClient(transport);
    const call = client.call("q", "30");
    transport.reply(transport.last.properties.correlationId, "55", {
      userId: "anyone",
    });
    assert.equal((await call).text(), "55");
  },
});
