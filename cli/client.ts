// deno-lint-ignore-file no-console -- the entry scripts are where output is written.
/**
 * The RPC client: asks a worker for fib(N) and prints it, as the tutorial's
 * client does; calls any method with JSON arguments; or puts a quick load
 * on a worker and prints its latency percentiles.
 *
 *     deno task client [--url URL] [--queue NAME] [--timeout MS] N
 *     deno task client --method NAME --data JSON [--json]
 *     deno task client --count N --concurrency C [N]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RpcClient } from "../lib/client/rpc_client.ts";
import { parseTraceparent } from "../lib/protocol/trace.ts";
import {
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  connectionOptions,
  describeError,
  type ProgramEnv,
} from "./_shared.ts";
import { MethodNotFoundError, RemoteError } from "../lib/errors.ts";
import { errorName, type LoadSummary, runLoad } from "./load.ts";
import { maskUrl } from "../lib/amqp/url.ts";

/** The most calls a load keeps in flight: the client's own cap. */
const MAX_CONCURRENCY = 10_000;
/** The most calls of a load (its latencies are kept, 8 bytes each). */
const MAX_COUNT = 10_000_000;
const MAX_TIMEOUT = 2 ** 31 - 1;

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
  --concurrency C  keep C calls in flight, from 1 to ${MAX_CONCURRENCY} (default: 1)
  -h, --help       show this help

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

