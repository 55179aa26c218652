/**
 * Acknowledging a worker's deliveries in batches: one `basic.ack` with
 * `multiple` for every run of consecutive delivery tags settled in one turn
 * of the event loop, instead of one frame per request, which the broker
 * would each process on its own.
 *
 * @module
 */

import { beforeFlush } from "../amqp/patches.ts";
import type { AMQPChannel, AMQPClient } from "../deps.ts";

/**
 * Delivery tags of one channel, settled in any order. Acks are sent at the
 * end of the turn they were asked for, never later, in the same socket write
 * as the replies of that turn: the longest run of
 * consecutive settled tags from the lowest outstanding one goes as one
 * `multiple` ack, and acks above a gap (a request still running) go one by
 * one, so a slow request never holds back the acks of faster ones.
 */
export class AckBatcher {
  /** The channel whose delivery tags these are. */
  readonly channel: AMQPChannel;
  // Delivery tags start at 1 on a new channel and grow by one per delivery.
  #lowest = 1;
  // Settled tags above #lowest: true if an ack is still to be sent.
  readonly #settled = new Map<number, boolean>();
  // The acks asked for in this turn, written together: one promise for all.
  #batch?: PromiseWithResolvers<void>;

  /** Makes a batcher for the deliveries of `channel`. */
  constructor(channel: AMQPChannel) {
    this.channel = channel;
  }

  /** Whether the delivery with `tag` was acked, nacked or rejected. */
  isSettled(tag: number): boolean {
    return tag < this.#lowest || this.#settled.has(tag);
  }

  /**
   * Acks the delivery at the end of this turn; resolves once the ack is
   * written (rejects if the channel closed first).
   */
  ack(tag: number): Promise<void> {
    if (this.isSettled(tag)) return Promise.resolve();
    this.#settled.set(tag, true);
    if (!this.#batch) {
      this.#batch = Promise.withResolvers<void>();
      beforeFlush(
        this.channel.connection as AMQPClient,
        () => this.#flush(),
      );
    }
    return this.#batch.promise;
  }

  /** Records that the delivery was settled otherwise (nacked, rejected). */
  settled(tag: number): void {
    if (this.isSettled(tag)) return;
    this.#settled.set(tag, false);
    // With acks waiting for this turn's flush, the flush advances: moving
    // past their tags now would drop them unsent.
    if (!this.#batch) this.#advance();
  }

  /**
   * Moves #lowest past settled tags; returns the highest of them still to
   * be acked (0 if none). The multiple ack must name a tag that is still
   * outstanding: the broker refuses one already acked or nacked.
   */
  #advance(): number {
    let last = 0;
    for (;;) {
      const toAck = this.#settled.get(this.#lowest);
      if (toAck === undefined) return last;
      if (toAck) last = this.#lowest;
      this.#settled.delete(this.#lowest);
      this.#lowest++;
    }
  }

  #flush(): void {
    const batch = this.#batch!;
    this.#batch = undefined;
    const sends: Promise<void>[] = [];
    // Every tag below #lowest is settled; `multiple` acks those of them
    // still outstanding, up to the last one that asked for an ack.
    const last = this.#advance();
    if (last > 0) sends.push(this.channel.basicAck(last, true));
    for (const [tag, toAck] of this.#settled) {
      if (!toAck) continue;
      this.#settled.set(tag, false);
      sends.push(this.channel.basicAck(tag, false));
    }
    Promise.all(sends).then(() => batch.resolve(), batch.reject);
  }
}
