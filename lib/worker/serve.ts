/**
 * {@linkcode serve}: the worker side, shaped like `Deno.serve`. A handler
 * takes a request and returns the reply's body; the worker does the rest
 * (queue, prefetch, deadlines, error replies, acks).
 *
 * @module
 */

import { AmqpWorkerTransport } from "./amqp_transport.ts";
import type { RpcHandler } from "./methods.ts";
import { resolveServeOptions, type ServeOptions } from "./options.ts";
import { RpcServer } from "./rpc_server.ts";

/**
 * Starts a worker that answers requests from `options.queue` with
 * `handler` (or with `options.methods`), and resolves once it consumes.
 *
 * The worker looks for its queue first (a passive declare). A queue that
 * exists is consumed as it is, whatever its type and arguments: so a
 * worker shares a queue that the RabbitMQ tutorial's workers declared, in
 * any language and generation (classic or quorum). Only the queue options
 * given explicitly (`queueType`, `deliveryLimit`, `deadLetterQueue`,
 * `queueArguments`) demand anything of it: a queue that differs is refused
 * with a `QueueError` whose `mismatch` says what it has and what
 * was asked. A missing queue is declared with the options: by default as
 * the seed tutorial declares `rpc_queue` (classic, not durable, not
 * exclusive, not auto-delete, no arguments); with
 * `TUTORIAL_QUORUM_QUEUE`, as today's tutorials do (quorum,
 * durable, nothing else), so that their workers can start after it. The
 * same holds when the queue is deleted under a running worker: it declares
 * it again. Failed requests are handed back for another try only on a
 * queue whose delivery limit the worker knows (see `queueType`).
 *
 * Each request is acked after its reply is published, so a worker that
 * dies mid-request leaves the request to another worker.
 *
 * @example The tutorial's worker
 * ```ts ignore
 * import { serve } from "./serve.ts";
 *
 * await using server = await serve({ queue: "rpc_queue" }, (request) => {
 *   return String(Number(request.text()) * 2);
 * });
 * await server.finished;
 * ```
 *
 * @example Sharing today's tutorials' quorum `rpc_queue`
 * ```ts ignore
 * import { serve } from "./serve.ts";
 * import { TUTORIAL_QUORUM_QUEUE } from "./options.ts";
 *
 * // Declares rpc_queue as today's tutorial workers do, if it is missing;
 * // uses it as it is if it exists.
 * await using server = await serve(
 *   { queue: "rpc_queue", ...TUTORIAL_QUORUM_QUEUE },
 *   (request) => String(Number(request.text()) * 2),
 * );
 * console.log(server.queueState?.declared);
 * ```
 *
 * @example Many methods on one queue
 * ```ts ignore
 * import { serve } from "./serve.ts";
 *
 * await using server = await serve({
 *   queue: "calc",
 *   methods: {
 *     add: ({ a, b }: { a: number; b: number }) => a + b,
 *     negate: (n: number) => -n,
 *   },
 * });
 * ```
 *
 * @throws {TypeError} for a bad option.
 * @throws {RangeError} for an option out of range.
 * @throws {ConnectionError} if no broker accepts the connection.
 * @throws {QueueError} if the queue cannot be declared or consumed.
 */
export async function serve(
  options: ServeOptions,
  handler?: RpcHandler,
): Promise<RpcServer> {
  const config = resolveServeOptions(options, handler);
  options.signal?.throwIfAborted();
  const server = new RpcServer(new AmqpWorkerTransport(config), config);
  await server.start();
  const signal = options.signal;
  if (signal) {
    if (signal.aborted) {
      // Aborted while connecting: do not leave a server nobody can stop.
      await server.close();
      throw signal.reason;
    }
    const onAbort = () => server.close();
    signal.addEventListener("abort", onAbort, { once: true });
    server.finished.finally(() => signal.removeEventListener("abort", onAbort))
      .catch(() => {});
  }
  options.onListen?.({ queue: server.queue });
  return server;
}
