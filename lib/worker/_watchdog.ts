/**
 * {@linkcode Watchdog}: noticing handlers that run past their time, with one
 * timer for all of them (a timer per request would cost more than many a
 * handler).
 *
 * @module
 */

/** How often the watchdog looks, in milliseconds. */
export const WATCHDOG_INTERVAL = 250;

/**
 * One handler being watched. The watchdog links watches into a list through
 * their own fields (no set or map: adding and removing one costs a few
 * field writes, no allocation and no hashing).
 */
export abstract class Watch {
  /** When it runs out of time (epoch milliseconds). */
  until = 0;
  /** @internal The watchdog's list. */
  prev: Watch | undefined = undefined;
  /** @internal The watchdog's list. */
  next: Watch | undefined = undefined;
  /** @internal Whether it is in the watchdog's list. */
  watched = false;
  /** Called once, when it runs out of time before it is released. */
  abstract overrun(): void;
}

/**
 * Handlers being watched, each with the time it runs out. Every
 * {@linkcode WATCHDOG_INTERVAL} it calls `overrun` of those past their time
 * and forgets them: the cost per request is a link and an unlink, and a
 * handler is noticed at most one interval late.
 *
 * @example
 * ```ts
 * import { Watch, Watchdog } from "./_watchdog.ts";
 *
 * class Shout extends Watch {
 *   overrun() {
 *     console.log("overrun");
 *   }
 * }
 * const watchdog = new Watchdog();
 * const watch = new Shout();
 * watchdog.add(watch, Date.now() - 1);
 * watchdog.sweep(Date.now()); // overrun
 * console.log(watchdog.release(watch)); // false: it was already overrun
 * watchdog.close();
 * ```
 */
export class Watchdog {
  #head: Watch | undefined;
  #size = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** The number of handlers watched. */
  get size(): number {
    return this.#size;
  }

  /** Watches a handler until `until`; the timer starts with the first. */
  add(watch: Watch, until: number): void {
    watch.until = until;
    watch.watched = true;
    watch.prev = undefined;
    watch.next = this.#head;
    if (this.#head) this.#head.prev = watch;
    this.#head = watch;
    this.#size++;
    if (this.#timer === undefined && !this.#closed) {
      this.#timer = setInterval(
        () => this.sweep(Date.now()),
        WATCHDOG_INTERVAL,
      );
    }
  }

  /**
   * Stops watching a handler that settled: `true`, or `false` if it had
   * already run out of time (its `overrun` was called).
   */
  release(watch: Watch): boolean {
    if (!watch.watched) return false;
    this.#unlink(watch);
    return true;
  }

  /**
   * Calls `overrun` of every handler past its time at `now`. With none
   * watched, the timer stops until the next {@linkcode add}: an idle worker
   * does not wake.
   */
  sweep(now: number): void {
    if (this.#head === undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    let watch: Watch | undefined = this.#head;
    while (watch !== undefined) {
      const next: Watch | undefined = watch.next;
      if (watch.until <= now) {
        this.#unlink(watch);
        watch.overrun();
      }
      watch = next;
    }
  }

  /** Stops the timer; handlers still watched are forgotten. Idempotent. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    while (this.#head !== undefined) this.#unlink(this.#head);
  }

  #unlink(watch: Watch): void {
    if (watch.prev) watch.prev.next = watch.next;
    else this.#head = watch.next;
    if (watch.next) watch.next.prev = watch.prev;
    watch.prev = watch.next = undefined;
    watch.watched = false;
    this.#size--;
  }
}
