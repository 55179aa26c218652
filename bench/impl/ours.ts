/**
 * Ours: `RpcClient.connect` and `serve` from `mod.ts`, with the defaults a
 * user gets (direct reply-to, mandatory publishes, timeouts), the worker at
 * prefetch 100 and a handler that echoes the body.
 *
 * @module
 */

import { RpcClient, serve } from "../../mod.ts";
import type { ClientSide, Implementation, WorkerSide } from "./common.ts";

export const ours: Implementation = {
  async client({ url, queue, name }): Promise<ClientSide> {
    const client = await RpcClient.connect({
      url,
      connectionName: name,
      timeout: 60_000,
    });
    return {
      call: async (body) => (await client.call(queue, body)).body,
      close: () => client.close(),
    };
  },
  async worker({ url, queue, name }): Promise<WorkerSide> {
    let handled = 0;
    const server = await serve(
      { url, queue, prefetch: 100, connectionName: name },
      (request) => {
        handled++;
        return request.body;
      },
    );
    return { handled: () => handled, close: () => server.close() };
  },
};
