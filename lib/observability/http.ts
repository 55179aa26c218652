/**
 * {@linkcode serveMetrics}: a worker's Prometheus metrics and its health
 * for Kubernetes probes, over HTTP.
 *
 * @module
 */

import { checkInteger, MAX_TIMER } from "../checks.ts";

import {
  type MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from "./metrics/registry.ts";
import type { ConnectionState } from "../amqp/supervisor.ts";
import { type Logger, silentLogger } from "./logger.ts";
import { HttpServer, type HttpServerEvents } from "./_http_server.ts";

/**
 * What {@linkcode serveMetrics} reports on: an `RpcServer`, say.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./metrics/registry.ts";
 * import type { MetricsTarget } from "./http.ts";
 *
 * // Anything with a state and metrics, not only an RpcServer:
 * const target: MetricsTarget = { state: "open", metrics: new MetricsRegistry() };
 * target.metrics.counter("jobs_total", "Jobs done.").inc();
 * console.log(target.metrics.render().includes("jobs_total 1")); // true
 * ```
 */
export interface MetricsTarget {
  /** Where its connection is; `open` means connected and consuming. */
  readonly state: ConnectionState;
  /**
   * Why it cannot serve although connected (an `RpcServer` with too many
   * stuck handlers), or `undefined`: `/healthz` and `/readyz` answer 503
   * while it is set.
   */
  readonly unhealthy?: string | undefined;
  /** Its metrics. */
  readonly metrics: MetricsRegistry;
}

/**
 * Options of {@linkcode serveMetrics}.
 *
 * @example
 * ```ts
 * import type { ServeMetricsOptions } from "./http.ts";
 *
 * const options: ServeMetricsOptions = {
 *   port: 9100,
 *   hostname: "127.0.0.1",
 *   onListen: ({ hostname, port }) => console.log(`http://${hostname}:${port}/metrics`),
 * };
 * console.log(options.port, options.hostname); // 9100 127.0.0.1
 * ```
 */
export interface ServeMetricsOptions {
  /**
   * The TCP port; 0 picks a free one.
   *
   * @default {9464}
   */
  port?: number;
  /**
   * The address to listen on: loopback, so that only the machine (or the
   * container, or the pod) itself can ask. Give `"0.0.0.0"` for scrapers
   * and probes from elsewhere (Kubernetes' probes come from the node).
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /** Stops the HTTP server when it aborts. */
  signal?: AbortSignal;
  /** Called once it listens, with the address. */
  onListen?: (addr: { hostname: string; port: number }) => void;
  /**
   * Adds the process's memory and start time to the metrics.
   *
   * @default {true}
   */
  processMetrics?: boolean;
  /**
   * Connections open at once, so that callers cannot run the process out
   * of file descriptors. At the cap, a new connection takes the place of
   * the oldest one that has sent no request head yet (which is closed), so
   * that silent connections cannot keep a probe out; if every connection
   * is being answered, the new one is closed. Either is counted in
   * `rabbit_rpc_http_refused_total`.
   *
   * @default {64}
   */
  maxConnections?: number;
  /**
   * Milliseconds a caller has to send a request's head (from when it
   * connected, or from the head's first byte on a kept-alive connection),
   * and to take its response; after that the connection is closed (and
   * counted in `rabbit_rpc_http_timeouts_total`).
   *
   * @default {5000}
   */
  headersTimeout?: number;
  /**
   * Milliseconds a kept-alive connection may stay idle between requests.
   *
   * @default {5000}
   */
  keepAliveTimeout?: number;
  /**
   * The largest request head, in bytes; a larger one is answered 431 and
   * its connection closed.
   *
   * @default {8192}
   */
  maxHeaderSize?: number;
  /**
   * Where a failure to accept connections (too many open files, say) is
   * reported, once per run of failures, and the recovery after it. The
   * server pauses (50 ms, doubling up to 1 s) and tries again: such a
   * failure never ends it, nor the process.
   *
   * @default {silentLogger}
   */
  logger?: Logger;
}

/**
 * A running metrics endpoint, from {@linkcode serveMetrics}.
 *
 * @example
 * ```ts
 * import type { MetricsServer } from "./http.ts";
 *
 * const scrapeUrl = ({ addr }: MetricsServer) =>
 *   `http://${addr.hostname}:${addr.port}/metrics`;
 * const server: MetricsServer = { // a stand-in for what serveMetrics returns
 *   addr: { hostname: "127.0.0.1", port: 9464 },
 *   close: () => Promise.resolve(),
 *   [Symbol.asyncDispose]: () => Promise.resolve(),
 * };
 * console.log(scrapeUrl(server)); // http://127.0.0.1:9464/metrics
 * ```
 */
export interface MetricsServer extends AsyncDisposable {
  /** The address it listens on. */
  readonly addr: { hostname: string; port: number };
  /** Stops it; idempotent. */
  close(): Promise<void>;
}

/**
 * The default port of {@linkcode serveMetrics}.
 *
 * @example
 * ```ts
 * import { DEFAULT_METRICS_PORT } from "./http.ts";
 *
 * console.log(DEFAULT_METRICS_PORT); // 9464
 * console.log(`curl localhost:${DEFAULT_METRICS_PORT}/healthz`); // curl localhost:9464/healthz
 * ```
 */
export const DEFAULT_METRICS_PORT = 9464;

/**
 * Serves, over HTTP:
 * - `GET /metrics`: the target's metrics in Prometheus text format;
 * - `GET /healthz`: 200 while it is connected and consuming (`open`, or
 *   `blocked` by a broker alarm, which a restart would not cure), else 503,
 *   as also while the target says it is `unhealthy` (a worker with too many
 *   stuck handlers, which a restart would cure): for a liveness probe;
 * - `GET /readyz`: 200 only while `open`, else 503 (reconnecting, blocked,
 *   closing): for a readiness probe.
 *
 * It listens on loopback unless told otherwise (`hostname`), and holds out
 * against callers that connect and send nothing: a cap on open connections
 * (`maxConnections`), deadlines for a request's head (`headersTimeout`) and
 * between requests (`keepAliveTimeout`), a cap on the head's size
 * (`maxHeaderSize`), and accept errors that pause it but never end it. It
 * counts its connections in the target's metrics:
 * `rabbit_rpc_http_connections`, `rabbit_rpc_http_refused_total`,
 * `rabbit_rpc_http_timeouts_total` and `rabbit_rpc_http_accept_errors_total`.
 *
 * @example
 * ```ts ignore
 * import { serve } from "../worker/serve.ts";
 * import { serveMetrics } from "./http.ts";
 *
 * await using server = await serve({ queue: "echo" }, (r) => r.text());
 * await using metrics = serveMetrics(server, { port: 9464 });
 * // curl localhost:9464/metrics
 * ```
 *
 * @throws {RangeError} if an option is out of its range.
 * @throws {Deno.errors.AddrInUse} if the port is taken.
 */
export function serveMetrics(
  target: MetricsTarget,
  options: ServeMetricsOptions = {},
): MetricsServer {
  const port = checkInteger("port", options.port ?? DEFAULT_METRICS_PORT, {
    min: 0,
    max: 65535,
  });
  const limits = {
    maxConnections: checkInteger(
      "maxConnections",
      options.maxConnections ?? 64,
      { min: 1, max: 65535 },
    ),
    headersTimeout: checkInteger(
      "headersTimeout",
      options.headersTimeout ?? 5_000,
      { min: 1, max: MAX_TIMER },
    ),
    keepAliveTimeout: checkInteger(
      "keepAliveTimeout",
      options.keepAliveTimeout ?? 5_000,
      { min: 1, max: MAX_TIMER },
    ),
    maxHeaderSize: checkInteger(
      "maxHeaderSize",
      options.maxHeaderSize ?? 8_192,
      { min: 256, max: 1_048_576 },
    ),
  };
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port,
  });
  if (options.processMetrics ?? true) addProcessMetrics(target.metrics);
  const http = new HttpServer(
    listener,
    (method, path) => respond(target, method, path),
    limits,
    connectionEvents(target.metrics, options.logger ?? silentLogger),
  );
  const addr = {
    hostname: listener.addr.hostname,
    port: listener.addr.port,
  };
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    options.signal?.removeEventListener("abort", abort);
    closing ??= http.close();
    return closing;
  };
  const abort = () => void close();
  if (options.signal?.aborted) abort();
  else options.signal?.addEventListener("abort", abort, { once: true });
  if (!closing) options.onListen?.(addr);
  return { addr, close, [Symbol.asyncDispose]: close };
}

