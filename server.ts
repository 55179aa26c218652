/**
 * The RPC worker, `deno task server`: serves the methods a handler module
 * exports on a queue; by default the tutorial's fib service on `rpc_queue`.
 * The program itself is in `cli/server.ts`; this entry point only reads the
 * environment and runs it.
 *
 *     deno task server [--handler MODULE] [--url URL]... [--queue NAME] …
 *
 * @module
 */

import { main } from "./cli/server.ts";

if (import.meta.main) {
  // INIT_CWD is read only where granted: `deno run server.ts` without it
  // resolves --handler from the current directory.
  const initCwd = Deno.permissions.querySync({
      name: "env",
      variable: "INIT_CWD",
    }).state === "granted"
    ? Deno.env.get("INIT_CWD")
    : undefined;
  Deno.exitCode = await main(Deno.args, {
    AMQP_URL: Deno.env.get("AMQP_URL"),
    AMQP_CA_FILE: Deno.env.get("AMQP_CA_FILE"),
    INIT_CWD: initCwd,
  });
}
