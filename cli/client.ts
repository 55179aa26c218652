// deno-lint-ignore-file no-console -- a program: this is where output is written.
/**
 * The client program, `deno task client`: asks a worker for fib(N) and
 * prints it, as the tutorial's client does; calls any method with JSON
 * arguments; or puts a quick load on a worker and prints its latency
 * percentiles. The root `client.ts` runs it with what it reads of the
 * environment.
 *
 *     deno task client [--url URL] [--queue NAME] [--timeout MS] N
 *     deno task client --method NAME --data JSON [--json]
 *     deno task client --count N --concurrency C [N]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { checkName } from "../lib/checks.ts";
import { DEFAULT_TIMEOUT } from "../lib/client/options.ts";
import { RpcClient } from "../lib/client/rpc_client.ts";
import { RemoteError } from "../lib/errors.ts";
import { MAX_REMOTE_MESSAGE } from "../lib/protocol/error_reply.ts";
import { withTraceContext } from "../lib/protocol/trace.ts";
import { DEFAULT_QUEUE } from "../lib/worker/options.ts";
import {
  errorJson,
  errorLine,
  jsonLine,
  jsonOf,
  round,
  roundSummary,
  summaryLines,
  textOf,
} from "./client_output.ts";
import { runProgram } from "./exit.ts";
import {
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  connectionOptions,
  passwordWarning,
  type ProgramEnv,
  UsageError,
  usageErrorOf,
  wholeNumber,
} from "./flags.ts";
import {
  checkLoadOptions,
  errorName,
  MAX_LOAD_CONCURRENCY,
  runLoad,
} from "./load.ts";
import { ProgressBar } from "./progress_bar.ts";

const USAGE = `Usage: deno task client [options] [N]

Calls a method of an RPC worker and prints the answer. By default it asks
the worker on rpc_queue for fib(N), as RabbitMQ's RPC tutorial does (start
one with: deno task server).

Examples:
  deno task client 30
      fib(30) from the worker on rpc_queue
  deno task client --method add --data '{"a":1,"b":2}' --queue calc
      the method "add" of the worker on queue calc, with JSON arguments
  deno task client --count 10000 --concurrency 100 30
      a quick load: fib(30) 10000 times, 100 calls at a time, then calls
      per second and latency percentiles

Options:
${CONNECTION_HELP}
  --queue NAME     queue the worker consumes (default: rpc_queue)
  --method NAME    method to call (default: the worker's default method,
                   which for deno task server is fib)
  --data JSON      the method's arguments as JSON, e.g. '{"a":1}', '[1,2]',
                   42, or '"text"' for a string (sent as text). Without it,
                   N is sent: as the tutorial's text body "N", or with
                   --method as the JSON number N
  --timeout MS     how long to wait for each answer (default: 30000)
  --traceparent TP carry this W3C traceparent (00-<32 hex>-<16 hex>-01) to
                   the handler, to find the call in the worker's traces and
                   its --log-level debug lines
  --reply-user-id USER
                   accept only answers whose user_id (vouched for by the
                   broker, set by the worker) is USER, the worker's login:
                   answers forged by anyone else who knows the reply address
                   are dropped
  --persistent     send requests persistent (delivery mode 2), so that a
                   durable classic queue keeps them across a broker restart
                   (quorum queues keep every request on disk anyway)
  --json           print one JSON object on stdout instead of the lines:
                     {"queue":…,"method":…|null,"request":…,"result":…,"ms":…}
                   (bytes results as {"base64":…}), or a load's summary;
                   a failure prints {"error":{"name":…,"code":…,"message":…}}
                   on stdout instead of a line on stderr ("code" for errors
                   the worker answered)
  --count N        make N calls and print a summary (default: 1)
  --concurrency C  keep C calls in flight, from 1 to ${MAX_LOAD_CONCURRENCY} (default: 1)
  -h, --help       show this help

What a worker sends is shown with its control characters escaped (\\u001b
for ESC), so that it cannot drive the terminal; --json writes them as JSON
escapes, C1 and bidirectional controls included. A worker's error message
shows at most ${MAX_REMOTE_MESSAGE} characters.

N defaults to 30. Only the tutorial's request (no --method, no --data) is
sent again if the connection drops before its answer: the client cannot
know that another method is safe to run twice.

A load (--count above 1, or --concurrency) shows a progress bar on stderr
when that is a terminal, then prints on stdout
  N calls in S s: X calls/s, p50 A ms, p90 B ms, p99 C ms, max D ms, F failed
and a line per kind of failure. Latencies are those of the calls answered
without error. With --json, the summary is one JSON object. Ctrl-C stops a
load and prints the summary of the calls completed so far.

Exit status: 0 when every call was answered, 1 when a call failed or the
broker could not be reached, 2 for a bad command line (a line on stderr,
even with --json), 130 for a load stopped with Ctrl-C.`;

/** The library's options this program's flags set. */
const FLAGS = {
  queue: "--queue",
  method: "--method",
  timeout: "--timeout",
  traceparent: "--traceparent",
  replyUserId: "--reply-user-id",
  count: "--count",
  concurrency: "--concurrency",
  url: "--url (or AMQP_URL)",
} as const;

