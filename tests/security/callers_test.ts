/**
 * Hostile users of one broker, on a private node with four users: `alice`
 * (an honest caller), `mallory` (a caller allowed only its own reply
 * queues), and two workers, `svc_a` and `svc_b`. Black-box: the public API
 * and raw AMQP only, so that these also run on a commit before the fixes.
 *
 * - The reply cache never crosses callers: a key another user reused gets
 *   nothing of the first user's reply, in either order.
 * - A worker of one service cannot answer a client's calls to another
 *   service: correlation ids cannot be predicted from one seen, and a
 *   call with `replyUserId` accepts only its worker's replies (both reply
 *   paths).
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { HandlerError, RemoteError, RpcClient, serve } from "../../mod.ts";
import { amqplib } from "../deps.ts";
import { startPrivateBroker } from "../_private_broker.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

const USERS = ["alice", "mallory", "svc_a", "svc_b"] as const;
const PASSWORD = "pw-for-tests";

/** Each user's URL on the node. */
type Urls = Record<(typeof USERS)[number], string>;

async function withUsers(fn: (urls: Urls) => Promise<void>): Promise<void> {
  await using broker = await startPrivateBroker({ name: "security" });
  const urls = {} as Urls;
  for (const user of USERS) {
    await broker.ctl("add_user", user, PASSWORD);
    urls[user] = broker.url.replace("guest:guest", `${user}:${PASSWORD}`);
  }
  // mallory may use the default exchange and its own server-named reply
  // queues; everyone else, everything.
  await broker.ctl(
    "set_permissions",
    "mallory",
    "^amq\\.gen-.*",
    "^(amq\\.default|amq\\.gen-.*)$",
    "^amq\\.gen-.*",
  );
  for (const user of ["alice", "svc_a", "svc_b"]) {
    await broker.ctl("set_permissions", user, ".*", ".*", ".*");
  }
  await fn(urls);
}

Deno.test({
  ...opts,
  name:
    "the reply cache never crosses callers: a reused idempotency key gets nothing of another user's reply",
  async fn() {
    await withUsers(async (urls) => {
      let runs = 0;
      await using _server = await serve({
        url: urls.svc_a,
        queue: "ledger",
        methods: {
          balance: () => `alice's balance #${++runs}`,
          echo: (text: string) => `echo ${text} #${++runs}`,
        },
        // Only alice may read balances.
        middleware: [(request, next) => {
          if (request.method === "balance" && request.userId !== "alice") {
            throw new HandlerError("PERMISSION_DENIED", "Balances are alice's");
          }
          return next();
        }],
      });
      await using alice = await RpcClient.connect({ url: urls.alice });
      await using mallory = await RpcClient.connect({ url: urls.mallory });
      const call = (
        client: RpcClient,
        method: string,
        body: string,
        key: string,
      ) =>
        client.call("ledger", JSON.stringify(body), {
          idempotent: true,
          timeout: 10_000,
          properties: {
            type: method,
            messageId: key,
            contentType: "application/json",
          },
        }).then((reply) => reply.text());

      // alice's reply, then mallory with alice's key: refused by the
      // middleware, never answered from the cache.
      assert.equal(
        await call(alice, "balance", "", "key-1"),
        "alice's balance #1",
      );
      await assert.rejects(
        call(mallory, "balance", "", "key-1"),
        (error: unknown) =>
          error instanceof RemoteError && error.code === "PERMISSION_DENIED",
      );
      // mallory plants a reply under a key, then alice uses it: alice's
      // call runs for alice.
      assert.match(
        await call(mallory, "echo", "planted", "key-2"),
        /^echo planted/,
      );
      assert.match(await call(alice, "echo", "mine", "key-2"), /^echo mine/);
      // alice's own repeat is still answered from the cache.
      assert.equal(
        await call(alice, "balance", "", "key-1"),
        "alice's balance #1",
      );
    });
  },
});

