// deno-lint-ignore-file no-console -- a CLI that prints its report.
/**
 * Soak mode of the benchmark: one worker process (`server.ts`, started with
 * the `server` task's permissions), one client in this process, a million
 * fib(n) calls, and the memory of both sampled along the way to tell whether
 * it stays flat.
 *
 *     deno task soak [--calls N] [--concurrency N] [--sample-every N] [--json]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import config from "../deno.json" with { type: "json" };
import { RpcClient } from "../mod.ts";
import { describeError } from "../cli/describe_error.ts";
import { closeConnection, openConnection } from "../lib/amqp/connection.ts";
import { fib } from "../services/fib/fib.ts";
import { DEFAULT_URL } from "../lib/amqp/url.ts";

const USAGE = `Usage: deno task soak [options]

Starts one fib worker (server.ts --prefetch 100 --quiet) on a queue of its
own, makes many calls to it from this process and samples the memory of both.
The verdict compares each one's RSS after all calls with its RSS after the
first 100,000 calls (half the calls for shorter runs): "flat" if it grew by
at most 10%.

Options:
  --calls N          calls to make (default: 1000000)
  --concurrency N    calls in flight at once (default: 100)
  --sample-every N   calls between samples (default: 50000)
  --json             print one JSON object (progress lines go to stderr)
  -h, --help         show this help

The broker is $AMQP_URL, else ${DEFAULT_URL}.
Exit status: 0 flat with every answer right, 1 otherwise, 2 bad command
line, 130 interrupted.`;

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const READY = " [*] Awaiting RPC requests";
const MiB = 1024 * 1024;
const BASELINE_CALLS = 100_000;
const FLAT_RATIO = 1.1;
const LARGEST_N = 90;
const EXPECTED = Array.from(
  { length: LARGEST_N + 1 },
  (_, n) => fib(n).toString(),
);
const gc = (globalThis as { gc?: () => void }).gc;

interface Sample {
  calls: number;
  seconds: number;
  callsPerSecond: number;
  clientRss: number;
  clientHeapUsed: number;
  clientExternal: number;
  workerRss: number | null;
  pending: number;
  inFlight: number;
}

interface Worker {
  child: Deno.ChildProcess;
  stderrTail(): string;
  stop(): Promise<void>;
}

export async function main(args: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args,
      options: {
        calls: { type: "string", default: "1000000" },
        concurrency: { type: "string", default: "100" },
        "sample-every": { type: "string", default: "50000" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`Error: ${(error as Error).message}. Run with --help.`);
    return 2;
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const calls = positive("--calls", flags.calls);
  const concurrency = positive("--concurrency", flags.concurrency);
  const sampleEvery = positive("--sample-every", flags["sample-every"]);
  if (!calls || !concurrency || !sampleEvery) return 2;
  const json = flags.json;
  const log = json ? console.error : console.log;
  const baselineAt = Math.max(1, Math.min(BASELINE_CALLS, calls >> 1));

  const url = Deno.env.get("AMQP_URL") ?? DEFAULT_URL;
  const queue = `soak.${Deno.pid}.${Date.now().toString(36)}`;
  let client: RpcClient | undefined;
  let worker: Worker | undefined;
  let interrupted = false;
  let workerExit: number | undefined;
  let stopping = false;
  let interruptedAt = 0;
  const onInterrupt = () => {
    // Ctrl-C reaches this process twice: from the terminal and forwarded by
    // `deno task`. Only a later, second Ctrl-C skips the clean-up.
    if (interrupted) {
      if (performance.now() - interruptedAt > 1_000) Deno.exit(130);
      return;
    }
    interrupted = true;
    interruptedAt = performance.now();
    stopping = true;
    console.error("Interrupted: stopping the worker and deleting the queue");
    client?.close();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    worker = await startWorker(url, queue);
    worker.child.status.then((status) => {
      if (stopping) return;
      workerExit = status.code;
      stopping = true;
      client?.close();
    });
    if (interrupted) return 130;
    client = await RpcClient.connect({
      url,
      maxInFlight: concurrency,
      connectionName: `rabbit-rpc soak client (pid ${Deno.pid})`,
    });
    if (interrupted) return 130;
    const c = client;
    const workerPid = worker.child.pid;
    log(
      `Soak: ${
        fmt(calls)
      } calls of fib(0..${LARGEST_N}), ${concurrency} in flight, ` +
        `queue ${queue}, worker pid ${workerPid}` +
        (gc ? "" : " (gc() not exposed: heap figures include garbage)"),
    );

    const samples: Sample[] = [];
    const start = performance.now();
    let last = { calls: 0, time: start };
    let sampling = Promise.resolve();
    // Takes the client's figures now and the worker's as soon as ps answers;
    // samples are printed in order.
    const sample = (done: number) => {
      gc?.();
      const now = performance.now();
      const memory = Deno.memoryUsage();
      const s: Sample = {
        calls: done,
        seconds: round((now - start) / 1000, 1),
        callsPerSecond: Math.round(
          (done - last.calls) / Math.max(1e-3, (now - last.time) / 1000),
        ),
        clientRss: memory.rss,
        clientHeapUsed: memory.heapUsed,
        clientExternal: memory.external,
        workerRss: null,
        pending: c.pending,
        inFlight: c.inFlight,
      };
      last = { calls: done, time: now };
      const rss = processRss(workerPid);
      sampling = sampling.then(async () => {
        s.workerRss = await rss;
        samples.push(s);
        log(
          `${fmt(s.calls).padStart(10)} calls ${
            fmt(s.callsPerSecond).padStart(7)
          } calls/s  client RSS ${mib(s.clientRss)} (heap ${
            mib(s.clientHeapUsed)
          })  worker RSS ${mib(s.workerRss)}  pending ${s.pending}`,
        );
      });
    };
    sample(0);

    let next = 0;
    let done = 0;
    let wrong = 0;
    let failed = 0;
    let firstProblem: string | undefined;
    const loop = async () => {
      while (!stopping && next < calls) {
        const n = next++ % (LARGEST_N + 1);
        try {
          const reply = await c.call(queue, String(n));
          const text = reply.text();
          if (text !== EXPECTED[n]) {
            wrong++;
            firstProblem ??= `fib(${n}) answered ${text.slice(0, 40)}`;
          }
        } catch (error) {
          failed++;
          firstProblem ??= describeError(error);
        }
        done++;
        if (done < calls && (done % sampleEvery === 0 || done === baselineAt)) {
          sample(done);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    const seconds = (performance.now() - start) / 1000;
    if (interrupted) return 130;
    if (workerExit !== undefined) {
      console.error(
        `Error: the worker exited (status ${workerExit}) after ${
          fmt(done)
        } calls; its stderr:\n${worker.stderrTail()}`,
      );
      return 1;
    }
    sample(done);
    await sampling;

    const base = samples.find((s) => s.calls === baselineAt) ?? samples[0];
    const end = samples.at(-1)!;
    const clientRatio = end.clientRss / base.clientRss;
    const workerRatio = base.workerRss && end.workerRss
      ? end.workerRss / base.workerRss
      : NaN;
    const flat = clientRatio <= FLAT_RATIO && workerRatio <= FLAT_RATIO;
    const ok = flat && wrong === 0 && failed === 0;
    const result = {
      flat,
      ok,
      calls: done,
      concurrency,
      seconds: round(seconds, 1),
      callsPerSecond: Math.round(done / seconds),
      wrong,
      failed,
      firstProblem: firstProblem ?? null,
      droppedReplies: c.droppedReplies,
      pendingAfter: c.pending,
      inFlightAfter: c.inFlight,
      gcBeforeSamples: gc !== undefined,
      baselineCalls: base.calls,
      clientRssRatio: round(clientRatio, 3),
      workerRssRatio: round(workerRatio, 3),
      baseline: base,
      end,
      samples,
    };
    if (json) {
      console.log(JSON.stringify(result));
    } else {
      const ratio = (name: string, a: number | null, b: number | null) =>
        `  ${name.padEnd(12)} after ${fmt(base.calls)}: ${mib(a)}   after ${
          fmt(end.calls)
        }: ${mib(b)}   ratio ${a && b ? (b / a).toFixed(3) : "n/a"}`;
      console.log(
        [
          "",
          `Verdict: ${flat ? "flat" : "NOT flat"}${
            ok ? "" : " -- FAILED"
          } (flat: RSS after all calls at most ${
            Math.round((FLAT_RATIO - 1) * 100)
          }% above RSS after the first ${fmt(base.calls)})`,
          ratio("client RSS", base.clientRss, end.clientRss),
          ratio("worker RSS", base.workerRss, end.workerRss),
          ratio("client heap", base.clientHeapUsed, end.clientHeapUsed),
          `  calls ${fmt(done)} in ${seconds.toFixed(1)} s (${
            fmt(result.callsPerSecond)
          } calls/s), wrong ${wrong}, failed ${failed}, dropped replies ${c.droppedReplies}, pending after ${c.pending}`,
          ...(firstProblem ? [`  first problem: ${firstProblem}`] : []),
        ].join("\n"),
      );
    }
    return ok ? 0 : 1;
  } catch (error) {
    // Ctrl-C reaches the worker too, which then exits before it is ready.
    if (interrupted) return 130;
    throw error;
  } finally {
    stopping = true;
    await client?.close();
    await worker?.stop();
    // A worker stopped by Ctrl-C while starting may have declared it.
    if (worker || interrupted) await deleteQueue(url, queue);
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

/** Starts server.ts as the `server` task does; resolves once it consumes. */
async function startWorker(url: string, queue: string): Promise<Worker> {
  const words = config.tasks.server.split(/\s+/);
  if (
    words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== "server.ts"
  ) {
    throw new Error(`unexpected server task: ${config.tasks.server}`);
  }
  // The running Deno if --allow-run names it, else the one on the PATH
  // (--allow-run=deno names the PATH's, which may be a link to this one).
  const deno = Deno.permissions.querySync({
      name: "run",
      command: Deno.execPath(),
    }).state === "granted"
    ? Deno.execPath()
    : "deno";
  const child = new Deno.Command(deno, {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...words.slice(2, -1),
      `${ROOT}server.ts`,
      ...["--queue", queue, "--prefetch", "100", "--quiet"],
    ],
    env: { AMQP_URL: url, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  const stderr = (async () => {
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      err = (err + chunk).slice(-4096);
    }
  })();
  const ready = Promise.withResolvers<void>();
  const stdout = (async () => {
    // Reads on after the ready line, so that the pipe never fills.
    let out = "";
    let seen = false;
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      if (seen) continue;
      out = (out + chunk).slice(-4096);
      if (out.includes(READY)) {
        seen = true;
        ready.resolve();
      }
    }
  })();
  const exited = child.status.then(async (status) => {
    await Promise.all([stdout, stderr]);
    ready.reject(
      new Error(
        `the worker exited (status ${status.code}) before it was ready; its stderr:\n${err}`,
      ),
    );
    return status;
  });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        child.kill("SIGTERM");
        const killed = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            try {
              child.kill("SIGKILL");
            } catch {
              // Exited meanwhile.
            }
            resolve();
          }, 15_000);
        });
        await Promise.race([exited, killed]);
      } catch {
        // Already exited.
      } finally {
        clearTimeout(timer);
      }
      await exited;
    })();
  try {
    await ready.promise;
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, stderrTail: () => err, stop };
}

