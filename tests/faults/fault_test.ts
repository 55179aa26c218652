// deno-lint-ignore-file no-console -- tests print the figures the README quotes.
/**
 * Fault injection against a private RabbitMQ node: connections closed by
 * the broker, a broker restart, a frozen broker (dead peer), a memory alarm,
 * a password changed under a running worker, and TLS. Each test starts its
 * own node and removes it, so the shared broker is never disturbed.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AccessRefusedError,
  ConnectionLostError,
  NoRouteError,
  RpcClient,
  type RpcReply,
  serve,
  TimeoutError,
} from "../../mod.ts";
import { fib } from "../../services/fib/fib.ts";
import { fibHandler } from "../../services/fib/method.ts";
import { runCli, startWorker, waitFor } from "../_helpers.ts";
import { type PrivateBroker, startPrivateBroker } from "../_private_broker.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** What a stream of calls saw. */
interface StreamReport {
  ok: number;
  lost: number;
  noRoute: number;
  timedOut: number;
  other: string[];
  /** When each successful call settled (performance.now()). */
  successes: number[];
}

/** A running stream of calls. */
interface CallStream {
  /** What it saw so far. */
  readonly report: StreamReport;
  /** Stops making calls and waits for those in flight. */
  stop(): Promise<StreamReport>;
}

/**
 * Keeps `concurrency` calls of fib(n) going until stopped, checking every
 * answer, and reports what happened to each call.
 */
