/**
 * Remote procedure calls over RabbitMQ, for Deno: RabbitMQ's RPC tutorial
 * made whole. A correlation-aware {@linkcode RpcClient} and a worker API,
 * {@linkcode serve}, shaped like `Deno.serve`: one handler, or many typed
 * methods on one queue, with middleware, metrics and trace context.
 *
 * @example Typed methods
 * ```ts ignore
 * import { RpcClient, serve } from "./mod.ts";
 *
 * const methods = {
 *   add: ({ a, b }: { a: number; b: number }) => a + b,
 *   upper: (text: string) => text.toUpperCase(),
 * };
 * await using server = await serve({ queue: "calc", methods });
 * await using client = await RpcClient.connect();
 * const calc = client.service<typeof methods>("calc");
 * console.log(await calc.add({ a: 1, b: 2 })); // 3
 * ```
 *
 * @example A worker and a client
 * ```ts ignore
 * import { RpcClient, serve } from "./mod.ts";
 *
 * await using server = await serve({ queue: "greet" }, (request) => {
 *   return `Hello, ${request.text()}!`;
 * });
 * await using client = await RpcClient.connect();
 * const reply = await client.call("greet", "Deno", { timeout: 5_000 });
 * console.log(reply.text()); // Hello, Deno!
 * ```
 *
 * @module
 */

export * from "./lib/amqp/backoff.ts";
export * from "./lib/client/rpc_client.ts";
export * from "./lib/protocol/codec.ts";
export type { ConnectionOptions, TlsOptions } from "./lib/amqp/connection.ts";
export * from "./lib/errors.ts";
export * from "./lib/amqp/events.ts";
export * from "./services/fib/fib.ts";
export * from "./services/fib/method.ts";
export * from "./lib/observability/logger.ts";
export * from "./lib/protocol/message.ts";
export * from "./lib/worker/methods.ts";
export * from "./lib/observability/metrics/registry.ts";
export * from "./lib/observability/http.ts";
export * from "./lib/observability/otel.ts";
export * from "./lib/protocol/error_reply.ts";
export * from "./lib/worker/rpc_server.ts";
export * from "./lib/observability/stats.ts";
export type { ConnectionState } from "./lib/amqp/supervisor.ts";
export * from "./lib/protocol/trace.ts";
export * from "./lib/client/transport.ts";
export { DEFAULT_URL, maskUrl } from "./lib/amqp/url.ts";
