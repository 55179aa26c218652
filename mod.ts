/**
 * Remote procedure calls over RabbitMQ, for Deno: RabbitMQ's RPC tutorial
 * made whole. A correlation-aware {@linkcode RpcClient} and a worker API,
 * {@linkcode serve}, shaped like `Deno.serve`.
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
export type { ConnectionOptions, TlsOptions } from "./lib/connection.ts";
export * from "./lib/errors.ts";
export * from "./lib/events.ts";
export * from "./lib/fib.ts";
export * from "./lib/fib_service.ts";
export * from "./lib/logger.ts";
export * from "./lib/message.ts";
export * from "./lib/protocol.ts";
export * from "./lib/server.ts";
export type { ConnectionState } from "./lib/supervisor.ts";
export * from "./lib/transport.ts";
export { DEFAULT_URL, maskUrl } from "./lib/url.ts";