function callStream(
  client: RpcClient,
  queue: string,
  options: { concurrency: number; idempotent: boolean },
): CallStream {
  const report: StreamReport = {
    ok: 0,
    lost: 0,
    noRoute: 0,
    timedOut: 0,
    other: [],
    successes: [],
  };
  let running = true;
  const loops = Array.from({ length: options.concurrency }, async (_, i) => {
    let n = i;
    while (running) {
      n = (n + 7) % 90;
      try {
        const reply = await client.call(queue, String(n), {
          timeout: 20_000,
          idempotent: options.idempotent,
        });
        assert.equal(reply.text(), fib(n).toString());
        report.ok++;
        report.successes.push(performance.now());
      } catch (error) {
        if (error instanceof ConnectionLostError) report.lost++;
        else if (error instanceof NoRouteError) report.noRoute++;
        else if (error instanceof TimeoutError) report.timedOut++;
        else report.other.push(String(error));
        // Do not spin while the broker is away.
        await delay(20);
      }
    }
  });
  let stopped: Promise<StreamReport> | undefined;
  return {
    report,
    stop() {
      running = false;
      stopped ??= Promise.all(loops).then(() => report);
      return stopped;
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The time of the first success after `since`, once there is one. */
async function firstSuccessAfter(
  stream: CallStream,
  since: number,
): Promise<number> {
  let found: number | undefined;
  await waitFor(() => {
    found = stream.report.successes.find((t) => t > since);
    return found !== undefined;
  });
  return found!;
}

/** When each connection event was first seen (performance.now()). */
function watch(target: EventTarget): Map<string, number> {
  const seen = new Map<string, number>();
  for (
    const type of ["disconnect", "reconnect", "blocked", "unblocked", "failed"]
  ) {
    target.addEventListener(type, () => {
      if (!seen.has(type)) seen.set(type, performance.now());
    });
  }
  return seen;
}

/** What {@linkcode recoverFrom} saw. */
interface Recovery {
  report: StreamReport;
  /** Milliseconds from the fault's reference point to the next success. */
  recovery: number;
  /** The client's connection events, in order. */
  events: string[];
  /** The worker process's log lines. */
  workerLog: string;
}

/**
 * Runs a stream of idempotent calls from one client through one worker
 * process on a private broker, applies `fault` (which resolves with the
 * moment recovery is measured from), and waits until calls have flowed
 * again; then checks that the same client and worker still answer.
 */
async function recoverFrom(
  label: string,
  fault: (
    broker: PrivateBroker,
    events: Map<string, number>,
  ) => Promise<number>,
): Promise<Recovery> {
  await using broker = await startPrivateBroker({ name: label });
  const queue = `fault_${label}`;
  await using worker = await startWorker(queue, { url: broker.url });
  await using client = await RpcClient.connect({ url: broker.url });
  const events = watch(client);
  const stream = callStream(client, queue, {
    concurrency: 10,
    idempotent: true,
  });
  let report: StreamReport;
  let recovery: number;
  try {
    await waitFor(() => stream.report.ok > 100, "calls to flow");
    const since = await fault(broker, events);
    recovery = (await firstSuccessAfter(stream, since)) - since;
    const okBefore = stream.report.ok;
    await waitFor(() => stream.report.ok > okBefore + 200, "calls to flow");
  } finally {
    report = await stream.stop();
  }
  assert.equal(client.state, "open");
  // The worker process is the same one, still running.
  const reply = await client.call(queue, "30", { timeout: 10_000 });
  assert.equal(reply.text(), "832040");
  assert.equal(client.pending, 0);
  console.log(
    `${label}: calls flowed again ${
      Math.round(recovery)
    } ms after the fault; ${report.ok} ok, ${report.noRoute} no route, ${report.lost} lost, ${report.timedOut} timed out`,
  );
  return {
    report,
    recovery,
    events: [...events.keys()],
    workerLog: worker.stderr(),
  };
}

Deno.test({
  ...opts,
  name:
    "the same client and worker process carry on after the broker closes every connection",
  async fn() {
    const { report, events, workerLog } = await recoverFrom(
      "closeall",
      async (broker, events) => {
        await broker.closeAllConnections();
        await waitFor(() => events.has("reconnect"), "the client to reconnect");
        // Measured from the moment the client saw the loss.
        return events.get("disconnect")!;
      },
    );
    assert.deepEqual(report.other, []);
    // Idempotent calls in flight were sent again: none failed.
    assert.equal(report.lost, 0);
    assert.equal(report.timedOut, 0);
    assert.equal(report.noRoute, 0);
    assert.deepEqual(events, ["disconnect", "reconnect"]);
    assert.match(workerLog, /Reconnected/);
  },
});

Deno.test({
  ...opts,
  name:
    "the same client and worker process carry on after a broker restart (stop_app, start_app)",
  async fn() {
    const { report, workerLog } = await recoverFrom(
      "restart",
      async (broker, events) => {
        await broker.stopApp();
        await waitFor(() => events.has("disconnect"), "the client to see it");
        // Calls made now wait for the connection, within their timeout.
        await delay(500);
        await broker.startApp();
        // Measured from the moment the broker accepts connections again.
        return performance.now();
      },
    );
    assert.deepEqual(report.other, []);
    // Until the worker declares the non-durable queue again, calls get
    // NoRouteError (documented); none is lost or hangs.
    assert.equal(report.lost, 0);
    assert.equal(report.timedOut, 0);
    assert.match(workerLog, /Reconnected/);
  },
});

Deno.test({
  ...opts,
  name:
    "a frozen broker is found dead by heartbeats, and the client reconnects when it thaws",
  async fn() {
    await using broker = await startPrivateBroker({ name: "frozen" });
    const url = `${broker.url}?heartbeat=1`;
    const queue = "fault_frozen";
    await using server = await serve({ url, queue }, fibHandler());
    await using client = await RpcClient.connect({ url });
    const events = watch(client);
    assert.equal((await client.call(queue, "10")).text(), "55");
    await broker.pause();
    try {
      const inFlight = client.call(queue, "11", { timeout: 60_000 });
      // No reply can come from a frozen broker; the heartbeat timeout (1 s
      // here) tells the client, which fails the call instead of hanging.
      await assert.rejects(inFlight, ConnectionLostError);
      assert.equal(client.state, "reconnecting");
    } finally {
      await broker.resume();
    }
    await waitFor(() => events.has("reconnect"));
    await waitFor(() => server.state === "open");
    assert.equal(
      (await client.call(queue, "12", { timeout: 10_000 })).text(),
      "144",
    );
  },
});

Deno.test({
  ...opts,
  name:
    "calls wait while a memory alarm blocks publishing, and complete once it clears",
  async fn() {
    await using broker = await startPrivateBroker({ name: "alarm" });
    const queue = "fault_alarm";
    await using _server = await serve(
      { url: broker.url, queue },
      fibHandler(),
    );
    const lines: string[] = [];
    await using client = await RpcClient.connect({
      url: broker.url,
      logger: {
        debug() {},
        info: (line) => lines.push(line),
        warn: (line) => lines.push(line),
        error: (line) => lines.push(line),
      },
    });
    const events = watch(client);
    assert.equal((await client.call(queue, "10")).text(), "55");
    await broker.ctl("set_vm_memory_high_watermark", "0");
    let first: Promise<RpcReply> | undefined;
    let second: Promise<RpcReply> | undefined;
    try {
      // RabbitMQ blocks a connection when it next publishes: this call goes
      // out, and the broker holds it unread until the alarm clears.
      first = client.call(queue, "20", { timeout: 60_000 });
      await waitFor(() => events.has("blocked"), "the blocked event");
      assert.equal(client.state, "blocked");
      // Calls made while blocked wait in the client.
      second = client.call(queue, "21", { timeout: 60_000 });
      assert.equal(client.inFlight, 1);
      assert.equal(client.pending, 2);
    } finally {
      await broker.ctl("set_vm_memory_high_watermark", "0.4");
    }
    await waitFor(() => events.has("unblocked"), "the unblocked event");
    assert.equal((await first).text(), "6765");
    assert.equal((await second).text(), "10946");
    assert.ok(
      lines.some((line) => /blocks publishing/.test(line)),
      lines.join("\n"),
    );
  },
});

Deno.test({
  ...opts,
  name:
    "a worker whose password was changed stops with one clear line instead of retrying forever",
  async fn() {
    await using broker = await startPrivateBroker({ name: "password" });
    const queue = "fault_password";
    await using worker = await startWorker(queue, { url: broker.url });
    await using client = await RpcClient.connect({ url: broker.url });
    const events = watch(client);
    await broker.ctl("change_password", "guest", "n3w-Secret");
    await broker.closeAllConnections();
    const status = await worker.status();
    await waitFor(() => events.has("failed"));
    assert.equal(status.code, 1);
    const stderr = worker.stderr();
    assert.match(
      stderr,
      /^Error: .*as "guest" \(vhost "\/"\): the broker refused the login/m,
    );
    assert.equal(stderr.match(/^Error: /gm)?.length, 1, stderr);
    assert.ok(!stderr.includes("n3w-Secret"));
    assert.equal(client.state, "failed");
    await assert.rejects(client.call(queue, "1"), ConnectionLostError);
    const refused = await runCli("client.ts", ["--url", broker.url, "30"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused the login of user "guest"/);
    await assert.rejects(
      RpcClient.connect({ url: broker.url }),
      AccessRefusedError,
    );
  },
});

Deno.test({
  ...opts,
  name: "client and worker talk over amqps:// with a CA file, library and CLI",
  async fn() {
    await using broker = await startPrivateBroker({ name: "tls", tls: true });
    const url = broker.tlsUrl!;
    const caFile = broker.caFile!;
    const queue = "fault_tls";
    await using _server = await serve(
      { url, queue, tls: { caFile } },
      fibHandler(),
    );
    await using client = await RpcClient.connect({ url, tls: { caFile } });
    assert.equal((await client.call(queue, "30")).text(), "832040");

    // The CLI as a TLS user runs it: the task's permissions plus reading
    // the CA file, and nothing else.
    const cli = await runCli("client.ts", [
      "--url",
      url,
      "--ca-file",
      caFile,
      "--queue",
      queue,
      "30",
    ], { extraFlags: [`--allow-read=${caFile}`] });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /Got 832040/);

    // Without the CA, the broker's certificate is not trusted.
    const untrusted = await runCli("client.ts", [
      "--url",
      url,
      "--queue",
      queue,
      "30",
    ]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /^Error: Cannot connect/m);
  },
});

/** A handler that takes `ms` and counts how often it ran for each body. */
function slowHandler(ms: number, runs: Map<string, number>) {
  return async (request: { text(): string }) => {
    const body = request.text();
    runs.set(body, (runs.get(body) ?? 0) + 1);
    await delay(ms);
    return `done ${body}`;
  };
}

Deno.test({
  ...opts,
  name:
    "a worker under a memory alarm answers each request once when the alarm clears, and still closes within its grace period",
  async fn() {
    await using broker = await startPrivateBroker({ name: "alarmworker" });
    const queue = "fault_alarm_worker";
    const runs = new Map<string, number>();
    const server = await serve(
      { url: broker.url, queue, prefetch: 3, gracePeriod: 500 },
      slowHandler(1_500, runs),
    );
    try {
      await using client = await RpcClient.connect({ url: broker.url });
      const calls = ["a", "b", "c"].map((body) =>
        client.call(queue, body, { timeout: 60_000 })
      );
      await waitFor(() => server.inFlight === 3, "three requests in hand");
      await broker.ctl("set_vm_memory_high_watermark", "0");
      try {
        // The handlers finish while the broker refuses publishes: their
        // replies wait for it instead of failing (and being run again).
        await waitFor(() => runs.size === 3, "the three handlers");
        await delay(2_000);
      } finally {
        await broker.ctl("set_vm_memory_high_watermark", "0.4");
      }
      const replies = await Promise.all(calls);
      assert.deepEqual(replies.map((r) => r.text()), [
        "done a",
        "done b",
        "done c",
      ]);
      assert.deepEqual([...runs.values()], [1, 1, 1]);

      // Under the alarm again, with a request in hand: close() does not
      // wait for the alarm to clear.
      const late = client.call(queue, "d", { timeout: 5_000 });
      await waitFor(() => server.inFlight === 1, "the fourth request");
      await broker.ctl("set_vm_memory_high_watermark", "0");
      try {
        await delay(2_000);
        await server.close();
        assert.equal(server.state, "closed");
      } finally {
        await broker.ctl("set_vm_memory_high_watermark", "0.4");
      }
      // Answered if the reply left before the close, else a timeout: the
      // request went back to the queue, and no worker is left.
      const outcome = await late.then((r) => r.text(), (e) => e);
      assert.ok(
        outcome === "done d" || outcome instanceof TimeoutError,
        String(outcome),
      );
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  ...opts,
  name: "a closing worker that loses its connection does not reconnect",
  async fn() {
    await using broker = await startPrivateBroker({ name: "closing" });
    const queue = "fault_closing";
    const runs = new Map<string, number>();
    const server = await serve(
      { url: broker.url, queue, gracePeriod: 5_000 },
      slowHandler(1_000, runs),
    );
    const events = watch(server);
    try {
      await using client = await RpcClient.connect({ url: broker.url });
      const call = client.call(queue, "x", { timeout: 10_000 }).then(
        () => undefined,
        (error) => error,
      );
      await waitFor(() => server.inFlight === 1, "the request in hand");
      const closing = server.close();
      await broker.closeAllConnections();
      await closing;
      assert.ok((await call) instanceof ConnectionLostError);
      assert.equal(server.state, "closed");
      assert.deepEqual([...events.keys()], []);
    } finally {
      await server.close();
    }
  },
});
