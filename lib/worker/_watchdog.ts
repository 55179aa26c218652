/**
 * {@linkcode Watchdog}: noticing handlers that run past their time, with one
 * timer for all of them (a timer per request would cost more than many a
 * handler).
 *
 * @module
 */

/** How often the watchdog looks, in milliseconds. */
export const WATCHDOG_INTERVAL = 250;

/** One handler being watched. */
export interface Watch {
  /** When it runs out of time (epoch milliseconds). */
  readonly until: number;
  /** Called once, when it runs out of time before it is released. */
  readonly overrun: () => void;
}

/**
 * Handlers being watched, each with the time it runs out. Every
 * {@linkcode WATCHDOG_INTERVAL} it calls `overrun` of those past their time
 * and forgets them: the cost per request is one insertion and one deletion,
 * and a handler is noticed at most one interval late.
 *
 * @example
 * ```ts
 * import { Watchdog } from "./_watchdog.ts";
 *
 * const watchdog = new Watchdog();
 * const watch = { until: Date.now() - 1, overrun: () => console.log("overrun") };
 * watchdog.add(watch);
 * watchdog.sweep(Date.now()); // overrun
 * console.log(watchdog.release(watch)); // false: it was already overrun
 * watchdog.close();
 * ```
 */
export class Watchdog {
  readonly #watches = new Set<Watch>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** The number of handlers watched. */
  get size(): number {
    return this.#watches.size;
  }

  /** Watches a handler; the timer starts with the first. */
  add(watch: Watch): void {
    this.#watches.add(watch);
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
    return this.#watches.delete(watch);
  }

  /** Calls `overrun` of every handler past its time at `now`. */
  sweep(now: number): void {
    for (const watch of this.#watches) {
      if (watch.until > now) continue;
      this.#watches.delete(watch);
      watch.overrun();
    }
  }

  /** Stops the timer; handlers still watched are forgotten. Idempotent. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#watches.clear();
  }
}
