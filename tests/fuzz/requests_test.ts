// deno-lint-ignore-file no-console -- the fuzzer prints its seed and figures.
/**
 * A seeded fuzz test of the worker: thousands of random requests to a
 * `serve()` worker running the fib service in this process. They are sent
 * with amqplib, which can write every AMQP field type; a few, which amqplib
 * cannot encode (short strings that are not UTF-8, headers nested deeper
 * than its recursive encoder goes), are written as raw frames.
 *
 * What must hold: the worker never crashes (no uncaught error in the
 * process), never loses its channel or connection (no `disconnect` event;
 * `finished` does not settle), answers every request it can answer exactly
 * once and with the right reply, still answers well-formed requests at the
 * end, and leaves nothing in its queue.
 *
 * Some requests cannot be answered, and the worker must drop them (ack
 * them without replying): those whose `reply_to` is a direct reply-to
 * address that is malformed or points to a node the broker does not know
 * (the broker would close the connection of whoever publishes to it), and
 * those whose `reply_to` or `correlation_id`, decoded lossily from bytes
 * that are not UTF-8, no longer fits in a short string (255 bytes). The
 * fuzzer expects no reply to them, checks that none comes where it could
 * see one, and that the worker logged at least that many drops.
 *
 * Requests the AMQP library cannot read at all (headers nested thousands
 * of levels deep) make the worker drop them and reconnect, by design; they
 * have a test of their own, in `unreadable_test.ts`, and are left out of the
 * fuzz by default.
 *
 * The seed is printed at the start; to replay a run:
 *
 * ```sh
 * FUZZ_SEED=1234 deno test --allow-net --allow-env --allow-run --allow-read \
 *   --allow-write=/tmp tests/fuzz/requests_test.ts
 * ```
 *
 * Other knobs, read from the environment:
 *
 * - `FUZZ_COUNT`: how many requests (default 3000).
 * - `FUZZ_ONLY`: indexes of the requests to send, e.g. `17,512`; the others
 *   are generated (so the seed yields the same requests) but not sent, and
 *   the ones sent are printed in full. For cutting a failing run down to the
 *   request that breaks the worker.
 * - `FUZZ_EXCLUDE`: generator categories to leave out, e.g.
 *   `deep-headers,bad-direct-reply-to` (see {@linkcode CATEGORIES}); the
 *   default is `deep-headers`. Set it, even to nothing (`FUZZ_EXCLUDE=`), to
 *   override the default: `FUZZ_EXCLUDE=` fuzzes with deep headers too, and
 *   then each reconnect they force counts as a closure, failing the run. A
 *   seed replays the same requests only with the same `FUZZ_EXCLUDE`.
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
import type { Channel, Connection, Delivery } from "./_amqplib.ts";
import {
  CATEGORIES,
  DEFAULT_EXCLUDE,
  type FuzzRequest,
  generate,
  MAX_REQUEST_BYTES,
  type Names,
} from "./_generator.ts";
import { delay, tearDown, until, within } from "./_helpers.ts";
import {
  allowCachedReplies,
  describe,
  detail,
  readReply,
  type ReceivedReply,
} from "./_replies.ts";
import { Rng } from "./_rng.ts";
import { sendRaw } from "./_wire.ts";

/** The worker's prefetch. */
const PREFETCH = 50;
/** Well-formed requests sent after the fuzz, each of which must be answered. */
const SENTINELS = 20;
/** How long the test waits for the replies it must get, at most. */
const WAIT_LIMIT = 60_000;
/**
 * The worker's warnings about dropping a request that no reply can reach:
 * for its `reply_to` or correlation id, or for a direct reply-to node the
 * broker turned out not to know.
 */
const UNANSWERABLE_DROP = /cannot be answered|does not know/;

