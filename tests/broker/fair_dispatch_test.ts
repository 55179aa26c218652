// deno-lint-ignore-file no-console -- tests print the figures the README quotes.
/**
 * Fair dispatch: several worker processes on one queue each get a fair
 * share of the calls (the broker hands each one request at a time with the
 * default prefetch of 1).
 */

import assert from "node:assert/strict";
import { RpcClient } from "../../mod.ts";
import {
  AMQP_URL,
  type CliProcess,
  scratchQueue,
  startWorker,
  waitFor,
} from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  ...opts,
  name:
    "four worker processes with prefetch 1 each handle 15% to 35% of 4,000 calls",
  async fn() {
    await using scratch = scratchQueue("fair");
    const queue = scratch.name;
    const workers: CliProcess[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        workers.push(
          await startWorker(queue, { prefetch: 1, quiet: false }),
        );
      }
      await using client = await RpcClient.connect({ url: AMQP_URL });
      const total = 4000;
      let next = 0;
      // 32 callers keep every worker busy without a long queue.
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < total) {
            const n = next++ % 30;
            assert.equal(
              (await client.call(queue, String(n))).text(),
              fibOf(n).toString(),
            );
          }
        }),
      );
      const sharesNow = () =>
        workers.map((worker) =>
          (worker.stdout().match(/ \[\.\] fib\(/g) ?? []).length
        );
      // Each worker prints its line before it replies, but this process
      // reads the workers' output on its own time.
      await waitFor(
        () => sharesNow().reduce((a, b) => a + b, 0) >= total,
        "every worker's lines",
      );
      const shares = sharesNow();
      console.log(
        `shares of ${total} calls: ${
          shares.map((s) => `${(100 * s / total).toFixed(1)}%`).join(", ")
        }`,
      );
      assert.equal(shares.reduce((a, b) => a + b, 0), total);
      for (const share of shares) {
        assert.ok(
          share >= 0.15 * total && share <= 0.35 * total,
          `a worker handled ${share} of ${total}: ${shares}`,
        );
      }
    } finally {
      await Promise.all(workers.map((w) => w[Symbol.asyncDispose]()));
    }
  },
});

function fibOf(n: number): bigint {
  let a = 0n, b = 1n;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}