async function deleteQueue(url: string, queue: string): Promise<void> {
  try {
    const connection = await openConnection({
      url,
      connectionName: `rabbit-rpc soak clean-up (pid ${Deno.pid})`,
    });
    try {
      const channel = await connection.channel();
      await channel.queueDelete(queue);
    } finally {
      await closeConnection(connection);
    }
  } catch (error) {
    console.error(`Warning: could not delete queue ${queue}: ${error}`);
  }
}

/** The resident set size of a process in bytes, from `ps` (in KiB). */
async function processRss(pid: number): Promise<number | null> {
  try {
    const out = await new Deno.Command("ps", {
      args: ["-o", "rss=", "-p", String(pid)],
      stdout: "piped",
      stderr: "null",
    }).output();
    const kib = Number(new TextDecoder().decode(out.stdout).trim());
    return out.success && kib > 0 ? kib * 1024 : null;
  } catch {
    return null;
  }
}

function positive(flag: string, value: string): number | undefined {
  const number = Number(value.replaceAll("_", ""));
  if (/^[\d_]+$/.test(value) && Number.isSafeInteger(number) && number > 0) {
    return number;
  }
  console.error(
    `Error: ${flag} must be a positive whole number, got "${value}". Run with --help.`,
  );
  return undefined;
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

function mib(bytes: number | null): string {
  return bytes === null ? "n/a" : `${(bytes / MiB).toFixed(1)} MiB`;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (error) {
    console.error(describeError(error));
    Deno.exitCode = 1;
  }
}
