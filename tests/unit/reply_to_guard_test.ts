import assert from "node:assert/strict";
import { directReplyNode } from "../../lib/protocol/reply_to.ts";
import { madeUpReplyTo } from "../_reply_to.ts";
import {
  PROBE_BURST,
  PROBE_INTERVAL,
  ReplyToGuard,
} from "../../lib/worker/_reply_to_guard.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

// A direct reply-to address as RabbitMQ 3.10 makes it.
const REAL =
  "amq.rabbitmq.reply-to.g1h2AA1yZXBseUA5MjQ4ODg0AAB/7gAAAAFrCWXt.PbeAjZZTwwEvu4TKSP19Yw==";

Deno.test({
  ...opts,
  name: "directReplyNode() reads the node of a direct reply-to address",
  fn() {
    assert.equal(directReplyNode(REAL), "reply@9248884");
    assert.equal(directReplyNode("amq.gen-abc"), undefined);
    assert.equal(directReplyNode("rpc_replies"), undefined);
    assert.equal(directReplyNode("amq.rabbitmq.reply-to.abc.def"), null);
    assert.equal(directReplyNode("amq.rabbitmq.reply-to.!!!.x"), null);
    assert.equal(directReplyNode("amq.rabbitmq.reply-to."), null);
    // Cut short by one byte: not a pid.
    const short = btoa(atob(REAL.split(".")[3]).slice(0, -1));
    assert.equal(directReplyNode(`amq.rabbitmq.reply-to.${short}.x`), null);
  },
});

Deno.test({
  ...opts,
  name: "ReplyToGuard probes each new node once and remembers the outcome",
  async fn() {
    const nodes = new ReplyToGuard();
    assert.equal(nodes.verdict("rpc_replies"), "plain");
    assert.equal(nodes.verdict("amq.rabbitmq.reply-to.abc.def"), "bad");
    assert.equal(nodes.verdict(REAL), "unknown");
    let probes = 0;
    const probe = () => {
      probes++;
      return Promise.resolve(true);
    };
    const [a, b] = await Promise.all([
      nodes.probe(REAL, probe),
      nodes.probe(REAL, probe),
    ]);
    assert.equal(a && b, true);
    assert.equal(probes, 1);
    assert.equal(nodes.verdict(REAL), "good");
    // A probe that cannot decide (no connection) decides nothing.
    const other = REAL.replace(
      "g1h2AA1yZXBseUA5MjQ4ODg0",
      "g1h2AA1yZXBseUA1MjQ4ODg0",
    );
    // (Each a rate interval later: the budget is not what is tested here.)
    const later = (n: number) => performance.now() + n * PROBE_INTERVAL;
    await assert.rejects(
      nodes.probe(other, () => Promise.reject(new Error("down")), later(1))!,
    );
    assert.equal(nodes.verdict(other), "unknown");
    await nodes.probe(other, () => Promise.resolve(false), later(2));
    assert.equal(nodes.verdict(other), "bad");
  },
});

Deno.test({
  ...opts,
  name:
    "ReplyToGuard probes one node at a time, at most a burst and then one per interval",
  async fn() {
    const nodes = new ReplyToGuard();
    assert.equal(nodes.verdict(madeUpReplyTo(0)), "unknown");
    let probes = 0;
    let finish!: (good: boolean) => void;
    const probe = () => {
      probes++;
      return new Promise<boolean>((resolve) => finish = resolve);
    };
    const now = 1_000_000;
    const first = nodes.probe(madeUpReplyTo(0), probe, now);
    assert.ok(first);
    // Another node while the first is probed: not probed, not waited for.
    assert.equal(nodes.probe(madeUpReplyTo(1), probe, now), undefined);
    finish(false);
    assert.equal(await first, false);
    // The rest of the burst, then nothing until an interval passes.
    for (let i = 2; i <= PROBE_BURST; i++) {
      const running = nodes.probe(madeUpReplyTo(i), probe, now);
      assert.ok(running, `probe ${i}`);
      finish(false);
      await running;
    }
    assert.equal(probes, PROBE_BURST);
    assert.equal(nodes.probe(madeUpReplyTo(100), probe, now), undefined);
    assert.equal(
      nodes.probe(madeUpReplyTo(100), probe, now + PROBE_INTERVAL - 1),
      undefined,
    );
    const later = nodes.probe(madeUpReplyTo(100), probe, now + PROBE_INTERVAL);
    assert.ok(later);
    finish(true);
    assert.equal(await later, true);
    assert.equal(probes, PROBE_BURST + 1);
    // Known nodes need no probe, however spent the budget.
    assert.equal(nodes.verdict(madeUpReplyTo(100)), "good");
    assert.equal(nodes.verdict(madeUpReplyTo(0)), "bad");
  },
});
