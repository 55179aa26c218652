/**
 * An optional bridge to OpenTelemetry: client and server middleware that
 * make a span for every call and every request, and carry the trace across
 * the broker in the W3C `traceparent` and `tracestate` headers.
 *
 * This module does not import `@opentelemetry/api`: the program passes the
 * API it already uses to {@linkcode otelMiddleware}, so a program that does
 * not trace downloads and loads nothing more. The API only needs the shape
 * of {@linkcode OtelApi}, which the real `@opentelemetry/api` namespace has.
 * Without an SDK registered (no tracer provider, no propagator), the spans
 * are OpenTelemetry's no-op ones and calls go out untouched.
 *
 * @example Tracing both ends of a call
 * ```ts ignore
 * import * as otel from "npm:@opentelemetry/api@1.9.1";
 * import { RpcClient, serve } from "../../mod.ts";
 * import { otelMiddleware } from "./otel.ts";
 *
 * // Register a tracer provider, a propagator and a context manager first
 * // (with the SDK of your choice), then:
 * const tracing = otelMiddleware(otel, { queue: "calc" });
 * await using _server = await serve({
 *   queue: "calc",
 *   methods: { add: ({ a, b }: { a: number; b: number }) => a + b },
 *   middleware: [tracing.server],
 * });
 * await using client = await RpcClient.connect({
 *   middleware: [tracing.client],
 * });
 * console.log(await client.method("calc", "add")({ a: 1, b: 2 })); // 3
 * ```
 *
 * @module
 */

import type { ClientMiddleware } from "../client/middleware.ts";
import { RemoteError } from "../errors.ts";
import type { ServerMiddleware } from "../worker/middleware.ts";
import type {
  OtelApi,
  OtelAttributes,
  OtelSpan,
  OtelTracer,
} from "./otel_api.ts";
import { errorBodyOf } from "../protocol/error_reply.ts";
import {
  parseTraceparent,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
} from "../protocol/trace.ts";

/**
 * Options of {@linkcode otelMiddleware}.
 *
 * @example
 * ```ts
 * import type { OtelMiddlewareOptions } from "./otel.ts";
 *
 * const options: OtelMiddlewareOptions = { queue: "calc", tracerVersion: "1.2.0" };
 * ```
 */
export interface OtelMiddlewareOptions {
  /**
   * The name of the tracer.
   *
   * @default {"rabbit-rpc"}
   */
  tracerName?: string;
  /** The version of the tracer (default: none). */
  tracerVersion?: string;
  /**
   * The queue the server middleware serves: a request does not say which
   * queue it came from, so without it the worker's spans are named by the
   * method alone and carry no destination. The client middleware always
   * knows the queue of its call.
   */
  queue?: string;
}

/**
 * The middleware {@linkcode otelMiddleware} makes: one for
 * `RpcClient.connect({ middleware })`, one for `serve({ middleware })`.
 *
 * @example
 * ```ts
 * import type { OtelMiddleware } from "./otel.ts";
 *
 * function install(tracing: OtelMiddleware) {
 *   return { clientMiddleware: [tracing.client], serverMiddleware: [tracing.server] };
 * }
 * ```
 */
export interface OtelMiddleware {
  /** Makes a span (kind CLIENT) around every call, and sends its context. */
  client: ClientMiddleware;
  /**
   * Makes a span (kind SERVER) around every request, a child of the
   * caller's span, active while the handler runs.
   */
  server: ServerMiddleware;
}

const DEFAULT_METHOD = "(default)";

