// deno-lint-ignore-file no-console -- tests print the figures the README quotes.
/**
 * Load with bounded size, and workers killed or stopped under it: every
 * call answered exactly once, nothing left pending. Runs on the shared
 * broker (it stops workers, never the broker), each test on its own queue.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RpcClient } from "../../mod.ts";
import { fib } from "../../services/fib/fib.ts";
import {
  AMQP_URL,
  type CliProcess,
  scratchQueue,
  startWorker,
} from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** Workers of the rolling restart: a grace period to finish in. */
const ROLLING = { prefetch: 20, args: ["--grace-period", "5000"] };

/** The n of call `i`, and its expected answer, from a small table. */
function table(
  ns: number[],
): { n(i: number): number; answer(n: number): string } {
  const answers = new Map(ns.map((n) => [n, fib(n).toString()]));
  return {
    n: (i) => ns[i % ns.length],
    answer: (n) => answers.get(n)!,
  };
}

Deno.test({
  ...opts,
  name:
    "20,000 calls with 200 in flight across two worker processes are each answered once, with their own answer",
  async fn() {
    await using queue = scratchQueue("load");
    await using _a = await startWorker(queue.name, { prefetch: 100 });
    await using _b = await startWorker(queue.name, { prefetch: 100 });
    await using client = await RpcClient.connect({
      url: AMQP_URL,
      maxInFlight: 200,
    });
    // Distinct n for neighbouring calls, so that a reply matched to the
    // wrong call would show.
    const { n, answer } = table(
      Array.from({ length: 97 }, (_, i) => i * 13 % 1000),
    );
    const total = 20_000;
    let answered = 0;
    let wrong = 0;
    let failed = 0;
    let maxInFlight = 0;
    const started = performance.now();
    const calls = Array.from({ length: total }, (_, i) => {
      const x = n(i);
      return client.call(queue.name, String(x), { timeout: 120_000 }).then(
        (reply) => {
          maxInFlight = Math.max(maxInFlight, client.inFlight);
          if (reply.text() === answer(x)) answered++;
          else wrong++;
        },
        () => failed++,
      );
    });
    // Back-pressure: all 20,000 are pending, only 200 are on the wire.
    assert.equal(client.pending, total);
    assert.equal(client.inFlight, 200);
    await Promise.all(calls);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `load: ${total} calls, 200 in flight, 2 workers: answered ${answered}, wrong ${wrong}, lost ${failed}, duplicated ${client.droppedReplies}, pending after ${client.pending}; ${
        Math.round(total / seconds)
      } calls/s`,
    );
    assert.equal(answered, total);
    assert.equal(wrong, 0);
    assert.equal(failed, 0);
    assert.equal(client.droppedReplies, 0);
    assert.equal(client.pending, 0);
    assert.equal(client.inFlight, 0);
    assert.ok(maxInFlight <= 200, `in flight reached ${maxInFlight}`);
  },
});

/**
 * Makes `total` calls, `concurrency` at a time, and calls `at(count)` after
 * each answer; resolves with the number of calls that failed.
 */
async function drive(
  client: RpcClient,
  queue: string,
  options: {
    total: number;
    concurrency: number;
    n(i: number): number;
    answer(n: number): string;
    onAnswer(count: number): void;
  },
): Promise<{ answered: number; failures: string[] }> {
  let next = 0;
  let answered = 0;
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < options.total) {
        const x = options.n(next++);
        try {
          const reply = await client.call(queue, String(x), {
            timeout: 60_000,
          });
          assert.equal(reply.text(), options.answer(x));
          answered++;
          options.onAnswer(answered);
        } catch (error) {
          failures.push(String(error));
        }
      }
    }),
  );
  return { answered, failures };
}

Deno.test({
  ...opts,
  name:
    "when one of two workers is killed with SIGKILL under load, every call is still answered exactly once",
  async fn() {
    await using queue = scratchQueue("sigkill");
    await using victim = await startWorker(queue.name, { prefetch: 20 });
    await using _survivor = await startWorker(queue.name, { prefetch: 20 });
    await using client = await RpcClient.connect({ url: AMQP_URL });
    // Large n keep requests in the workers' hands for a while, so that the
    // victim dies holding some.
    const { n, answer } = table([10, 5_000, 30_000, 60_000, 90_000, 100_000]);
    let killed = false;
    const result = await drive(client, queue.name, {
      total: 3_000,
      concurrency: 100,
      n,
      answer,
      onAnswer(count) {
        if (count === 1_000 && !killed) {
          killed = true;
          victim.child.kill("SIGKILL");
        }
      },
    });
    const status = await victim.status();
    console.log(
      `SIGKILL: answered ${result.answered} of 3000, failed ${result.failures.length}, duplicate replies dropped ${client.droppedReplies}`,
    );
    assert.equal(status.signal, "SIGKILL");
    assert.deepEqual(result.failures, []);
    assert.equal(result.answered, 3_000);
    assert.equal(client.pending, 0);
  },
});

Deno.test({
  ...opts,
  name:
    "a rolling restart of two workers with SIGTERM under load loses no call, and each stopped worker exits 0",
  async fn() {
    await using queue = scratchQueue("rolling");
    const workers: CliProcess[] = [];
    try {
      workers.push(
        await startWorker(queue.name, ROLLING),
      );
      workers.push(
        await startWorker(queue.name, ROLLING),
      );
      await using client = await RpcClient.connect({ url: AMQP_URL });
      const { n, answer } = table([10, 5_000, 30_000, 60_000, 90_000]);
      const restarts: Promise<void>[] = [];
      const exits: { code: number; ms: number }[] = [];
      const restart = (index: number) => {
        const old = workers[index];
        const signalled = performance.now();
        old.child.kill("SIGTERM");
        restarts.push((async () => {
          const status = await old.status();
          exits.push({ code: status.code, ms: performance.now() - signalled });
          workers.push(
            await startWorker(queue.name, ROLLING),
          );
        })());
      };
      const result = await drive(client, queue.name, {
        total: 4_000,
        concurrency: 100,
        n,
        answer,
        onAnswer(count) {
          if (count === 1_000) restart(0);
          if (count === 2_500) restart(1);
        },
      });
      await Promise.all(restarts);
      console.log(
        `rolling restart: answered ${result.answered} of 4000, failed ${result.failures.length}; stopped workers exited ${
          exits.map((e) => `${e.code} after ${Math.round(e.ms)} ms`).join(", ")
        }`,
      );
      assert.deepEqual(result.failures, []);
      assert.equal(result.answered, 4_000);
      assert.deepEqual(exits.map((e) => e.code), [0, 0]);
      assert.equal(client.pending, 0);
    } finally {
      await Promise.all(workers.map((w) => w[Symbol.asyncDispose]()));
    }
  },
});
