/**
 * W3C Trace Context (`traceparent`) for calls: the client carries it in the
 * request's `traceparent` header (and `tracestate`, if any), and the worker
 * hands it to the handler, so that a trace crosses the broker.
 *
 * @module
 */

import { optionTypeError } from "../checks.ts";
import type { HeaderValue, MessageProperties } from "./properties.ts";

/**
 * The request header that carries the W3C `traceparent`.
 *
 * @example
 * ```ts
 * import { RpcRequest } from "./message.ts";
 * import { TRACEPARENT_HEADER } from "./trace.ts";
 *
 * const headers = {
 *   [TRACEPARENT_HEADER]: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
 * };
 * const request = new RpcRequest(new Uint8Array(), { headers }, {
 *   signal: new AbortController().signal,
 * });
 * console.log(request.trace?.spanId); // 00f067aa0ba902b7
 * ```
 */
export const TRACEPARENT_HEADER = "traceparent";
/**
 * The request header that carries the W3C `tracestate`.
 *
 * @example
 * ```ts
 * import type { MessageProperties } from "./properties.ts";
 * import { TRACEPARENT_HEADER, TRACESTATE_HEADER } from "./trace.ts";
 *
 * const properties: MessageProperties = {
 *   headers: {
 *     [TRACEPARENT_HEADER]: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
 *     [TRACESTATE_HEADER]: "congo=t61rcWkgMzE",
 *   },
 * };
 * console.log(TRACESTATE_HEADER, properties.headers?.[TRACESTATE_HEADER]); // tracestate congo=t61rcWkgMzE
 * ```
 */
export const TRACESTATE_HEADER = "tracestate";

/**
 * The fields of a `traceparent`.
 *
 * @example
 * ```ts
 * import { formatTraceparent, type TraceContext } from "./trace.ts";
 *
 * const trace: TraceContext = {
 *   traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
 *   spanId: "00f067aa0ba902b7",
 *   flags: 1,
 *   sampled: true,
 * };
 * console.log(formatTraceparent(trace)); // 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
 * ```
 */
export interface TraceContext {
  /** The trace id: 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** The caller's span id (the parent of the handler's span): 16 hex digits. */
  spanId: string;
  /** The trace flags, e.g. 1 when sampled. */
  flags: number;
  /** Whether the caller sampled the trace (flag bit 0). */
  sampled: boolean;
}

const TRACEPARENT =
  /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Parses a `traceparent` header value; `undefined` if it is not valid (as
 * the W3C specification says, an invalid one is ignored, not an error).
 *
 * @example
 * ```ts
 * import { parseTraceparent } from "./trace.ts";
 *
 * const trace = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
 * console.log(trace?.traceId, trace?.sampled); // 4bf92f3577b34da6a3ce929d0e0e4736 true
 * ```
 */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== "string" || value.length > 512) return undefined;
  const match = TRACEPARENT.exec(value);
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  // Version ff is invalid; version 00 has nothing after the flags.
  if (version === "ff" || (version === "00" && rest !== undefined)) {
    return undefined;
  }
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  const bits = parseInt(flags, 16);
  return { traceId, spanId, flags: bits, sampled: (bits & 1) === 1 };
}

/**
 * Formats a `traceparent` (version 00).
 *
 * @example
 * ```ts
 * import { formatTraceparent } from "./trace.ts";
 *
 * console.log(formatTraceparent({
 *   traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
 *   spanId: "00f067aa0ba902b7",
 *   sampled: true,
 * })); // 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
 * ```
 *
 * @throws {TypeError} if the trace id or span id is malformed.
 */
export function formatTraceparent(
  context: { traceId: string; spanId: string; sampled?: boolean },
): string {
  const value = `00-${context.traceId}-${context.spanId}-${
    context.sampled === false ? "00" : "01"
  }`;
  if (parseTraceparent(value) === undefined) {
    throw new TypeError(
      "traceId must be 32 and spanId 16 lowercase hex digits, not all zero",
    );
  }
  return value;
}

/**
 * A new `traceparent` with a random trace id and span id, sampled: for a
 * caller that starts a trace.
 *
 * @example
 * ```ts
 * import { newTraceparent, parseTraceparent } from "./trace.ts";
 *
 * console.log(parseTraceparent(newTraceparent())?.sampled); // true
 * ```
 */
export function newTraceparent(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  // A zero id is invalid; the chance is 2^-64, but make it impossible.
  bytes[0] |= 1;
  bytes[16] |= 1;
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return `00-${hex.slice(0, 32)}-${hex.slice(32)}-01`;
}

/**
 * A request's properties with a caller's trace context added as its
 * `traceparent` (and `tracestate`) headers; the properties as they are if
 * the caller gives none.
 *
 * @example
 * ```ts
 * import { withTraceContext } from "./trace.ts";
 *
 * const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
 * console.log(withTraceContext(undefined, { traceparent })?.headers);
 * // { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }
 * ```
 *
 * @throws {TypeError} if `traceparent` is not a valid W3C `traceparent`, or
 * `tracestate` is not a string.
 */
export function withTraceContext(
  properties: MessageProperties | undefined,
  trace: { traceparent?: string; tracestate?: string },
): MessageProperties | undefined {
  const { traceparent, tracestate } = trace;
  if (traceparent === undefined) return properties;
  if (parseTraceparent(traceparent) === undefined) {
    throw optionTypeError(
      "traceparent",
      `must be a W3C traceparent such as 00-<32 hex>-<16 hex>-01, got ${
        JSON.stringify(traceparent)
      }`,
    );
  }
  if (tracestate !== undefined && typeof tracestate !== "string") {
    throw optionTypeError("tracestate", "must be a string");
  }
  const headers: Record<string, HeaderValue> = {
    ...properties?.headers,
    [TRACEPARENT_HEADER]: traceparent,
  };
  if (tracestate !== undefined) headers[TRACESTATE_HEADER] = tracestate;
  return { ...properties, headers };
}
