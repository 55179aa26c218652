// deno-lint-ignore-file no-console -- the entry scripts are where output is written.
/**
 * The RPC worker: serves the methods a handler module exports on a queue;
 * by default the tutorial's fib service on `rpc_queue`.
 *
 *     deno task server [--handler MODULE] [--url URL]... [--queue NAME]
 *       [--prefetch N] [--metrics-port PORT] [--log-format text|json] …
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  connectionOptions,
  describeError,
  type ProgramEnv,
  requestLogMiddleware,
} from "./_shared.ts";
import { DEFAULT_MAX_N, fibMethod } from "../services/fib/method.ts";
import {
  formatLogger,
  LOG_LEVELS,
  type LogLevel,
} from "../lib/observability/logger.ts";
import { serviceOfModule } from "../lib/worker/methods.ts";
import { MetricsRegistry } from "../lib/observability/metrics/registry.ts";
import { type MetricsServer, serveMetrics } from "../lib/observability/http.ts";
import {
  DEFAULT_DELIVERY_LIMIT,
  DEFAULT_GRACE_PERIOD,
  type RpcServer,
  serve,
} from "../lib/worker/rpc_server.ts";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as fibService from "../services/fib/mod.ts";

const USAGE = `Usage: deno task server [options]

Serves the methods a module exports on a RabbitMQ queue; by default the
fib service of RabbitMQ's RPC tutorial (services/fib.ts) on rpc_queue.

Options:
  --handler MODULE path or URL of a module whose exported functions are the
                   methods (default: the fib service); see "A short tour" in
                   the README. deno task server may read only the project's
                   folder: for a module elsewhere, or one that needs more
                   permissions, run server.ts with deno run and the flags it
                   needs (--allow-read=PATH, --allow-import=HOST for a URL
                   not on Deno's default hosts, …)
  --default-method NAME
                   method of requests that name none (default: the module's
                   defaultMethod export, or its only method)
${CONNECTION_HELP}
  --queue NAME     queue to consume (default: rpc_queue)
  --prefetch N     requests handled at once (default: 1)
  --queue-type T   classic (default: the tutorial's queue) or quorum: durable,
                   replicated across a cluster; failing idempotent requests
                   tried again, then parked in QUEUE.dead-letter
  --delivery-limit N
                   quorum: tries of a failing request before it is parked
                   (default: ${DEFAULT_DELIVERY_LIMIT}; every return counts)
  --max-n N        fib service: largest n accepted (default: ${DEFAULT_MAX_N})
  --grace-period MS
                   on stop, how long running requests may finish
                   (default: ${DEFAULT_GRACE_PERIOD})
  --metrics-port PORT
                   serve Prometheus metrics on http://HOST:PORT/metrics, and
                   /healthz (connected and consuming) and /readyz for
                   Kubernetes probes (default: off)
  --metrics-host HOST
                   address to listen on for --metrics-port (default: 0.0.0.0)
  --log-format F   text (default: the tutorial's lines on stdout, the rest
                   on stderr) or json (one JSON object per line on stdout)
  --log-level L    debug (a line with detail per request), info (default:
                   one line per request), warn or error
  --quiet          no line per request (the same as --log-level warn for
                   requests only)
  -h, --help       show this help

If the connection is lost, it reconnects by itself. Stop it with Ctrl-C
(SIGINT) or SIGTERM: it stops taking requests, lets the running ones finish
within the grace period, then exits 0. A second signal exits at once
(unanswered requests go back to the queue). Exit status 1: the broker
refused the login, could not be reached at start, or the handler module
could not be loaded; 2: a bad command line.`;

async function run(args: string[], env: ProgramEnv): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args,
      options: {
        ...CONNECTION_FLAGS,
        handler: { type: "string" },
        "default-method": { type: "string" },
        queue: { type: "string", default: "rpc_queue" },
        prefetch: { type: "string", default: "1" },
        "queue-type": { type: "string", default: "classic" },
        "delivery-limit": {
          type: "string",
          default: String(DEFAULT_DELIVERY_LIMIT),
        },
        "max-n": { type: "string" },
        "grace-period": {
          type: "string",
          default: String(DEFAULT_GRACE_PERIOD),
        },
        "metrics-port": { type: "string" },
        "metrics-host": { type: "string", default: "0.0.0.0" },
        "log-format": { type: "string", default: "text" },
        "log-level": { type: "string", default: "info" },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    return usageError((error as Error).message);
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const prefetch = wholeNumber("--prefetch", flags.prefetch);
  const gracePeriod = wholeNumber("--grace-period", flags["grace-period"]);
  const deliveryLimit = wholeNumber(
    "--delivery-limit",
    flags["delivery-limit"],
  );
  const maxN = flags["max-n"] === undefined
    ? DEFAULT_MAX_N
    : wholeNumber("--max-n", flags["max-n"]);
  const metricsPort = flags["metrics-port"] === undefined
    ? undefined
    : wholeNumber("--metrics-port", flags["metrics-port"]);
  if (
    prefetch === undefined || maxN === undefined ||
    gracePeriod === undefined || deliveryLimit === undefined ||
    (flags["metrics-port"] !== undefined && metricsPort === undefined)
  ) return 2;
  const queueType = flags["queue-type"];
  if (queueType !== "classic" && queueType !== "quorum") {
    return usageError(
      `--queue-type must be classic or quorum, got "${queueType}"`,
    );
  }
  if (prefetch < 1 || prefetch > 65535) {
    return usageError(`--prefetch must be from 1 to 65535, got ${prefetch}`);
  }
  if (metricsPort !== undefined && metricsPort > 65535) {
    return usageError(
      `--metrics-port must be from 0 to 65535, got ${metricsPort}`,
    );
  }
  const format = flags["log-format"];
  if (format !== "text" && format !== "json") {
    return usageError(`--log-format must be text or json, got "${format}"`);
  }
  const level = flags["log-level"] as LogLevel;
  if (!LOG_LEVELS.includes(level)) {
    return usageError(
      `--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${level}"`,
    );
  }
  if (flags.handler !== undefined && flags["max-n"] !== undefined) {
    return usageError("--max-n applies to the fib service, not to --handler");
  }

  // Text: the tutorial's lines on stdout as it prints them, the rest on
  // stderr; JSON: every line on stdout, for a log collector.
  const logger = formatLogger({
    format,
    level,
    write: format === "json"
      ? (line) => console.log(line)
      : (line) => console.error(line),
  });
  const say = (line: string, fields?: Record<string, unknown>) => {
    if (format === "json") logger.info(line.replace(/^ \[.\] /, ""), fields);
    else if (level === "debug" || level === "info") console.log(line);
  };

  const service = flags.handler === undefined
    ? serviceOfModule({ ...fibService, fib: fibMethod({ maxN }) })
    : serviceOfModule(
      await loadModule(flags.handler, env.INIT_CWD ?? Deno.cwd()),
    );
  const names = Object.keys(service.methods);
  const defaultMethod = flags["default-method"] ?? service.defaultMethod;
  if (defaultMethod !== undefined && !names.includes(defaultMethod)) {
    const methods = names.join(", ");
    if (flags["default-method"] !== undefined) {
      return usageError(
        `--default-method "${defaultMethod}" is not one of its methods (${methods})`,
      );
    }
    // The module's own mistake, not the command line's.
    throw new Error(
      `The handler module's defaultMethod "${defaultMethod}" is not one of its methods (${methods})`,
    );
  }
  service.middleware?.forEach((item, i) => {
    if (typeof item !== "function") {
      throw new Error(
        `The handler module's middleware[${i}] is not a function`,
      );
    }
  });
  const queue = flags.queue;

  // The metrics endpoint first: a port in use stops the worker before it
  // connects, with a line that names the flag.
  const registry = new MetricsRegistry();
  let server: RpcServer | undefined;
  let metrics: MetricsServer | undefined;
  if (metricsPort !== undefined) {
    try {
      metrics = serveMetrics({
        // Not connected yet: unhealthy and not ready until it consumes.
        get state() {
          return server?.state ?? "reconnecting";
        },
        metrics: registry,
      }, {
        port: metricsPort,
        hostname: flags["metrics-host"],
        onListen: ({ hostname, port }) =>
          logger.info(`Serving metrics on http://${hostname}:${port}/metrics`),
      });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        console.error(
          `Error: --metrics-port ${metricsPort}: the address is in use (another worker on this host?). Choose another port.`,
        );
        return 1;
      }
      throw error;
    }
  }
  try {
    server = await serve({
      ...connectionOptions(flags, env),
      queue,
      queueType,
      deliveryLimit,
      prefetch,
      gracePeriod,
      logger,
      metrics: registry,
      methods: service.methods,
      defaultMethod,
      middleware: [
        requestLogMiddleware({
          logger,
          // No line per request, and no cost for one, when none is written.
          say: flags.quiet || (level !== "debug" && level !== "info")
            ? undefined
            : say,
          detail: level === "debug",
          defaultMethod: defaultMethod ??
            (Object.keys(service.methods).length === 1
              ? Object.keys(service.methods)[0]
              : undefined),
        }),
        ...(service.middleware ?? []),
      ],
    });
  } catch (error) {
    await metrics?.close();
    throw error;
  }
  const running = server;
  say(" [*] Awaiting RPC requests", { queue, methods: names });

  let stopping = false;
  const stop = () => {
    if (stopping) {
      logger.warn("Stopping now: unanswered requests go back to the queue");
      Deno.exit(130);
    }
    stopping = true;
    logger.info("Stopping: finishing the requests in hand");
    running.close();
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, stop);
  }
  try {
    await running.finished;
    return 0;
  } finally {
    await metrics?.close();
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.removeSignalListener(signal, stop);
    }
  }
}

/**
 * Imports a handler module by URL, or by path from the directory the user
 * is in (`deno task` runs in the project's folder, and says where the user
 * was in INIT_CWD).
 */
