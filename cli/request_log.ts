/**
 * The worker's request log: the tutorial's line per request, and a line of
 * detail at debug level.
 *
 * @module
 */

import { escapeControls } from "../lib/text.ts";
import type { LogFields, Logger } from "../lib/observability/logger.ts";
import { bodyKindOf } from "../lib/protocol/codec.ts";
import { errorBodyOf } from "../lib/protocol/error_reply.ts";
import type { RpcRequest } from "../lib/protocol/message.ts";
import type { ServerMiddleware } from "../lib/worker/middleware.ts";

/** Options of {@linkcode requestLogMiddleware}. */
export interface RequestLogOptions {
  /** Where per-request detail goes, at debug level. */
  logger: Logger;
  /**
   * Prints the tutorial's line for each request (` [.] fib(30)`), or
   * nothing if absent.
   */
  say?: (line: string, fields?: LogFields) => void;
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
 * import { requestLogMiddleware } from "./request_log.ts";
 * import { silentLogger } from "../lib/observability/logger.ts";
 *
 * const log = requestLogMiddleware({
 *   logger: silentLogger,
 *   say: (line) => console.log(line),
 * });
 * ```
 */
export function requestLogMiddleware(
  options: RequestLogOptions,
): ServerMiddleware {
  const { logger, say } = options;
  const debug = options.detail ?? false;
  return async (request, next) => {
    // The method it was routed to (a request that names none goes to the
    // default method); the caller chooses the name it sent: its control
    // characters are escaped (the one rule of lib/text.ts).
    const method = escapeControls(request.method ?? "(default)");
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

/** The request's body as a short line: text or JSON as is, else its size. */
function preview(request: RpcRequest): string {
  if (bodyKindOf(request.properties.contentType) === "bytes") {
    return `<${request.body.length} bytes>`;
  }
  // At most the first 256 bytes: the line shows 60 characters of them.
  const body = request.body;
  const text = escapeControls(
    new TextDecoder().decode(body.subarray(0, 256)).trim(),
  );
  return text.length > 60 || body.length > 256
    ? `${text.slice(0, 57)}...`
    : text;
}
