/**
 * The RPC client, `deno task client`: asks a worker for fib(N) and prints
 * it, as the tutorial's client does; calls any method with JSON arguments;
 * or puts a quick load on a worker. The program itself is in
 * `cli/client.ts`; this entry point only reads the environment and runs it.
 *
 *     deno task client [--url URL] [--queue NAME] [--timeout MS] N
 *
 * @module
 */

import { main } from "./cli/client.ts";

if (import.meta.main) {
  // AMQP_URL_FILE is read only where granted, so that `deno run` with the
  // permissions of earlier versions still runs.
  const urlFile = Deno.permissions.querySync({
      name: "env",
      variable: "AMQP_URL_FILE",
    }).state === "granted"
    ? Deno.env.get("AMQP_URL_FILE")
    : undefined;
  Deno.exitCode = await main(Deno.args, {
    AMQP_URL: Deno.env.get("AMQP_URL"),
    AMQP_URL_FILE: urlFile,
    AMQP_CA_FILE: Deno.env.get("AMQP_CA_FILE"),
  });
}