/**
 * Client and server middleware that trace calls with OpenTelemetry, after
 * its semantic conventions for messaging and RPC.
 *
 * The client middleware starts a span of kind CLIENT named
 * `"<queue> <method>"` (`(default)` for a call that names no method), a
 * child of the active span, or of the call's own `traceparent` if it has
 * one. The span's context goes out in the call's `traceparent` and
 * `tracestate` options, through the registered propagator; when the
 * propagator writes none (no SDK is registered), the call is left as it
 * was. A failed call marks the span as an error, with `error.type` the
 * error reply's code (for a {@linkcode RemoteError}) or the error's name.
 *
 * The server middleware starts a span of kind SERVER, a child of the
 * caller's span (from the request's `traceparent` and `tracestate`
 * headers), and runs the rest of the chain and the handler with it active:
 * spans the handler starts are its children. A handler that throws marks
 * the span as an error, with `error.type` the code of the error reply
 * (`OUT_OF_RANGE` for a `RangeError`, say).
 *
 * Both spans carry `messaging.system` (`rabbitmq`),
 * `messaging.destination.name` (the queue), `messaging.operation.type`
 * (`send` or `process`), `rpc.system` (`rabbit-rpc`), `rpc.service` (the
 * queue) and `rpc.method` (if the call names one); the server's also
 * `enduser.id` (the user the broker vouches for) and
 * `messaging.message.conversation_id` (the correlation id).
 *
 * @example With the real API (an SDK registered elsewhere)
 * ```ts ignore
 * import * as otel from "npm:@opentelemetry/api@1.9.1";
 * import { RpcClient } from "../../mod.ts";
 * import { otelMiddleware } from "./otel.ts";
 *
 * const tracing = otelMiddleware(otel, { tracerVersion: "1.0.0" });
 * await using client = await RpcClient.connect({ middleware: [tracing.client] });
 * await client.call("rpc_queue", "30");
 * ```
 *
 * @example The spans a fake API sees for one call
 * ```ts
 * import { otelMiddleware } from "./otel.ts";
 * import type { OtelApi, OtelContext } from "./otel_api.ts";
 * import type { OutgoingCall } from "../client/middleware.ts";
 * import { RpcReply } from "../protocol/message.ts";
 *
 * const root: OtelContext = {
 *   getValue: () => undefined,
 *   setValue: () => root,
 *   deleteValue: () => root,
 * };
 * const started: string[] = [];
 * const api: OtelApi = {
 *   trace: {
 *     getTracer: () => ({
 *       startSpan(name, options) {
 *         started.push(`${name} (kind ${options?.kind})`);
 *         return { setAttribute() {}, setStatus() {}, recordException() {}, end() {} };
 *       },
 *     }),
 *     setSpan: (context) => context,
 *   },
 *   context: { active: () => root, with: (_context, fn) => fn() },
 *   propagation: {
 *     inject(_context, carrier) {
 *       carrier.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
 *     },
 *     extract: (context) => context,
 *   },
 *   SpanKind: { SERVER: 1, CLIENT: 2 },
 *   SpanStatusCode: { ERROR: 2 },
 * };
 *
 * const tracing = otelMiddleware(api);
 * const call: OutgoingCall = { queue: "calc", method: "add", body: "{}", options: {} };
 * await tracing.client(call, () => Promise.resolve(new RpcReply(new Uint8Array(), {})));
 * console.log(started); // [ "calc add (kind 2)" ]
 * console.log(call.options.traceparent); // 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
 * ```
 *
 * @throws {TypeError} if `api` does not look like `@opentelemetry/api`.
 */