const OPTIONS = {
  ...CONNECTION_FLAGS,
  queue: { type: "string", default: DEFAULT_QUEUE },
  method: { type: "string" },
  data: { type: "string" },
  timeout: { type: "string", default: String(DEFAULT_TIMEOUT) },
  persistent: { type: "boolean", default: false },
  traceparent: { type: "string" },
  "reply-user-id": { type: "string" },
  json: { type: "boolean", default: false },
  count: { type: "string" },
  concurrency: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The flags that take a value, as typed: `--data`, `--count`, … */
const VALUE_FLAGS = new Set(
  Object.entries(OPTIONS)
    .filter(([, option]) => option.type === "string")
    .map(([name]) => `--${name}`),
);

/** What to call, and how to show it. */
interface Request {
  /** The method named, if any. */
  method: string | undefined;
  /** The value sent: the tutorial's text, or a JSON value. */
  value: unknown;
  /** The call, as ` [x] Requesting LABEL` shows it. */
  label: string;
  /** Whether the call goes as the tutorial's text request. */
  tutorial: boolean;
}

/**
 * Runs the program with its command-line arguments and what it reads of the
 * environment; resolves with its exit status: 0 with an answer (every
 * answer, for a load), 1 when a call failed, 2 for a bad command line, 130
 * for a load stopped with Ctrl-C.
 */
export function main(args: string[], env: ProgramEnv): Promise<number> {
  return runProgram(() => run(args, env), FLAGS);
}

async function run(args: string[], env: ProgramEnv): Promise<number> {
  args = joinDashValues(args);
  const end = args.indexOf("--");
  const negative = (end === -1 ? args : args.slice(0, end)).find((arg) =>
    /^-\d/.test(arg)
  );
  if (negative !== undefined) {
    throw new UsageError(
      `N must be a whole number such as 30, got "${negative}"`,
    );
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: OPTIONS,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\.?\n.*$/s, ""));
  }
  const { values: flags, positionals } = parsed;
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `expected one number N, got ${positionals.length} arguments`,
    );
  }
  const n = (positionals[0] ?? "30").trim();
  if (!/^\d+$/.test(n)) {
    throw new UsageError(`N must be a whole number such as 30, got "${n}"`);
  }
  if (flags.data !== undefined && positionals.length > 0) {
    throw new UsageError("give either --data JSON or N, not both");
  }
  const timeout = wholeNumber("--timeout", flags.timeout);
  const count = flags.count === undefined
    ? 1
    : wholeNumber("--count", flags.count);
  const concurrency = flags.concurrency === undefined
    ? 1
    : wholeNumber("--concurrency", flags.concurrency);
  const queue = checkName("queue", flags.queue);
  if (flags.method !== undefined) checkName("method", flags.method);
  const traceparent = flags.traceparent;
  withTraceContext(undefined, { traceparent });
  if (flags.count !== undefined || flags.concurrency !== undefined) {
    checkLoadOptions({ count, concurrency });
  }
  const load = count > 1 || flags.concurrency !== undefined;
  const request = requestOf(flags, n);

  const json = flags.json;
  const connection = connectionOptions(flags, env);
  const exposed = passwordWarning(flags);
  if (exposed) console.error(`warn: ${exposed}`);
  try {
    await using client = await RpcClient.connect({
      ...connection,
      timeout,
      persistent: flags.persistent,
      replyUserId: flags["reply-user-id"],
    });
    let call: (signal?: AbortSignal) => Promise<unknown>;
    if (request.tutorial) {
      // fib(n) has no side effects: if the connection drops, ask again.
      call = async (signal) =>
        (await client.call(queue, n, { idempotent: true, signal, traceparent }))
          .text();
    } else {
      const caller = client.method(queue, request.method);
      call = (signal) => caller(request.value, { signal, traceparent });
    }
    if (load) {
      return await runLoadCommand(call, {
        queue,
        request,
        count,
        concurrency,
        json,
      });
    }
    if (!json) console.log(` [x] Requesting ${request.label}`);
    const start = performance.now();
    const result = await call();
    const ms = performance.now() - start;
    if (json) {
      console.log(jsonLine({
        queue,
        method: request.method ?? null,
        request: request.value,
        result: jsonOf(result),
        ms: round(ms, 3),
      }));
    } else {
      console.log(` [.] Got ${textOf(result)}`);
    }
    return 0;
  } catch (error) {
    if (usageErrorOf(error, FLAGS)) throw error;
    if (json) {
      console.log(jsonLine({ error: errorJson(error) }));
    } else {
      console.error(errorLine(error));
    }
    return 1;
  }
}

