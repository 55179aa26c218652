/**
 * {@linkcode runLoad}: a quick load test of any async call: a number of
 * calls with a fixed number in flight, counted by outcome, with exact
 * latency percentiles. It writes nothing and reads no environment; the
 * caller prints what it returns (as `deno task client --count` does).
 *
 * @module
 */

import { checkInteger, optionTypeError } from "../lib/checks.ts";

/** What {@linkcode runLoad} measured. */
export interface LoadSummary {
  /** The calls that completed (succeeded or failed). */
  calls: number;
  /** The calls that succeeded. */
  ok: number;
  /** The calls that failed. */
  failed: number;
  /**
   * The failed calls by kind: the error's `name` (e.g. `TimeoutError`), or
   * what the `classify` option makes of it.
   */
  errors: Record<string, number>;
  /** The message of the first error of each kind in `errors`. */
  errorMessages: Record<string, string>;
  /** Whether the signal stopped the load before every call completed. */
  aborted: boolean;
  /** The time from the first call's start to the end, in seconds. */
  seconds: number;
  /** Completed calls per second (`calls / seconds`). */
  callsPerSecond: number;
  /**
   * The median latency of the calls that succeeded, in milliseconds:
   * exact, from every recorded latency (nearest rank). `NaN` if none
   * succeeded.
   */
  p50: number;
  /** The 90th percentile latency of the calls that succeeded, in ms. */
  p90: number;
  /** The 99th percentile latency of the calls that succeeded, in ms. */
  p99: number;
  /** The largest latency of the calls that succeeded, in ms. */
  max: number;
}

/** Options of {@linkcode runLoad}. */
export interface LoadOptions {
  /** How many calls to make in all: a whole number, at least 1. */
  count: number;
  /**
   * How many calls to keep in flight at once: a whole number, at least 1
   * (more than `count` is the same as `count`).
   */
  concurrency: number;
  /**
   * Stops the load: no call starts after it aborts, and `runLoad` resolves
   * at once with the calls completed so far (`aborted: true`). Calls still
   * in flight are not counted; they get the signal, to stop early.
   */
  signal?: AbortSignal;
  /**
   * Called with the completed and failed counts after every
   * `progressEvery` completed calls, and once at the end. It must not
   * throw.
   */
  onProgress?: (done: number, failed: number) => void;
  /**
   * How many completed calls between two `onProgress` calls.
   *
   * @default {1}
   */
  progressEvery?: number;
  /**
   * The kind a failure is counted under in `errors` (default: the error's
   * `name`, or `Error` for a thrown value without one).
   */
  classify?: (error: unknown) => string;
}

/**
 * The kind of a failure by default: the error's `name`, or `Error` for a
 * thrown value without a name.
 *
 * @example
 * ```ts
 * import { errorName } from "./load.ts";
 *
 * console.log(errorName(new RangeError("too big"))); // RangeError
 * console.log(errorName("oops")); // Error
 * ```
 */
export function errorName(error: unknown): string {
  const name = (error as { name?: unknown } | null | undefined)?.name;
  return typeof name === "string" && name !== "" ? name : "Error";
}

/**
 * Makes `options.count` calls of `call`, keeping `options.concurrency` of
 * them in flight (that many workers take the next call from a shared
 * counter as each of theirs completes), and resolves with what it
 * measured once they have all completed. A call that rejects (or throws)
 * counts as failed; `runLoad` itself rejects only for bad options.
 *
 * Each call gets an `AbortSignal` that aborts with `options.signal`, so
 * that calls in flight can stop when the load is stopped.
 *
 * @example A fake call, with one failure in ten
 * ```ts
 * import { runLoad } from "./load.ts";
 *
 * let i = 0;
 * const summary = await runLoad(async () => {
 *   if (++i % 10 === 0) throw new RangeError("every tenth call fails");
 *   await new Promise((resolve) => setTimeout(resolve, 1));
 * }, { count: 100, concurrency: 8 });
 * console.log(summary.ok, summary.failed, summary.errors); // 90 10 { RangeError: 10 }
 * console.log(summary.p50 <= summary.p99); // true
 * ```
 *
 * @example Stopping a load early
 * ```ts
 * import { runLoad } from "./load.ts";
 *
 * const controller = new AbortController();
 * const summary = await runLoad(async () => {}, {
 *   count: 1_000_000,
 *   concurrency: 4,
 *   signal: controller.signal,
 *   onProgress: (done) => {
 *     if (done === 100) controller.abort();
 *   },
 * });
 * console.log(summary.aborted, summary.calls < 1_000_000); // true true
 * ```
 *
 * @throws {TypeError} if `call` is not a function.
 * @throws {RangeError} for options out of range (see
 * {@linkcode checkLoadOptions}).
 */
