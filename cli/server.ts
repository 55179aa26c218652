// deno-lint-ignore-file no-console -- a program: this is where output is written.
/**
 * The worker program, `deno task server`: serves the methods a handler
 * module exports on a queue; by default the tutorial's fib service on
 * `rpc_queue`. The root `server.ts` runs it with what it reads of the
 * environment.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { isOptionError } from "../lib/checks.ts";
import { formatLogger, type LogLevel } from "../lib/observability/logger.ts";
import { MetricsRegistry } from "../lib/observability/metrics/registry.ts";
import { type MetricsServer, serveMetrics } from "../lib/observability/http.ts";
import { serviceOfModule } from "../lib/worker/module_service.ts";
import {
  DEFAULT_DELIVERY_LIMIT,
  DEFAULT_GRACE_PERIOD,
  DEFAULT_MAX_HANDLER_TIME,
  DEFAULT_QUEUE,
  resolveServeOptions,
  type ServeOptions,
  TUTORIAL_QUORUM_QUEUE,
} from "../lib/worker/options.ts";
import { serve } from "../lib/worker/serve.ts";
import { fibMethod } from "../services/fib/method.ts";
import * as fibService from "../services/fib/mod.ts";
import { DEFAULT_MAX_N } from "../services/fib/parse.ts";
import { runProgram } from "./exit.ts";
import {
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  connectionOptions,
  passwordWarning,
  type ProgramEnv,
  UsageError,
  wholeNumber,
} from "./flags.ts";
import { loadModule } from "./handler_module.ts";
import { requestLogMiddleware } from "./request_log.ts";

const USAGE = `Usage: deno task server [options]

Serves the methods a module exports on a RabbitMQ queue; by default the
fib service of RabbitMQ's RPC tutorial (services/fib/mod.ts) on rpc_queue.

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
  --queue-type T   the queue's type when the worker declares it (it finds
                   none): classic (default: the seed tutorial's queue, not
                   durable) or quorum: durable, replicated across a
                   cluster; failing idempotent requests tried again, then
                   parked in QUEUE.dead-letter. A queue that exists is
                   used as it is; given, this flag demands its type of it
  --delivery-limit N
                   quorum: tries of a failing request before it is parked
                   (default: ${DEFAULT_DELIVERY_LIMIT}; every return counts), or none; given, an
                   existing queue must have it
  --dead-letter-queue NAME
                   quorum: where parked requests go (default:
                   QUEUE.dead-letter), or none; given, an existing queue
                   must dead-letter there
  --declare-as G   declare the queue as a tutorial generation does, so that
                   its workers can share it (and demand that type of an
                   existing queue): tutorial-quorum (today's tutorials: durable,
                   x-queue-type quorum, nothing else) or tutorial-classic
                   (the seed's and tutorials before 2026: classic, not
                   durable); not with the three flags above
  --max-n N        fib service: largest n accepted (default: ${DEFAULT_MAX_N})
  --grace-period MS
                   on stop, how long running requests may finish
                   (default: ${DEFAULT_GRACE_PERIOD})
  --max-handler-time MS
                   longest a request may run, whatever its caller's deadline;
                   past it (or past the deadline and a second) the request is
                   answered DEADLINE_EXCEEDED and its handler counted as stuck
                   (default: ${DEFAULT_MAX_HANDLER_TIME})
  --max-stuck-handlers N
                   stuck handlers at which the worker stops consuming and
                   /healthz answers 503, to be restarted (default: the
                   prefetch)
  --expose-errors  send callers the message of every error a handler throws
                   (for development; by default only HandlerError messages,
                   and an error id that the log line of the error has)
  --metrics-port PORT
                   serve Prometheus metrics on http://HOST:PORT/metrics, and
                   /healthz (connected and consuming) and /readyz for
                   Kubernetes probes (default: off)
  --metrics-host HOST
                   address to listen on for --metrics-port (default:
                   127.0.0.1, this machine only; 0.0.0.0 for scrapers and
                   probes from elsewhere, as in a container or a pod)
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
could not be loaded, or --max-stuck-handlers handlers got stuck (it stops as
on SIGTERM, to be started again); 2: a bad command line.`;

/** The library's options this program's flags set. */
const FLAGS: Readonly<Record<string, string>> = {
  queue: "--queue",
  prefetch: "--prefetch",
  queueType: "--queue-type",
  deliveryLimit: "--delivery-limit",
  deadLetterQueue: "--dead-letter-queue",
  gracePeriod: "--grace-period",
  maxHandlerTime: "--max-handler-time",
  maxStuckHandlers: "--max-stuck-handlers",
  maxN: "--max-n",
  port: "--metrics-port",
  level: "--log-level",
  format: "--log-format",
  url: "--url (or AMQP_URL)",
};

