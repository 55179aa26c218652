/**
 * The worker against hostile or broken requests and handlers, with no
 * broker: errors that hide their messages, handlers that never stop, and
 * a reply cache scoped to its caller that still passes the middleware.
 */

import assert from "node:assert/strict";
import { fakeWorker, textOf } from "../_fake_worker_transport.ts";
import { HandlerError } from "../../lib/errors.ts";
import type { LogFields, Logger } from "../../lib/observability/logger.ts";

const JSON_BODY = { contentType: "application/json" };
const IDEMPOTENT = { messageId: "k-1", headers: { "x-idempotent": true } };

interface Line {
  level: string;
  line: string;
  fields?: LogFields;
}

function recordingLogger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (line: string, fields?: LogFields) =>
    void lines.push({ level, line, fields });
  return {
    lines,
    logger: {
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
    },
  };
}

const SECRET = "postgres://app:hunter2@db.internal:5432/billing";

Deno.test("an error a handler did not write for its caller reaches it as its code and an error id; the log has the message", async () => {
  const { logger, lines } = recordingLogger();
  await using worker = await fakeWorker({
    logger,
    methods: {
      bug: () => {
        throw new Error(`connect failed: ${SECRET}`);
      },
      type: () => {
        throw new TypeError(`bad: ${SECRET}`);
      },
      range: () => {
        throw new RangeError(`too big: ${SECRET}`);
      },
      chosen: () => {
        throw new HandlerError("NOT_FOUND", "No such invoice");
      },
    },
  });
  const answer = async (type: string) => {
    const { reply } = await worker.transport.deliver({
      properties: { type, ...JSON_BODY },
    });
    return { code: reply?.errorCode, ...JSON.parse(textOf(reply)) };
  };
  for (
    const [method, code, name] of [
      ["bug", "INTERNAL", "Error"],
      ["type", "INVALID_ARGUMENT", "TypeError"],
      ["range", "OUT_OF_RANGE", "RangeError"],
    ]
  ) {
    const body = await answer(method);
    assert.equal(body.code, code);
    assert.equal(body.name, name);
    assert.doesNotMatch(body.message, /hunter2|db\.internal/);
    const id = body.message.match(/error id ([0-9a-f]{16})/)?.[1];
    assert.ok(id, body.message);
    const logged = lines.find((line) => line.fields?.error_id === id);
    assert.ok(logged, `no log line with error id ${id}`);
    assert.match(logged.line, /hunter2/);
    assert.equal(logged.fields?.method, method);
  }
  // A HandlerError's message is the handler's word to its caller.
  const chosen = await answer("chosen");
  assert.deepEqual([chosen.code, chosen.message], [
    "NOT_FOUND",
    "No such invoice",
  ]);
});

Deno.test("exposeErrors shows every error's message, for development", async () => {
  await using worker = await fakeWorker({ exposeErrors: true }, () => {
    throw new Error(`connect failed: ${SECRET}`);
  });
  const { reply } = await worker.transport.deliver();
  assert.equal(JSON.parse(textOf(reply)).message, `connect failed: ${SECRET}`);
});

Deno.test("a handler that runs past its caller's deadline and ignores its signal is answered DEADLINE_EXCEEDED and acked; it counts as stuck until it stops", async () => {
  const { logger, lines } = recordingLogger();
  let finish!: () => void;
  const stopped = new Promise<string>((resolve) =>
    finish = () => resolve("late")
  );
  let aborted = false;
  await using worker = await fakeWorker({ logger, prefetch: 4 }, (request) => {
    request.signal.addEventListener("abort", () => aborted = true);
    return stopped;
  });
  const outcome = await worker.transport.deliver({
    properties: { headers: { "x-deadline": Date.now() + 50 } },
  });
  assert.equal(outcome.reply?.errorCode, "DEADLINE_EXCEEDED");
  assert.equal(outcome.settlement, "ack");
  assert.equal(aborted, true);
  await worker.idle();
  let stats = worker.server.stats();
  assert.deepEqual([stats.overruns, stats.stuck, stats.inFlight], [1, 1, 0]);
  assert.ok(lines.some((line) => /ran past its time/.test(line.line)));
  // One stuck handler of the four allowed: still healthy, still consuming.
  assert.equal(worker.server.unhealthy, undefined);
  assert.equal(worker.transport.stoppedConsuming, 0);
  finish();
  await stopped;
  await Promise.resolve();
  stats = worker.server.stats();
  assert.deepEqual([stats.overruns, stats.stuck], [1, 0]);
});

