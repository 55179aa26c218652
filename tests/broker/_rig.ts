/**
 * The setup most broker tests share: a worker on a queue of their own and a
 * client of it, on the shared broker, closed (and the queue deleted) when
 * the test's scope ends, even when it fails.
 *
 * @module
 */

import {
  type ClientOptions,
  RpcClient,
  type RpcHandler,
  type RpcServer,
  serve,
  type ServeOptions,
} from "../../mod.ts";
import { AMQP_URL, scratchQueue } from "../_helpers.ts";

/** A worker and a client of it. */
export interface Rig extends AsyncDisposable {
  /** The worker's queue: unique to the test. */
  readonly queue: string;
  /** The worker. */
  readonly server: RpcServer;
  /** A client of the same broker. */
  readonly client: RpcClient;
}

/** Options of {@linkcode startRig}. */
export interface RigOptions {
  /** The worker's handler (or give `serve.methods`). */
  handler?: RpcHandler;
  /** More options of the worker (its URL and queue are the rig's). */
  serve?: Omit<ServeOptions, "url" | "queue">;
  /** More options of the client (its URL is the rig's). */
  client?: Omit<ClientOptions, "url">;
}

/**
 * Starts a worker on a queue named after `label` and connects a client.
 * Disposing of the rig closes the client, then the worker, then deletes
 * the queue.
 */
export async function startRig(
  label: string,
  options: RigOptions = {},
): Promise<Rig> {
  const scratch = scratchQueue(label);
  const queue = scratch.name;
  let server: RpcServer | undefined;
  try {
    server = await serve(
      { ...options.serve, url: AMQP_URL, queue },
      options.handler,
    );
    const client = await RpcClient.connect({
      ...options.client,
      url: AMQP_URL,
    });
    const started = server;
    return {
      queue,
      server,
      client,
      async [Symbol.asyncDispose]() {
        try {
          await client.close();
          await started.close();
        } finally {
          await scratch[Symbol.asyncDispose]();
        }
      },
    };
  } catch (error) {
    await server?.close();
    await scratch[Symbol.asyncDispose]();
    throw error;
  }
}