/** The non-negative integer in environment variable `name`, if set. */
function envNumber(name: string): number | undefined {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${raw}`);
  }
  return value;
}

/**
 * The address the broker gives `channel`'s direct reply-to consumer, read
 * off a request published to `probeQueue`.
 */
async function directAddress(
  channel: Channel,
  reader: Channel,
  probeQueue: string,
): Promise<string> {
  channel.sendToQueue(probeQueue, Buffer.from("probe"), {
    replyTo: "amq.rabbitmq.reply-to",
  });
  for (let i = 0; i < 200; i++) {
    const message = await reader.get(probeQueue, { noAck: true });
    if (message) return message.properties.replyTo;
    await delay(10);
  }
  throw new Error("the direct reply-to probe never arrived");
}

Deno.test({
  sanitizeOps: true,
  sanitizeResources: true,
  name:
    "The worker survives thousands of random requests, answering each answerable one exactly once",
  async fn() {
    const seed = envNumber("FUZZ_SEED") ??
      Math.floor(Math.random() * 2 ** 32);
    const count = envNumber("FUZZ_COUNT") ?? 3000;
    const only = Deno.env.get("FUZZ_ONLY")?.split(",").filter((s) => s.trim())
      .map(Number);
    // Unset, it is the default; set, even to nothing, it replaces it.
    const excludeSetting = Deno.env.get("FUZZ_EXCLUDE");
    const excluded = new Set(
      (excludeSetting ?? DEFAULT_EXCLUDE).split(",").map((s) => s.trim())
        .filter(Boolean),
    );
    for (const category of excluded) {
      assert.ok(
        (CATEGORIES as readonly string[]).includes(category),
        `FUZZ_EXCLUDE: unknown category ${category}; known: ${CATEGORIES}`,
      );
    }
    const replay = `FUZZ_SEED=${seed} FUZZ_COUNT=${count}` +
      (only ? ` FUZZ_ONLY=${only.join(",")}` : "") +
      (excludeSetting === undefined
        ? ""
        : ` FUZZ_EXCLUDE=${[...excluded].join(",")}`);
    console.log(
      "fuzz seed",
      seed,
      `(${replay} replays it)`,
    );
    const rng = new Rng(seed);
    const queue = uniqueQueue("fuzz");

    // Everything the worker does wrong, and what it logs.
    const problems: string[] = [];
    const crashes: string[] = [];
    let losses = 0;
    const lossReasons: string[] = [];
    const loggedErrors: string[] = [];
    let warnings = 0;
    // Drops of requests no reply can reach (see `unanswerable`).
    let droppedUnanswerable = 0;
    const logger: Logger = {
      debug: () => {},
      info: () => {},
      warn: (line) => {
        warnings++;
        if (UNANSWERABLE_DROP.test(line)) droppedUnanswerable++;
      },
      error: (line) => void loggedErrors.push(line),
    };
    // An exception nobody catches (e.g. in a socket's data handler) would end
    // the test process; count it as a crash instead and report it.
    const onError = (event: ErrorEvent) => {
      event.preventDefault();
      crashes.push(
        `uncaught ${
          event.error instanceof Error
            ? `${event.error.name}: ${event.error.message}`
            : event.message
        }`,
      );
    };
    const onRejection = (event: PromiseRejectionEvent) => {
      event.preventDefault();
      crashes.push(
        `unhandled rejection ${
          event.reason instanceof Error
            ? `${event.reason.name}: ${event.reason.message}`
            : String(event.reason)
        }`,
      );
    };
    globalThis.addEventListener("error", onError);
    globalThis.addEventListener("unhandledrejection", onRejection);

    let server: RpcServer | undefined;
    let closing = false;
    let connection: Connection | undefined;
    let fuzzerConnectionLost = "";
    const broken = () =>
      crashes.length > 0 || losses > 0 || fuzzerConnectionLost !== "";

    try {
      server = await serve({
        url: AMQP_URL,
        queue,
        prefetch: PREFETCH,
        maxRequestBytes: MAX_REQUEST_BYTES,
        gracePeriod: 5_000,
        logger,
      }, fibHandler());
      // The worker reconnects by itself; every loss still counts.
      server.addEventListener("disconnect", (event) => {
        losses++;
        lossReasons.push(
          `disconnect: ${
            (event as ConnectionEvent).error?.message ?? "no reason given"
          }`,
        );
      });
      server.finished.then(
        () => {
          if (!closing) {
            losses++;
            lossReasons.push("finished resolved before close()");
          }
        },
        (error: Error) => {
          losses++;
          lossReasons.push(`finished rejected: ${error.message}`);
        },
      );

      const conn = await amqplib.connect(AMQP_URL);
      connection = conn;
      conn.on("error", (error: Error) => {
        fuzzerConnectionLost ||= error.message;
      });
      conn.on("close", () => {
        fuzzerConnectionLost ||= "the fuzzer's connection closed";
      });

      // Replies: an exclusive queue on a channel of its own, and direct
      // reply-to on the publisher channel.
      const replies = new Map<string, ReceivedReply[]>();
      // The correlation ids of the replies to each request, by its index.
      const repliedIds = new Map<number, Set<string>>();
      let uncorrelated = 0;
      let lastAnswered = -1;
      let received = 0;
      let errorReplies = 0;
      let tooLarge = 0;
      const onReply = (message: Delivery | null) => {
        if (!message) return;
        received++;
        const reply = readReply(message);
        if (reply.outcome.startsWith("err:")) errorReplies++;
        if (reply.outcome === "err:TOO_LARGE") tooLarge++;
        const cid = message.properties.correlationId;
        if (cid === undefined || cid === "") {
          uncorrelated++;
          if (reply.problem) {
            problems.push(`uncorrelated reply: ${reply.problem}`);
          }
          return;
        }
        const index = /^(\d+):/.exec(cid);
        if (index) {
          lastAnswered = Math.max(lastAnswered, Number(index[1]));
          const ids = repliedIds.get(Number(index[1])) ?? new Set();
          repliedIds.set(Number(index[1]), ids.add(cid));
        }
        const list = replies.get(cid) ?? [];
        list.push(reply);
        replies.set(cid, list);
      };
      const replyChannel = await conn.createChannel();
      const { queue: replyQueue } = await replyChannel.assertQueue("", {
        exclusive: true,
      });
      await replyChannel.consume(replyQueue, onReply, { noAck: true });

      // A queue for reading the addresses direct reply-to gives out.
      const { queue: probeQueue } = await replyChannel.assertQueue("", {
        exclusive: true,
      });
      const staleChannel = await conn.createChannel();
      await staleChannel.consume("amq.rabbitmq.reply-to", () => {}, {
        noAck: true,
      });
      const staleDirect = await directAddress(
        staleChannel,
        replyChannel,
        probeQueue,
      );
      await staleChannel.close();

      // The publisher channel. Should the broker close it because of
      // something the fuzzer sent (the fuzzer's fault, not the worker's), it
      // is reopened, and replies to direct reply-to requests sent on the
      // closed one are no longer expected.
      let generation = 0;
      let publisher!: Channel;
      let publisherOpen = false;
      let fuzzerChannelClosures = 0;
      const fuzzerChannelErrors: string[] = [];
      const requestGeneration = new Map<number, number>();
      const openPublisher = async () => {
        const channel = await conn.createChannel();
        channel.on("error", (error: Error) => {
          fuzzerChannelErrors.push(error.message);
        });
        channel.on("close", () => {
          if (publisher === channel) {
            publisherOpen = false;
            fuzzerChannelClosures++;
          }
        });
        await channel.consume("amq.rabbitmq.reply-to", onReply, {
          noAck: true,
        });
        publisher = channel;
        publisherOpen = true;
      };
      await openPublisher();
      const liveDirect = await directAddress(
        publisher,
        replyChannel,
        probeQueue,
      );
      await replyChannel.deleteQueue(probeQueue);

      const names: Names = {
        queue,
        replyQueue,
        liveDirect,
        staleDirect,
        userId: decodeURIComponent(new URL(AMQP_URL).username) || "guest",
      };

      // Fuzz.
      const sent: FuzzRequest[] = [];
      let encodeErrors = 0;
      const wanted = only ? new Set(only) : undefined;
      for (let index = 0; index < count && !broken(); index++) {
        const request = generate(rng, index, names, excluded);
        if (wanted && !wanted.has(index)) continue;
        if (wanted) console.log(`fuzz: sending ${detail(request)}`);
        if (!publisherOpen) {
          generation++;
          await openPublisher();
        }
        let target = request.target;
        if (target === "live-direct" && generation > 0) {
          // The first publisher channel's address is no longer ours.
          target = request.target = "elsewhere";
        }
        let ok: boolean;
        try {
          ok = request.raw
            ? sendRaw(publisher, queue, request.raw, request.body)
            : publisher.sendToQueue(
              queue,
              Buffer.from(
                request.body.buffer,
                request.body.byteOffset,
                request.body.byteLength,
              ),
              request.options,
            );
        } catch (error) {
          // amqplib could not encode it: nothing was sent.
          encodeErrors++;
          if (encodeErrors <= 3) {
            console.log(
              `fuzz: amqplib could not send ${describe(request)}: ${error}`,
            );
          }
          continue;
        }
        sent.push(request);
        requestGeneration.set(index, generation);
        if (!ok) {
          await within(
            new Promise<void>((resolve) => {
              publisher.once("drain", resolve);
              publisher.once("close", resolve);
            }),
            10_000,
          );
        }
        if (index % 100 === 99) await delay(0);
      }

      // Which requests must be answered, and what they may get.
      allowCachedReplies(sent);
      const answerable = (r: FuzzRequest) =>
        r.target === "queue" || r.target === "direct" ||
        r.target === "live-direct";
      // A request sent on a publisher channel the broker then closed may
      // never have reached the queue, and the direct reply-to consumer of
      // that channel is gone.
      const mayBeLost = (r: FuzzRequest) =>
        r.expiring || requestGeneration.get(r.index) !== generation;
      const mustAnswer = sent.filter((r) =>
        answerable(r) && r.unanswerable === undefined && r.cid !== undefined &&
        !mayBeLost(r)
      );
      // The worker must drop these; it logs each drop.
      const mustDrop = sent.filter((r) =>
        r.unanswerable !== undefined && r.target !== "none" && !mayBeLost(r)
      );

      // Wait for them, then check that the worker still answers, and that
      // nothing stays in its queue. Once the worker holds no request and
      // none is left in the queue for a second, no reply is still to come: a
      // missing one is then missing for good, and waiting on would only
      // delay the verdict.
      let idleSince = 0;
      await until(
        async () => {
          if (mustAnswer.every((r) => replies.has(r.cid!))) return true;
          if (
            server!.inFlight > 0 ||
            (await replyChannel.checkQueue(queue)).messageCount > 0
          ) {
            idleSince = 0;
            return false;
          }
          idleSince ||= Date.now();
          return Date.now() - idleSince > 1_000;
        },
        WAIT_LIMIT,
        broken,
      );
      const sentinelIds = Array.from(
        { length: SENTINELS },
        (_, i) => `sentinel-${i}`,
      );
      if (!broken()) {
        if (!publisherOpen) {
          generation++;
          await openPublisher();
        }
        for (const id of sentinelIds) {
          publisher.sendToQueue(queue, Buffer.from("10"), {
            replyTo: replyQueue,
            correlationId: id,
          });
        }
        await until(
          () => sentinelIds.every((id) => replies.has(id)),
          20_000,
          broken,
        );
        await until(
          async () =>
            server!.inFlight === 0 &&
            (await replyChannel.checkQueue(queue)).messageCount === 0,
          10_000,
          broken,
        );
        // Late duplicates would arrive now.
        await delay(300);
      }

      // Judge. Once the worker has crashed or lost its connection, missing
      // and repeated replies follow from that: report the cause, and the
      // requests that were in flight, instead.
      if (broken()) {
        for (const crash of crashes.slice(0, 5)) {
          problems.push(`crash: ${crash}`);
        }
        if (losses > 0) {
          problems.push(
            `the worker lost its channel/connection ${losses} time(s): ${
              [...new Set(lossReasons)].join("; ")
            }`,
          );
        }
        if (fuzzerConnectionLost) {
          problems.push(
            `the fuzzer's own connection closed: ${fuzzerConnectionLost}`,
          );
        }
        const inFlight = sent.filter((r) =>
          r.index > lastAnswered - 2 * PREFETCH
        );
        // The kinds of request known to break it (see CATEGORIES) first:
        // re-encoded direct reply-to addresses the broker cannot decode and
        // deep headers, then the other direct reply-to addresses it cannot
        // decode, then the other requests that cannot be answered.
        const rank = (r: FuzzRequest) =>
          r.labels.some((label) =>
              /^reply-to:reencoded.*!$/.test(label) ||
              Number(/^headers:deep\((\d+)\)$/.exec(label)?.[1]) >= 2000
            )
            ? 0
            : r.labels.some((label) =>
                label === "reply-to:bad-direct" ||
                label === "reply-to:unknown-node"
              )
            ? 1
            : r.unanswerable !== undefined
            ? 2
            : 3;
        const shown = [0, 1, 2, 3].flatMap((level) =>
          inFlight.filter((r) => rank(r) === level)
        ).slice(0, 12);
        problems.push(
          `it broke with ${inFlight.length} request(s) in flight, among them ` +
            `(replay one alone with FUZZ_SEED=${seed} FUZZ_ONLY=<index>):\n    ` +
            shown.map(describe).join("\n    "),
        );
      } else {
        for (const request of sent) {
          if (request.unanswerable === undefined) continue;
          // Not to be answered at all: any reply that reaches the fuzzer
          // with its correlation id (or what became of it) is a bug.
          for (const cid of repliedIds.get(request.index) ?? []) {
            const got = replies.get(cid) ?? [];
            replies.delete(cid);
            problems.push(
              `${got.length} reply(ies) ${
                got.map((r) => r.outcome.slice(0, 30)).join(", ")
              } to ${describe(request)}, which has ${request.unanswerable}`,
            );
          }
        }
        if (droppedUnanswerable < mustDrop.length) {
          problems.push(
            `the worker logged ${droppedUnanswerable} drop(s) of requests ` +
              `no reply can reach, expected at least ${mustDrop.length}`,
          );
        }
        for (const request of sent) {
          if (
            !answerable(request) || request.unanswerable !== undefined ||
            request.cid === undefined
          ) continue;
          const got = replies.get(request.cid) ?? [];
          replies.delete(request.cid);
          if (got.length > 1) {
            problems.push(`${got.length} replies to ${describe(request)}`);
          }
          if (got.length === 0 && !mayBeLost(request)) {
            problems.push(`no reply to ${describe(request)}`);
          }
          for (const reply of got) {
            if (reply.problem) {
              problems.push(`${reply.problem} for ${describe(request)}`);
            }
            if (!request.expected.has(reply.outcome)) {
              problems.push(
                `reply ${reply.outcome.slice(0, 60)} to ${
                  describe(request)
                }, expected ${
                  [...request.expected].join(" or ").slice(0, 120)
                }`,
              );
            }
          }
        }
        for (const id of sentinelIds) {
          const got = replies.get(id) ?? [];
          replies.delete(id);
          if (got.length !== 1 || got[0].outcome !== "ok:55") {
            problems.push(
              `sentinel ${id} got ${
                got.map((r) => r.outcome).join(", ") || "no reply"
              }`,
            );
          }
        }
        for (const [cid, got] of replies) {
          problems.push(
            `${got.length} reply(ies) with a correlation id never sent: ${
              JSON.stringify(cid).slice(0, 80)
            }`,
          );
        }
        const uncorrelatedSent = sent.filter((r) =>
          answerable(r) && r.cid === undefined
        );
        const uncorrelatedMin = uncorrelatedSent.filter((r) =>
          !mayBeLost(r)
        ).length;
        if (
          uncorrelated < uncorrelatedMin ||
          uncorrelated > uncorrelatedSent.length
        ) {
          problems.push(
            `${uncorrelated} replies without a correlation id, expected ` +
              `${uncorrelatedMin} to ${uncorrelatedSent.length}`,
          );
        }
        const left = await replyChannel.checkQueue(queue);
        if (left.messageCount !== 0) {
          problems.push(`${left.messageCount} request(s) left in the queue`);
        }
        if (server.state !== "open") {
          problems.push(`the worker's connection is ${server.state}`);
        }
      }
      for (const line of loggedErrors.slice(0, 5)) {
        problems.push(`the worker logged an error: ${line}`);
      }

      console.log(
        `fuzz: seed ${seed}, requests ${sent.length}, replies ${received}, ` +
          `error replies ${errorReplies}, too large ${tooLarge}, ` +
          `crashes ${crashes.length}, channel closures ${losses}` +
          ` (unanswerable ${
            sent.filter((r) => r.unanswerable !== undefined).length
          }, drops logged ${droppedUnanswerable}, ` +
          `fuzzer channel reopened ${fuzzerChannelClosures}x, ` +
          `not encodable ${encodeErrors}, worker warnings ${warnings})`,
      );
      for (const error of new Set(fuzzerChannelErrors)) {
        console.log(`fuzz: the broker closed the fuzzer's channel: ${error}`);
      }
      assert.deepEqual(
        problems.slice(0, 40),
        [],
        `fuzz found ${problems.length} problem(s); replay with ${replay}`,
      );
    } finally {
      closing = true;
      await tearDown("fuzz", server, connection, queue);
      globalThis.removeEventListener("error", onError);
      globalThis.removeEventListener("unhandledrejection", onRejection);
    }
  },
});
