/**
 * A small Prometheus metrics registry: counters, gauges and histograms,
 * rendered in the text exposition format 0.0.4. Recording a value on a
 * labelled child allocates nothing, so it can be done once per call.
 *
 * This file holds {@linkcode MetricsRegistry} and
 * {@linkcode PROMETHEUS_CONTENT_TYPE}; the metrics are in `counter.ts`,
 * `gauge.ts` and `histogram.ts`, and {@linkcode quantileOf} in
 * `quantile.ts`.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./registry.ts";
 *
 * const registry = new MetricsRegistry();
 * const calls = registry.counter("rpc_calls_total", "Calls made.", {
 *   labels: ["method"],
 * });
 * const fib = calls.labels("fib"); // keep the child: recording is then cheap
 * fib.inc();
 * console.log(registry.render());
 * // # HELP rpc_calls_total Calls made.
 * // # TYPE rpc_calls_total counter
 * // rpc_calls_total{method="fib"} 1
 * ```
 *
 * @module
 */

import { checkBuckets, sameList } from "./_family.ts";
import { Counter, type CounterOptions } from "./counter.ts";
import { Gauge, type GaugeOptions } from "./gauge.ts";
import {
  DEFAULT_LATENCY_BUCKETS,
  Histogram,
  type HistogramOptions,
} from "./histogram.ts";

/**
 * The content type of {@linkcode MetricsRegistry.render}'s output, for the
 * `Content-Type` header of a `/metrics` response.
 *
 * @example
 * ```ts
 * import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from "./registry.ts";
 *
 * const registry = new MetricsRegistry();
 * const response = new Response(registry.render(), {
 *   headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
 * });
 * console.log(response.headers.get("content-type"));
 * // text/plain; version=0.0.4; charset=utf-8
 * ```
 */
export const PROMETHEUS_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

type Metric = Counter | Gauge | Histogram;

/**
 * Metrics by name, rendered together for a Prometheus scrape. Asking for a
 * metric already registered, with the same type, help and label names (and
 * buckets), returns the same object, so clients sharing a registry share
 * its series.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./registry.ts";
 *
 * const registry = new MetricsRegistry();
 * const calls = registry.counter("rpc_calls_total", "Calls made.", {
 *   labels: ["method", "outcome"],
 * });
 * const inFlight = registry.gauge("rpc_in_flight", "Calls waiting.");
 * const latency = registry.histogram("rpc_seconds", "Call latency.", {
 *   buckets: [0.01, 0.1, 1],
 * });
 * const ok = calls.labels("fib", "ok");
 * inFlight.inc();
 * latency.observe(0.02);
 * inFlight.dec();
 * ok.inc();
 * console.log(registry.render());
 * ```
 */
export class MetricsRegistry {
  /** The content type of {@linkcode MetricsRegistry.render}'s output. */
  static readonly CONTENT_TYPE: string = PROMETHEUS_CONTENT_TYPE;

  readonly #metrics = new Map<string, Metric>();

  /**
   * The counter `name`, made the first time.
   *
   * @example
   * ```ts
   * import { MetricsRegistry } from "./registry.ts";
   *
   * const registry = new MetricsRegistry();
   * const a = registry.counter("calls_total", "Calls.", { labels: ["method"] });
   * const b = registry.counter("calls_total", "Calls.", { labels: ["method"] });
   * console.log(a === b); // true
   * ```
   *
   * @throws {TypeError} for an invalid metric or label name, or a metric of
   * that name registered otherwise.
   */
  counter(name: string, help: string, options: CounterOptions = {}): Counter {
    const found = this.#find(name, "counter", help, options.labels);
    if (found !== undefined) return found as Counter;
    return this.#add(new Counter(name, help, options));
  }

