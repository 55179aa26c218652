/**
 * One side of one implementation, in a process of its own, driven by
 * `bench.ts` over stdin and stdout, one JSON object a line.
 *
 *     deno run --allow-net --allow-env=AMQP_URL bench/run_side.ts \
 *       --impl ours|raw|direct|rmqc|tutorial --role client|worker \
 *       --queue Q --reply-queue R
 *
 * It prints `{"ready":true}` once connected (or `{"error":…}` and exits 1),
 * then answers each command line:
 *
 * - `{"cmd":"stats"}`: `{"handled","cpuUser","cpuSystem","rss"}` (CPU in µs
 *   since the process started, RSS in bytes);
 * - `{"cmd":"run","concurrency":C,"payload":B,"ms":T,"drainMs":D}` (client):
 *   C callers call in a loop for T ms with a B-byte body, then the calls in
 *   flight finish (at most D ms more); answers the measurement;
 * - `{"cmd":"exit"}`, or the end of stdin: closes and exits.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { percentile } from "../cli/load.ts";
import { DEFAULT_URL } from "../lib/amqp/url.ts";
import type { ClientSide, Implementation, WorkerSide } from "./impl/common.ts";
import { direct } from "./impl/direct.ts";
import { type Library, ours, oursFrom } from "./impl/ours.ts";
import { raw } from "./impl/raw.ts";
import { rmqc } from "./impl/rmqc.ts";
import { tutorial } from "./impl/tutorial.ts";

/** The implementations by name. */
export const IMPLEMENTATIONS: Record<string, Implementation> = {
  ours,
  raw,
  direct,
  rmqc,
  tutorial,
};

/** What one measurement of a client reports. */
export interface Measurement {
  calls: number;
  errors: number;
  wrong: number;
  /** Callers still waiting for a reply when the drain time ran out. */
  stuck: number;
  firstError: string | null;
  seconds: number;
  callsPerSecond: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** CPU time of the client process during the measurement, in µs. */
  cpuUser: number;
  cpuSystem: number;
  rss: number;
}

const encoder = new TextEncoder();

function write(value: unknown): Promise<number> {
  return Deno.stdout.write(encoder.encode(JSON.stringify(value) + "\n"));
}

function stats(handled: number) {
  const cpu = process.cpuUsage();
  return {
    handled,
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
    rss: Deno.memoryUsage().rss,
  };
}

async function measure(
  side: ClientSide,
  concurrency: number,
  payload: number,
  ms: number,
  drainMs: number,
): Promise<Measurement> {
  const body = new Uint8Array(payload);
  for (let i = 0; i < payload; i++) body[i] = 97 + (i % 26);
  let latencies = new Float64Array(1 << 16);
  let calls = 0;
  let errors = 0;
  let wrong = 0;
  let finished = 0;
  let firstError: string | null = null;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + ms;
  const caller = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        const reply = await side.call(body);
        const latency = performance.now() - t;
        if (calls === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[calls++] = latency;
        if (reply.byteLength !== payload) wrong++;
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
        // A failing implementation must not spin this process at 100%.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    finished++;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(Array.from({ length: concurrency }, caller)),
    new Promise((resolve) => timer = setTimeout(resolve, ms + drainMs)),
  ]);
  clearTimeout(timer);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const sorted = latencies.subarray(0, calls).sort();
  return {
    calls,
    errors,
    wrong,
    stuck: concurrency - finished,
    firstError,
    seconds,
    callsPerSecond: calls / seconds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
    rss: Deno.memoryUsage().rss,
  };
}

/**
 * The library of another checkout (`--baseline DIR`, e.g. a git worktree
 * of an earlier commit), measured as `baseline` beside `ours`.
 */
async function baseline(dir: string): Promise<Implementation> {
  const url = new URL("mod.ts", `file://${dir.replace(/\/?$/, "/")}`);
  return oursFrom(await import(url.href) as Library);
}

async function main(args: string[]): Promise<number> {
  const flags = parseArgs({
    args,
    options: {
      impl: { type: "string" },
      role: { type: "string" },
      queue: { type: "string" },
      "reply-queue": { type: "string" },
      baseline: { type: "string" },
    },
    strict: true,
  }).values;
  const impl = flags.impl === "baseline" && flags.baseline
    ? await baseline(flags.baseline)
    : IMPLEMENTATIONS[flags.impl ?? ""];
  const role = flags.role;
  if (!impl || (role !== "client" && role !== "worker") || !flags.queue) {
    await write({ error: "usage: --impl NAME --role client|worker --queue Q" });
    return 2;
  }
  const options = {
    url: Deno.env.get("AMQP_URL") ?? DEFAULT_URL,
    queue: flags.queue,
    replyQueue: flags["reply-queue"] ?? `${flags.queue}.reply`,
    name: `rabbit-rpc bench ${flags.impl} ${role} (pid ${Deno.pid})`,
  };
  let client: ClientSide | undefined;
  let worker: WorkerSide | undefined;
  try {
    if (role === "client") client = await impl.client(options);
    else worker = await impl.worker(options);
  } catch (error) {
    await write({ error: error instanceof Error ? error.message : `${error}` });
    return 1;
  }
  await write({ ready: true });
  const handled = () => worker?.handled() ?? 0;
  try {
    const lines = Deno.stdin.readable
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(lineSplitter());
    for await (const line of lines) {
      if (!line.trim()) continue;
      const command = JSON.parse(line);
      if (command.cmd === "exit") break;
      if (command.cmd === "stats") {
        await write(stats(handled()));
      } else if (command.cmd === "run" && client) {
        await write(
          await measure(
            client,
            command.concurrency,
            command.payload,
            command.ms,
            command.drainMs ?? 10_000,
          ),
        );
      } else {
        await write({ error: `unknown command: ${line}` });
      }
    }
  } finally {
    await Promise.race([
      Promise.allSettled([client?.close(), worker?.close()]),
      new Promise((resolve) => setTimeout(resolve, 3_000)),
    ]);
  }
  return 0;
}

function lineSplitter(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) controller.enqueue(line);
    },
    flush(controller) {
      if (rest) controller.enqueue(rest);
    },
  });
}

if (import.meta.main) {
  // Ctrl-C at the terminal reaches every process of the group: the
  // orchestrator decides when this side stops (or stdin ends).
  Deno.addSignalListener("SIGINT", () => {});
  const code = await main(Deno.args);
  Deno.exit(code);
}
