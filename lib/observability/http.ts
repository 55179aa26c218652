/**
 * {@linkcode serveMetrics}: a worker's Prometheus metrics and its health
 * for Kubernetes probes, over HTTP.
 *
 * @module
 */

import { checkInteger } from "../checks.ts";

import {
  type MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from "./metrics/registry.ts";
import type { ConnectionState } from "../amqp/supervisor.ts";

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
   * The address to listen on.
   *
   * @default {"0.0.0.0"}
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
 *   `blocked` by a broker alarm, which a restart would not cure), else 503:
 *   for a liveness probe;
 * - `GET /readyz`: 200 only while `open`, else 503 (reconnecting, blocked,
 *   closing): for a readiness probe.
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
 */
export function serveMetrics(
  target: MetricsTarget,
  options: ServeMetricsOptions = {},
): MetricsServer {
  const port = checkInteger("port", options.port ?? DEFAULT_METRICS_PORT, {
    min: 0,
    max: 65535,
  });
  if (options.processMetrics ?? true) addProcessMetrics(target.metrics);
  const controller = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, controller.signal])
    : controller.signal;
  const http = Deno.serve({
    port,
    hostname: options.hostname ?? "0.0.0.0",
    signal,
    onListen: (addr) => options.onListen?.(addr),
  }, (request) => respond(target, request));
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    controller.abort();
    closing ??= http.finished;
    return closing;
  };
  return {
    addr: http.addr as Deno.NetAddr,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function respond(target: MetricsTarget, request: Request): Response {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("Method not allowed\n", {
      status: 405,
      headers: { allow: "GET, HEAD" },
    });
  }
  const path = new URL(request.url).pathname;
  switch (path) {
    case "/metrics":
      return new Response(target.metrics.render(), {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
      });
    case "/healthz": {
      const state = target.state;
      return probe(state === "open" || state === "blocked", state);
    }
    case "/readyz":
      return probe(target.state === "open", target.state);
    default:
      return new Response("Not found: try /metrics, /healthz or /readyz\n", {
        status: 404,
      });
  }
}

function probe(ok: boolean, state: ConnectionState): Response {
  return new Response(`${ok ? "ok" : "unavailable"}: ${state}\n`, {
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
