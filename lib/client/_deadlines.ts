/**
 * The deadlines of a client's calls, kept with one timer: a timer per call
 * (set when it is made, cleared when its reply comes) cost as much as a
 * tenth of a client's CPU time per call.
 *
 * @module
 */

/**
 * Ids, each due at a time, expired by one timer armed for the earliest.
 * Entries are never removed early: an id whose call settled meanwhile is
 * skipped when it comes due (`isLive` says which ids still count), and such
 * entries are swept out once they outnumber the live ones, so memory stays
 * in proportion to the calls in flight. The timer stays armed while entries
 * remain, until {@linkcode Deadlines.clear}; with calls of one timeout, each
 * new deadline is later than the armed one, so a call costs no timer at all.
 *
 * @example
 * ```ts
 * import { Deadlines } from "./_deadlines.ts";
 *
 * const live = new Set(["a", "b"]);
 * const expired = Promise.withResolvers<string>();
 * const deadlines: Deadlines = new Deadlines({
 *   isLive: (id) => live.has(id),
 *   expire: (id) => {
 *     live.delete(id);
 *     deadlines.settled();
 *     expired.resolve(id);
 *   },
 * });
 * deadlines.add("a", performance.now() + 10);
 * deadlines.add("b", performance.now() + 20);
 * live.delete("a"); // settled before its time: never expires
 * deadlines.settled();
 * console.log(await expired.promise); // b
 * deadlines.clear();
 * ```
 */
export class Deadlines {
  // A binary min-heap in two parallel arrays: due times and ids.
  #at: number[] = [];
  #ids: string[] = [];
  #live = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #armedAt = Infinity;
  readonly #isLive: (id: string) => boolean;
  readonly #expire: (id: string) => void;

  /**
   * `isLive(id)` tells whether an id still counts; `expire(id)` is called
   * once for each live id when its time comes. Whoever settles an id, the
   * `expire` callback included, calls {@linkcode Deadlines.settled}.
   */
  constructor(
    callbacks: { isLive(id: string): boolean; expire(id: string): void },
  ) {
    this.#isLive = callbacks.isLive;
    this.#expire = callbacks.expire;
  }

  /** The number of entries held, live or not (for tests). */
  get size(): number {
    return this.#at.length;
  }

  /**
   * Expires `id` at `at` (in `performance.now()` milliseconds, which no
   * change of the wall clock moves) unless it settles first.
   */
  add(id: string, at: number): void {
    if (this.#at.length >= 2 * this.#live + 1024) this.#sweep();
    this.#live++;
    this.#push(at, id);
    if (at < this.#armedAt) this.#arm(at);
  }

  /**
   * Records that a live id settled, by its expiry or otherwise (its entry
   * is dropped later).
   */
  settled(): void {
    if (this.#live > 0) this.#live--;
  }

  /** Drops every entry and stops the timer. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
    this.#at = [];
    this.#ids = [];
    this.#live = 0;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = setTimeout(
      () => this.#fire(),
      Math.max(1, at - performance.now()),
    );
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = performance.now();
    const at = this.#at;
    while (at.length > 0 && at[0] <= now) {
      const id = this.#pop();
      if (this.#isLive(id)) this.#expire(id);
    }
    // Entries of settled calls at the top would only wake the timer early.
    while (at.length > 0 && !this.#isLive(this.#ids[0])) this.#pop();
    if (at.length > 0) this.#arm(at[0]);
  }

  /** Keeps only live entries. */
  #sweep(): void {
    const at: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < this.#ids.length; i++) {
      if (this.#isLive(this.#ids[i])) {
        at.push(this.#at[i]);
        ids.push(this.#ids[i]);
      }
    }
    this.#at = [];
    this.#ids = [];
    this.#live = ids.length;
    for (let i = 0; i < ids.length; i++) this.#push(at[i], ids[i]);
  }

  #push(time: number, id: string): void {
    const at = this.#at;
    const ids = this.#ids;
    let i = at.length;
    at.push(time);
    ids.push(id);
    // Sift up; with one timeout for all calls the new entry is the latest,
    // and this loop ends at once.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (at[parent] <= time) break;
      at[i] = at[parent];
      ids[i] = ids[parent];
      i = parent;
    }
    at[i] = time;
    ids[i] = id;
  }

  #pop(): string {
    const at = this.#at;
    const ids = this.#ids;
    const top = ids[0];
    const lastAt = at.pop()!;
    const lastId = ids.pop()!;
    const n = at.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && at[child + 1] < at[child]) child++;
        if (at[child] >= lastAt) break;
        at[i] = at[child];
        ids[i] = ids[child];
        i = child;
      }
      at[i] = lastAt;
      ids[i] = lastId;
    }
    return top;
  }
}
