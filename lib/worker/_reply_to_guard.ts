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
 * A probe costs a connection (and the broker a crash report when the node
 * is made up), so probing is bounded: one node at a time, and at most
 * {@linkcode PROBE_BURST} probes at once, then one per
 * {@linkcode PROBE_INTERVAL}. A reply to a node that cannot be probed now is
 * dropped at once (its caller times out; `PROTOCOL.md`, "Security
 * considerations"): a flood of made-up nodes costs the worker a few probes
 * a minute and never holds the requests of other callers.
 *
 * @module
 */

import { directReplyNode, isDirectReplyTo } from "../protocol/reply_to.ts";

/** How many probes may run back to back before the rate applies. */
export const PROBE_BURST = 2;

/** Past the burst, one probe per this many milliseconds. */
export const PROBE_INTERVAL = 6_000;

/** The most nodes remembered as good, or as bad. */
const MAX_NODES = 1_000;

/** What a worker knows of the nodes direct reply-to addresses point to. */
export class ReplyToGuard {
  readonly #good = new Set<string>();
  #tokens = PROBE_BURST;
  #refilled = -Infinity;
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
   * Learns that the node `replyTo` names is real, without a probe: the
   * address the broker made on the worker's own connection.
   */
  learn(replyTo: string): void {
    const node = this.#nodeOf(replyTo);
    if (node) this.#good.add(node);
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
   * outcome) and remembers whether the node is real; `undefined` if the
   * node cannot be probed at `now` (milliseconds of a monotonic clock,
   * `performance.now()`): another node's
   * probe is running, or the probes of the last while used the budget.
   */
  probe(
    replyTo: string,
    probe: () => Promise<boolean>,
    now: number = performance.now(),
  ): Promise<boolean> | undefined {
    const node = this.#nodeOf(replyTo);
    if (!node) return Promise.resolve(false);
    let running = this.#probing.get(node);
    if (running) return running;
    if (this.#probing.size > 0 || !this.#spend(now)) return undefined;
    running = probe().then((good) => {
      // Bounded: a flood of made-up nodes cannot grow them for ever.
      const known = good ? this.#good : this.#bad;
      if (known.size >= MAX_NODES) known.clear();
      known.add(node);
      return good;
    }).finally(() => this.#probing.delete(node));
    this.#probing.set(node, running);
    return running;
  }

  /** Takes a probe from the budget, if there is one left at `now`. */
  #spend(now: number): boolean {
    const earned = Math.floor((now - this.#refilled) / PROBE_INTERVAL);
    if (earned > 0) {
      this.#tokens = Math.min(PROBE_BURST, this.#tokens + earned);
      this.#refilled = earned === Infinity
        ? now
        : this.#refilled + earned * PROBE_INTERVAL;
      if (this.#tokens === PROBE_BURST) this.#refilled = now;
    }
    if (this.#tokens === 0) return false;
    this.#tokens--;
    return true;
  }
}
