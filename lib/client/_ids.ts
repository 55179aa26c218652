/**
 * Correlation ids no one can predict (`PROTOCOL.md`, "Security
 * considerations"): whoever sees one request of a client (a worker of
 * another service, say) learns nothing of its other calls' ids, so it
 * cannot answer them first.
 *
 * @module
 */

/** 64 characters, 6 bits each, safe in any AMQP short string. */
const ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Characters per id: 21 of 6 bits each, 126 random bits. */
export const ID_LENGTH = 21;

/** Ids drawn per refill of the random pool. */
const IDS_PER_POOL = 256;

/**
 * Random ids of 126 bits from the platform's CSPRNG
 * (`crypto.getRandomValues`), drawn in batches so that an id costs a few
 * table lookups, not a call into the system each.
 *
 * @example
 * ```ts
 * import { ID_LENGTH, RandomIds } from "./_ids.ts";
 *
 * const ids = new RandomIds();
 * const id = ids.next();
 * console.log(id.length === ID_LENGTH, id !== ids.next()); // true true
 * ```
 */
export class RandomIds {
  readonly #pool = new Uint8Array(ID_LENGTH * IDS_PER_POOL);
  #offset = this.#pool.length;

  /** A new id. */
  next(): string {
    if (this.#offset === this.#pool.length) {
      crypto.getRandomValues(this.#pool);
      this.#offset = 0;
    }
    const pool = this.#pool;
    let id = "";
    const end = this.#offset + ID_LENGTH;
    for (let i = this.#offset; i < end; i++) id += ALPHABET[pool[i] & 63];
    this.#offset = end;
    return id;
  }
}
