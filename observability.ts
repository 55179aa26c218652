/**
 * Seeing what clients and workers do: a Prometheus metrics registry (every
 * client and worker counts in one), HTTP endpoints for metrics and health
 * probes, loggers that write text or JSON, W3C trace context, and a bridge
 * to OpenTelemetry that takes the program's own `@opentelemetry/api`.
 *
 * @example A worker's metrics and health over HTTP
 * ```ts ignore
 * import { serve } from "./mod.ts";
 * import { formatLogger, serveMetrics } from "./observability.ts";
 *
 * const logger = formatLogger({ format: "json", write: (line) => console.log(line) });
 * await using server = await serve({ queue: "echo", logger }, (request) => request.text());
 * await using _http = serveMetrics(server, { port: 9464, hostname: "127.0.0.1" });
 * // curl localhost:9464/metrics, /healthz, /readyz
 * ```
 *
 * @module
 */

// Metrics
export { MetricsRegistry } from "./lib/observability/metrics/registry.ts";
export { PROMETHEUS_CONTENT_TYPE } from "./lib/observability/metrics/registry.ts";
export {
  Counter,
  CounterChild,
  type CounterOptions,
  type MetricSeries,
} from "./lib/observability/metrics/counter.ts";
export {
  Gauge,
  GaugeChild,
  type GaugeOptions,
} from "./lib/observability/metrics/gauge.ts";
export {
  DEFAULT_LATENCY_BUCKETS,
  Histogram,
  HistogramChild,
  type HistogramOptions,
  type HistogramSeries,
  type HistogramSnapshot,
} from "./lib/observability/metrics/histogram.ts";
export { quantileOf } from "./lib/observability/metrics/quantile.ts";
export type {
  CallOutcome,
  ClientStats,
  LatencyStats,
  ServerStats,
} from "./lib/observability/stats.ts";

// HTTP endpoints
export {
  addProcessMetrics,
  type MetricsServer,
  type MetricsTarget,
  serveMetrics,
  type ServeMetricsOptions,
} from "./lib/observability/http.ts";

// Logs
export {
  formatLogger,
  type FormatLoggerOptions,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
} from "./lib/observability/logger.ts";

// Tracing
export {
  formatTraceparent,
  newTraceparent,
  parseTraceparent,
} from "./lib/protocol/trace.ts";
export {
  type OtelMiddleware,
  otelMiddleware,
  type OtelMiddlewareOptions,
} from "./lib/observability/otel.ts";
export type {
  OtelApi,
  OtelAttributes,
  OtelAttributeValue,
  OtelContext,
  OtelSpan,
  OtelSpanOptions,
  OtelTracer,
} from "./lib/observability/otel_api.ts";
