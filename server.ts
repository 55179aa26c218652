/**
 * The RPC worker, `deno task server`: serves the methods a handler module
 * exports on a queue; by default the tutorial's fib service on `rpc_queue`.
 * The program itself is in `cli/server.ts`; this entry point only reads the
 * environment and runs it.
 *
 *     deno task server [--handler MODULE] [--url-file PATH] [--queue NAME] …
 *
 * @module
 */

import { main } from "./cli/server.ts";

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args, {
    AMQP_URL: Deno.env.get("AMQP_URL"),
    // Read only where granted, so that `deno run` with the permissions of
    // earlier versions still runs.
    AMQP_URL_FILE: ifGranted("AMQP_URL_FILE"),
    AMQP_CA_FILE: Deno.env.get("AMQP_CA_FILE"),
    // `deno run server.ts` without it resolves --handler from the current
    // directory.
    INIT_CWD: ifGranted("INIT_CWD"),
  });
}

/** The variable, if the program may read it. */
function ifGranted(variable: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable });
  return state === "granted" ? Deno.env.get(variable) : undefined;
}