/** Counts the server's connections in `metrics`, and logs accept errors. */
function connectionEvents(
  metrics: MetricsRegistry,
  logger: Logger,
): HttpServerEvents {
  const open = metrics.gauge(
    "rabbit_rpc_http_connections",
    "Connections open to the metrics endpoint.",
  );
  const refused = metrics.counter(
    "rabbit_rpc_http_refused_total",
    "Connections to the metrics endpoint closed to stay within its maxConnections: the oldest silent one, or a new one.",
  );
  const timeouts = metrics.counter(
    "rabbit_rpc_http_timeouts_total",
    "Connections to the metrics endpoint closed for sending no request, or taking no response, in time.",
  );
  const acceptErrors = metrics.counter(
    "rabbit_rpc_http_accept_errors_total",
    "Failures to accept a connection to the metrics endpoint (too many open files, say).",
  );
  return {
    opened: () => open.inc(),
    closed: () => open.dec(),
    refused: () => refused.inc(),
    timedOut: () => timeouts.inc(),
    acceptFailed(error, failures, retryIn) {
      acceptErrors.inc();
      if (failures > 1) return;
      logger.warn(
        `Metrics endpoint: cannot accept connections (${
          error instanceof Error ? error.message : String(error)
        }); trying again in ${retryIn} ms, then less often, up to once a second`,
      );
    },
    acceptResumed(failures) {
      logger.info(
        `Metrics endpoint: accepting connections again, after ${failures} failures`,
      );
    },
  };
}

