/**
 * What the command-line programs share: their broker flags, turning an
 * error into the one line a user reads, and a logger that writes lines
 * through a given function. Nothing here writes to the console or reads the
 * environment itself.
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
import type { ConnectionOptions } from "./connection.ts";
import { DEFAULT_URL, maskUrl } from "./url.ts";

/** The help lines of the broker flags both programs take. */
export const CONNECTION_HELP: string =
  `  --url URL        broker URL; repeat it, or give a comma-separated list, for
                   the nodes of a cluster: tried in order, and after a loss
                   the next one first (default: $AMQP_URL, else
                   ${DEFAULT_URL})
  --ca-file PATH   PEM file of the CA to trust for amqps:// URLs
                   (default: $AMQP_CA_FILE; needs --allow-read=PATH)`;

/** The `parseArgs` options of the broker flags. */
export const CONNECTION_FLAGS = {
  url: { type: "string", multiple: true },
  "ca-file": { type: "string" },
} as const;

/** The broker flags as `parseArgs` returns them. */
export interface ConnectionFlags {
  url?: string[];
  "ca-file"?: string;
}

/** The environment variables the broker flags fall back on. */
export interface ConnectionEnv {
  AMQP_URL?: string;
  AMQP_CA_FILE?: string;
}

/**
 * The connection options of the broker flags: flags first, then the
 * environment, then the defaults.
 *
 * @example
 * ```ts
 * import { connectionOptions } from "./cli.ts";
 *
 * const options = connectionOptions(
 *   { url: ["amqp://a", "amqp://b"] },
 *   { AMQP_CA_FILE: "/etc/ca.pem" },
 * );
 * console.log(options.url, options.tls); // amqp://a,amqp://b { caFile: "/etc/ca.pem" }
 * ```
 */
export function connectionOptions(
  flags: ConnectionFlags,
  env: ConnectionEnv,
): Pick<ConnectionOptions, "url" | "tls"> {
  const caFile = flags["ca-file"] ?? env.AMQP_CA_FILE;
  return {
    url: flags.url?.join(",") ?? env.AMQP_URL ?? DEFAULT_URL,
    tls: caFile ? { caFile } : undefined,
  };
}

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
