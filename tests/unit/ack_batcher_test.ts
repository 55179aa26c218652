import assert from "node:assert/strict";
import { AckBatcher } from "../../lib/worker/_ack_batcher.ts";
import type { AMQPChannel } from "../../lib/deps.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** A channel that records the acks sent. */
function fakeChannel(): { channel: AMQPChannel; acks: string[] } {
  const acks: string[] = [];
  const channel = {
    basicAck(tag: number, multiple = false) {
      acks.push(multiple ? `≤${tag}` : `${tag}`);
      return Promise.resolve();
    },
  } as unknown as AMQPChannel;
  return { channel, acks };
}

Deno.test({
  ...opts,
  name: "AckBatcher acks a turn's consecutive deliveries with one multiple ack",
  async fn() {
    const { channel, acks } = fakeChannel();
    const batcher = new AckBatcher(channel);
    await Promise.all([batcher.ack(2), batcher.ack(1), batcher.ack(3)]);
    assert.deepEqual(acks, ["≤3"]);
    assert.ok(batcher.isSettled(3));
    assert.ok(!batcher.isSettled(4));
  },
});

Deno.test({
  ...opts,
  name:
    "AckBatcher does not hold acks back behind a running delivery, and never acks one that is not settled",
  async fn() {
    const { channel, acks } = fakeChannel();
    const batcher = new AckBatcher(channel);
    // 1 is still running: 2 and 3 are acked one by one, not by `multiple`.
    await Promise.all([batcher.ack(2), batcher.ack(3)]);
    assert.deepEqual(acks, ["2", "3"]);
    assert.ok(!batcher.isSettled(1));
    // 4 was nacked elsewhere; once 1 is done, one multiple ack covers 1..5.
    batcher.settled(4);
    await Promise.all([batcher.ack(1), batcher.ack(5)]);
    assert.deepEqual(acks, ["2", "3", "≤5"]);
    // The multiple ack never names a tag acked or nacked before.
    batcher.settled(6);
    await Promise.all([batcher.ack(8), batcher.ack(7)]);
    assert.deepEqual(acks, ["2", "3", "≤5", "≤8"]);
    await Promise.all([batcher.ack(9)]);
    batcher.settled(10);
    assert.deepEqual(acks, ["2", "3", "≤5", "≤8", "≤9"]);
    // A delivery settled twice is acked once.
    await batcher.ack(5);
    assert.deepEqual(acks, ["2", "3", "≤5", "≤8", "≤9"]);
  },
});

Deno.test({
  ...opts,
  name:
    "AckBatcher still sends an ack asked for in the same turn as a nack of the next delivery",
  async fn() {
    const { channel, acks } = fakeChannel();
    const batcher = new AckBatcher(channel);
    const acked = batcher.ack(1);
    batcher.settled(2); // nacked by the caller
    await acked;
    assert.deepEqual(acks, ["≤1"]);
    assert.ok(batcher.isSettled(1) && batcher.isSettled(2));
    await batcher.ack(3);
    assert.deepEqual(acks, ["≤1", "≤3"]);
  },
});
