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

export * from "./lib/backoff.ts";
export * from "./lib/client.ts";
export * from "./lib/codec.ts";
export type { ConnectionOptions, TlsOptions } from "./lib/connection.ts";
export * from "./lib/errors.ts";
export * from "./lib/events.ts";
export * from "./lib/fib.ts";
export * from "./lib/fib_service.ts";
export * from "./lib/logger.ts";
export * from "./lib/message.ts";
export * from "./lib/methods.ts";
export * from "./lib/metrics.ts";
export * from "./lib/metrics_http.ts";
export * from "./lib/otel.ts";
export * from "./lib/protocol.ts";
export * from "./lib/server.ts";
export * from "./lib/stats.ts";
export type { ConnectionState } from "./lib/supervisor.ts";
export * from "./lib/trace.ts";
export * from "./lib/transport.ts";
export { DEFAULT_URL, maskUrl } from "./lib/url.ts";
