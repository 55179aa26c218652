// deno-lint-ignore-file no-console -- a CLI that prints its report.
/**
 * An honest caller's latency with and without hostile requests in the same
 * queue (issue 13's must-show 2): a worker at prefetch 10 and otherwise its
 * defaults, serving `bench/fixtures/parse_service.ts`; an honest caller
 * making sequential calls; and, in the second phase, an attacker putting
 * 100 requests of each request-borne kind into the queue in bursts spread
 * over the phase:
 *
 * - `reused-key`: idempotent requests that all reuse one `message_id`, each
 *   with another body;
 * - `long-echo`: a 400,000-character argument that the service's error
 *   message echoes (and the worker logs);
 * - `ghost-node`: a direct reply-to address naming a made-up broker node;
 * - `large-valid` (not by default): the control for `long-echo`, a valid
 *   request of as many bytes (the number padded with spaces), to tell the
 *   cost of the error path from the cost of the bytes.
 *
 * Prints p50/p99 of each phase and the ratio. `--root DIR` runs another
 * checkout's `server.ts` (a git worktree of an older commit, say), so that
 * before and after are measured the same way.
 *
 * ```sh
 * deno run -A bench/hostile.ts [--root DIR] [--calls 1000] [--kinds a,b] [--size 400000]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { RpcClient } from "../mod.ts";
import { openConnection } from "../lib/amqp/connection.ts";
import { madeUpReplyTo } from "../tests/_reply_to.ts";

const HERE = fileURLToPath(new URL("../", import.meta.url));
const AMQP_URL = Deno.env.get("AMQP_URL") ??
  "amqp://guest:guest@127.0.0.1:5672";
const KINDS = ["reused-key", "long-echo", "ghost-node"] as const;
const PER_KIND = 100;
const BURSTS = 10;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    root: { type: "string", default: HERE },
    calls: { type: "string", default: "1000" },
    kinds: { type: "string", default: KINDS.join(",") },
    size: { type: "string", default: "400000" },
  },
});
const root = values.root!;
const calls = Number(values.calls);
const kinds = values.kinds!.split(",");

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

const queue = `bench.hostile.${Deno.pid}.${Date.now()}`;
const worker = new Deno.Command("deno", {
  args: [
    "run",
    "-A",
    `${root}/server.ts`,
    "--queue",
    queue,
    "--prefetch",
    "10",
    "--handler",
    `${HERE}bench/fixtures/parse_service.ts`,
  ],
  env: { AMQP_URL },
  stdout: "piped",
  stderr: "piped",
}).spawn();
const logBytes = { count: 0 };
const ready = Promise.withResolvers<void>();
for (const stream of [worker.stdout, worker.stderr]) {
  (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      logBytes.count += chunk.byteLength;
      if (decoder.decode(chunk).includes("Consuming")) ready.resolve();
    }
  })();
}
await ready.promise;

const client = await RpcClient.connect({ url: AMQP_URL });
const attacker = await openConnection({ url: AMQP_URL });
const channel = await attacker.channel();
// The attacker's own reply queue, for the kinds that are answered.
const { name: attackerReplies } = await channel.queueDeclare("", {
  exclusive: true,
});
const long = "x".repeat(Number(values.size));
const padded = " ".repeat(Number(values.size) - 2) + "20";
let sent = 0;

async function burst(round: number): Promise<void> {
  const each = PER_KIND / BURSTS;
  for (let i = 0; i < each; i++) {
    const n = round * each + i;
    if (kinds.includes("reused-key")) {
      await channel.basicPublish("", queue, String(n % 30), {
        replyTo: attackerReplies,
        correlationId: `reused-${n}`,
        messageId: "the-same-key",
        headers: { "x-idempotent": true },
      });
      sent++;
    }
    if (kinds.includes("long-echo")) {
      await channel.basicPublish("", queue, long, {
        replyTo: attackerReplies,
        correlationId: `long-${n}`,
      });
      sent++;
    }
    if (kinds.includes("large-valid")) {
      // The control for long-echo: as many bytes, a valid request.
      await channel.basicPublish("", queue, padded, {
        replyTo: attackerReplies,
        correlationId: `large-${n}`,
      });
      sent++;
    }
    if (kinds.includes("ghost-node")) {
      await channel.basicPublish("", queue, "20", {
        replyTo: madeUpReplyTo(n),
        correlationId: `ghost-${n}`,
      });
      sent++;
    }
  }
}

async function phase(
  attack: boolean,
): Promise<{ p50: number; p99: number; max: number; failed: number }> {
  const times: number[] = [];
  let failed = 0;
  for (let i = 0; i < calls; i++) {
    if (
      attack && i % Math.floor(calls / BURSTS) === 0 &&
      i / Math.floor(calls / BURSTS) < BURSTS
    ) {
      await burst(i / Math.floor(calls / BURSTS));
    }
    const t0 = performance.now();
    try {
      const reply = await client.call(queue, "20", { timeout: 30_000 });
      if (reply.text() !== "6765") failed++;
    } catch {
      failed++;
    }
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return {
    p50: percentile(times, 0.5),
    p99: percentile(times, 0.99),
    max: times.at(-1)!,
    failed,
  };
}

try {
  await phase(false); // warm up
  const quiet = await phase(false);
  const attacked = await phase(true);
  const fmt = (x: number) => x.toFixed(2);
  console.log(
    JSON.stringify({
      root,
      calls,
      kinds,
      hostileSent: sent,
      workerLogBytes: logBytes.count,
    }),
  );
  console.log(
    `quiet:    p50 ${fmt(quiet.p50)} ms, p99 ${fmt(quiet.p99)} ms, max ${
      fmt(quiet.max)
    } ms, ${quiet.failed} failed`,
  );
  console.log(
    `attacked: p50 ${fmt(attacked.p50)} ms, p99 ${fmt(attacked.p99)} ms, max ${
      fmt(attacked.max)
    } ms, ${attacked.failed} failed`,
  );
  console.log(
    `p99 ratio attacked/quiet: ${(attacked.p99 / quiet.p99).toFixed(2)}x`,
  );
} finally {
  await client.close();
  await channel.queueDelete(queue).catch(() => {});
  await attacker.close().catch(() => {});
  worker.kill("SIGTERM");
  await worker.status;
}
