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

/** The alphabet's characters as ASCII codes. */
const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

const decoder = new TextDecoder();

/**
 * Random ids of 126 bits from the platform's CSPRNG
 * (`crypto.getRandomValues`), drawn in batches: a refill turns 256 ids'
 * worth of random bytes into one string of the alphabet, and an id is a
 * slice of it, so that an id costs one small allocation, not a call into
 * the system and a string built a character at a time.
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
  readonly #bytes = new Uint8Array(ID_LENGTH * IDS_PER_POOL);
  #pool = "";
  #offset = 0;

  /** A new id. */
  next(): string {
    if (this.#offset === this.#pool.length) {
      const bytes = crypto.getRandomValues(this.#bytes);
      for (let i = 0; i < bytes.length; i++) bytes[i] = CODES[bytes[i] & 63];
      this.#pool = decoder.decode(bytes);
      this.#offset = 0;
    }
    return this.#pool.slice(this.#offset, this.#offset += ID_LENGTH);
  }
}