export async function runLoad(
  call: (signal: AbortSignal) => Promise<unknown>,
  options: LoadOptions,
): Promise<LoadSummary> {
  if (typeof call !== "function") {
    throw optionTypeError("call", "must be a function");
  }
  checkLoadOptions(options);
  const { count, concurrency, onProgress } = options;
  const progressEvery = options.progressEvery ?? 1;
  const classify = options.classify ?? errorName;
  const signal = options.signal ?? new AbortController().signal;

  const latencies = new Float64Array(count);
  const errors: Record<string, number> = {};
  const errorMessages: Record<string, string> = {};
  let next = 0;
  let ok = 0;
  let failed = 0;
  let finished = false;

  const report = (): void => {
    const done = ok + failed;
    if (done % progressEvery === 0) onProgress?.(done, failed);
  };

  const worker = async (): Promise<void> => {
    while (!finished && !signal.aborted && next < count) {
      next++;
      const start = performance.now();
      try {
        await call(signal);
        // Completed after the load was stopped: not counted.
        if (finished || signal.aborted) return;
        latencies[ok++] = performance.now() - start;
      } catch (error) {
        if (finished || signal.aborted) return;
        failed++;
        const kind = classify(error);
        if (errors[kind] === undefined) {
          errors[kind] = 0;
          errorMessages[kind] = messageOf(error);
        }
        errors[kind]++;
      }
      report();
    }
  };

  const begin = performance.now();
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    if (!signal.aborted) {
      const workers = Array.from(
        { length: Math.min(concurrency, count) },
        worker,
      );
      await Promise.race([Promise.all(workers), stopped]);
    }
  } finally {
    finished = true;
    signal.removeEventListener("abort", onAbort!);
  }
  const seconds = (performance.now() - begin) / 1000;
  const calls = ok + failed;
  if (onProgress !== undefined && calls % progressEvery !== 0) {
    onProgress(calls, failed);
  }
  const sorted = latencies.subarray(0, ok).sort();
  return {
    calls,
    ok,
    failed,
    errors,
    errorMessages,
    aborted: calls < count,
    seconds,
    callsPerSecond: seconds > 0 ? calls / seconds : 0,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: ok === 0 ? NaN : sorted[ok - 1],
  };
}

/**
 * The `p`th percentile of ascending values by nearest rank; `NaN` if there
 * are none.
 *
 * @example
 * ```ts
 * import { percentile } from "./load.ts";
 *
 * console.log(percentile(new Float64Array([1, 2, 3, 4]), 50)); // 2
 * ```
 */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * The most calls a load makes: it keeps the latency of each, 8 bytes a
 * call (80 MB at most).
 */
export const MAX_LOAD_COUNT = 10_000_000;

/**
 * The most calls a load keeps in flight: a client's own cap by default
 * (`maxInFlight`).
 */
export const MAX_LOAD_CONCURRENCY = 10_000;

/**
 * Checks the options of {@linkcode runLoad}; a program calls it before it
 * connects, so that a bad count fails at once.
 *
 * @example
 * ```ts
 * import { checkLoadOptions } from "./load.ts";
 *
 * checkLoadOptions({ count: 1000, concurrency: 10 });
 * ```
 *
 * @throws {RangeError} if `count`, `concurrency` or `progressEvery` is not a
 * whole number of at least 1, or `count` or `concurrency` is above its
 * maximum.
 */
export function checkLoadOptions(options: LoadOptions): void {
  checkInteger("count", options.count, { min: 1, max: MAX_LOAD_COUNT });
  checkInteger("concurrency", options.concurrency, {
    min: 1,
    max: MAX_LOAD_CONCURRENCY,
  });
  checkInteger("progressEvery", options.progressEvery ?? 1, { min: 1 });
}
