/**
 * {@linkcode ReplyPath}: how a reply reaches a direct reply-to address the
 * worker has not seen before: the I/O around the {@linkcode ReplyToGuard}'s
 * knowledge (`PROTOCOL.md` section 5.2, "Direct reply-to addresses").
 *
 * @module
 */

import type { Logger } from "../observability/logger.ts";
import type { Reply } from "../protocol/reply.ts";
import type { ReplyToGuard } from "./_reply_to_guard.ts";
import type { Delivery, WorkerTransport } from "./transport.ts";

/** The least time between two warnings of replies dropped unprobed. */
const DROP_WARNING_INTERVAL = 10_000;

/**
 * Where a reply goes:
 * - `channel`: on the worker's channel, as usual (a plain queue, or a node
 *   known to be real);
 * - `probed`: already sent, on a probe connection that found the node real;
 * - `dropped`: nowhere, for a node the broker does not know or that cannot
 *   be probed now;
 * - `bad`: nowhere, for a node found unknown before (its request is acked);
 * - `gone`: nowhere, the connection was lost meanwhile (the request is
 *   redelivered).
 */
export type ReplyWay = "channel" | "probed" | "dropped" | "bad" | "gone";

/** The way to direct reply-to addresses, over one worker's transport. */
export class ReplyPath {
  readonly #guard: ReplyToGuard;
  readonly #transport: WorkerTransport;
  readonly #logger: Logger;
  #ownNode: Promise<unknown> | undefined;
  #unprobedDrops = 0;
  #unprobedWarned = -Infinity;

  /** Routes replies with what `guard` knows, over `transport`. */
  constructor(
    guard: ReplyToGuard,
    transport: WorkerTransport,
    logger: Logger,
  ) {
    this.#guard = guard;
    this.#transport = transport;
    this.#logger = logger;
  }

  /** The connection is new, perhaps to another node: learn it anew. */
  reconnected(): void {
    this.#ownNode = undefined;
  }

  /**
   * Which way `reply` to `delivery` goes; a node not seen before is first
   * compared with the worker's own (learned once per connection, and only
   * once a direct reply-to address needs it), then probed if the budget
   * allows, with the reply itself.
   */
  way(delivery: Delivery, reply: Reply): ReplyWay | Promise<ReplyWay> {
    // On the path of every reply: no promise unless the address needs one.
    const verdict = this.#guard.verdict(delivery.properties.replyTo!);
    if (verdict === "plain" || verdict === "good") return "channel";
    return this.#wayOfNew(delivery, reply, verdict);
  }

  async #wayOfNew(
    delivery: Delivery,
    reply: Reply,
    verdict: "bad" | "unknown",
  ): Promise<ReplyWay> {
    const guard = this.#guard;
    const transport = this.#transport;
    const replyTo = delivery.properties.replyTo!;
    if (verdict === "bad") return "bad";
    // The node the worker is connected to needs no probe, so a flood of
    // made-up nodes cannot crowd out the callers of that node.
    this.#ownNode ??= transport.ownReplyTo().then(
      (address) => address !== undefined && guard.learn(address),
      () => {},
    );
    await this.#ownNode;
    if (!transport.isLive(delivery)) return "gone";
    const now = guard.verdict(replyTo);
    if (now === "good") return "channel";
    // Bad: found so by another request's probe meanwhile.
    if (now !== "unknown") return "bad";
    // Another request's probe of the same node may be running: then this
    // reply is not the one it sends.
    let sent = false;
    const probing = guard.probe(replyTo, () => {
      sent = true;
      return transport.probe(delivery, reply);
    });
    if (probing === undefined) {
      this.#unprobedDrop();
      return "dropped";
    }
    if (await probing) return sent ? "probed" : "channel";
    this.#logger.warn(
      "Dropped the reply to a direct reply-to address the broker does not know",
    );
    return "dropped";
  }

  /**
   * Tells of replies dropped for nodes that could not be probed: a line at
   * most every {@linkcode DROP_WARNING_INTERVAL}, with the count, so that a
   * flood of made-up nodes costs no line each.
   */
  #unprobedDrop(): void {
    this.#unprobedDrops++;
    const now = performance.now();
    if (now - this.#unprobedWarned < DROP_WARNING_INTERVAL) return;
    this.#logger.warn(
      `Dropped ${this.#unprobedDrops} repl${
        this.#unprobedDrops === 1 ? "y" : "ies"
      } to direct reply-to addresses of nodes not known yet: too many new nodes to probe (made-up addresses?)`,
    );
    this.#unprobedDrops = 0;
    this.#unprobedWarned = now;
  }
}