Deno.test("a request without a deadline is bounded by maxHandlerTime; at maxStuckHandlers stuck the worker stops consuming and is unhealthy", async () => {
  const { logger, lines } = recordingLogger();
  await using worker = await fakeWorker(
    { logger, maxHandlerTime: 50, maxStuckHandlers: 2, prefetch: 10 },
    () => new Promise<string>(() => {}),
  );
  const first = await worker.transport.deliver();
  assert.equal(first.reply?.errorCode, "DEADLINE_EXCEEDED");
  assert.equal(worker.server.unhealthy, undefined);
  const second = await worker.transport.deliver();
  assert.equal(second.settlement, "ack");
  await worker.idle();
  assert.match(worker.server.unhealthy ?? "", /2 handlers are stuck/);
  assert.equal(worker.transport.stoppedConsuming, 1);
  assert.ok(
    lines.some((line) =>
      line.level === "error" && /Stopped consuming/.test(line.line)
    ),
  );
});

Deno.test("a stuck idempotent call leaves no cache entry: its repeat runs anew instead of waiting for ever", async () => {
  let runs = 0;
  await using worker = await fakeWorker({ maxHandlerTime: 50 }, () => {
    runs++;
    return runs === 1 ? new Promise<string>(() => {}) : "second try";
  });
  const first = await worker.transport.deliver({ properties: IDEMPOTENT });
  assert.equal(first.reply?.errorCode, "DEADLINE_EXCEEDED");
  const repeat = await worker.transport.deliver({ properties: IDEMPOTENT });
  assert.equal(textOf(repeat.reply), "second try");
  assert.equal(runs, 2);
});

Deno.test("a repeat answered from the reply cache still passes the middleware, which may refuse it", async () => {
  let runs = 0;
  let open = true;
  await using worker = await fakeWorker({
    middleware: [(_request, next) => {
      if (!open) throw new HandlerError("PERMISSION_DENIED", "Closed");
      return next();
    }],
  }, () => String(++runs));
  const alice = { ...IDEMPOTENT, userId: "alice" };
  assert.equal(
    textOf((await worker.transport.deliver({ properties: alice })).reply),
    "1",
  );
  assert.equal(
    textOf((await worker.transport.deliver({ properties: alice })).reply),
    "1",
  );
  open = false;
  const refused = await worker.transport.deliver({ properties: alice });
  assert.equal(refused.reply?.errorCode, "PERMISSION_DENIED");
  assert.equal(runs, 1);
});

Deno.test("another caller's reuse of an idempotency key never gets the first caller's reply", async () => {
  let runs = 0;
  await using worker = await fakeWorker(
    {},
    (request) => `${request.userId ?? "anonymous"} #${++runs}`,
  );
  const alice = { ...IDEMPOTENT, userId: "alice" };
  const mallory = { ...IDEMPOTENT, userId: "mallory" };
  const first = await worker.transport.deliver({ properties: alice });
  const other = await worker.transport.deliver({ properties: mallory });
  const anonymous = await worker.transport.deliver({ properties: IDEMPOTENT });
  assert.deepEqual(
    [textOf(first.reply), textOf(other.reply), textOf(anonymous.reply)],
    ["alice #1", "mallory #2", "anonymous #3"],
  );
  // And the same key for another body is refused, never answered from the
  // cache.
  const reused = await worker.transport.deliver({
    body: "other",
    properties: alice,
  });
  assert.equal(reused.reply?.errorCode, "INVALID_ARGUMENT");
  assert.match(JSON.parse(textOf(reused.reply)).message, /"k-1"/);
});

