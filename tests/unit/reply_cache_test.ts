import assert from "node:assert/strict";
import type { Reply } from "../../lib/protocol/reply.ts";
import { ReplyCache } from "../../lib/worker/_reply_cache.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const reply = (body: string): Promise<Reply> =>
  Promise.resolve({ body, contentType: "text/plain" });

Deno.test({
  ...opts,
  name: "ReplyCache forgets the oldest replies beyond its size",
  async fn() {
    const cache = new ReplyCache(2);
    cache.set("a", "f", reply("1"));
    cache.set("b", "f", reply("2"));
    cache.set("c", "f", reply("3"));
    await Promise.resolve();
    assert.equal(cache.size, 2);
    assert.equal(cache.get("a"), undefined);
    assert.equal((await cache.get("c")?.reply)?.body, "3");
  },
});

Deno.test({
  ...opts,
  name: "ReplyCache hands a repeat the reply still being computed",
  async fn() {
    const cache = new ReplyCache(10);
    let finish!: (value: Reply) => void;
    cache.set("a", "f", new Promise((resolve) => finish = resolve));
    const repeat = cache.get("a")?.reply;
    assert.ok(repeat);
    finish({ body: "55", contentType: "text/plain" });
    assert.equal((await repeat)?.body, "55");
  },
});

Deno.test({
  ...opts,
  name:
    "ReplyCache forgets a computation that ended without a reply, and a size of 0 keeps nothing",
  async fn() {
    const cache = new ReplyCache(10);
    cache.set("stopped", "f", Promise.resolve(undefined));
    cache.set("failed", "f", Promise.reject(new Error("boom")));
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(cache.size, 0);
    const off = new ReplyCache(0);
    off.set("a", "f", reply("1"));
    assert.equal(off.size, 0);
  },
});
