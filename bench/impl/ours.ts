/**
 * Ours: `RpcClient.connect` and `serve` from `mod.ts`, with the defaults a
 * user gets (direct reply-to, mandatory publishes, timeouts), the worker at
 * prefetch 100 and a handler that echoes the body.
 *
 * @module
 */

import * as library from "../../mod.ts";
import type { ClientSide, Implementation, WorkerSide } from "./common.ts";

/** What the benchmark uses of a copy of the library. */
export interface Library {
  RpcClient: Pick<typeof library.RpcClient, "connect">;
  serve: typeof library.serve;
}

/** The library of this checkout, measured as `ours`. */
export const ours: Implementation = oursFrom(library);

/**
 * The implementation over a copy of the library: this checkout's, or
 * another's (`--baseline`), so that two versions are measured side by side.
 */
export function oursFrom({ RpcClient, serve }: Library): Implementation {
  return {
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
}