export function otelMiddleware(
  api: OtelApi,
  options: OtelMiddlewareOptions = {},
): OtelMiddleware {
  if (
    typeof api?.trace?.getTracer !== "function" ||
    typeof api.context?.with !== "function" ||
    typeof api.propagation?.extract !== "function"
  ) {
    throw new TypeError(
      "api must be the @opentelemetry/api namespace (import * as otel from ...)",
    );
  }
  const tracerName = options.tracerName ?? "rabbit-rpc";
  const { tracerVersion, queue: serverQueue } = options;
  // Looked up for every span, not once: the global tracer provider may be
  // registered (or replaced) after the middleware is made.
  const tracer = (): OtelTracer =>
    api.trace.getTracer(tracerName, tracerVersion);

  const client: ClientMiddleware = async (call, next) => {
    const { queue, method } = call;
    let parent = api.context.active();
    const { traceparent, tracestate } = call.options;
    // A malformed traceparent is left for the client to refuse.
    const malformed = traceparent !== undefined &&
      parseTraceparent(traceparent) === undefined;
    if (traceparent !== undefined && !malformed) {
      // The caller chose the trace: join it.
      parent = api.propagation.extract(
        parent,
        carrierOf(traceparent, tracestate),
      );
    }
    const span = tracer().startSpan(`${queue} ${method ?? DEFAULT_METHOD}`, {
      kind: api.SpanKind.CLIENT,
      attributes: attributesOf("send", queue, method),
    }, parent);
    try {
      const context = api.trace.setSpan(parent, span);
      const carrier: Record<string, string> = {};
      api.propagation.inject(context, carrier);
      const sent = carrier[TRACEPARENT_HEADER];
      if (typeof sent === "string" && !malformed) {
        call.options.traceparent = sent;
        const state = carrier[TRACESTATE_HEADER];
        call.options.tracestate = typeof state === "string" && state !== ""
          ? state
          : undefined;
      }
      return await api.context.with(context, next);
    } catch (error) {
      failed(
        api,
        span,
        error,
        error instanceof RemoteError ? error.code : nameOf(error),
      );
      throw error;
    } finally {
      span.end();
    }
  };

  const server: ServerMiddleware = async (request, next) => {
    const headers = request.properties.headers;
    const traceparent = headers?.[TRACEPARENT_HEADER];
    const tracestate = headers?.[TRACESTATE_HEADER];
    let parent = api.context.active();
    if (typeof traceparent === "string") {
      parent = api.propagation.extract(
        parent,
        carrierOf(
          traceparent,
          typeof tracestate === "string" ? tracestate : undefined,
        ),
      );
    }
    const method = request.method;
    const attributes = attributesOf("process", serverQueue, method);
    const { userId, correlationId } = request.properties;
    if (userId !== undefined) attributes["enduser.id"] = userId;
    if (correlationId !== undefined) {
      attributes["messaging.message.conversation_id"] = correlationId;
    }
    const name = serverQueue === undefined
      ? method ?? DEFAULT_METHOD
      : `${serverQueue} ${method ?? DEFAULT_METHOD}`;
    const span = tracer().startSpan(name, {
      kind: api.SpanKind.SERVER,
      attributes,
    }, parent);
    try {
      return await api.context.with(api.trace.setSpan(parent, span), next);
    } catch (error) {
      failed(api, span, error, errorBodyOf(error).code);
      throw error;
    } finally {
      span.end();
    }
  };

  return { client, server };
}

function carrierOf(
  traceparent: string,
  tracestate: string | undefined,
): Record<string, string> {
  const carrier: Record<string, string> = {
    [TRACEPARENT_HEADER]: traceparent,
  };
  if (tracestate !== undefined) carrier[TRACESTATE_HEADER] = tracestate;
  return carrier;
}

function attributesOf(
  operation: "send" | "process",
  queue: string | undefined,
  method: string | undefined,
): OtelAttributes {
  const attributes: OtelAttributes = {
    "messaging.system": "rabbitmq",
    "messaging.operation.type": operation,
    "messaging.operation.name": operation,
    "rpc.system": "rabbit-rpc",
  };
  if (queue !== undefined) {
    attributes["messaging.destination.name"] = queue;
    attributes["rpc.service"] = queue;
  }
  if (method !== undefined) attributes["rpc.method"] = method;
  return attributes;
}

function nameOf(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return "A value that cannot be shown was thrown";
  }
}

function failed(
  api: OtelApi,
  span: OtelSpan,
  error: unknown,
  type: string,
): void {
  const message = messageOf(error);
  span.setAttribute("error.type", type);
  span.setStatus({ code: api.SpanStatusCode.ERROR, message });
  span.recordException(error instanceof Error ? error : message);
}
