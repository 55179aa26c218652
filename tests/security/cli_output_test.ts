/**
 * A hostile worker cannot drive the terminal of `deno task client`'s user,
 * nor keep the client busy past its `--timeout`. A fake worker written here
 * with a raw AMQP client (amqplib) answers with results, error codes and
 * error messages full of terminal escapes (CSI `ESC[31m`, OSC `ESC]0;title
 * BEL`, the one-character C1 CSI U+009B, a bidi override, a carriage
 * return), and with a 10 MB error message. Black-box: the client program
 * and the broker only, so that this also runs on a commit before the fix.
 *
 * - Text output shows control characters escaped (`\u001b`); `--json`
 *   output holds none raw, and parses to what the worker sent.
 * - The client exits, on its own, whatever the worker sends: each run is
 *   killed after 20 s, so that a client that would take hours fails
 *   instead of hanging the suite (a limit for liveness, not a measurement).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { amqplib } from "../deps.ts";
import { AMQP_URL, scratchQueue, startCli } from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** Every control a terminal obeys, and text reordering. */
const EVIL =
  "\x1b[31mred\x1b[0m \x1b]0;pwned title\x07 \x9b2J \u202egnp.exe\r\x08\x7f";

/** Raw controls: C0 (line ends excepted, see `assertNoControls`), DEL, C1, bidi. */
const RAW_CONTROL = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]/u;

/** Asserts that output holds no raw control character but its line ends. */
function assertNoControls(output: string, what: string): void {
  const match = RAW_CONTROL.exec(output.replaceAll("\n", ""));
  assert.equal(
    match?.[0],
    undefined,
    `${what} holds the raw control U+${
      match?.[0].charCodeAt(0).toString(16).padStart(4, "0")
    } at ${match?.index}: ${JSON.stringify(output.slice(0, 300))}`,
  );
}

/** A password the client's bound on error messages cuts in half. */
const SECRET = "S".repeat(6_000);

/** What the fake worker answers to each method. */
const ANSWERS: Record<
  string,
  () => { body: string; contentType: string; code?: string }
> = {
  text: () => ({ body: EVIL, contentType: "text/plain" }),
  json: () => ({
    body: JSON.stringify({ evil: EVIL }),
    contentType: "application/json",
  }),
  error: () => ({
    body: JSON.stringify({
      code: `BAD${EVIL}`,
      name: `Evil${EVIL}`,
      message: `it failed: ${EVIL}`,
    }),
    contentType: "application/json",
    code: `BAD${EVIL}`,
  }),
  missing: () => ({
    body: JSON.stringify({
      code: "METHOD_NOT_FOUND",
      name: "HandlerError",
      message: `No method "gone"; methods: add, ${EVIL}`,
    }),
    contentType: "application/json",
    code: "METHOD_NOT_FOUND",
  }),
  // 10 MB: a password, escapes, then a long run of letters.
  huge: () => ({
    body: JSON.stringify({
      code: "INTERNAL",
      name: "Error",
      message: `cannot connect to amqp://app:${SECRET}@broker ${EVIL} ${
        "x".repeat(10_000_000)
      }`,
    }),
    contentType: "application/json",
    code: "INTERNAL",
  }),
};

/** A worker on `queue` that answers each request by its method (`type`). */
async function hostileWorker(queue: string): Promise<AsyncDisposable> {
  const connection = await amqplib.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.assertQueue(queue, { durable: false });
  await channel.consume(queue, (message) => {
    if (message === null) return;
    const { replyTo, correlationId, type } = message.properties;
    const answer = (ANSWERS[type ?? ""] ?? ANSWERS.text)();
    channel.sendToQueue(replyTo, Buffer.from(answer.body), {
      correlationId,
      contentType: answer.contentType,
      headers: answer.code === undefined ? {} : { "x-rpc-error": answer.code },
    });
    channel.ack(message);
  });
  return {
    async [Symbol.asyncDispose]() {
      await channel.close();
      await connection.close();
    },
  };
}

/** How a run of the client ended: its status, or killed after 20 s. */
interface ClientRun {
  code: number | "killed";
  stdout: string;
  stderr: string;
}