async function loadModule(
  specifier: string,
  directory: string,
): Promise<Record<string, unknown>> {
  const url =
    /^[a-z][a-z0-9+.-]*:/i.test(specifier) && !/^[a-z]:[\\/]/i.test(specifier)
      ? specifier
      : pathToFileURL(resolve(directory, specifier)).href;
  try {
    return await import(url);
  } catch (cause) {
    const message = String((cause as Error)?.message ?? cause).split("\n")[0];
    const reason = /Requires (read|import) access/.test(message)
      ? `the worker may not ${
        /import/.test(message) ? "import from that host" : "read it"
      }. deno task server may read only the project's folder: run server.ts with deno run and --allow-read=PATH (or --allow-import=HOST)`
      : cause instanceof Deno.errors.NotCapable ||
          /Requires \w+ access/.test(message)
      ? `${message}. The module needs more permissions than the task grants: run server.ts with deno run and the flags it needs`
      : message;
    throw new Error(`Cannot load the handler module ${specifier}: ${reason}`, {
      cause,
    });
  }
}

function usageError(message: string): number {
  console.error(`Error: ${message}. Run with --help for usage.`);
  return 2;
}

function wholeNumber(flag: string, value: string): number | undefined {
  if (/^\d+$/.test(value) && Number.isSafeInteger(Number(value))) {
    return Number(value);
  }
  usageError(`${flag} must be a whole number, got "${value}"`);
  return undefined;
}

/**
 * Runs the program with its command-line arguments and what it reads of the
 * environment; resolves with its exit status. Any failure is printed as one
 * line (see `describeError`), never as a stack trace.
 */
export async function main(args: string[], env: ProgramEnv): Promise<number> {
  try {
    return await run(args, env);
  } catch (error) {
    console.error(describeError(error));
    return 1;
  }
}
