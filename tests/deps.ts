/**
 * Dependencies of the tests only, pinned in full. They live apart from
 * `lib/deps.ts` so that a program importing `mod.ts` by URL never downloads
 * them.
 *
 * @module
 */

export { default as amqplib } from "npm:amqplib@2.3.1";
export { parse as parseYaml } from "npm:yaml@2.9.1";
export * as otel from "npm:@opentelemetry/api@1.9.1";
export {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "npm:@opentelemetry/sdk-trace-base@2.12.1";
export { W3CTraceContextPropagator } from "npm:@opentelemetry/core@2.12.1";
export { AsyncLocalStorageContextManager } from "npm:@opentelemetry/context-async-hooks@2.12.1";
// Schema libraries implementing Standard Schema, for the contract tests.
export { z } from "npm:zod@4.6.7";
export * as v from "npm:valibot@1.5.0";
export { type } from "npm:arktype@2.2.10";
