/**
 * A worker's memory of the replies it sent to idempotent calls, so that a
 * call the client sends again after a reconnection is answered without
 * running the handler a second time.
 *
 * A reply is remembered under its caller's idempotency key (`message_id`)
 * in the caller's scope: the `user_id` the broker vouches for (requests
 * without one share one anonymous scope), so that a key reused by another
 * user never reaches a reply meant for someone else. Beside it is the
 * fingerprint of the request (its method, content type and encoding, and
 * a SHA-256 digest of its body): a key reused for a different request is refused, never answered
 * from the cache (`PROTOCOL.md`, "Security considerations").
 *
 * @module
 */

import type { MessageProperties } from "../protocol/properties.ts";
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
 * Where an idempotent request's reply is remembered: its caller's scope
 * and its idempotency key.
 *
 * @example
 * ```ts
 * import { cacheKeyOf } from "./_reply_cache.ts";
 *
 * console.log(cacheKeyOf({ userId: "billing", messageId: "k1" }) !== cacheKeyOf({ messageId: "k1" })); // true
 * ```
 */
export function cacheKeyOf(properties: MessageProperties): string {
  const scope = properties.userId ?? "";
  // Length-prefixed: no user id and key can make another pair's key.
  return `${scope.length}:${scope}:${properties.messageId ?? ""}`;
}

/** SHA-256 in base64, once {@linkcode loadFingerprints} has loaded it. */
let sha256: ((body: Uint8Array) => string) | undefined;

/**
 * Loads what {@linkcode fingerprintOf} needs (`node:crypto`'s SHA-256, which
 * is synchronous): a worker does before it consumes, so that a process that
 * only calls never loads it.
 *
 * @example
 * ```ts
 * import { loadFingerprints } from "./_reply_cache.ts";
 *
 * await loadFingerprints();
 * ```
 */
export async function loadFingerprints(): Promise<void> {
  if (sha256 !== undefined) return;
  const { createHash } = await import("node:crypto");
  sha256 = (body) => createHash("sha256").update(body).digest("base64");
}

/**
 * What tells two requests apart: the method they name (their `type`), how
 * their body is encoded (`content_type`, `content_encoding`) and a SHA-256
 * digest of the body. Needs {@linkcode loadFingerprints} first.
 *
 * @example
 * ```ts
 * import { fingerprintOf, loadFingerprints } from "./_reply_cache.ts";
 *
 * await loadFingerprints();
 * const body = new TextEncoder().encode("30");
 * console.log(fingerprintOf({ type: "fib" }, body) === fingerprintOf({ type: "fib" }, body)); // true
 * console.log(fingerprintOf({ type: "fib" }, body) === fingerprintOf({ type: "square" }, body)); // false
 * ```
 */
export function fingerprintOf(
  properties: MessageProperties,
  body: Uint8Array | null,
): string {
  if (sha256 === undefined) {
    throw new Error("fingerprintOf() needs loadFingerprints() first");
  }
  // JSON: no method name or type can make another triple's text.
  return JSON.stringify([
    properties.type ?? "",
    properties.contentType ?? "",
    properties.contentEncoding ?? "",
    sha256(body ?? EMPTY),
  ]);
}

const EMPTY = new Uint8Array(0);

/** A remembered reply and the fingerprint of the request it answers. */
export interface CachedReply {
  /** The request's fingerprint, from {@linkcode fingerprintOf}. */
  readonly fingerprint: string;
  /**
   * The reply, or the promise of it while it is being computed; a
   * computation that ended without a reply resolves to `undefined`.
   */
  readonly reply: Promise<Reply | undefined>;
}

/**
 * Replies by key, the oldest forgotten first once it holds `maxEntries`
 * replies or 32 MiB of bodies. A reply still being computed is held as a
 * promise, so that a repeat arriving meanwhile waits for it instead of
 * running the handler again.
 *
 * @example
 * ```ts
 * import { ReplyCache } from "./_reply_cache.ts";
 *
 * const cache = new ReplyCache(2);
 * cache.set("k1", "fib:x", Promise.resolve({ body: "55", contentType: "text/plain" }));
 * console.log((await cache.get("k1")?.reply)?.body); // 55
 * ```
 */
export class ReplyCache {
  readonly #maxEntries: number;
  readonly #entries = new Map<string, CachedReply>();
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

  /** The reply remembered under `key`, if any. */
  get(key: string): CachedReply | undefined {
    return this.#entries.get(key);
  }

  /**
   * Remembers the reply to the request of `fingerprint` under `key` once
   * `reply` resolves; a promise that resolves to `undefined` or rejects is
   * forgotten.
   */
  set(
    key: string,
    fingerprint: string,
    reply: Promise<Reply | undefined>,
  ): void {
    if (this.#maxEntries <= 0) return;
    this.#delete(key);
    this.#entries.set(key, { fingerprint, reply });
    reply.then((value) => {
      if (this.#entries.get(key)?.reply !== reply) return;
      if (value === undefined) {
        this.#delete(key);
        return;
      }
      const size = sizeOf(value);
      this.#sizes.set(key, size);
      this.#bytes += size;
      this.#evict();
    }, () => {
      if (this.#entries.get(key)?.reply === reply) this.#delete(key);
    });
    this.#evict();
  }

  /**
   * Forgets the reply under `key` (a failure to be tried again, say), if it
   * is still `reply`: not one that a later delivery has set meanwhile.
   */
  forget(key: string, reply: Promise<Reply | undefined>): void {
    if (this.#entries.get(key)?.reply === reply) this.#delete(key);
  }

  #delete(key: string): void {
    this.#entries.delete(key);
    const size = this.#sizes.get(key);
    if (size !== undefined) {
      this.#bytes -= size;
      this.#sizes.delete(key);
    }
  }

  #evict(): void {
    for (const key of this.#entries.keys()) {
      if (
        this.#entries.size <= this.#maxEntries &&
        this.#bytes <= MAX_CACHE_BYTES
      ) return;
      this.#delete(key);
    }
  }
}