Deno.test("a handler that stops soon after its signal aborts is not stuck: the watchdog waits a grace past its time", async () => {
  await using worker = await fakeWorker(
    { maxHandlerTime: 50, prefetch: 1 },
    async (request) => {
      await new Promise((resolve) =>
        request.signal.addEventListener("abort", resolve)
      );
      // Some clean-up after the abort, well within the grace.
      await new Promise((resolve) => setTimeout(resolve, 30));
      throw request.signal.reason;
    },
  );
  for (let i = 0; i < 3; i++) {
    const outcome = await worker.transport.deliver();
    assert.equal(outcome.reply?.errorCode, "DEADLINE_EXCEEDED");
  }
  await worker.idle();
  assert.deepEqual(
    [worker.server.stats().overruns, worker.server.unhealthy],
    [0, undefined],
  );
});

Deno.test("a repeat answered from the cache is watched too: middleware that never settles on it is answered and counted stuck", async () => {
  let first = true;
  await using worker = await fakeWorker({
    maxHandlerTime: 50,
    maxStuckHandlers: 5,
    middleware: [(_request, next) => {
      if (first) {
        first = false;
        return next();
      }
      return new Promise(() => {});
    }],
  }, () => "once");
  assert.equal(
    textOf((await worker.transport.deliver({ properties: IDEMPOTENT })).reply),
    "once",
  );
  const repeat = await worker.transport.deliver({ properties: IDEMPOTENT });
  assert.equal(repeat.reply?.errorCode, "DEADLINE_EXCEEDED");
  assert.equal(repeat.settlement, "ack");
  await worker.idle();
  assert.equal(worker.server.stats().stuck, 1);
});

Deno.test("a result that cannot be sent is INTERNAL with an error id: what its toJSON threw stays in the log", async () => {
  const { logger, lines } = recordingLogger();
  await using worker = await fakeWorker({
    logger,
    methods: {
      row: () => ({
        toJSON() {
          throw new Error(`lazy load failed: ${SECRET}`);
        },
      }),
    },
  });
  const { reply } = await worker.transport.deliver({
    properties: { type: "row" },
  });
  assert.equal(reply?.errorCode, "INTERNAL");
  assert.doesNotMatch(textOf(reply), /hunter2/);
  assert.ok(lines.some((line) => /hunter2/.test(line.line)));
});

Deno.test("a logger that throws costs nothing but its line: the request is still answered", async () => {
  const failing: Logger = {
    debug() {},
    info() {},
    warn() {
      throw new Error("EPIPE");
    },
    error() {
      throw new Error("EPIPE");
    },
  };
  await using worker = await fakeWorker({ logger: failing }, () => {
    throw new Error("boom");
  });
  const { reply, settlement } = await worker.transport.deliver();
  assert.equal(reply?.errorCode, "INTERNAL");
  assert.equal(settlement, "ack");
});

Deno.test("the same caller reusing a key for another method or content type is refused, not answered from the cache", async () => {
  await using worker = await fakeWorker({}, (request) => request.text());
  const first = await worker.transport.deliver({
    body: "30",
    properties: { ...IDEMPOTENT, type: "deposit" },
  });
  assert.equal(textOf(first.reply), "30");
  for (
    const properties of [
      { ...IDEMPOTENT, type: "withdraw" },
      { ...IDEMPOTENT, type: "deposit", contentType: "application/json" },
    ]
  ) {
    const reused = await worker.transport.deliver({ body: "30", properties });
    assert.equal(reused.reply?.errorCode, "INVALID_ARGUMENT");
  }
});

Deno.test("the node of the worker's own connection needs no probe: its direct reply-to callers are answered at once", async () => {
  // A direct reply-to address as RabbitMQ 3.10 makes it.
  const own =
    "amq.rabbitmq.reply-to.g1h2AA1yZXBseUA5MjQ4ODg0AAB/7gAAAAFrCWXt.PbeAjZZTwwEvu4TKSP19Yw==";
  await using worker = await fakeWorker({}, () => "hi");
  worker.transport.ownAddress = own.replace(/\.[^.]+$/, ".other-key");
  const outcome = await worker.transport.deliver({
    properties: { replyTo: own },
  });
  assert.equal(textOf(outcome.reply), "hi");
  assert.equal(outcome.probed, undefined);
});