const OPTIONS = {
  ...CONNECTION_FLAGS,
  queue: { type: "string", default: "rpc_queue" },
  method: { type: "string" },
  data: { type: "string" },
  timeout: { type: "string", default: "30000" },
  persistent: { type: "boolean", default: false },
  traceparent: { type: "string" },
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

async function run(args: string[], env: ProgramEnv): Promise<number> {
  args = joinDashValues(args);
  const end = args.indexOf("--");
  const negative = (end === -1 ? args : args.slice(0, end)).find((arg) =>
    /^-\d/.test(arg)
  );
  if (negative !== undefined) {
    return usageError(
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
    return usageError((error as Error).message.replace(/\.?\n.*$/s, ""));
  }
  const { values: flags, positionals } = parsed;
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    return usageError(
      `expected one number N, got ${positionals.length} arguments`,
    );
  }
  const n = (positionals[0] ?? "30").trim();
  if (!/^\d+$/.test(n)) {
    return usageError(`N must be a whole number such as 30, got "${n}"`);
  }
  const timeout = Number(flags.timeout);
  if (!/^\d+$/.test(flags.timeout) || timeout < 1 || timeout > MAX_TIMEOUT) {
    return usageError(
      `--timeout must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT}, got "${flags.timeout}"`,
    );
  }
  if (flags.method === "") {
    return usageError("--method must name a method, e.g. --method add");
  }
  if (flags.data !== undefined && positionals.length > 0) {
    return usageError("give either --data JSON or N, not both");
  }
  const count = wholeNumber("--count", flags.count, 1, MAX_COUNT);
  const concurrency = wholeNumber(
    "--concurrency",
    flags.concurrency,
    1,
    MAX_CONCURRENCY,
  );
  if (count === undefined || concurrency === undefined) return 2;

  let request: Request;
  if (flags.data === undefined && flags.method === undefined) {
    request = {
      method: undefined,
      value: n,
      label: `fib(${n})`,
      tutorial: true,
    };
  } else {
    let value: unknown;
    if (flags.data !== undefined) {
      try {
        value = JSON.parse(flags.data);
      } catch {
        return usageError(
          `--data must be JSON, e.g. '{"a":1}' or '"text"', got ${flags.data}`,
        );
      }
    } else {
      value = Number(n);
      if (!Number.isSafeInteger(value)) {
        return usageError(
          `N is too large for a JSON number, got ${n}; send it with --data '"${n}"'`,
        );
      }
    }
    request = {
      method: flags.method,
      value,
      label: `${flags.method ?? "(default)"}(${JSON.stringify(value)})`,
      tutorial: false,
    };
  }

  const traceparent = flags.traceparent;
  if (traceparent !== undefined && !parseTraceparent(traceparent)) {
    return usageError(
      `--traceparent must be a W3C traceparent such as 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, got "${traceparent}"`,
    );
  }
  const queue = flags.queue;
  const json = flags.json;
  const load = count > 1 || flags.concurrency !== undefined;
  try {
    await using client = await RpcClient.connect({
      ...connectionOptions(flags, env),
      persistent: flags.persistent,
    });
    let call: (signal?: AbortSignal) => Promise<unknown>;
    if (request.tutorial) {
      // fib(n) has no side effects: if the connection drops, ask again.
      call = async (signal) =>
        (await client.call(queue, n, {
          timeout,
          idempotent: true,
          signal,
          traceparent,
        })).text();
    } else {
      const caller = client.method(queue, request.method);
      call = (signal) =>
        caller(request.value, { timeout, signal, traceparent });
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
      console.log(JSON.stringify({
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
    if (json) {
      console.log(JSON.stringify({ error: errorJson(error) }));
    } else {
      console.error(errorLine(error));
    }
    return 1;
  }
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
      console.log(JSON.stringify({
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

/** The summary of a load as text: one line, then one per kind of failure. */
function summaryLines(summary: LoadSummary): string[] {
  const lines = [
    `${summary.calls} calls in ${summary.seconds.toFixed(2)} s: ${
      Math.round(summary.callsPerSecond)
    } calls/s, p50 ${ms(summary.p50)}, p90 ${ms(summary.p90)}, p99 ${
      ms(summary.p99)
    }, max ${ms(summary.max)}, ${summary.failed} failed`,
  ];
  for (const [kind, calls] of Object.entries(summary.errors)) {
    lines.push(
      `  ${calls} failed with ${kind}: ${
        oneLine(summary.errorMessages[kind] ?? "")
      }`,
    );
  }
  return lines;
}

/** The summary with times rounded to the microsecond, messages masked. */
function roundSummary(summary: LoadSummary): LoadSummary {
  return {
    ...summary,
    errorMessages: Object.fromEntries(
      Object.entries(summary.errorMessages).map((
        [kind, message],
      ) => [kind, oneLine(message)]),
    ),
    seconds: round(summary.seconds, 6),
    callsPerSecond: round(summary.callsPerSecond, 1),
    p50: round(summary.p50, 3),
    p90: round(summary.p90, 3),
    p99: round(summary.p99, 3),
    max: round(summary.max, 3),
  };
}

/**
 * A progress bar on stderr, redrawn in place ten times a second:
 * `[#########-----------]  4500/10000  8123 calls/s  0 failed`.
 */
class ProgressBar {
  readonly #total: number;
  readonly #encoder = new TextEncoder();
  #done = 0;
  #failed = 0;
  #begin = 0;
  #timer?: ReturnType<typeof setInterval>;

  constructor(total: number) {
    this.#total = total;
  }

  start(): void {
    this.#begin = performance.now();
    this.#timer = setInterval(() => this.#draw(), 100);
  }

  update(done: number, failed: number): void {
    this.#done = done;
    this.#failed = failed;
  }

  /** Stops redrawing and erases the bar. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#write("\r\x1b[2K");
  }

  #draw(): void {
    const width = 20;
    const filled = Math.floor((this.#done / this.#total) * width);
    const seconds = (performance.now() - this.#begin) / 1000;
    const rate = seconds > 0 ? Math.round(this.#done / seconds) : 0;
    const total = String(this.#total);
    this.#write(
      `\r[${"#".repeat(filled)}${"-".repeat(width - filled)}]  ${
        String(this.#done).padStart(total.length)
      }/${total}  ${rate} calls/s  ${this.#failed} failed\x1b[K`,
    );
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    for (let written = 0; written < bytes.length;) {
      written += Deno.stderr.writeSync(bytes.subarray(written));
    }
  }
}

/** The error's line on stderr: {@linkcode describeError}'s, or more. */
function errorLine(error: unknown): string {
  if (error instanceof MethodNotFoundError) {
    const [what, advice] = error.method === undefined
      ? ["no default method", "Name one with --method"]
      : [`no method "${error.method}"`, "Check --method"];
    const detail = error.message.replace(/\.$/, "");
    // describeError masks passwords and keeps it to one line.
    return describeError(
      new Error(
        `The worker has ${what} (METHOD_NOT_FOUND): ${detail}. ${advice}.`,
      ),
    );
  }
  return describeError(error);
}

/** The error as `--json` prints it. */
function errorJson(
  error: unknown,
): { name: string; code?: string; message: string } {
  const message = oneLine(
    error instanceof Error ? error.message : String(error),
  );
  if (error instanceof RemoteError) {
    return { name: error.name, code: error.code, message };
  }
  return { name: errorName(error), message };
}

/** A result as ` [.] Got …` shows it: text as it is, the rest as JSON. */
function textOf(result: unknown): string {
  if (typeof result === "string") return result;
  if (result instanceof Uint8Array) return `<${result.length} bytes>`;
  if (result === undefined) return "(nothing)";
  return JSON.stringify(result);
}

/** A result as `--json` writes it: bytes as `{"base64": …}`. */
function jsonOf(result: unknown): unknown {
  if (result instanceof Uint8Array) {
    let binary = "";
    for (let i = 0; i < result.length; i += 0x8000) {
      binary += String.fromCharCode(...result.subarray(i, i + 0x8000));
    }
    return { base64: btoa(binary) };
  }
  return result ?? null;
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

function wholeNumber(
  flag: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return 1;
  const number = Number(value);
  if (/^\d+$/.test(value) && number >= min && number <= max) return number;
  usageError(
    `${flag} must be a whole number from ${min} to ${max}, got "${value}"`,
  );
  return undefined;
}

function usageError(message: string): number {
  console.error(
    `Error: ${oneLine(message)}. Run with --help for usage.`,
  );
  return 2;
}

function oneLine(text: string): string {
  return maskUrl(text).replaceAll("\n", " ");
}

/** A latency in milliseconds, or `-` if no call succeeded. */
function ms(value: number): string {
  if (Number.isNaN(value)) return "-";
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ms`;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
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
