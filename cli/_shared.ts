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
} from "../lib/errors.ts";
import {
  formatLogger,
  type LogFields,
  type Logger,
  type LogLevel,
} from "../lib/observability/logger.ts";
import { bodyKindOf } from "../lib/protocol/codec.ts";
import type { RpcRequest } from "../lib/protocol/message.ts";
import type { ServerMiddleware } from "../lib/worker/methods.ts";
import { errorBodyOf } from "../lib/protocol/error_reply.ts";
import { QueueError } from "../lib/worker/rpc_server.ts";
import type { ConnectionOptions } from "../lib/amqp/connection.ts";
import { DEFAULT_URL, maskUrl } from "../lib/amqp/url.ts";

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

/**
 * What the programs read of the environment; the entry scripts read it
 * (nothing under `cli/` or `lib/` does).
 */
export interface ProgramEnv {
  /** The broker URL(s), when `--url` is not given. */
  AMQP_URL?: string;
  /** The CA file for `amqps://`, when `--ca-file` is not given. */
  AMQP_CA_FILE?: string;
  /**
   * Where the user ran `deno task` (which runs in the project's folder), so
   * that `--handler ./x.ts` means the file where the user is.
   */
  INIT_CWD?: string;
}

/**
 * The connection options of the broker flags: flags first, then the
 * environment, then the defaults.
 *
 * @example
 * ```ts
 * import { connectionOptions } from "./_shared.ts";
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
  env: ProgramEnv,
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
 * import { describeError } from "./_shared.ts";
 * import { NoRouteError } from "../lib/errors.ts";
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
  level?: LogLevel;
  /** Writes a line. */
  write: (line: string) => void;
}

/**
 * A {@linkcode Logger} that prefixes each line with its level: the text
 * format of {@linkcode formatLogger}.
 *
 * @example
 * ```ts
 * import { lineLogger } from "./_shared.ts";
 *
 * const logger = lineLogger({ level: "warn", write: (line) => console.error(line) });
 * logger.info("dropped");
 * logger.warn("written");
 * ```
 */
export function lineLogger(options: LineLoggerOptions): Logger {
  return formatLogger({ level: options.level, write: options.write });
}

/** Options of {@linkcode requestLogMiddleware}. */
export interface RequestLogOptions {
  /** Where per-request detail goes, at debug level. */
  logger: Logger;
  /**
   * Prints the tutorial's line for each request (` [.] fib(30)`), or
   * nothing if absent.
   */
  say?: (line: string, fields?: LogFields) => void;
  /** The method of requests that name none, for the line. */
  defaultMethod?: string;
  /**
   * Whether to time each request and log its detail at debug level (default
   * false: set it when the logger writes debug lines).
   */
  detail?: boolean;
}

/**
 * The worker's request log: the tutorial's ` [.] method(arguments)` line as
 * each request starts, and at debug level a line with its detail
 * (method, correlation id, outcome, duration, trace id, user) when it ends.
 *
 * @example
 * ```ts
 * import { requestLogMiddleware } from "./_shared.ts";
 * import { silentLogger } from "../lib/observability/logger.ts";
 *
 * const log = requestLogMiddleware({
 *   logger: silentLogger,
 *   say: (line) => console.log(line),
 *   defaultMethod: "fib",
 * });
 * ```
 */
export function requestLogMiddleware(
  options: RequestLogOptions,
): ServerMiddleware {
  const { logger, say, defaultMethod } = options;
  const debug = options.detail ?? false;
  return async (request, next) => {
    // The caller chooses the method's name: no control characters in a line.
    const method = (request.method ?? defaultMethod ?? "(default)").replace(
      CONTROL,
      "?",
    );
    say?.(` [.] ${method}(${preview(request)})`, {
      method,
      correlation_id: request.properties.correlationId,
      trace_id: request.trace?.traceId,
    });
    if (!debug) return await next();
    const start = performance.now();
    let outcome = "ok";
    try {
      return await next();
    } catch (error) {
      outcome = errorBodyOf(error).code;
      throw error;
    } finally {
      logger.debug("Handled a request", {
        method,
        outcome,
        duration_ms: Math.round((performance.now() - start) * 1000) / 1000,
        correlation_id: request.properties.correlationId,
        trace_id: request.trace?.traceId,
        span_id: request.trace?.spanId,
        user_id: request.userId,
        redelivered: request.redelivered || undefined,
      });
    }
  };
}

const CONTROL = /\p{Cc}/gu;

/** The request's body as a short line: text or JSON as is, else its size. */
function preview(request: RpcRequest): string {
  if (bodyKindOf(request.properties.contentType) === "bytes") {
    return `<${request.body.length} bytes>`;
  }
  // At most the first 256 bytes: the line shows 60 characters of them.
  const body = request.body;
  const text = new TextDecoder().decode(body.subarray(0, 256)).trim()
    .replace(CONTROL, " ");
  return text.length > 60 || body.length > 256
    ? `${text.slice(0, 57)}...`
    : text;
}