/**
 * The queue declarations `--declare-as` names, by tutorial generation:
 * the options each sets.
 */
const DECLARE_AS: Readonly<Record<string, Partial<ServeOptions>>> = {
  "tutorial-quorum": TUTORIAL_QUORUM_QUEUE,
  "tutorial-classic": { queueType: "classic" },
};

/** The flags `--declare-as` stands for. */
const QUEUE_SHAPE_FLAGS = [
  "queue-type",
  "delivery-limit",
  "dead-letter-queue",
] as const;

const OPTIONS = {
  ...CONNECTION_FLAGS,
  handler: { type: "string" },
  "default-method": { type: "string" },
  queue: { type: "string", default: DEFAULT_QUEUE },
  prefetch: { type: "string", default: "1" },
  // No defaults: only a flag given demands anything of an existing queue.
  "queue-type": { type: "string" },
  "delivery-limit": { type: "string" },
  "dead-letter-queue": { type: "string" },
  "declare-as": { type: "string" },
  "max-n": { type: "string" },
  "grace-period": { type: "string", default: String(DEFAULT_GRACE_PERIOD) },
  "max-handler-time": {
    type: "string",
    default: String(DEFAULT_MAX_HANDLER_TIME),
  },
  "max-stuck-handlers": { type: "string" },
  "expose-errors": { type: "boolean", default: false },
  "metrics-port": { type: "string" },
  "metrics-host": { type: "string", default: "127.0.0.1" },
  "log-format": { type: "string", default: "text" },
  "log-level": { type: "string", default: "info" },
  quiet: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/**
 * Runs the program with its command-line arguments and what it reads of the
 * environment; resolves with its exit status: 0 once stopped by a signal, 1
 * if it could not start or lost its connection for good, 2 for a bad
 * command line. Every failure is one line on stderr.
 */
export function main(args: string[], env: ProgramEnv): Promise<number> {
  // Its own copy: --declare-as names itself for the options it sets.
  const flagNames = { ...FLAGS };
  return runProgram(() => run(args, env, flagNames), flagNames);
}

async function run(
  args: string[],
  env: ProgramEnv,
  flagNames: Record<string, string>,
): Promise<number> {
  let flags;
  try {
    flags = parseArgs({ args, options: OPTIONS, strict: true }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (flags.handler !== undefined && flags["max-n"] !== undefined) {
    throw new UsageError(
      "--max-n applies to the fib service, not to --handler",
    );
  }
  const format = flags["log-format"] as "text" | "json";
  const level = flags["log-level"] as LogLevel;
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
  const metricsPort = flags["metrics-port"] === undefined
    ? undefined
    : wholeNumber("--metrics-port", flags["metrics-port"]);

  const service = flags.handler === undefined
    ? serviceOfModule({
      ...fibService,
      fib: fibMethod({
        maxN: flags["max-n"] === undefined
          ? DEFAULT_MAX_N
          : wholeNumber("--max-n", flags["max-n"]),
      }),
    })
    : serviceOfModule(
      await loadModule(flags.handler, env.INIT_CWD ?? Deno.cwd()),
    );
  const registry = new MetricsRegistry();
  const options: ServeOptions = {
    ...connectionOptions(flags, env),
    queue: flags.queue,
    ...queueShape(flags, flagNames),
    prefetch: wholeNumber("--prefetch", flags.prefetch),
    gracePeriod: wholeNumber("--grace-period", flags["grace-period"]),
    maxHandlerTime: wholeNumber(
      "--max-handler-time",
      flags["max-handler-time"],
    ),
    maxStuckHandlers: flags["max-stuck-handlers"] === undefined
      ? undefined
      : wholeNumber("--max-stuck-handlers", flags["max-stuck-handlers"]),
    exposeErrors: flags["expose-errors"],
    logger,
    metrics: registry,
    methods: service.methods,
    defaultMethod: flags["default-method"] ?? service.defaultMethod,
  };
  // Checked before anything starts: a bad option is a bad command line.
  const { router } = checkedOptions(options, flags["default-method"]);
  const exposed = passwordWarning(flags);
  if (exposed) logger.warn(exposed);
  options.middleware = [
    requestLogMiddleware({
      logger,
      // No line per request, and no cost for one, when none is written.
      say: flags.quiet || (level !== "debug" && level !== "info")
        ? undefined
        : say,
      detail: level === "debug",
    }),
    ...(service.middleware ?? []),
  ];
  const queue = flags.queue;

  // The metrics endpoint first: a port in use stops the worker before it
  // connects, with a line that names the flag.
  let server: Awaited<ReturnType<typeof serve>> | undefined;
  let metrics: MetricsServer | undefined;
  if (metricsPort !== undefined) {
    try {
      metrics = serveMetrics({
        // Not connected yet: unhealthy and not ready until it consumes.
        get state() {
          return server?.state ?? "reconnecting";
        },
        get unhealthy() {
          return server?.unhealthy;
        },
        metrics: registry,
      }, {
        port: metricsPort,
        hostname: flags["metrics-host"],
        logger,
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
    server = await serve(options);
  } catch (error) {
    await metrics?.close();
    throw error;
  }
  const running = server;
  say(" [*] Awaiting RPC requests", { queue, methods: router.methodNames });

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
  // Too many handlers stuck past their time: this process is beyond help.
  // Stop as on SIGTERM, and exit 1 for whatever runs it to start another.
  let status = 0;
  running.addEventListener("unhealthy", () => {
    status = 1;
    logger.error(`${running.unhealthy}: stopping; start the worker again`);
    if (!stopping) stop();
  });
  try {
    await running.finished;
    return status;
  } finally {
    await metrics?.close();
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.removeSignalListener(signal, stop);
    }
  }
}

/**
 * The options that shape the queue, from `--declare-as` or the three flags
 * it stands for; only those given, since only those demand.
 */
function queueShape(
  flags: {
    "declare-as"?: string;
    "queue-type"?: string;
    "delivery-limit"?: string;
    "dead-letter-queue"?: string;
  },
  flagNames: Record<string, string>,
): Partial<ServeOptions> {
  const declareAs = flags["declare-as"];
  if (declareAs !== undefined) {
    const given = QUEUE_SHAPE_FLAGS.find((flag) => flags[flag] !== undefined);
    if (given !== undefined) {
      throw new UsageError(
        `--declare-as sets the queue's declaration: leave out --${given}`,
      );
    }
    if (!Object.hasOwn(DECLARE_AS, declareAs)) {
      throw new UsageError(
        `--declare-as must be one of ${
          Object.keys(DECLARE_AS).join(", ")
        }, got ${JSON.stringify(declareAs)}`,
      );
    }
    for (const option of ["queueType", "deliveryLimit", "deadLetterQueue"]) {
      flagNames[option] = `--declare-as ${declareAs}`;
    }
    return DECLARE_AS[declareAs];
  }
  const shape: Partial<ServeOptions> = {};
  const type = flags["queue-type"];
  if (type !== undefined) shape.queueType = type as ServeOptions["queueType"];
  const limit = flags["delivery-limit"];
  if (limit !== undefined) {
    shape.deliveryLimit = limit === "none"
      ? false
      : wholeNumber("--delivery-limit", limit);
  }
  const deadLetterQueue = flags["dead-letter-queue"];
  if (deadLetterQueue !== undefined) {
    shape.deadLetterQueue = deadLetterQueue === "none"
      ? false
      : deadLetterQueue;
  }
  return shape;
}

/**
 * The worker's options checked by the library, as `serve` will check them;
 * a `defaultMethod` that is not one of the methods is the command line's
 * mistake when `--default-method` named it, else the handler module's.
 */
function checkedOptions(
  options: ServeOptions,
  defaultMethodFlag: string | undefined,
): ReturnType<typeof resolveServeOptions> {
  try {
    return resolveServeOptions(options);
  } catch (error) {
    if (isOptionError(error) && error.option === "defaultMethod") {
      if (defaultMethodFlag !== undefined) {
        throw new UsageError(`--default-method ${error.detail}`);
      }
      throw new Error(`The handler module's defaultMethod ${error.detail}`);
    }
    throw error;
  }
}
