/**
 * What the command-line programs share: turning an error into the one line
 * a user reads, and a logger that writes lines through a given function.
 * Nothing here writes to the console itself.
 *
 * @module
 */

import {
  ConnectionError,
  ConnectionLostError,
  NoRouteError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from "./errors.ts";
import type { Logger } from "./logger.ts";
import { QueueError } from "./server.ts";
import { maskUrl } from "./url.ts";

/**
 * One line saying what failed and what to do, without a stack trace or a
 * password.
 *
 * @example
 * ```ts
 * import { describeError } from "./cli.ts";
 * import { NoRouteError } from "./errors.ts";
 *
 * console.log(describeError(new NoRouteError("rpc_queue")));
 * ```
 */
export function describeError(error: unknown): string {
  let line: string;
  if (error instanceof NoRouteError) {
    line =
      `${error.message}. Start a worker first (deno task server), or check --queue.`;
  } else if (error instanceof TimeoutError) {
    line =
      `${error.message}: no worker answered in time. Check that a worker runs and keeps up, or raise --timeout.`;
  } else if (error instanceof RemoteError) {
    line =
      `The worker answered with an error (${error.code}): ${error.message}`;
  } else if (error instanceof ConnectionError) {
    line = `${error.message}. Set the broker with --url or AMQP_URL.`;
  } else if (error instanceof ConnectionLostError) {
    line = `${error.message}. Check the broker and try again.`;
  } else if (error instanceof QueueError) {
    line = error.replyCode === 406
      ? `${error.message}. The queue exists with other arguments: delete it (rabbitmqctl delete_queue ${error.queue}) or choose another with --queue.`
      : `${error.message}.`;
  } else if (error instanceof ProtocolError) {
    line = `${error.message}. The worker does not speak this protocol.`;
  } else if (error instanceof TypeError || error instanceof RangeError) {
    line = `${error.message}. Run with --help for usage.`;
  } else if (error instanceof Error) {
    line = error.message;
  } else {
    line = String(error);
  }
  return `Error: ${maskUrl(line).replaceAll("\n", " ")}`;
}

/** A minimum level and a function that writes one line. */
export interface LineLoggerOptions {
  /** Lines below this level are dropped (default `info`). */
  level?: "debug" | "info" | "warn" | "error";
  /** Writes a line. */
  write: (line: string) => void;
}

const LEVELS = ["debug", "info", "warn", "error"] as const;

/**
 * A {@linkcode Logger} that prefixes each line with its level.
 *
 * @example
 * ```ts
 * import { lineLogger } from "./cli.ts";
 *
 * const logger = lineLogger({ level: "warn", write: (line) => console.error(line) });
 * logger.info("dropped");
 * logger.warn("written");
 * ```
 */
export function lineLogger(options: LineLoggerOptions): Logger {
  const min = LEVELS.indexOf(options.level ?? "info");
  const at = (level: typeof LEVELS[number]) =>
    LEVELS.indexOf(level) < min
      ? () => {}
      : (line: string) => options.write(`${level}: ${maskUrl(line)}`);
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  };
}
