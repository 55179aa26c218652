// deno-lint-ignore-file no-console -- the test prints its figures.
/**
 * A request the worker's AMQP library cannot read at all: headers nested
 * thousands of levels deep, which overflow the stack of its recursive
 * parser. amqplib cannot encode them either, so they are written as raw
 * frames (`_wire.ts`). The worker must drop such a request and reconnect,
 * by design, without crashing the process, losing the well-formed requests
 * sent around it, or answering any of them more than the reconnects
 * explain; and it must answer once each of the requests sent after.
 *
 * The fuzz (`requests_test.ts`) leaves these requests out by default,
 * since it counts each reconnect as a failure.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { fibHandler } from "../../services/fib/method.ts";
import {
  type ConnectionEvent,
  type Logger,
  type RpcServer,
  serve,
} from "../../mod.ts";
import { AMQP_URL, uniqueQueue } from "../_helpers.ts";
import { amqplib } from "../deps.ts";
import type { Connection } from "./_amqplib.ts";
import { delay, tearDown, until, within } from "./_helpers.ts";
import { readReply, type ReceivedReply } from "./_replies.ts";
import { rawNestedArray, rawTable, sendRaw } from "./_wire.ts";

/** How many requests the worker of the unreadable-request test may hold. */
const UNREADABLE_PREFETCH = 10;

const encoder = new TextEncoder();

