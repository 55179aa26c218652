/**
 * The metrics endpoint's HTTP server (`serveMetrics`, its private server
 * and request heads) over loopback TCP: the endpoints, keep-alive, and the
 * bounds against hostile callers: the connection cap, the head deadline and
 * size, and accept errors that pause it but never end it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { serveMetrics } from "../../lib/observability/http.ts";
import { HttpServer } from "../../lib/observability/_http_server.ts";
import {
  headEnd,
  parseRequestHead,
} from "../../lib/observability/_http_head.ts";
import { MetricsRegistry } from "../../lib/observability/metrics/registry.ts";
import { waitFor } from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

const encoder = new TextEncoder();

/** Sends `text` on a new connection and reads until the server closes it. */
async function exchange(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    if (text !== "") await conn.write(encoder.encode(text));
    return await readAll(conn);
  } finally {
    conn.close();
  }
}

async function readAll(conn: Deno.Conn): Promise<string> {
  let out = "";
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16_384);
  try {
    for (let n; (n = await conn.read(buffer)) !== null;) {
      out += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
  }
  return out;
}

function statuses(text: string): number[] {
  return [...text.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]));
}

function sample(registry: MetricsRegistry, name: string): number {
  const line = registry.render().split("\n").find((l) =>
    l.startsWith(`${name} `)
  );
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

const GET = (path: string, extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

Deno.test({
  ...opts,
  name:
    "serveMetrics answers /metrics, /healthz, /readyz, HEAD, 404 and 405, on loopback by default",
  async fn() {
    const target = {
      state: "reconnecting" as const,
      metrics: new MetricsRegistry(),
    };
    target.metrics.counter("jobs_total", "Jobs.").inc(3);
    let listened: { hostname: string; port: number } | undefined;
    await using server = serveMetrics(target, {
      port: 0,
      onListen: (addr) => listened = addr,
    });
    assert.equal(server.addr.hostname, "127.0.0.1");
    assert.deepEqual(listened, server.addr);
    const port = server.addr.port;
    const metrics = await exchange(
      port,
      GET("/metrics?x=1", "Connection: close\r\n"),
    );
    assert.match(metrics, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(metrics, /\r\ncontent-type: text\/plain; version=0\.0\.4/);
    assert.match(metrics, /\r\nconnection: close\r\n/);
    assert.match(metrics, /\r\n\r\n[^]*^jobs_total 3$/m);
    const health = await exchange(
      port,
      GET("/healthz", "Connection: close\r\n"),
    );
    assert.match(health, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(health, /\r\n\r\nunavailable: reconnecting\n$/);
    const head = await exchange(
      port,
      "HEAD /readyz HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert.match(head, /^HTTP\/1\.1 503 /);
    assert.match(head, /\r\ncontent-length: 26\r\n/);
    assert.ok(head.endsWith("\r\n\r\n"), "a HEAD answer has no body");
    assert.deepEqual(
      statuses(await exchange(port, GET("/nothing", "Connection: close\r\n"))),
      [404],
    );
    const post = await exchange(
      port,
      "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
    );
    assert.match(post, /^HTTP\/1\.1 405 [^]*\r\nallow: GET, HEAD\r\n/);
    assert.match(post, /\r\nconnection: close\r\n/, "a body is not read");
  },
});

Deno.test({
  ...opts,
  name:
    "serveMetrics keeps a connection alive between requests, answers pipelined ones in order, and closes after Connection: close or HTTP/1.0",
  async fn() {
    const target = { state: "open" as const, metrics: new MetricsRegistry() };
    await using server = serveMetrics(target, { port: 0 });
    const port = server.addr.port;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(encoder.encode(GET("/healthz")));
      const buffer = new Uint8Array(4_096);
      const n = await conn.read(buffer);
      const first = new TextDecoder().decode(buffer.subarray(0, n!));
      assert.match(first, /^HTTP\/1\.1 200 OK\r\n[^]*connection: keep-alive/);
      assert.ok(first.endsWith("ok: open\n"));
      await conn.write(
        encoder.encode(
          "\r\n" + GET("/readyz") + GET("/nothing", "Connection: close\r\n"),
        ),
      );
      assert.deepEqual(statuses(await readAll(conn)), [200, 404]);
    } finally {
      conn.close();
    }
    const old = await exchange(port, "GET /healthz HTTP/1.0\r\n\r\n");
    assert.deepEqual(statuses(old), [200]);
    assert.match(old, /connection: close/);
  },
});

Deno.test({
  ...opts,
  name:
    "serveMetrics answers 400 to what is not a request and 431 to a head over maxHeaderSize, and closes the connection",
  async fn() {
    const target = { state: "open" as const, metrics: new MetricsRegistry() };
    await using server = serveMetrics(target, { port: 0, maxHeaderSize: 1024 });
    const port = server.addr.port;
    for (
      const bad of [
        "garbage\r\n\r\n",
        "GET /healthz HTTP/2.0\r\n\r\n",
        "GET healthz HTTP/1.1\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nno colon\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      ]
    ) {
      assert.deepEqual(statuses(await exchange(port, bad)), [400], bad);
    }
    const big = GET("/healthz", `X-Big: ${"a".repeat(2_000)}\r\n`);
    assert.deepEqual(statuses(await exchange(port, big)), [431]);
    // Never ending: closed as soon as it is over the size (with a 431 the
    // caller may not see: what it sent past the size resets the connection).
    const endless = `GET /healthz HTTP/1.1\r\nX: ${"a".repeat(50_000)}`;
    assert.ok([0, 1].includes(statuses(await exchange(port, endless)).length));
  },
});

Deno.test({
  ...opts,
  name:
    "serveMetrics keeps within maxConnections by closing the oldest silent connection for a new one, closes those whose head is overdue, and counts both",
  async fn() {
    const target = { state: "open" as const, metrics: new MetricsRegistry() };
    await using server = serveMetrics(target, {
      port: 0,
      maxConnections: 2,
      headersTimeout: 200,
      processMetrics: false,
    });
    const port = server.addr.port;
    const held = [
      await Deno.connect({ hostname: "127.0.0.1", port }),
      await Deno.connect({ hostname: "127.0.0.1", port }),
    ];
    try {
      await waitFor(
        () => sample(target.metrics, "rabbit_rpc_http_connections") === 2,
        "two connections open",
      );
      // A third that asks at once is answered: the oldest silent one made
      // room for it.
      assert.ok(
        (await exchange(port, GET("/healthz", "Connection: close\r\n")))
          .startsWith("HTTP/1.1 200 "),
      );
      assert.equal(sample(target.metrics, "rabbit_rpc_http_refused_total"), 1);
      assert.equal(await readAll(held[0]), "");
      // The other is closed once its head is overdue.
      assert.equal(await readAll(held[1]), "");
    } finally {
      for (const conn of held) conn.close();
    }
    await waitFor(
      () => sample(target.metrics, "rabbit_rpc_http_connections") === 0,
      "no connection open",
    );
    assert.equal(sample(target.metrics, "rabbit_rpc_http_timeouts_total"), 1);
    // A head that never ends is overdue all the same.
    assert.equal(await exchange(port, "GET /healthz HTTP/1.1\r\nHost: x"), "");
    assert.equal(sample(target.metrics, "rabbit_rpc_http_timeouts_total"), 2);
    assert.ok((await exchange(port, GET("/healthz", "Connection: close\r\n")))
      .startsWith("HTTP/1.1 200 "));
  },
});

Deno.test({
  ...opts,
  name:
    "serveMetrics closes a kept-alive connection after keepAliveTimeout idle",
  async fn() {
    const target = { state: "open" as const, metrics: new MetricsRegistry() };
    await using server = serveMetrics(target, {
      port: 0,
      keepAliveTimeout: 100,
    });
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    try {
      await conn.write(encoder.encode(GET("/healthz")));
      assert.deepEqual(statuses(await readAll(conn)), [200]);
    } finally {
      conn.close();
    }
    // Idle after a request is not late with one.
    assert.equal(sample(target.metrics, "rabbit_rpc_http_timeouts_total"), 0);
  },
});

Deno.test({
  ...opts,
  name:
    "serveMetrics checks its options, and close() is idempotent, as is aborting its signal",
  async fn() {
    const target = { state: "open" as const, metrics: new MetricsRegistry() };
    for (
      const bad of [
        { maxConnections: 0 },
        { headersTimeout: 0 },
        { keepAliveTimeout: 1.5 },
        { maxHeaderSize: 10 },
        { port: 70_000 },
      ]
    ) {
      assert.throws(() => serveMetrics(target, bad), RangeError);
    }
    const controller = new AbortController();
    const server = serveMetrics(target, { port: 0, signal: controller.signal });
    controller.abort();
    await server.close();
    await server.close();
    await server[Symbol.asyncDispose]();
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }),
      Deno.errors.ConnectionRefused,
    );
    const aborted = serveMetrics(target, {
      port: 0,
      signal: AbortSignal.abort(),
    });
    await aborted.close();
  },
});

/** A listener whose first `failures` accepts fail as if out of files. */
function failingListener(listener: Deno.Listener, failures: number) {
  let failed = 0;
  return {
    get failed() {
      return failed;
    },
    listener: new Proxy(listener, {
      get(target, key) {
        if (key === "accept") {
          return () => {
            if (failed < failures) {
              failed++;
              return Promise.reject(
                new Error("Too many open files (os error 24)"),
              );
            }
            return target.accept();
          };
        }
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }),
  };
}

Deno.test({
  ...opts,
  name:
    "the metrics server's accept loop survives accept errors: it pauses, reports the first of a run and the recovery, and serves again",
  async fn() {
    const real = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const failing = failingListener(real, 3);
    const events: string[] = [];
    const server = new HttpServer(
      failing.listener,
      () => new Response("ok\n"),
      {
        maxConnections: 4,
        headersTimeout: 5_000,
        keepAliveTimeout: 5_000,
        maxHeaderSize: 8_192,
      },
      {
        acceptFailed: (error, failures, retryIn) =>
          events.push(
            `failed ${failures} ${retryIn} ${(error as Error).message}`,
          ),
        acceptResumed: (failures) => events.push(`resumed ${failures}`),
      },
    );
    try {
      const answer = await exchange(
        real.addr.port,
        GET("/", "Connection: close\r\n"),
      );
      assert.deepEqual(statuses(answer), [200]);
      assert.equal(failing.failed, 3);
      assert.deepEqual(events, [
        "failed 1 50 Too many open files (os error 24)",
        "failed 2 100 Too many open files (os error 24)",
        "failed 3 200 Too many open files (os error 24)",
        "resumed 3",
      ]);
    } finally {
      await server.close();
      await server.close();
    }
  },
});

Deno.test("request heads: where they end, and what is read of them", () => {
  const bytes = (text: string) => encoder.encode(text);
  assert.equal(headEnd(bytes("GET / HTTP/1.1\r\nA: b\r\n\r\nrest")), 24);
  assert.equal(headEnd(bytes("GET / HTTP/1.1\n\nrest")), 16);
  assert.equal(headEnd(bytes("GET / HTTP/1.1\r\nA: b\r\n")), -1);
  assert.deepEqual(
    parseRequestHead(bytes("GET /m?x HTTP/1.1\r\nConnection: Close\r\n\r\n")),
    { method: "GET", path: "/m", keepAlive: false, hasBody: false },
  );
  assert.deepEqual(
    parseRequestHead(bytes("GET //evil/x HTTP/1.1\r\n\r\n")),
    { method: "GET", path: "//evil/x", keepAlive: true, hasBody: false },
  );
  assert.deepEqual(
    parseRequestHead(bytes("GET http://h:1/readyz HTTP/1.0\r\n\r\n")),
    { method: "GET", path: "/readyz", keepAlive: false, hasBody: false },
  );
  assert.deepEqual(
    parseRequestHead(
      bytes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ),
    { method: "POST", path: "/", keepAlive: true, hasBody: true },
  );
  assert.equal(parseRequestHead(bytes("GET * HTTP/1.1\r\n\r\n")), undefined);
  assert.equal(
    parseRequestHead(bytes("G(T / HTTP/1.1\r\n\r\n")),
    undefined,
  );
});