function respond(
  target: MetricsTarget,
  method: string,
  path: string,
): Response {
  if (method !== "GET" && method !== "HEAD") {
    return new Response("Method not allowed\n", {
      status: 405,
      headers: { allow: "GET, HEAD" },
    });
  }
  switch (path) {
    case "/metrics":
      return new Response(target.metrics.render(), {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
      });
    case "/healthz": {
      const { state, unhealthy } = target;
      if (unhealthy !== undefined) return probe(false, unhealthy);
      return probe(state === "open" || state === "blocked", state);
    }
    case "/readyz": {
      const { state, unhealthy } = target;
      if (unhealthy !== undefined) return probe(false, unhealthy);
      return probe(state === "open", state);
    }
    default:
      return new Response("Not found: try /metrics, /healthz or /readyz\n", {
        status: 404,
      });
  }
}

function probe(ok: boolean, why: string): Response {
  return new Response(`${ok ? "ok" : "unavailable"}: ${why}\n`, {
    status: ok ? 200 : 503,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

// When the process started, not when this module was loaded.
const START = performance.timeOrigin / 1000;

/**
 * Adds the process's resident memory, heap use and start time to a registry
 * (once per registry): `process_resident_memory_bytes` and
 * `process_start_time_seconds` as Prometheus's clients name them, and
 * `deno_heap_used_bytes`.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./metrics/registry.ts";
 * import { addProcessMetrics } from "./http.ts";
 *
 * const registry = new MetricsRegistry();
 * addProcessMetrics(registry);
 * console.log(registry.render().includes("process_resident_memory_bytes")); // true
 * ```
 */
export function addProcessMetrics(registry: MetricsRegistry): void {
  if (registered.has(registry)) return;
  registered.add(registry);
  registry.gauge(
    "process_resident_memory_bytes",
    "Resident memory size in bytes.",
    { collect: (gauge) => gauge.set(Deno.memoryUsage().rss) },
  );
  registry.gauge(
    "deno_heap_used_bytes",
    "JavaScript heap in use, in bytes.",
    { collect: (gauge) => gauge.set(Deno.memoryUsage().heapUsed) },
  );
  registry.gauge(
    "process_start_time_seconds",
    "Start time of the process since the Unix epoch, in seconds.",
  ).set(START);
}

const registered = new WeakSet<MetricsRegistry>();