/** Runs `client.ts` on `queue`, with `--timeout 2000`; kills it after 20 s. */
async function runClient(queue: string, args: string[]): Promise<ClientRun> {
  const client = startCli("client.ts", [
    "--queue",
    queue,
    "--timeout",
    "2000",
    ...args,
  ]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<"killed">((resolve) => {
    timer = setTimeout(() => resolve("killed"), 20_000);
  });
  const ended = await Promise.race([client.status(), limit]);
  clearTimeout(timer);
  if (ended === "killed") client.child.kill("SIGKILL");
  const { code } = await client.status();
  return {
    code: ended === "killed" ? "killed" : code,
    stdout: client.stdout(),
    stderr: client.stderr(),
  };
}

Deno.test({
  ...opts,
  name:
    "client: a worker's result reaches the terminal with its control characters escaped, in text and JSON",
  async fn() {
    await using queue = scratchQueue("cli-output");
    await using _worker = await hostileWorker(queue.name);

    const text = await runClient(queue.name, [
      "--method",
      "text",
      "--data",
      "1",
    ]);
    assert.equal(text.code, 0, text.stderr);
    assertNoControls(text.stdout, "the result line");
    assert.match(
      text.stdout,
      /Got \\u001b\[31mred\\u001b\[0m \\u001b\]0;pwned/,
    );
    assert.match(text.stdout, /\\u009b2J \\u202egnp\.exe\\u000d\\u0008\\u007f/);

    const json = await runClient(queue.name, [
      "--method",
      "text",
      "--data",
      "1",
      "--json",
    ]);
    assert.equal(json.code, 0, json.stderr);
    assertNoControls(json.stdout, "the --json result");
    assert.equal(JSON.parse(json.stdout).result, EVIL);

    const object = await runClient(queue.name, [
      "--method",
      "json",
      "--data",
      "1",
    ]);
    assert.equal(object.code, 0, object.stderr);
    assertNoControls(object.stdout, "a JSON result's line");
  },
});

Deno.test({
  ...opts,
  name:
    "client: a worker's error code and message reach the terminal escaped, in text, JSON and a load's summary",
  async fn() {
    await using queue = scratchQueue("cli-output");
    await using _worker = await hostileWorker(queue.name);

    const text = await runClient(queue.name, [
      "--method",
      "error",
      "--data",
      "1",
    ]);
    assert.equal(text.code, 1);
    assertNoControls(text.stderr, "the error line");
    assertNoControls(text.stdout, "stdout");
    assert.equal(text.stderr.trim().split("\n").length, 1, text.stderr);
    assert.match(text.stderr, /\(BAD\\u001b\[31mred/);
    assert.match(text.stderr, /it failed: \\u001b\[31mred/);

    const json = await runClient(queue.name, [
      "--method",
      "error",
      "--data",
      "1",
      "--json",
    ]);
    assert.equal(json.code, 1);
    assertNoControls(json.stdout, "the --json error");
    assert.equal(JSON.parse(json.stdout).error.code, `BAD${EVIL}`);

    const load = await runClient(queue.name, [
      "--method",
      "error",
      "--data",
      "1",
      "--count",
      "2",
    ]);
    assert.equal(load.code, 1);
    assertNoControls(load.stdout, "the load's summary");
    assert.match(load.stdout, /failed with RemoteError\(BAD\\u001b/);

    const missing = await runClient(queue.name, [
      "--method",
      "missing",
      "--data",
      "1",
    ]);
    assert.equal(missing.code, 1);
    assertNoControls(missing.stderr, "the METHOD_NOT_FOUND line");
  },
});

Deno.test({
  ...opts,
  name:
    "client: a 10 MB error message ends the client with one bounded line, escaped and masked",
  async fn() {
    await using queue = scratchQueue("cli-output");
    await using _worker = await hostileWorker(queue.name);

    const text = await runClient(queue.name, [
      "--method",
      "huge",
      "--data",
      "1",
    ]);
    assert.equal(text.code, 1, "the client did not end by itself");
    const lines = text.stderr.trim().split("\n");
    assert.equal(lines.length, 1);
    assert.ok(lines[0].length < 20_000, `a line of ${lines[0].length}`);
    assertNoControls(text.stderr, "the error line");
    assert.match(
      lines[0],
      /^Error: The worker answered with an error \(INTERNAL\): cannot connect to amqp:\/\/app:\*\*\*/,
    );
    assert.doesNotMatch(text.stderr, /SSSS/, "the password shows");

    const json = await runClient(queue.name, [
      "--method",
      "huge",
      "--data",
      "1",
      "--json",
    ]);
    assert.equal(json.code, 1, "the client did not end by itself");
    assert.ok(json.stdout.length < 20_000, `${json.stdout.length} characters`);
    assertNoControls(json.stdout, "the --json error");
    assert.doesNotMatch(json.stdout, /SSSS/, "the password shows");
    assert.match(
      JSON.parse(json.stdout).error.message,
      /^cannot connect to amqp:\/\/app:\*\*\*/,
    );
  },
});