Deno.test({
  ...opts,
  name:
    "a worker of one service cannot answer a client's calls to another: ids cannot be predicted, and replyUserId accepts only the expected worker (both reply paths)",
  async fn() {
    await withUsers(async (urls) => {
      for (const replyQueue of ["exclusive", "direct"] as const) {
        // Service B answers honestly, once service A's worker has done its
        // worst (so that the forgeries are in the client's queue first).
        let forgeriesSent!: () => void;
        const forgeriesDone = new Promise<void>((resolve) =>
          forgeriesSent = resolve
        );
        await using _b = await serve(
          { url: urls.svc_b, queue: `svc_b_${replyQueue}` },
          async (request) => {
            if (request.text() === "hello") await forgeriesDone;
            return `B says ${request.text()}`;
          },
        );
        // Service A's worker is hostile: from the one request it got, it
        // forges answers to the client's next calls, guessing their ids
        // the way a prefix and a counter would make them.
        const hostile = await amqplib.connect(urls.svc_a);
        try {
          const channel = await hostile.createConfirmChannel();
          const queueA = `svc_a_${replyQueue}`;
          await channel.assertQueue(queueA, { durable: false });
          let seen: { replyTo: string; correlationId: string } | undefined;
          await channel.consume(queueA, (message) => {
            if (!message) return;
            const { replyTo, correlationId } = message.properties;
            seen = { replyTo, correlationId };
            channel.sendToQueue(replyTo, Buffer.from("A says hi"), {
              correlationId,
            });
            channel.ack(message);
          });
          await using alice = await RpcClient.connect({
            url: urls.alice,
            replyQueue,
          });
          assert.equal(
            (await alice.call(queueA, "hi", { timeout: 10_000 })).text(),
            "A says hi",
          );
          const answer = alice.call(`svc_b_${replyQueue}`, "hello", {
            timeout: 10_000,
          });
          for (const guess of nextIds(seen!.correlationId, 5)) {
            channel.sendToQueue(seen!.replyTo, Buffer.from("FORGED"), {
              correlationId: guess,
            });
          }
          await channel.waitForConfirms();
          forgeriesSent();
          assert.equal((await answer).text(), "B says hello", replyQueue);

          // A rogue consumer of B's own queue (it may read it, as a
          // misconfigured permission allows) answers first; with
          // replyUserId the client takes only svc_b's reply.
          const rogue = await hostile.createChannel();
          await rogue.prefetch(1);
          let forged = 0;
          await rogue.consume(`svc_b_${replyQueue}`, (message) => {
            if (!message) return;
            const { replyTo, correlationId } = message.properties;
            rogue.sendToQueue(replyTo, Buffer.from("FORGED"), {
              correlationId,
            });
            forged++;
            // Handed back, for the real worker to answer too.
            rogue.nack(message, false, true);
          });
          const checked = [];
          for (let i = 0; i < 4; i++) {
            checked.push(
              alice.call(`svc_b_${replyQueue}`, `n${i}`, {
                timeout: 20_000,
                replyUserId: "svc_b",
              }).then((reply) => reply.text()),
            );
          }
          assert.deepEqual(await Promise.all(checked), [
            "B says n0",
            "B says n1",
            "B says n2",
            "B says n3",
          ]);
          assert.ok(forged > 0, "the rogue consumer got no request");
          await rogue.close();
        } finally {
          await hostile.close().catch(() => {});
        }
      }
    });
  },
});

/**
 * The ids a client would use next if its ids were a prefix and a base-36
 * counter (as they were): `prefix.7` → `prefix.8`, `prefix.9`, `prefix.a`.
 */
function nextIds(seen: string, count: number): string[] {
  const dot = seen.lastIndexOf(".");
  const counter = dot < 0 ? NaN : parseInt(seen.slice(dot + 1), 36);
  if (!Number.isFinite(counter)) return [];
  return Array.from(
    { length: count },
    (_, i) => seen.slice(0, dot + 1) + (counter + 1 + i).toString(36),
  );
}
