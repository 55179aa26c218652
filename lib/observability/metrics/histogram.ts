/**
 * {@linkcode Histogram}: a Prometheus histogram, observed values counted in
 * buckets per series, with its series {@linkcode HistogramChild}, its
 * {@linkcode HistogramOptions}, the {@linkcode HistogramSnapshot} and
 * {@linkcode HistogramSeries} it reads as, and
 * {@linkcode DEFAULT_LATENCY_BUCKETS}.
 *
 * @module
 */

import {
  checkBuckets,
  checkLabelNames,
  checkName,
  Family,
  formatValue,
  header,
} from "./_family.ts";

/**
 * The default histogram buckets, in seconds: from half a millisecond to
 * thirty seconds, for call latencies.
 *
 * @example
 * ```ts
 * import { DEFAULT_LATENCY_BUCKETS } from "./histogram.ts";
 * import { MetricsRegistry } from "./registry.ts";
 *
 * const latency = new MetricsRegistry().histogram("rpc_seconds", "Latency.");
 * console.log(latency.buckets === DEFAULT_LATENCY_BUCKETS); // true
 * ```
 */
export const DEFAULT_LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
]);

/**
 * How to make a histogram.
 *
 * @example
 * ```ts
 * import type { HistogramOptions } from "./histogram.ts";
 * import { MetricsRegistry } from "./registry.ts";
 *
 * const options: HistogramOptions = { buckets: [0.01, 0.1, 1] };
 * const latency = new MetricsRegistry().histogram("seconds", "Time.", options);
 * console.log(latency.buckets); // [ 0.01, 0.1, 1 ]
 * ```
 */
export interface HistogramOptions {
  /** The names of the histogram's labels (default none; `le` is reserved). */
  labels?: readonly string[];
  /**
   * The upper bounds of the buckets, strictly increasing and finite (default
   * {@linkcode DEFAULT_LATENCY_BUCKETS}); a `+Inf` bucket is always added.
   */
  buckets?: readonly number[];
}

/**
 * The state of one histogram series at one moment.
 *
 * @example
 * ```ts
 * import type { HistogramSnapshot } from "./histogram.ts";
 * import { MetricsRegistry } from "./registry.ts";
 *
 * const latency = new MetricsRegistry().histogram("seconds", "Time.", {
 *   buckets: [0.1, 1],
 * });
 * latency.observe(0.05);
 * latency.observe(0.5);
 * latency.observe(7);
 * const snapshot: HistogramSnapshot = latency.snapshot();
 * console.log(snapshot.counts); // [ 1, 2, 3 ]
 * ```
 */
export interface HistogramSnapshot {
  /** The finite upper bounds of the buckets, in increasing order. */
  buckets: readonly number[];
  /**
   * Cumulative counts: `counts[i]` observations were at most `buckets[i]`;
   * the last, one more than the bounds, is the `+Inf` bucket, equal to
   * `count`.
   */
  counts: number[];
  /** The sum of all observed values. */
  sum: number;
  /** How many values were observed. */
  count: number;
}

/**
 * The state of one series of a histogram.
 *
 * @example
 * ```ts
 * import type { HistogramSeries } from "./histogram.ts";
 * import { MetricsRegistry } from "./registry.ts";
 *
 * const latency = new MetricsRegistry().histogram("seconds", "Time.", {
 *   labels: ["method"],
 * });
 * latency.labels("fib").observe(0.002);
 * const [series]: HistogramSeries[] = latency.series();
 * console.log(series.labels, series.snapshot.count); // { method: "fib" } 1
 * ```
 */
export interface HistogramSeries {
  /** The series' labels, by name. */
  labels: Record<string, string>;
  /** Its buckets, sum and count. */
  snapshot: HistogramSnapshot;
}

/**
 * One series of a {@linkcode Histogram}. Made by
 * {@linkcode Histogram.labels}; keep it to record without a lookup.
 *
 * @example
 * ```ts
 * import type { HistogramChild } from "./histogram.ts";
 * import { MetricsRegistry } from "./registry.ts";
 *
 * const latency = new MetricsRegistry().histogram("seconds", "Time.", {
 *   labels: ["method"],
 *   buckets: [0.01, 0.1],
 * });
 * const fib: HistogramChild = latency.labels("fib");
 * fib.observe(0.25);
 * fib.observe(0.05);
 * fib.observe(0.5);
 * console.log(fib.snapshot());
 * // { buckets: [ 0.01, 0.1 ], counts: [ 0, 1, 3 ], sum: 0.8, count: 3 }
 * ```
 */
