/**
 * Reconnection delays: exponential backoff with jitter and a cap.
 *
 * @module
 */

import { MAX_TIMER, optionRangeError } from "../checks.ts";

/**
 * How a client or worker reconnects after losing its connection.
 *
 * @example
 * ```ts
 * import { type ReconnectOptions, reconnectOptions } from "./backoff.ts";
 *
 * const reconnect: ReconnectOptions = { maxDelay: 30_000, maxAttempts: 20 };
 * const filled = reconnectOptions(reconnect);
 * console.log(filled.initialDelay, filled.maxDelay); // 100 30000
 * ```
 */
export interface ReconnectOptions {
  /**
   * The delay before the first attempt, in milliseconds.
   *
   * @default {100}
   */
  initialDelay?: number;
  /**
   * The longest delay between attempts, in milliseconds.
   *
   * @default {1000}
   */
  maxDelay?: number;
  /**
   * How much the delay grows after each failed attempt.
   *
   * @default {2}
   */
  factor?: number;
  /**
   * How many attempts in a row may fail before giving up (`Infinity`:
   * keep trying until closed). A refused login or vhost is never retried,
   * whatever this says.
   *
   * @default {Infinity}
   */
  maxAttempts?: number;
}

/**
 * The defaults of {@linkcode ReconnectOptions}.
 *
 * @example
 * ```ts
 * import { DEFAULT_RECONNECT } from "./backoff.ts";
 *
 * console.log(DEFAULT_RECONNECT.initialDelay, DEFAULT_RECONNECT.maxDelay); // 100 1000
 * console.log(DEFAULT_RECONNECT.maxAttempts); // Infinity
 * ```
 */
export const DEFAULT_RECONNECT: Readonly<Required<ReconnectOptions>> = Object
  .freeze({
    initialDelay: 100,
    maxDelay: 1_000,
    factor: 2,
    maxAttempts: Infinity,
  });

/**
 * Checks reconnect options and fills in the defaults.
 *
 * @example
 * ```ts
 * import { reconnectOptions } from "./backoff.ts";
 *
 * console.log(reconnectOptions({ maxDelay: 5_000 }).initialDelay); // 100
 * ```
 *
 * @throws {RangeError} for a delay, factor or attempt count out of range.
 */
export function reconnectOptions(
  options: ReconnectOptions = {},
): Required<ReconnectOptions> {
  const merged = { ...DEFAULT_RECONNECT, ...options };
  const { initialDelay, maxDelay, factor, maxAttempts } = merged;
  if (!(initialDelay >= 1 && initialDelay <= MAX_TIMER)) {
    throw optionRangeError(
      "reconnect.initialDelay",
      `must be from 1 to ${MAX_TIMER} ms, got ${initialDelay}`,
    );
  }
  if (!(maxDelay >= initialDelay && maxDelay <= MAX_TIMER)) {
    throw optionRangeError(
      "reconnect.maxDelay",
      `must be from initialDelay to ${MAX_TIMER} ms, got ${maxDelay}`,
    );
  }
  if (!(factor >= 1 && Number.isFinite(factor))) {
    throw optionRangeError(
      "reconnect.factor",
      `must be at least 1, got ${factor}`,
    );
  }
  if (
    !(maxAttempts >= 1) ||
    !(Number.isInteger(maxAttempts) || maxAttempts === Infinity)
  ) {
    throw optionRangeError(
      "reconnect.maxAttempts",
      `must be a positive integer or Infinity, got ${maxAttempts}`,
    );
  }
  return merged;
}

/**
 * The delay before reconnection attempt `attempt` (0 for the first):
 * `initialDelay × factor^attempt`, capped at `maxDelay`, then scaled by a
 * random factor from 0.5 to 1 so that many clients that lost the same broker
 * do not all come back in the same instant.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./backoff.ts";
 *
 * const options = { initialDelay: 100, maxDelay: 1_000, factor: 2, maxAttempts: Infinity };
 * console.log(backoffDelay(0, options, () => 1)); // 100
 * console.log(backoffDelay(10, options, () => 0)); // 500
 * ```
 */
export function backoffDelay(
  attempt: number,
  options: Required<ReconnectOptions>,
  random: () => number = Math.random,
): number {
  // Far past the cap the power overflows to Infinity; keep the cap then.
  const grown = options.initialDelay * options.factor ** attempt;
  const base = Number.isFinite(grown)
    ? Math.min(options.maxDelay, grown)
    : options.maxDelay;
  return Math.round(base * (0.5 + random() / 2));
}
