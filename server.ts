// deno-lint-ignore-file no-console -- the entry scripts are where output is written.
/**
 * The tutorial's RPC worker: answers fib(n) requests on `rpc_queue`.
 *
 *     deno task server [--url URL]... [--queue NAME] [--queue-type classic|quorum]
 *       [--prefetch N] [--max-n N] [--quiet]
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  connectionOptions,
  describeError,
  lineLogger,
} from "./lib/cli.ts";
import { fib } from "./lib/fib.ts";
import { DEFAULT_MAX_N, parseFibRequest } from "./lib/fib_service.ts";
import {
  DEFAULT_DELIVERY_LIMIT,
  DEFAULT_GRACE_PERIOD,
  serve,
} from "./lib/server.ts";

const USAGE = `Usage: deno task server [options]

Answers fib(n) requests from a RabbitMQ queue, as RabbitMQ's RPC tutorial does.

Options:
${CONNECTION_HELP}
  --queue NAME     queue to consume (default: rpc_queue)
  --prefetch N     requests handled at once (default: 1)
  --queue-type T   classic (default: the tutorial's queue) or quorum: durable,
                   replicated across a cluster; failing idempotent requests
                   tried again, then parked in QUEUE.dead-letter
  --delivery-limit N
                   quorum: tries of a failing request before it is parked
                   (default: ${DEFAULT_DELIVERY_LIMIT}; every return counts)
  --max-n N        largest n accepted (default: ${DEFAULT_MAX_N})
  --grace-period MS
                   on stop, how long running requests may finish
                   (default: ${DEFAULT_GRACE_PERIOD})
  --quiet          do not print a line per request
  -h, --help       show this help

If the connection is lost, it reconnects by itself. Stop it with Ctrl-C
(SIGINT) or SIGTERM: it stops taking requests, lets the running ones finish
within the grace period, then exits 0. A second signal exits at once
(unanswered requests go back to the queue). Exit status 1: the broker
refused the login, or could not be reached at start.`;

async function main(args: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args,
      options: {
        ...CONNECTION_FLAGS,
        queue: { type: "string", default: "rpc_queue" },
        prefetch: { type: "string", default: "1" },
        "queue-type": { type: "string", default: "classic" },
        "delivery-limit": {
          type: "string",
          default: String(DEFAULT_DELIVERY_LIMIT),
        },
        "max-n": { type: "string", default: String(DEFAULT_MAX_N) },
        "grace-period": {
          type: "string",
          default: String(DEFAULT_GRACE_PERIOD),
        },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(
      `Error: ${(error as Error).message}. Run with --help for usage.`,
    );
    return 2;
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const prefetch = wholeNumber("--prefetch", flags.prefetch);
  const maxN = wholeNumber("--max-n", flags["max-n"]);
  const gracePeriod = wholeNumber("--grace-period", flags["grace-period"]);
  const deliveryLimit = wholeNumber(
    "--delivery-limit",
    flags["delivery-limit"],
  );
  if (
    prefetch === undefined || maxN === undefined ||
    gracePeriod === undefined || deliveryLimit === undefined
  ) return 2;
  const queueType = flags["queue-type"];
  if (queueType !== "classic" && queueType !== "quorum") {
    console.error(
      `Error: --queue-type must be classic or quorum, got "${queueType}". Run with --help for usage.`,
    );
    return 2;
  }
  if (prefetch < 1 || prefetch > 65535) {
    console.error(
      `Error: --prefetch must be from 1 to 65535, got ${prefetch}. Run with --help for usage.`,
    );
    return 2;
  }

  const quiet = flags.quiet;
  const logger = lineLogger({ write: (line) => console.error(line) });
  const server = await serve({
    ...connectionOptions(flags, {
      AMQP_URL: Deno.env.get("AMQP_URL"),
      AMQP_CA_FILE: Deno.env.get("AMQP_CA_FILE"),
    }),
    queue: flags.queue,
    queueType,
    deliveryLimit,
    prefetch,
    gracePeriod,
    logger,
  }, (request) => {
    const n = parseFibRequest(request.body, { maxN });
    if (!quiet) console.log(` [.] fib(${n})`);
    return fib(n).toString();
  });
  console.log(" [*] Awaiting RPC requests");

  let stopping = false;
  const stop = () => {
    if (stopping) {
      logger.warn("Stopping now: unanswered requests go back to the queue");
      Deno.exit(130);
    }
    stopping = true;
    logger.info("Stopping: finishing the requests in hand");
    server.close();
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, stop);
  }
  try {
    await server.finished;
    return 0;
  } finally {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.removeSignalListener(signal, stop);
    }
  }
}

function wholeNumber(flag: string, value: string): number | undefined {
  if (/^\d+$/.test(value) && Number.isSafeInteger(Number(value))) {
    return Number(value);
  }
  console.error(
    `Error: ${flag} must be a whole number, got "${value}". Run with --help for usage.`,
  );
  return undefined;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (error) {
    console.error(describeError(error));
    Deno.exitCode = 1;
  }
}