Deno.test({
  sanitizeOps: true,
  sanitizeResources: true,
  name:
    "a request the AMQP library cannot read is dropped, and the worker reconnects and keeps answering",
  async fn() {
    // Header arrays nested this deep overflow the stack of the recursive
    // parser of the worker's AMQP library; amqplib cannot encode them, so
    // they are written as raw frames (each under 131 072 bytes). 4 000 is
    // near the limit: once V8 has optimised the parser, it may read that
    // one, and the worker answers it, which this test allows.
    const depths = [4_000, 12_000, 20_000];
    const wellFormed = 50;
    const tail = 5;
    const started = Date.now();
    const queue = uniqueQueue("unreadable");
    const lines: string[] = [];
    const logger: Logger = {
      debug: () => {},
      info: () => {},
      warn: (line) => void lines.push(`warn: ${line}`),
      error: (line) => void lines.push(`error: ${line}`),
    };
    const crashes: string[] = [];
    const onError = (event: ErrorEvent) => {
      event.preventDefault();
      crashes.push(`uncaught ${event.error?.message ?? event.message}`);
    };
    const onRejection = (event: PromiseRejectionEvent) => {
      event.preventDefault();
      crashes.push(`unhandled rejection ${event.reason?.message ?? event}`);
    };
    globalThis.addEventListener("error", onError);
    globalThis.addEventListener("unhandledrejection", onRejection);

    let server: RpcServer | undefined;
    let connection: Connection | undefined;
    try {
      server = await serve({
        url: AMQP_URL,
        queue,
        prefetch: UNREADABLE_PREFETCH,
        gracePeriod: 5_000,
        logger,
      }, fibHandler());
      const worker = server;
      let disconnects = 0;
      let reconnects = 0;
      const disconnectReasons: string[] = [];
      worker.addEventListener("disconnect", (event) => {
        disconnects++;
        disconnectReasons.push(
          (event as ConnectionEvent).error?.message ?? "no reason given",
        );
      });
      worker.addEventListener("reconnect", () => void reconnects++);
      let finished = "";
      worker.finished.then(
        () => void (finished ||= "resolved"),
        (error: Error) => void (finished ||= `rejected: ${error.message}`),
      );

      connection = await amqplib.connect(AMQP_URL);
      const conn = connection;
      const channel = await conn.createChannel();
      const { queue: replyQueue } = await channel.assertQueue("", {
        exclusive: true,
      });
      const replies = new Map<string, ReceivedReply[]>();
      await channel.consume(replyQueue, (message) => {
        if (!message) return;
        const cid = message.properties.correlationId ?? "";
        const list = replies.get(cid) ?? [];
        list.push(readReply(message));
        replies.set(cid, list);
      }, { noAck: true });
      const publisher = await conn.createChannel();
      const send = async (cid: string, deep?: number) => {
        const ok = deep === undefined
          ? publisher.sendToQueue(queue, Buffer.from("10"), {
            replyTo: replyQueue,
            correlationId: cid,
          })
          : sendRaw(publisher, queue, {
            replyTo: encoder.encode(replyQueue),
            correlationId: encoder.encode(cid),
            headers: rawTable([[encoder.encode("deep"), rawNestedArray(deep)]]),
          }, encoder.encode("10"));
        if (!ok) {
          await within(
            new Promise<void>((resolve) => publisher.once("drain", resolve)),
            10_000,
          );
        }
      };

      // The unreadable requests, spread among the well-formed ones.
      const ids = Array.from({ length: wellFormed }, (_, i) => `ok-${i}`);
      const deepIds = depths.map((depth, k) => `deep-${k}(${depth})`);
      for (let i = 0, k = 0; i < wellFormed; i++) {
        if (
          k < depths.length &&
          i === Math.floor((k + 1) * wellFormed / (depths.length + 1))
        ) {
          await send(deepIds[k], depths[k]);
          k++;
        }
        await send(ids[i]);
      }

      // Wait until every well-formed request is answered, the worker is
      // open again with nothing in hand, the queue is empty, and all of
      // that stays so for a second: an unreadable request that came back
      // would make the worker disconnect again, or sit in the queue.
      const deadline = Date.now() + 30_000;
      const settledNow = async () =>
        ids.every((id) => replies.has(id)) && worker.state === "open" &&
        worker.inFlight === 0 &&
        (await channel.checkQueue(queue)).messageCount === 0;
      let stable = false;
      while (!stable && Date.now() < deadline) {
        if (!await settledNow()) {
          await delay(25);
          continue;
        }
        const seen = disconnects;
        await delay(1_000);
        stable = disconnects === seen && await settledNow();
      }
      const left = (await channel.checkQueue(queue)).messageCount;

      // It still answers, once each.
      const tailIds = Array.from({ length: tail }, (_, i) => `after-${i}`);
      for (const id of tailIds) await send(id);
      await until(
        () => tailIds.every((id) => replies.has(id)),
        10_000,
        () => false,
      );
      // Late duplicates would arrive now.
      await delay(300);

      const count = (id: string) => replies.get(id)?.length ?? 0;
      const duplicates = ids.reduce(
        (sum, id) => sum + Math.max(0, count(id) - 1),
        0,
      );
      const deepAnswered = deepIds.filter((id) => count(id) > 0).length;
      const drops = lines.filter((line) =>
        /^warn: .*cannot be read/.test(line)
      );
      // Not judged: replies that failed because the connection was being
      // torn down (the requests come back, and are answered then).
      const errors = lines.filter((line) => line.startsWith("error: "));
      console.log(
        `unreadable: depths ${depths.join(", ")}, well-formed ${wellFormed}` +
          ` + ${tail} after, disconnects ${disconnects}, reconnects ` +
          `${reconnects}, drops logged ${drops.length}, replies ${
            [...replies.values()].reduce((sum, list) => sum + list.length, 0)
          }, duplicates ${duplicates}, unreadable ones answered ` +
          `${deepAnswered}, errors logged ${errors.length}, took ` +
          `${Date.now() - started} ms`,
      );
      for (const reason of new Set(disconnectReasons)) {
        console.log(`unreadable: disconnect: ${reason}`);
      }
      for (const line of new Set(errors)) {
        console.log(`unreadable: the worker logged ${line}`);
      }

      assert.deepEqual(crashes, [], "nothing may crash the process");
      assert.ok(stable, "the worker never settled: queue, state, replies");
      assert.equal(left, 0, "requests were left in the queue");
      assert.ok(drops.length >= 1, "no warning about an unreadable request");
      // A drop more than there are unreadable requests: one came back after
      // the worker had rejected it.
      assert.ok(
        drops.length <= depths.length,
        `${drops.length} drops of ${depths.length} unreadable requests: ` +
          `one came back after it was rejected`,
      );
      assert.ok(
        disconnects >= 1 && disconnects <= depths.length,
        `${disconnects} disconnects for ${depths.length} unreadable requests`,
      );
      assert.equal(reconnects, disconnects, "each disconnect is recovered");
      assert.equal(worker.state, "open");
      assert.equal(finished, "", "finished settled while the worker ran");
      for (const id of ids) {
        assert.ok(count(id) >= 1, `no reply to ${id}`);
      }
      for (const id of tailIds) {
        assert.equal(count(id), 1, `replies to ${id}, sent after it all`);
      }
      // Only the requests the worker held at a reconnect come twice.
      assert.ok(
        duplicates <= disconnects * UNREADABLE_PREFETCH,
        `${duplicates} duplicate replies for ${disconnects} reconnects`,
      );
      // An unreadable request is never answered, so each one was either
      // dropped or (had it been readable) answered, and only once.
      assert.equal(
        deepAnswered + drops.length,
        depths.length,
        `of ${depths.length} unreadable requests, ${deepAnswered} were ` +
          `answered and ${drops.length} dropped`,
      );
      for (const [id, list] of replies) {
        assert.ok(
          [...ids, ...tailIds, ...deepIds].includes(id),
          `a reply with a correlation id never sent: ${id}`,
        );
        for (const reply of list) {
          assert.equal(reply.problem, undefined, `reply to ${id}`);
          assert.equal(reply.outcome, "ok:55", `reply to ${id}`);
        }
      }
    } finally {
      await tearDown("unreadable", server, connection, queue);
      globalThis.removeEventListener("error", onError);
      globalThis.removeEventListener("unhandledrejection", onRejection);
    }
  },
});
