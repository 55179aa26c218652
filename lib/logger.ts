/**
 * The logger interface the library writes to. The library never writes to
 * the console itself: pass a logger to see what it does.
 *
 * @module
 */

/**
 * Where the library reports what it does. Each method takes one line of
 * text; passwords never appear in it.
 *
 * @example Logging to the console
 * ```ts
 * import type { Logger } from "./logger.ts";
 *
 * const logger: Logger = {
 *   debug: (line) => console.debug(line),
 *   info: (line) => console.info(line),
 *   warn: (line) => console.warn(line),
 *   error: (line) => console.error(line),
 * };
 * ```
 */
export interface Logger {
  /** Per-request detail. */
  debug(line: string): void;
  /** Lifecycle events: connected, consuming, closed. */
  info(line: string): void;
  /** Something was dropped or retried, but the program carries on. */
  warn(line: string): void;
  /** Something failed. */
  error(line: string): void;
}

const ignore = (_line: string): void => {};

/**
 * A logger that drops every line: the default.
 *
 * @example
 * ```ts
 * import { silentLogger } from "./logger.ts";
 *
 * silentLogger.info("nobody sees this");
 * ```
 */
export const silentLogger: Logger = Object.freeze({
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
});