export class HistogramChild {
  /** The values of the series' labels, in the order of the label names. */
  readonly labelValues: readonly string[];
  readonly #bounds: readonly number[];
  // Per bucket, not cumulative: the last is the +Inf bucket.
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  /**
   * Makes a series with `labelValues` and the finite bucket bounds `bounds`
   * (strictly increasing, unchecked): use {@linkcode Histogram.labels}.
   */
  constructor(labelValues: readonly string[], bounds: readonly number[]) {
    this.labelValues = labelValues;
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  /**
   * Records `value` in the first bucket whose bound is at least `value`
   * (NaN goes to `+Inf`).
   */
  observe(value: number): void {
    const bounds = this.#bounds;
    const n = bounds.length;
    let i = 0;
    while (i < n && !(value <= bounds[i])) i++;
    this.#counts[i]++;
    this.#sum += value;
    this.#count++;
  }

  /** The buckets, sum and count now. */
  snapshot(): HistogramSnapshot {
    const counts: number[] = new Array(this.#counts.length);
    let total = 0;
    for (let i = 0; i < counts.length; i++) {
      total += this.#counts[i];
      counts[i] = total;
    }
    return {
      buckets: this.#bounds,
      counts,
      sum: this.#sum,
      count: this.#count,
    };
  }
}

/**
 * A histogram: per series, how many observed values fell at or under each
 * bucket bound, their sum and count, such as call latencies. Made by
 * {@linkcode MetricsRegistry.histogram}.
 *
 * @example
 * ```ts
 * import { quantileOf } from "./quantile.ts";
 * import { MetricsRegistry } from "./registry.ts";
 *
 * const registry = new MetricsRegistry();
 * const latency = registry.histogram("rpc_seconds", "Call latency.");
 * const started = performance.now();
 * // ... make the call ...
 * latency.observe((performance.now() - started) / 1000);
 * console.log(latency.snapshot().count); // 1
 * console.log(quantileOf(latency.snapshot(), 0.5) > 0); // true
 * ```
 */
export class Histogram {
  /** The metric's name. */
  readonly name: string;
  /** What it measures. */
  readonly help: string;
  /** The names of its labels. */
  readonly labelNames: readonly string[];
  /** The finite upper bounds of its buckets, in increasing order. */
  readonly buckets: readonly number[];
  readonly #family: Family<HistogramChild>;
  readonly #unlabelled: HistogramChild | undefined;
  readonly #make = (values: readonly string[]): HistogramChild =>
    new HistogramChild(values, this.buckets);

  /**
   * Makes a histogram that belongs to no registry: use
   * {@linkcode MetricsRegistry.histogram} to have it rendered.
   *
   * @throws {TypeError} for an invalid metric or label name, or a label
   * named `le`.
   * @throws {RangeError} for bucket bounds not finite and strictly
   * increasing.
   */
  constructor(name: string, help: string, options: HistogramOptions = {}) {
    checkName(name);
    this.name = name;
    this.help = String(help);
    this.labelNames = checkLabelNames(name, {
      names: options.labels ?? [],
      reserved: "le",
    });
    this.buckets = options.buckets === undefined
      ? DEFAULT_LATENCY_BUCKETS
      : Object.freeze(checkBuckets(name, options.buckets));
    this.#family = new Family(name, this.labelNames);
    if (this.labelNames.length === 0) {
      this.#unlabelled = this.#family.get([], this.#make);
    }
  }

  /**
   * Records `value` in the unlabelled series.
   *
   * @example
   * ```ts
   * import { Histogram } from "./histogram.ts";
   *
   * const sizes = new Histogram("bytes", "Sizes.", { buckets: [100, 1000] });
   * sizes.observe(250);
   * console.log(sizes.snapshot().counts); // [ 0, 1, 1 ]
   * ```
   *
   * @throws {TypeError} if the histogram has labels.
   */
  observe(value: number): void {
    if (this.#unlabelled === undefined) {
      throw this.#family.unlabelledError("observe with");
    }
    this.#unlabelled.observe(value);
  }

  /**
   * The buckets, sum and count of the unlabelled series.
   *
   * @throws {TypeError} if the histogram has labels.
   */
  snapshot(): HistogramSnapshot {
    if (this.#unlabelled === undefined) {
      throw this.#family.unlabelledError("read");
    }
    return this.#unlabelled.snapshot();
  }

  /**
   * The series with these label values, in the order of
   * {@linkcode Histogram.labelNames}: the same object each time.
   *
   * @example
   * ```ts
   * import { Histogram } from "./histogram.ts";
   *
   * const latency = new Histogram("seconds", "Time.", { labels: ["method"] });
   * console.log(latency.labels("fib") === latency.labels("fib")); // true
   * ```
   *
   * @throws {TypeError} for the wrong number of values.
   */
  labels(...values: string[]): HistogramChild {
    return this.#family.get(values, this.#make);
  }

  /**
   * The buckets, sum and count of every series, in first-use order.
   *
   * @example
   * ```ts
   * import { Histogram } from "./histogram.ts";
   *
   * const latency = new Histogram("seconds", "Time.", { buckets: [1] });
   * latency.observe(0.5);
   * console.log(latency.series()[0].snapshot.counts); // [ 1, 1 ]
   * ```
   */
  series(): HistogramSeries[] {
    const series: HistogramSeries[] = [];
    for (const { child, labels } of this.#family.entries.values()) {
      series.push({ labels: { ...labels }, snapshot: child.snapshot() });
    }
    return series;
  }

  /**
   * The histogram's lines in the text exposition format.
   *
   * @example
   * ```ts
   * import { Histogram } from "./histogram.ts";
   *
   * const latency = new Histogram("seconds", "Time.", { buckets: [1] });
   * latency.observe(0.5);
   * console.log(latency.render());
   * // # HELP seconds Time.
   * // # TYPE seconds histogram
   * // seconds_bucket{le="1"} 1
   * // seconds_bucket{le="+Inf"} 1
   * // seconds_sum 0.5
   * // seconds_count 1
   * ```
   */
  render(): string {
    const name = this.name;
    const bounds = this.buckets.map(formatValue);
    bounds.push("+Inf");
    let text = header({ name, help: this.help, type: "histogram" });
    for (const { child, pairs } of this.#family.entries.values()) {
      const { counts, sum, count } = child.snapshot();
      const prefix = pairs
        ? `${name}_bucket{${pairs},le="`
        : `${name}_bucket{le="`;
      for (let i = 0; i < counts.length; i++) {
        text += `${prefix}${bounds[i]}"} ${formatValue(counts[i])}\n`;
      }
      const labels = pairs && `{${pairs}}`;
      text += `${name}_sum${labels} ${formatValue(sum)}\n`;
      text += `${name}_count${labels} ${formatValue(count)}\n`;
    }
    return text;
  }
}
