/**
 * Guarding the worker against `reply_to` addresses that crash the broker.
 *
 * RabbitMQ (3.10 at least) closes the publishing connection with
 * `541 INTERNAL_ERROR` when a reply is published to an
 * `amq.rabbitmq.reply-to.<pid>.<key>` address whose `<pid>` does not decode
 * to a process of a node of the cluster. A hostile or broken client could
 * put such an address on every request and make each worker that answers
 * lose its connection, again and again as the request is redelivered. The
 * node a direct reply-to address points to is the only part that matters
 * (a stale process id or key is dropped quietly), so the worker decodes it:
 * malformed addresses are never answered, and a reply to a node not seen
 * before is first published on a separate connection, whose fate tells
 * whether the node is real.
 *
 * @module
 */

import { directReplyNode, isDirectReplyTo } from "../protocol/reply_to.ts";

/** What a worker knows of the nodes direct reply-to addresses point to. */
export class ReplyToGuard {
  readonly #good = new Set<string>();
  readonly #bad = new Set<string>();
  readonly #probing = new Map<string, Promise<boolean>>();
  // A client keeps one address for its connection's life: decode each once.
  readonly #decoded = new Map<string, string | null | undefined>();

  #nodeOf(replyTo: string): string | null | undefined {
    let node = this.#decoded.get(replyTo);
    if (node === undefined && !this.#decoded.has(replyTo)) {
      node = directReplyNode(replyTo);
      if (this.#decoded.size >= 1_000) this.#decoded.clear();
      this.#decoded.set(replyTo, node);
    }
    return node;
  }

  /**
   * `plain` (not a direct reply-to address), `good`, `bad` (malformed, or a
   * node the broker did not know), or `unknown` (to be probed).
   */
  verdict(replyTo: string): "plain" | "good" | "bad" | "unknown" {
    if (!isDirectReplyTo(replyTo)) return "plain";
    const node = this.#nodeOf(replyTo);
    if (node === undefined) return "plain";
    if (node === null) return "bad";
    if (this.#good.has(node)) return "good";
    if (this.#bad.has(node)) return "bad";
    return "unknown";
  }

  /**
   * Runs `probe` once per node (callers for the same node share its
   * outcome) and remembers whether the node is real.
   */
  probe(replyTo: string, probe: () => Promise<boolean>): Promise<boolean> {
    const node = this.#nodeOf(replyTo);
    if (!node) return Promise.resolve(false);
    let running = this.#probing.get(node);
    if (!running) {
      running = probe().then((good) => {
        if (good) this.#good.add(node);
        else {
          // Bounded: a flood of made-up nodes cannot grow it for ever.
          if (this.#bad.size >= 1_000) this.#bad.clear();
          this.#bad.add(node);
        }
        return good;
      }).finally(() => this.#probing.delete(node));
      this.#probing.set(node, running);
    }
    return running;
  }
}
