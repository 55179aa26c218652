// deno-lint-ignore-file no-console -- the entry scripts are where output is written.
/**
 * The tutorial's RPC client: asks a worker for fib(N) and prints it.
 *
 *     deno task client [--url URL] [--queue NAME] [--timeout MS] N
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RpcClient } from "./lib/client.ts";
import {
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  connectionOptions,
  describeError,
} from "./lib/cli.ts";

const USAGE = `Usage: deno task client [options] N

Asks an RPC worker for fib(N) and prints it, as RabbitMQ's RPC tutorial does.

Options:
${CONNECTION_HELP}
  --queue NAME     queue the worker consumes (default: rpc_queue)
  --timeout MS     how long to wait for the answer (default: 30000)
  --persistent     send the request persistent (delivery mode 2), so that a
                   durable classic queue keeps it across a broker restart
                   (quorum queues keep every request on disk anyway)
  -h, --help       show this help

N defaults to 30. Exit status: 0 with an answer, 1 when the call failed,
2 for a bad command line.`;

async function main(args: string[]): Promise<number> {
  const negative = args.find((arg) => /^-\d/.test(arg));
  if (negative !== undefined) {
    console.error(
      `Error: N must be a whole number such as 30, got "${negative}". Run with --help for usage.`,
    );
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        ...CONNECTION_FLAGS,
        queue: { type: "string", default: "rpc_queue" },
        timeout: { type: "string", default: "30000" },
        persistent: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    console.error(
      `Error: ${(error as Error).message}. Run with --help for usage.`,
    );
    return 2;
  }
  const { values: flags, positionals } = parsed;
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    console.error(
      `Error: expected one number N, got ${positionals.length} arguments. Run with --help for usage.`,
    );
    return 2;
  }
  const n = (positionals[0] ?? "30").trim();
  if (!/^\d+$/.test(n)) {
    console.error(
      `Error: N must be a whole number such as 30, got "${n}". Run with --help for usage.`,
    );
    return 2;
  }
  const timeout = Number(flags.timeout);
  if (!/^\d+$/.test(flags.timeout) || timeout < 1 || timeout > 2 ** 31 - 1) {
    console.error(
      `Error: --timeout must be a whole number of milliseconds from 1 to ${
        2 ** 31 - 1
      }, got "${flags.timeout}". Run with --help for usage.`,
    );
    return 2;
  }

  await using client = await RpcClient.connect({
    ...connectionOptions(flags, {
      AMQP_URL: Deno.env.get("AMQP_URL"),
      AMQP_CA_FILE: Deno.env.get("AMQP_CA_FILE"),
    }),
    persistent: flags.persistent,
  });
  console.log(` [x] Requesting fib(${n})`);
  // fib(n) has no side effects: if the connection drops, ask again.
  const reply = await client.call(flags.queue, n, {
    timeout,
    idempotent: true,
  });
  console.log(` [.] Got ${reply.text()}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (error) {
    console.error(describeError(error));
    Deno.exitCode = 1;
  }
}
