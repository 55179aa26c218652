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
 * By default the requests come in 10 bursts of 10 of each kind, so that
 * each burst holds up one honest call in a hundred (the p99); `--spread`
 * puts one of each kind before every tenth honest call instead.
 *
 * Each round measures a quiet phase, then an attacked one (made-up nodes
 * new each round); prints each round and the median ratio of the p99s. `--root DIR` runs another
 * checkout's `server.ts` (a git worktree of an older commit, say), so that
 * before and after are measured the same way.
 *
 * ```sh
 * deno run -A bench/hostile.ts [--root DIR] [--calls 1000] [--kinds a,b]
 *   [--size 400000] [--spread] [--rounds 3]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { RpcClient } from "../mod.ts";
import type { AMQPProperties } from "../lib/deps.ts";
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
    spread: { type: "boolean", default: false },
    rounds: { type: "string", default: "3" },
  },
});
const root = values.root!;
const calls = Number(values.calls);
const kinds = values.kinds!.split(",");
const rounds = Number(values.rounds);

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

/** The `n`th hostile request of `kind`: its body and properties. */
function hostile(kind: string, n: number): [string, AMQPProperties] {
  switch (kind) {
    case "reused-key":
      return [String(n % 30), {
        replyTo: attackerReplies,
        correlationId: `reused-${n}`,
        messageId: "the-same-key",
        headers: { "x-idempotent": true },
      }];
    case "long-echo":
      return [long, { replyTo: attackerReplies, correlationId: `long-${n}` }];
    case "large-valid":
      // The control for long-echo: as many bytes, a valid request.
      return [padded, {
        replyTo: attackerReplies,
        correlationId: `large-${n}`,
      }];
    case "ghost-node":
      return ["20", { replyTo: madeUpReplyTo(n), correlationId: `ghost-${n}` }];
    default:
      throw new RangeError(`unknown kind ${kind}`);
  }
}

/** The `round`th of the bursts: `PER_KIND / BURSTS` requests of each kind. */
async function burst(round: number, offset: number): Promise<void> {
  const each = PER_KIND / BURSTS;
  for (let i = 0; i < each; i++) await one(offset + round * each + i);
}

/** One hostile request of each kind, the `n`th. */
async function one(n: number): Promise<void> {
  for (const kind of kinds) {
    const [body, properties] = hostile(kind, n);
    await channel.basicPublish("", queue, body, properties);
    sent++;
  }
}

async function phase(
  attack: boolean,
  offset = 0,
): Promise<{ p50: number; p99: number; max: number; failed: number }> {
  const times: number[] = [];
  let failed = 0;
  for (let i = 0; i < calls; i++) {
    if (attack && values.spread) {
      // One of each kind before every (calls / PER_KIND)th call.
      const every = Math.floor(calls / PER_KIND);
      if (i % every === 0 && i / every < PER_KIND) {
        await one(offset + i / every);
      }
    } else if (
      attack && i % Math.floor(calls / BURSTS) === 0 &&
      i / Math.floor(calls / BURSTS) < BURSTS
    ) {
      await burst(i / Math.floor(calls / BURSTS), offset);
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
  const fmt = (x: number) => x.toFixed(2);
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const quiet = await phase(false);
    const attacked = await phase(true, round * PER_KIND);
    ratios.push(attacked.p99 / quiet.p99);
    console.log(
      `round ${round + 1}: quiet p50 ${fmt(quiet.p50)} p99 ${
        fmt(quiet.p99)
      } max ${fmt(quiet.max)} ms, ${quiet.failed} failed; attacked p50 ${
        fmt(attacked.p50)
      } p99 ${fmt(attacked.p99)} max ${
        fmt(attacked.max)
      } ms, ${attacked.failed} failed; p99 ${fmt(attacked.p99 / quiet.p99)}x`,
    );
  }
  ratios.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      root,
      calls,
      kinds,
      size: values.size,
      spread: values.spread,
      rounds,
      hostileSent: sent,
      workerLogBytes: logBytes.count,
    }),
  );
  console.log(
    `p99 attacked/quiet: median ${fmt(ratios[ratios.length >> 1])}x (${
      fmt(ratios[0])
    }-${fmt(ratios.at(-1)!)}x over ${rounds} rounds)`,
  );
} finally {
  await client.close();
  await channel.queueDelete(queue).catch(() => {});
  await attacker.close().catch(() => {});
  worker.kill("SIGTERM");
  await worker.status;
}
