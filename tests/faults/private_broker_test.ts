/**
 * The private RabbitMQ node of the fault-injection tests: it starts, obeys
 * and goes away without a trace, and the shared broker is left alone.
 */

import assert from "node:assert/strict";
import { closeConnection, openConnection } from "../../lib/amqp/connection.ts";
import { exists, waitFor } from "../_helpers.ts";
import { startPrivateBroker } from "../_private_broker.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const SHARED_URL = "amqp://guest:guest@127.0.0.1:5672";
/** The AMQP 0-9-1 protocol header a client sends first. */
const AMQP_HEADER = new TextEncoder().encode("AMQP\x00\x00\x09\x01");

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** The running processes whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<number[]> {
  const ps = await new Deno.Command("ps", {
    args: ["-ww", "-eo", "pid=,stat=,args="],
    stdin: "null",
    stderr: "inherit",
  }).output();
  assert.equal(ps.code, 0);
  return new TextDecoder().decode(ps.stdout).split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, state, ...args]) =>
      state !== undefined && !state.startsWith("Z") &&
      args.join(" ").includes(text)
    )
    .map(([pid]) => Number(pid));
}

/** Reads at least one byte from `conn`. */
async function readSome(conn: Deno.Conn): Promise<Uint8Array> {
  const buffer = new Uint8Array(64);
  const n = await conn.read(buffer);
  assert.ok(n !== null && n > 0, "the broker closed without answering");
  return buffer.subarray(0, n);
}

Deno.test({
  ...opts,
  name:
    "startPrivateBroker() starts a node that accepts AMQP connections and removes it on dispose",
  async fn() {
    const broker = await startPrivateBroker({ name: "basic" });
    try {
      assert.match(
        broker.nodeName,
        new RegExp(`^rpctest-basic-${Deno.pid}-\\d+@localhost$`),
      );
      assert.equal(broker.url, `amqp://guest:guest@127.0.0.1:${broker.port}`);
      assert.notEqual(broker.port, 5672);
      assert.ok(broker.dataDir.startsWith("/tmp/"));
      assert.equal(broker.tlsUrl, undefined);

      const conn = await openConnection({ url: broker.url });
      try {
        const ch = await conn.channel();
        await ch.queueDeclare("x");
      } finally {
        await closeConnection(conn);
      }
      assert.match(await broker.ctl("list_queues", "name"), /^x$/m);
      assert.ok((await processesMentioning(broker.dataDir)).length > 0);

      await broker[Symbol.asyncDispose]();

      assert.equal(await exists(broker.dataDir), false);
      assert.equal(await accepts(broker.port), false);
      assert.deepEqual(await processesMentioning(broker.dataDir), []);
      const shared = await openConnection({ url: SHARED_URL });
      await closeConnection(shared);
    } finally {
      await broker.stop();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "stopApp() makes a private node refuse connections and startApp() makes it accept them again",
  async fn() {
    await using broker = await startPrivateBroker({ name: "app" });
    await broker.stopApp();
    await assert.rejects(openConnection({ url: broker.url }));

    await broker.startApp();
    const conn = await openConnection({ url: broker.url });
    try {
      const ch = await conn.channel();
      await ch.queueDeclare("after-restart");
    } finally {
      await closeConnection(conn);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "closeAllConnections() makes a private node close every client connection",
  async fn() {
    await using broker = await startPrivateBroker({ name: "close" });
    const conn = await openConnection({ url: broker.url });
    try {
      const closedBy: string[] = [];
      conn.onerror = (error) => closedBy.push(error.message);
      await broker.closeAllConnections();
      await waitFor(() => conn.closed);
      assert.match(closedBy.join("\n"), /test/);
    } finally {
      await closeConnection(conn);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "pause() freezes a private node so that it answers nothing until resume()",
  async fn() {
    await using broker = await startPrivateBroker({ name: "pause" });
    await broker.pause();
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: broker.port,
    });
    try {
      await conn.write(AMQP_HEADER);
      const reading = readSome(conn);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const silent = await Promise.race([
        reading.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), 1_000);
        }),
      ]);
      clearTimeout(timer);
      assert.equal(silent, true, "a paused node answered");

      await broker.resume();
      assert.equal((await reading)[0], 1, "no connection.start frame");
    } finally {
      conn.close();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "startPrivateBroker({ tls: true }) also listens for TLS with a certificate for localhost signed by its CA",
  async fn() {
    await using broker = await startPrivateBroker({ name: "tls", tls: true });
    assert.ok(broker.tlsPort !== undefined && broker.caFile !== undefined);
    assert.equal(
      broker.tlsUrl,
      `amqps://guest:guest@localhost:${broker.tlsPort}`,
    );
    const conn = await Deno.connectTls({
      hostname: "localhost",
      port: broker.tlsPort,
      caCerts: [await Deno.readTextFile(broker.caFile)],
    });
    try {
      await conn.write(AMQP_HEADER);
      // Frame type 1 (method): the broker's connection.start.
      assert.equal((await readSome(conn))[0], 1);
    } finally {
      conn.close();
    }
  },
});