  /**
   * The gauge `name`, made the first time. A `collect` function given when
   * the gauge exists already is added to it (see
   * {@linkcode Gauge.addCollect}).
   *
   * @example
   * ```ts
   * import { MetricsRegistry } from "./registry.ts";
   *
   * const registry = new MetricsRegistry();
   * const start = Date.now();
   * registry.gauge("uptime_seconds", "Time since start.", {
   *   collect: (gauge) => gauge.set(Math.floor((Date.now() - start) / 1000)),
   * });
   * console.log(registry.render().endsWith("uptime_seconds 0\n")); // true
   * ```
   *
   * @throws {TypeError} for an invalid metric or label name, or a metric of
   * that name registered otherwise.
   */
  gauge(name: string, help: string, options: GaugeOptions = {}): Gauge {
    const found = this.#find(name, "gauge", help, options.labels);
    if (found !== undefined) {
      const gauge = found as Gauge;
      if (options.collect) gauge.addCollect(options.collect);
      return gauge;
    }
    return this.#add(new Gauge(name, help, options));
  }

  /**
   * The histogram `name`, made the first time.
   *
   * @example
   * ```ts
   * import { MetricsRegistry } from "./registry.ts";
   *
   * const registry = new MetricsRegistry();
   * const latency = registry.histogram("rpc_seconds", "Latency.", {
   *   labels: ["method"],
   * });
   * latency.labels("fib").observe(0.003);
   * console.log(latency.series()[0].snapshot.count); // 1
   * ```
   *
   * @throws {TypeError} for an invalid metric or label name, a label named
   * `le`, or a metric of that name registered otherwise (buckets included).
   * @throws {RangeError} for bucket bounds not finite and strictly
   * increasing.
   */
  histogram(
    name: string,
    help: string,
    options: HistogramOptions = {},
  ): Histogram {
    const found = this.#find(name, "histogram", help, options.labels);
    if (found === undefined) {
      return this.#add(new Histogram(name, help, options));
    }
    const histogram = found as Histogram;
    const buckets = options.buckets === undefined
      ? DEFAULT_LATENCY_BUCKETS
      : checkBuckets(name, options.buckets);
    if (!sameList(histogram.buckets, buckets)) {
      throw new TypeError(
        `Histogram ${name} is already registered with buckets [${histogram.buckets}], not [${buckets}]`,
      );
    }
    return histogram;
  }

  /**
   * All metrics in the Prometheus text exposition format 0.0.4, in the
   * order they were registered, each series in the order it was first
   * used; the `collect` functions of gauges are called first.
   *
   * @example
   * ```ts
   * import { MetricsRegistry } from "./registry.ts";
   *
   * const registry = new MetricsRegistry();
   * registry.counter("calls_total", "Calls.", { labels: ["method"] })
   *   .labels('say "hi"').inc();
   * console.log(registry.render());
   * // # HELP calls_total Calls.
   * // # TYPE calls_total counter
   * // calls_total{method="say \"hi\""} 1
   * ```
   */
  render(): string {
    let text = "";
    for (const metric of this.#metrics.values()) text += metric.render();
    return text;
  }

  #find(
    name: string,
    type: "counter" | "gauge" | "histogram",
    help: string,
    labels: readonly string[] = [],
  ): Metric | undefined {
    const found = this.#metrics.get(name);
    if (found === undefined) return undefined;
    const foundType = found instanceof Counter
      ? "counter"
      : found instanceof Gauge
      ? "gauge"
      : "histogram";
    if (foundType !== type) {
      throw new TypeError(
        `Metric ${name} is already registered as a ${foundType}, not a ${type}`,
      );
    }
    if (found.help !== String(help)) {
      throw new TypeError(
        `Metric ${name} is already registered with help ${
          JSON.stringify(found.help)
        }, not ${JSON.stringify(help)}`,
      );
    }
    if (!sameList(found.labelNames, labels)) {
      throw new TypeError(
        `Metric ${name} is already registered with labels [${
          found.labelNames.join(", ")
        }], not [${labels.join(", ")}]`,
      );
    }
    return found;
  }

  #add<M extends Metric>(metric: M): M {
    this.#metrics.set(metric.name, metric);
    return metric;
  }
}
