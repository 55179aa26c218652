/**
 * The part of `@opentelemetry/api` that `otelMiddleware` uses, as types:
 * the program passes the real API in, so this library imports nothing of
 * OpenTelemetry, and tests may pass a fake.
 *
 * @module
 */

/**
 * An OpenTelemetry context: an immutable map the API keeps the active span
 * in (`Context` of `@opentelemetry/api`).
 *
 * @example The empty context of a fake API
 * ```ts
 * import type { OtelContext } from "./otel_api.ts";
 *
 * const root: OtelContext = {
 *   getValue: () => undefined,
 *   setValue: () => root,
 *   deleteValue: () => root,
 * };
 * console.log(root.getValue(Symbol("span"))); // undefined
 * ```
 */
export interface OtelContext {
  /** The value stored under `key`, if any. */
  getValue(key: symbol): unknown;
  /** A copy of the context with `key` set to `value`. */
  setValue(key: symbol, value: unknown): OtelContext;
  /** A copy of the context without `key`. */
  deleteValue(key: symbol): OtelContext;
}

/**
 * The value of a span attribute this module sets.
 *
 * @example
 * ```ts
 * import type { OtelAttributeValue } from "./otel_api.ts";
 *
 * const value: OtelAttributeValue = "rabbitmq";
 * ```
 */
export type OtelAttributeValue = string | number | boolean;

/**
 * Span attributes, by name.
 *
 * @example
 * ```ts
 * import type { OtelAttributes } from "./otel_api.ts";
 *
 * const attributes: OtelAttributes = { "messaging.system": "rabbitmq" };
 * ```
 */
export type OtelAttributes = Record<string, OtelAttributeValue>;

/**
 * What this module does with a span (`Span` of `@opentelemetry/api`).
 *
 * @example A span that does nothing
 * ```ts
 * import type { OtelSpan } from "./otel_api.ts";
 *
 * const span: OtelSpan = {
 *   setAttribute() {},
 *   setStatus() {},
 *   recordException() {},
 *   end() {},
 * };
 * span.end();
 * ```
 */
export interface OtelSpan {
  /** Sets an attribute. */
  setAttribute(key: string, value: OtelAttributeValue): void;
  /** Sets the status: `code` is one of `SpanStatusCode`. */
  setStatus(status: { code: number; message?: string }): void;
  /** Adds an `exception` event for an error. */
  recordException(exception: Error | string): void;
  /** Ends the span. */
  end(): void;
}

/**
 * The options of a new span this module passes (`SpanOptions` of
 * `@opentelemetry/api`).
 *
 * @example
 * ```ts
 * import type { OtelSpanOptions } from "./otel_api.ts";
 *
 * const options: OtelSpanOptions = { kind: 2, attributes: { "rpc.method": "add" } };
 * ```
 */
export interface OtelSpanOptions {
  /** The kind: one of `SpanKind`. */
  kind?: number;
  /** The attributes it starts with. */
  attributes?: OtelAttributes;
}

/**
 * A tracer (`Tracer` of `@opentelemetry/api`).
 *
 * @example
 * ```ts
 * import type { OtelSpan, OtelTracer } from "./otel_api.ts";
 *
 * const names: string[] = [];
 * const span: OtelSpan = {
 *   setAttribute() {},
 *   setStatus() {},
 *   recordException() {},
 *   end() {},
 * };
 * const tracer: OtelTracer = {
 *   startSpan(name) {
 *     names.push(name);
 *     return span;
 *   },
 * };
 * tracer.startSpan("calc add").end();
 * console.log(names); // [ "calc add" ]
 * ```
 */
export interface OtelTracer {
  /**
   * Starts a span, a child of the span in `context` (if any; without
   * `context`, of the active one).
   */
  startSpan(
    name: string,
    options?: OtelSpanOptions,
    context?: OtelContext,
  ): OtelSpan;
}

/**
 * The part of `@opentelemetry/api` that {@linkcode otelMiddleware} uses: the
 * namespace object of the real package (`import * as otel from
 * "npm:@opentelemetry/api@1"`) has this shape. Tests may pass a fake.
 *
 * @example An API that does nothing (as the real one does without an SDK)
 * ```ts
 * import type { OtelApi, OtelContext, OtelSpan } from "./otel_api.ts";
 *
 * const root: OtelContext = {
 *   getValue: () => undefined,
 *   setValue: () => root,
 *   deleteValue: () => root,
 * };
 * const span: OtelSpan = {
 *   setAttribute() {},
 *   setStatus() {},
 *   recordException() {},
 *   end() {},
 * };
 * const noop: OtelApi = {
 *   trace: { getTracer: () => ({ startSpan: () => span }), setSpan: (c) => c },
 *   context: { active: () => root, with: (_context, fn) => fn() },
 *   propagation: { inject() {}, extract: (context) => context },
 *   SpanKind: { SERVER: 1, CLIENT: 2 },
 *   SpanStatusCode: { ERROR: 2 },
 * };
 * console.log(noop.context.with(root, () => "ran")); // ran
 * ```
 */
export interface OtelApi {
  /** `trace` of `@opentelemetry/api`. */
  readonly trace: {
    /** The tracer of an instrumentation library. */
    getTracer(name: string, version?: string): OtelTracer;
    /** A copy of `context` whose active span is `span`. */
    setSpan(context: OtelContext, span: OtelSpan): OtelContext;
  };
  /** `context` of `@opentelemetry/api`. */
  readonly context: {
    /** The active context. */
    active(): OtelContext;
    /** Runs `fn` with `context` active, and returns what it returns. */
    with<T>(context: OtelContext, fn: () => T): T;
  };
  /** `propagation` of `@opentelemetry/api`. */
  readonly propagation: {
    /** Writes the trace context of `context` into `carrier`. */
    inject(context: OtelContext, carrier: Record<string, string>): void;
    /** A copy of `context` with the remote trace context in `carrier`. */
    extract(
      context: OtelContext,
      carrier: Record<string, string>,
    ): OtelContext;
  };
  /** `SpanKind` of `@opentelemetry/api`. */
  readonly SpanKind: { readonly SERVER: number; readonly CLIENT: number };
  /** `SpanStatusCode` of `@opentelemetry/api`. */
  readonly SpanStatusCode: { readonly ERROR: number };
}
