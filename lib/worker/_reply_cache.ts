/**
 * A worker's memory of the replies it sent to idempotent calls, by message
 * id, so that a call the client sends again after a reconnection is
 * answered without running the handler a second time.
 *
 * @module
 */

import type { Reply } from "../protocol/reply.ts";

/** The default number of replies a worker remembers. */
export const DEFAULT_REPLY_CACHE_SIZE = 10_000;

/** The most bytes of reply bodies a cache holds. */
const MAX_CACHE_BYTES = 32 * 1024 * 1024;

function sizeOf(reply: Reply): number {
  return typeof reply.body === "string"
    ? reply.body.length * 3
    : reply.body.byteLength;
}

/**
 * Replies by message id, the oldest forgotten first once it holds
 * `maxEntries` replies or 32 MiB of bodies. A reply still being computed is
 * held as a promise, so that a repeat arriving meanwhile waits for it
 * instead of running the handler again.
 *
 * @example
 * ```ts
 * import { ReplyCache } from "./_reply_cache.ts";
 *
 * const cache = new ReplyCache(2);
 * cache.set("m1", Promise.resolve({ body: "55", contentType: "text/plain" }));
 * console.log((await cache.get("m1"))?.body); // 55
 * ```
 */
export class ReplyCache {
  readonly #maxEntries: number;
  readonly #entries = new Map<string, Promise<Reply | undefined>>();
  readonly #sizes = new Map<string, number>();
  #bytes = 0;

  /** Makes a cache of at most `maxEntries` replies. */
  constructor(maxEntries: number = DEFAULT_REPLY_CACHE_SIZE) {
    this.#maxEntries = maxEntries;
  }

  /** The number of replies held or being computed. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The reply for `id`, or a promise of it while it is being computed;
   * `undefined` if there is none (a computation that ended without a reply
   * resolves to `undefined`).
   */
  get(id: string): Promise<Reply | undefined> | undefined {
    return this.#entries.get(id);
  }

  /**
   * Remembers the reply for `id` once `reply` resolves; a promise that
   * resolves to `undefined` or rejects is forgotten.
   */
  set(id: string, reply: Promise<Reply | undefined>): void {
    if (this.#maxEntries <= 0) return;
    this.#delete(id);
    this.#entries.set(id, reply);
    reply.then((value) => {
      if (this.#entries.get(id) !== reply) return;
      if (value === undefined) {
        this.#delete(id);
        return;
      }
      const size = sizeOf(value);
      this.#sizes.set(id, size);
      this.#bytes += size;
      this.#evict();
    }, () => {
      if (this.#entries.get(id) === reply) this.#delete(id);
    });
    this.#evict();
  }

  /**
   * Forgets the reply for `id` (a failure to be tried again, say), if it is
   * still `reply`: not one that a later delivery has set meanwhile.
   */
  forget(id: string, reply: Promise<Reply | undefined>): void {
    if (this.#entries.get(id) === reply) this.#delete(id);
  }

  #delete(id: string): void {
    this.#entries.delete(id);
    const size = this.#sizes.get(id);
    if (size !== undefined) {
      this.#bytes -= size;
      this.#sizes.delete(id);
    }
  }

  #evict(): void {
    for (const id of this.#entries.keys()) {
      if (
        this.#entries.size <= this.#maxEntries &&
        this.#bytes <= MAX_CACHE_BYTES
      ) return;
      this.#delete(id);
    }
  }
}
