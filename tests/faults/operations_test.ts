/**
 * The worker as operations see it: `deno task server --handler` serving a
 * module, Prometheus metrics that move under load, health probes that follow
 * the broker, and JSON logs that carry the caller's trace id.
 */

import assert from "node:assert/strict";
import { MethodNotFoundError, NoRouteError, RpcClient } from "../../mod.ts";
import { newTraceparent, parseTraceparent } from "../../observability.ts";
import {
  AMQP_URL,
  assertOneLineError,
  runCli,
  scratchQueue,
  startCli,
  waitFor,
} from "../_helpers.ts";
import { startPrivateBroker } from "../_private_broker.ts";
import type * as calc from "../fixtures/calc_service.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** The JSON lines a process printed on stdout. */
function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split("\n").filter((line) => line !== "").map((line) =>
    JSON.parse(line)
  );
}

/** The port of "Serving metrics on http://0.0.0.0:PORT/metrics". */
function metricsPort(line: string): number {
  const match = /Serving metrics on http:\/\/[^:]+:(\d+)\/metrics/.exec(line);
  if (!match) throw new Error(`no metrics address in ${line}`);
  return Number(match[1]);
}

/** The value of one sample in Prometheus text, 0 if absent. */
function sample(text: string, name: string, labels: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{${labels}} `)) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return 0;
}

async function get(
  port: number,
  path: string,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

Deno.test({
  ...opts,
  name:
    "deno task server --handler serves the functions a module exports, with types on the client",
  async fn() {
    await using scratch = scratchQueue("handler-module");
    const queue = scratch.name;
    await using server = startCli("server.ts", [
      "--handler",
      "./tests/fixtures/calc_service.ts",
      "--queue",
      queue,
    ]);
    await server.waitForLine("Awaiting RPC requests");
    await using client = await RpcClient.connect({ url: AMQP_URL });
    const api = client.service<typeof calc>(queue);
    assert.equal(await api.add({ a: 20, b: 22 }), 42);
    assert.deepEqual(await api.divide({ a: 7, b: 2 }), {
      quotient: 3,
      remainder: 1,
    });
    assert.equal((await api.whoami()).method, "whoami");
    await assert.rejects(
      client.method(queue, "VERSION")(undefined),
      MethodNotFoundError,
    );
    // The tutorial's line, per request.
    await server.waitForLine(' [.] add({"a":20,"b":22})');
  },
});

Deno.test({
  ...opts,
  name:
    "deno task server without --handler serves fib as its default method, as text and as JSON",
  async fn() {
    await using scratch = scratchQueue("fib-module");
    const queue = scratch.name;
    await using server = startCli("server.ts", ["--queue", queue]);
    await server.waitForLine("Awaiting RPC requests");
    await using client = await RpcClient.connect({ url: AMQP_URL });
    assert.equal((await client.call(queue, "30")).text(), "832040");
    assert.equal(
      await client.method<number, string>(queue, "fib")(30),
      "832040",
    );
    await assert.rejects(
      client.method<number, string>(queue, "fib")(-1),
      /OUT_OF_RANGE|n must be from 0/,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "a handler module that cannot be loaded stops the worker with one line and exit status 1",
  async fn() {
    await using missing = startCli("server.ts", [
      "--handler",
      "./tests/fixtures/no_such_module.ts",
    ]);
    const status = await missing.status();
    assert.equal(status.code, 1);
    assertOneLineError(
      missing.stderr(),
      /^Error: Cannot load the handler module/,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "the worker's /metrics move under load, and /healthz turns unhealthy while the broker is stopped and healthy after",
  async fn() {
    await using broker = await startPrivateBroker({ name: "metrics" });
    const queue = "metrics_rpc";
    await using server = startCli("server.ts", [
      "--queue",
      queue,
      "--metrics-port",
      "0",
      "--metrics-host",
      "127.0.0.1",
      "--log-format",
      "json",
      "--quiet",
    ], { env: { AMQP_URL: broker.url } });
    const port = metricsPort(await server.waitForLine("Serving metrics on"));
    await using client = await RpcClient.connect({ url: broker.url });

    const ok = `queue="${queue}",method="fib",outcome="ok"`;
    const before = await get(port, "/metrics");
    assert.equal(before.status, 200);
    assert.equal(
      sample(before.text, "rabbit_rpc_server_requests_total", ok),
      0,
    );
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.call(queue, String(i))),
    );
    const after = await get(port, "/metrics");
    assert.equal(
      sample(after.text, "rabbit_rpc_server_requests_total", ok),
      50,
    );
    assert.equal(
      sample(
        after.text,
        "rabbit_rpc_server_request_duration_seconds_count",
        `queue="${queue}",method="fib"`,
      ),
      50,
    );
    await client.call(queue, "x").catch(() => {});
    const errors = await get(port, "/metrics");
    assert.equal(
      sample(
        errors.text,
        "rabbit_rpc_server_requests_total",
        `queue="${queue}",method="fib",outcome="INVALID_ARGUMENT"`,
      ),
      1,
    );
    assert.match(errors.text, /^process_resident_memory_bytes \d+/m);
    assert.deepEqual(await get(port, "/healthz"), {
      status: 200,
      text: "ok: open\n",
    });
    assert.equal((await get(port, "/readyz")).status, 200);
    assert.equal((await get(port, "/nothing")).status, 404);

    await broker.stopApp();
    try {
      await waitFor(
        async () => (await get(port, "/healthz")).status === 503,
        "/healthz to turn unhealthy",
      );
      const down = await get(port, "/healthz");
      assert.match(down.text, /unavailable: reconnecting/);
      assert.equal((await get(port, "/readyz")).status, 503);
      const metrics = await get(port, "/metrics");
      assert.equal(
        sample(metrics.text, "rabbit_rpc_server_connected", `queue="${queue}"`),
        0,
      );
    } finally {
      await broker.startApp();
    }
    await waitFor(
      async () => (await get(port, "/healthz")).status === 200,
      "/healthz to be healthy again",
    );
    const back = await get(port, "/metrics");
    assert.equal(
      sample(back.text, "rabbit_rpc_server_connected", `queue="${queue}"`),
      1,
    );
    assert.ok(
      sample(
        back.text,
        "rabbit_rpc_server_reconnects_total",
        `queue="${queue}"`,
      ) >= 1,
    );
    // And it answers again. The restarted broker lost the tutorial's
    // non-durable queue: until the worker has declared it again (once more
    // if the broker's boot removed it after that), a call has no route.
    await waitFor(async () => {
      try {
        return (await client.call(queue, "10")).text() === "55";
      } catch (error) {
        if (error instanceof NoRouteError) return false;
        throw error;
      }
    }, "a call to be answered again");
  },
});

Deno.test({
  ...opts,
  name:
    "--log-format json writes one JSON object per line, and the caller's trace id reaches the worker's log",
  async fn() {
    await using scratch = scratchQueue("json-log");
    const queue = scratch.name;
    await using server = startCli("server.ts", [
      "--queue",
      queue,
      "--log-format",
      "json",
      "--log-level",
      "debug",
    ]);
    await server.waitForLine("Awaiting RPC requests");
    await using client = await RpcClient.connect({ url: AMQP_URL });
    const traceparent = newTraceparent();
    const traceId = parseTraceparent(traceparent)!.traceId;
    assert.equal(
      (await client.call(queue, "12", { traceparent })).text(),
      "144",
    );
    await server.waitForLine(traceId);
    await waitFor(
      () => server.stdout().includes('"Handled a request"'),
      "the request's debug line",
    );
    const lines = jsonLines(server.stdout());
    for (const line of lines) {
      assert.equal(typeof line.time, "string");
      assert.ok(
        ["debug", "info", "warn", "error"].includes(String(line.level)),
      );
    }
    const said = lines.find((line) => line.msg === "fib(12)");
    assert.ok(said, server.stdout());
    assert.equal(said.level, "info");
    assert.equal(said.trace_id, traceId);
    const detail = lines.find((line) => line.msg === "Handled a request");
    assert.ok(detail);
    assert.equal(detail.level, "debug");
    assert.equal(detail.method, "fib");
    assert.equal(detail.outcome, "ok");
    assert.equal(detail.trace_id, traceId);
    assert.equal(detail.user_id, new URL(AMQP_URL).username || "guest");
    assert.equal(typeof detail.duration_ms, "number");
    // Nothing went to stderr in JSON mode.
    assert.equal(server.stderr(), "");
  },
});

Deno.test({
  ...opts,
  name:
    "deno task server refuses an unknown --default-method (exit 2) and a --metrics-port in use (exit 1), each with one line",
  async fn() {
    const bogus = startCli("server.ts", ["--default-method", "bogus"]);
    assert.equal((await bogus.status()).code, 2);
    assert.match(
      bogus.stderr().trim(),
      /^Error: --default-method "bogus" is not one of its methods \(fib\)\. Run with --help for usage\.$/,
    );
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const busy = startCli("server.ts", [
      "--metrics-port",
      String(listener.addr.port),
      "--metrics-host",
      "127.0.0.1",
    ]);
    assert.equal((await busy.status()).code, 1);
    assertOneLineError(
      busy.stderr(),
      /^Error: --metrics-port \d+: the address is in use/,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "deno task server finds --handler from the directory the user ran the task in",
  async fn() {
    await using scratch = scratchQueue("init-cwd");
    // `deno task` runs in the project's folder and names the user's
    // directory in INIT_CWD.
    await using server = startCli("server.ts", [
      "--handler",
      "./calc_service.ts",
      "--queue",
      scratch.name,
    ], {
      env: { INIT_CWD: new URL("../fixtures/", import.meta.url).pathname },
    });
    await server.waitForLine("Awaiting RPC requests");
    await using client = await RpcClient.connect({ url: AMQP_URL });
    assert.equal(
      await client.service<typeof calc>(scratch.name).add({ a: 1, b: 1 }),
      2,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "deno task client --traceparent carries the trace to the worker's log, and refuses a malformed one",
  async fn() {
    await using scratch = scratchQueue("cli-trace");
    const queue = scratch.name;
    await using server = startCli("server.ts", [
      "--queue",
      queue,
      "--log-format",
      "json",
    ]);
    await server.waitForLine("Awaiting RPC requests");
    const traceparent = newTraceparent();
    const traceId = parseTraceparent(traceparent)!.traceId;
    const client = await runCli("client.ts", [
      "--queue",
      queue,
      "--traceparent",
      traceparent,
      "12",
    ]);
    assert.equal(client.code, 0, client.stderr);
    const line = JSON.parse(await server.waitForLine(traceId));
    assert.equal(line.msg, "fib(12)");
    assert.equal(line.trace_id, traceId);

    const bad = await runCli("client.ts", ["--traceparent", "abc", "12"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^Error: --traceparent must be a W3C traceparent/);
  },
});