/** What to call: the tutorial's request, or a method with JSON data. */
function requestOf(
  flags: { method?: string; data?: string },
  n: string,
): Request {
  if (flags.data === undefined && flags.method === undefined) {
    return { method: undefined, value: n, label: `fib(${n})`, tutorial: true };
  }
  let value: unknown;
  if (flags.data !== undefined) {
    try {
      value = JSON.parse(flags.data);
    } catch {
      throw new UsageError(
        `--data must be JSON, e.g. '{"a":1}' or '"text"', got ${flags.data}`,
      );
    }
  } else {
    value = Number(n);
    if (!Number.isSafeInteger(value)) {
      throw new UsageError(
        `N is too large for a JSON number, got ${n}; send it with --data '"${n}"'`,
      );
    }
  }
  return {
    method: flags.method,
    value,
    label: `${flags.method ?? "(default)"}(${JSON.stringify(value)})`,
    tutorial: false,
  };
}

/** Options of {@linkcode runLoadCommand}. */
interface LoadCommandOptions {
  queue: string;
  request: Request;
  count: number;
  concurrency: number;
  json: boolean;
}

/** Runs `--count` calls and prints their summary; returns the exit code. */
async function runLoadCommand(
  call: (signal?: AbortSignal) => Promise<unknown>,
  options: LoadCommandOptions,
): Promise<number> {
  const { queue, request, count, concurrency, json } = options;
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  Deno.addSignalListener("SIGINT", interrupt);
  const progress = Deno.stderr.isTerminal()
    ? new ProgressBar(count)
    : undefined;
  try {
    if (!json) {
      console.log(
        ` [x] Requesting ${request.label} ${count} times, ${concurrency} at a time`,
      );
    }
    progress?.start();
    const summary = await runLoad(call, {
      count,
      concurrency,
      signal: controller.signal,
      onProgress: progress && ((done, failed) => progress.update(done, failed)),
      classify: (error) =>
        error instanceof RemoteError && error.name === "RemoteError"
          ? `RemoteError(${error.code})`
          : errorName(error),
    });
    progress?.stop();
    const interrupted = controller.signal.aborted;
    if (json) {
      console.log(jsonLine({
        queue,
        method: request.method ?? null,
        request: request.value,
        count,
        concurrency,
        ...roundSummary(summary),
      }));
    } else {
      for (const line of summaryLines(summary)) console.log(line);
      if (interrupted) {
        console.log(
          `Stopped by Ctrl-C after ${summary.calls} of ${count} calls`,
        );
      }
    }
    return interrupted ? 130 : summary.failed > 0 ? 1 : 0;
  } finally {
    progress?.stop();
    Deno.removeSignalListener("SIGINT", interrupt);
  }
}

/**
 * Joins a value flag and a value that starts with a dash (`--data -5`),
 * which `parseArgs` would take for a flag: such a value is a negative
 * number, never a flag.
 */
function joinDashValues(args: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      joined.push(...args.slice(i));
      break;
    }
    if (VALUE_FLAGS.has(arg) && /^-[\d.]/.test(args[i + 1] ?? "")) {
      joined.push(`${arg}=${args[++i]}`);
    } else {
      joined.push(arg);
    }
  }
  return joined;
}
