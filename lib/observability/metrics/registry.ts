/**
 * A small Prometheus metrics registry: counters, gauges and histograms,
 * rendered in the text exposition format 0.0.4. Recording a value on a
 * labelled child allocates nothing, so it can be done once per call.
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

/**
 * The default histogram buckets, in seconds: from half a millisecond to
 * thirty seconds, for call latencies.
 *
 * @example
 * ```ts
 * import { DEFAULT_LATENCY_BUCKETS, MetricsRegistry } from "./registry.ts";
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

/**
 * How to make a counter.
 *
 * @example
 * ```ts
 * import { type CounterOptions, MetricsRegistry } from "./registry.ts";
 *
 * const options: CounterOptions = { labels: ["method", "outcome"] };
 * const calls = new MetricsRegistry().counter("calls_total", "Calls.", options);
 * console.log(calls.labelNames); // [ "method", "outcome" ]
 * ```
 */
export interface CounterOptions {
  /** The names of the counter's labels (default none). */
  labels?: readonly string[];
}

/**
 * How to make a gauge.
 *
 * @example
 * ```ts
 * import { type GaugeOptions, MetricsRegistry } from "./registry.ts";
 *
 * const queue: string[] = ["a", "b"];
 * const options: GaugeOptions = { collect: (gauge) => gauge.set(queue.length) };
 * const depth = new MetricsRegistry().gauge("queue_depth", "Queued.", options);
 * console.log(depth.series()[0].value); // 2
 * ```
 */
export interface GaugeOptions {
  /** The names of the gauge's labels (default none). */
  labels?: readonly string[];
  /**
   * Called with the gauge each time it is rendered or its
   * {@linkcode Gauge.series} are read, to set values read from elsewhere.
   */
  collect?: (gauge: Gauge) => void;
}

/**
 * How to make a histogram.
 *
 * @example
 * ```ts
 * import { type HistogramOptions, MetricsRegistry } from "./registry.ts";
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
 * The value of one series of a counter or gauge.
 *
 * @example
 * ```ts
 * import { type MetricSeries, MetricsRegistry } from "./registry.ts";
 *
 * const errors = new MetricsRegistry().counter("errors_total", "Errors.", {
 *   labels: ["code"],
 * });
 * errors.labels("timeout").inc(2);
 * const [series]: MetricSeries[] = errors.series();
 * console.log(series); // { labels: { code: "timeout" }, value: 2 }
 * ```
 */
export interface MetricSeries {
  /** The series' labels, by name. */
  labels: Record<string, string>;
  /** Its current value. */
  value: number;
}

/**
 * The state of one histogram series at one moment.
 *
 * @example
 * ```ts
 * import { type HistogramSnapshot, MetricsRegistry } from "./registry.ts";
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
 * import { type HistogramSeries, MetricsRegistry } from "./registry.ts";
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

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function checkName(name: string): void {
  if (typeof name !== "string" || !METRIC_NAME.test(name)) {
    throw new TypeError(
      `Invalid metric name ${
        JSON.stringify(name)
      }: it must match ${METRIC_NAME.source}`,
    );
  }
}

function checkLabelNames(
  name: string,
  labelNames: readonly string[],
  reserved?: string,
): readonly string[] {
  const seen = new Set<string>();
  for (const label of labelNames) {
    if (typeof label !== "string" || !LABEL_NAME.test(label)) {
      throw new TypeError(
        `Invalid label name ${JSON.stringify(label)} of metric ${name}: ` +
          `it must match ${LABEL_NAME.source}`,
      );
    }
    if (label.startsWith("__")) {
      throw new TypeError(
        `Invalid label name ${label} of metric ${name}: names starting with __ are reserved`,
      );
    }
    if (label === reserved) {
      throw new TypeError(
        `Invalid label name ${label} of metric ${name}: it is reserved for histogram buckets`,
      );
    }
    if (seen.has(label)) {
      throw new TypeError(`Label ${label} of metric ${name} is given twice`);
    }
    seen.add(label);
  }
  return Object.freeze([...labelNames]);
}

function checkBuckets(name: string, buckets: readonly number[]): number[] {
  const checked: number[] = [];
  for (const bound of buckets) {
    if (typeof bound !== "number" || !Number.isFinite(bound)) {
      throw new RangeError(
        `Bucket bounds of histogram ${name} must be finite numbers, got ${bound}`,
      );
    }
    if (checked.length > 0 && !(bound > checked[checked.length - 1])) {
      throw new RangeError(
        `Bucket bounds of histogram ${name} must be strictly increasing, got ${bound} after ${
          checked[checked.length - 1]
        }`,
      );
    }
    checked.push(bound);
  }
  return checked;
}

/** Formats a sample value (or a bucket bound) as Prometheus spells it. */
function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value); // "NaN" for NaN, "0" for -0, "1e+21" for large
}

function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

function escapeLabelValue(value: string): string {
  return value.replace(
    /[\\"\n]/g,
    (c) => c === "\n" ? "\\n" : c === '"' ? '\\"' : "\\\\",
  );
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

/** One series of a metric, with what rendering and reading it need. */
interface Entry<C> {
  readonly child: C;
  readonly labels: Readonly<Record<string, string>>;
  /** `l1="v1",l2="v2"`, escaped: empty for the unlabelled series. */
  readonly pairs: string;
}

/** The series of one metric, by their label values, in first-use order. */
class Family<C> {
  readonly #name: string;
  readonly #labelNames: readonly string[];
  readonly entries = new Map<string, Entry<C>>();

  constructor(name: string, labelNames: readonly string[]) {
    this.#name = name;
    this.#labelNames = labelNames;
  }

  /** The child for `values`, made by `make` the first time. */
  get(values: string[], make: (values: readonly string[]) => C): C {
    const names = this.#labelNames;
    if (values.length !== names.length) {
      throw new TypeError(
        `Metric ${this.#name} has ${names.length} label(s) (${
          names.join(", ")
        }), got ${values.length} value(s)`,
      );
    }
    // No value holds a NUL once stored (checked below), so a hit by this key
    // is always the series of exactly these values.
    const key = values.join("\u0000");
    const entry = this.entries.get(key);
    if (entry !== undefined) return entry.child;
    const labels: Record<string, string> = {};
    const pairs: string[] = [];
    for (let i = 0; i < names.length; i++) {
      const value = values[i];
      if (typeof value !== "string" || value.includes("\u0000")) {
        throw new TypeError(
          `Label ${
            names[i]
          } of metric ${this.#name} must be a string without NUL, got ${
            typeof value === "string" ? JSON.stringify(value) : typeof value
          }`,
        );
      }
      labels[names[i]] = value;
      pairs.push(`${names[i]}="${escapeLabelValue(value)}"`);
    }
    const frozen = Object.freeze([...values]);
    const child = make(frozen);
    this.entries.set(key, {
      child,
      labels: Object.freeze(labels),
      pairs: pairs.join(","),
    });
    return child;
  }

  /** The unlabelled series, if the metric has no labels. */
  unlabelled(): C | undefined {
    return this.#labelNames.length === 0
      ? this.entries.get("")?.child
      : undefined;
  }

  unlabelledError(what: string): TypeError {
    return new TypeError(
      `Metric ${this.#name} has labels (${
        this.#labelNames.join(", ")
      }): ${what} a child from labels()`,
    );
  }
}

/**
 * One series of a {@linkcode Counter}: a value that only goes up. Made by
 * {@linkcode Counter.labels}; keep it to record without a lookup.
 *
 * @example
 * ```ts
 * import { type CounterChild, MetricsRegistry } from "./registry.ts";
 *
 * const calls = new MetricsRegistry().counter("calls_total", "Calls.", {
 *   labels: ["method"],
 * });
 * const fib: CounterChild = calls.labels("fib");
 * fib.inc();
 * fib.inc(2);
 * console.log(fib.value); // 3
 * ```
 */
export class CounterChild {
  /** The values of the series' labels, in the order of the label names. */
  readonly labelValues: readonly string[];
  #value = 0;

  /** Makes a series with `labelValues`: use {@linkcode Counter.labels}. */
  constructor(labelValues: readonly string[]) {
    this.labelValues = labelValues;
  }

  /** The current value. */
  get value(): number {
    return this.#value;
  }

  /**
   * Adds `value` (default 1).
   *
   * @throws {RangeError} if `value` is negative or NaN.
   */
  inc(value = 1): void {
    if (!(value >= 0)) {
      throw new RangeError(`A counter can only go up, got inc(${value})`);
    }
    this.#value += value;
  }
}

/**
 * A counter: a value per series that only goes up, such as calls made.
 * Made by {@linkcode MetricsRegistry.counter}.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./registry.ts";
 *
 * const registry = new MetricsRegistry();
 * const reconnects = registry.counter("reconnects_total", "Reconnections.");
 * reconnects.inc();
 * console.log(reconnects.value); // 1
 * ```
 */
export class Counter {
  /** The metric's name. */
  readonly name: string;
  /** What it counts. */
  readonly help: string;
  /** The names of its labels. */
  readonly labelNames: readonly string[];
  readonly #family: Family<CounterChild>;
  readonly #unlabelled: CounterChild | undefined;

  /**
   * Makes a counter that belongs to no registry: use
   * {@linkcode MetricsRegistry.counter} to have it rendered.
   *
   * @throws {TypeError} for an invalid metric or label name.
   */
  constructor(name: string, help: string, options: CounterOptions = {}) {
    checkName(name);
    this.name = name;
    this.help = String(help);
    this.labelNames = checkLabelNames(name, options.labels ?? []);
    this.#family = new Family(name, this.labelNames);
    if (this.labelNames.length === 0) {
      this.#unlabelled = this.#family.get([], (v) => new CounterChild(v));
    }
  }

  /**
   * The value of the unlabelled series.
   *
   * @throws {TypeError} if the counter has labels.
   */
  get value(): number {
    if (this.#unlabelled === undefined) {
      throw this.#family.unlabelledError("read");
    }
    return this.#unlabelled.value;
  }

  /**
   * Adds `value` (default 1) to the unlabelled series.
   *
   * @example
   * ```ts
   * import { Counter } from "./registry.ts";
   *
   * const bytes = new Counter("bytes_total", "Bytes sent.");
   * bytes.inc(512);
   * console.log(bytes.value); // 512
   * ```
   *
   * @throws {TypeError} if the counter has labels.
   * @throws {RangeError} if `value` is negative or NaN.
   */
  inc(value = 1): void {
    if (this.#unlabelled === undefined) {
      throw this.#family.unlabelledError("increment");
    }
    this.#unlabelled.inc(value);
  }

  /**
   * The series with these label values, in the order of
   * {@linkcode Counter.labelNames}: the same object each time.
   *
   * @example
   * ```ts
   * import { Counter } from "./registry.ts";
   *
   * const calls = new Counter("calls_total", "Calls.", { labels: ["method"] });
   * console.log(calls.labels("fib") === calls.labels("fib")); // true
   * ```
   *
   * @throws {TypeError} for the wrong number of values.
   */
  labels(...values: string[]): CounterChild {
    return this.#family.get(values, (v) => new CounterChild(v));
  }

  /**
   * The current value of every series, in first-use order.
   *
   * @example
   * ```ts
   * import { Counter } from "./registry.ts";
   *
   * const calls = new Counter("calls_total", "Calls.");
   * console.log(calls.series()); // [ { labels: {}, value: 0 } ]
   * ```
   */
  series(): MetricSeries[] {
    const series: MetricSeries[] = [];
    for (const { child, labels } of this.#family.entries.values()) {
      series.push({ labels: { ...labels }, value: child.value });
    }
    return series;
  }

  /**
   * The counter's lines in the text exposition format.
   *
   * @example
   * ```ts
   * import { Counter } from "./registry.ts";
   *
   * console.log(new Counter("calls_total", "Calls.").render());
   * // # HELP calls_total Calls.
   * // # TYPE calls_total counter
   * // calls_total 0
   * ```
   */
  render(): string {
    let text = header(this.name, this.help, "counter");
    for (const { child, pairs } of this.#family.entries.values()) {
      text += `${this.name}${pairs && `{${pairs}}`} ${
        formatValue(child.value)
      }\n`;
    }
    return text;
  }
}

/**
 * One series of a {@linkcode Gauge}: a value that goes up and down. Made by
 * {@linkcode Gauge.labels}; keep it to record without a lookup.
 *
 * @example
 * ```ts
 * import { type GaugeChild, MetricsRegistry } from "./registry.ts";
 *
 * const inFlight = new MetricsRegistry().gauge("in_flight", "Calls waiting.", {
 *   labels: ["queue"],
 * });
 * const fib: GaugeChild = inFlight.labels("fib");
 * fib.inc();
 * fib.inc();
 * fib.dec();
 * console.log(fib.value); // 1
 * ```
 */
export class GaugeChild {
  /** The values of the series' labels, in the order of the label names. */
  readonly labelValues: readonly string[];
  #value = 0;

  /** Makes a series with `labelValues`: use {@linkcode Gauge.labels}. */
  constructor(labelValues: readonly string[]) {
    this.labelValues = labelValues;
  }

  /** The current value. */
  get value(): number {
    return this.#value;
  }

  /** Sets the value. */
  set(value: number): void {
    this.#value = value;
  }

  /** Adds `value` (default 1). */
  inc(value = 1): void {
    this.#value += value;
  }

  /** Subtracts `value` (default 1). */
  dec(value = 1): void {
    this.#value -= value;
  }
}

/**
 * A gauge: a value per series that goes up and down, such as calls in
 * flight, or one read when rendered, through `collect`. Made by
 * {@linkcode MetricsRegistry.gauge}.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./registry.ts";
 *
 * const registry = new MetricsRegistry();
 * const inFlight = registry.gauge("in_flight", "Calls waiting for a reply.");
 * inFlight.inc();
 * inFlight.inc();
 * inFlight.dec();
 * console.log(inFlight.value); // 1
 * ```
 */
export class Gauge {
  /** The metric's name. */
  readonly name: string;
  /** What it measures. */
  readonly help: string;
  /** The names of its labels. */
  readonly labelNames: readonly string[];
  readonly #family: Family<GaugeChild>;
  readonly #unlabelled: GaugeChild | undefined;
  readonly #collectors: ((gauge: Gauge) => void)[] = [];
  #collecting = false;

  /**
   * Makes a gauge that belongs to no registry: use
   * {@linkcode MetricsRegistry.gauge} to have it rendered.
   *
   * @throws {TypeError} for an invalid metric or label name.
   */
  constructor(name: string, help: string, options: GaugeOptions = {}) {
    checkName(name);
    this.name = name;
    this.help = String(help);
    this.labelNames = checkLabelNames(name, options.labels ?? []);
    this.#family = new Family(name, this.labelNames);
    if (this.labelNames.length === 0) {
      this.#unlabelled = this.#family.get([], (v) => new GaugeChild(v));
    }
    if (options.collect) this.addCollect(options.collect);
  }

  /**
   * The value of the unlabelled series, as last set (`collect` is not
   * called).
   *
   * @throws {TypeError} if the gauge has labels.
   */
  get value(): number {
    return this.#child("read").value;
  }

  /**
   * Sets the value of the unlabelled series.
   *
   * @example
   * ```ts
   * import { Gauge } from "./registry.ts";
   *
   * const up = new Gauge("up", "Whether connected.");
   * up.set(1);
   * console.log(up.value); // 1
   * ```
   *
   * @throws {TypeError} if the gauge has labels.
   */
  set(value: number): void {
    this.#child("set").set(value);
  }

  /**
   * Adds `value` (default 1) to the unlabelled series.
   *
   * @throws {TypeError} if the gauge has labels.
   */
  inc(value = 1): void {
    this.#child("increment").inc(value);
  }

  /**
   * Subtracts `value` (default 1) from the unlabelled series.
   *
   * @throws {TypeError} if the gauge has labels.
   */
  dec(value = 1): void {
    this.#child("decrement").dec(value);
  }

  /**
   * The series with these label values, in the order of
   * {@linkcode Gauge.labelNames}: the same object each time.
   *
   * @example
   * ```ts
   * import { Gauge } from "./registry.ts";
   *
   * const depth = new Gauge("depth", "Queued.", { labels: ["queue"] });
   * depth.labels("fib").set(3);
   * console.log(depth.labels("fib").value); // 3
   * ```
   *
   * @throws {TypeError} for the wrong number of values.
   */
  labels(...values: string[]): GaugeChild {
    return this.#family.get(values, (v) => new GaugeChild(v));
  }

  /**
   * Adds a function called with the gauge before it is rendered or its
   * series are read; functions are called in the order added. Adding one
   * already added does nothing.
   *
   * @example
   * ```ts
   * import { Gauge } from "./registry.ts";
   *
   * const memory = new Gauge("heap_bytes", "Heap used.");
   * const collect = (gauge: Gauge) => gauge.set(42);
   * memory.addCollect(collect);
   * console.log(memory.series()[0].value); // 42
   * memory.removeCollect(collect);
   * ```
   */
  addCollect(collect: (gauge: Gauge) => void): void {
    if (typeof collect !== "function") {
      throw new TypeError(`collect of gauge ${this.name} must be a function`);
    }
    if (!this.#collectors.includes(collect)) this.#collectors.push(collect);
  }

  /**
   * Removes a function added by {@linkcode Gauge.addCollect} or the
   * `collect` option, as a client sharing the registry closes.
   *
   * @example
   * ```ts
   * import { Gauge } from "./registry.ts";
   *
   * const collect = (gauge: Gauge) => gauge.set(1);
   * const up = new Gauge("up", "Connected.", { collect });
   * console.log(up.removeCollect(collect)); // true
   * ```
   *
   * @returns whether it had been added.
   */
  removeCollect(collect: (gauge: Gauge) => void): boolean {
    const index = this.#collectors.indexOf(collect);
    if (index < 0) return false;
    this.#collectors.splice(index, 1);
    return true;
  }

  /**
   * The current value of every series, in first-use order, after calling
   * the `collect` functions.
   *
   * @example
   * ```ts
   * import { Gauge } from "./registry.ts";
   *
   * const depth = new Gauge("depth", "Queued.", { labels: ["queue"] });
   * depth.labels("fib").set(3);
   * console.log(depth.series()); // [ { labels: { queue: "fib" }, value: 3 } ]
   * ```
   */
  series(): MetricSeries[] {
    this.#collect();
    const series: MetricSeries[] = [];
    for (const { child, labels } of this.#family.entries.values()) {
      series.push({ labels: { ...labels }, value: child.value });
    }
    return series;
  }

  /**
   * The gauge's lines in the text exposition format, after calling the
   * `collect` functions.
   *
   * @example
   * ```ts
   * import { Gauge } from "./registry.ts";
   *
   * console.log(new Gauge("up", "Connected.", { collect: (g) => g.set(1) })
   *   .render());
   * // # HELP up Connected.
   * // # TYPE up gauge
   * // up 1
   * ```
   */
  render(): string {
    this.#collect();
    let text = header(this.name, this.help, "gauge");
    for (const { child, pairs } of this.#family.entries.values()) {
      text += `${this.name}${pairs && `{${pairs}}`} ${
        formatValue(child.value)
      }\n`;
    }
    return text;
  }

  #child(what: string): GaugeChild {
    if (this.#unlabelled === undefined) {
      throw this.#family.unlabelledError(what);
    }
    return this.#unlabelled;
  }

  #collect(): void {
    // A collect function reading the gauge's series does not recurse.
    if (this.#collecting) return;
    this.#collecting = true;
    try {
      for (const collect of [...this.#collectors]) collect(this);
    } finally {
      this.#collecting = false;
    }
  }
}

/**
 * One series of a {@linkcode Histogram}. Made by
 * {@linkcode Histogram.labels}; keep it to record without a lookup.
 *
 * @example
 * ```ts
 * import { type HistogramChild, MetricsRegistry } from "./registry.ts";
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
 * import { MetricsRegistry, quantileOf } from "./registry.ts";
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
    this.labelNames = checkLabelNames(name, options.labels ?? [], "le");
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
   * import { Histogram } from "./registry.ts";
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
   * import { Histogram } from "./registry.ts";
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
   * import { Histogram } from "./registry.ts";
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
   * import { Histogram } from "./registry.ts";
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
    let text = header(name, this.help, "histogram");
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

/**
 * Estimates the `q`-quantile (from 0 to 1) of a histogram's observations as
 * Prometheus's `histogram_quantile` does: by linear interpolation inside the
 * bucket where it falls, from 0 (or the previous bound) to the bucket's
 * bound.
 *
 * Returns NaN when nothing was observed or there is no finite bucket, the
 * highest finite bound when the quantile falls in the `+Inf` bucket, the
 * first bucket's bound when it falls there and that bound is not positive,
 * `-Infinity` for `q < 0` and `Infinity` for `q > 1`. For `q = 0` it returns
 * the lower bound of the first bucket holding an observation.
 *
 * @example
 * ```ts
 * import { Histogram, quantileOf } from "./registry.ts";
 *
 * const latency = new Histogram("seconds", "Time.", { buckets: [1, 2, 4] });
 * for (const value of [0.5, 1.5, 1.5, 3]) latency.observe(value);
 * console.log(quantileOf(latency.snapshot(), 0.5)); // 1.5
 * ```
 */
export function quantileOf(snapshot: HistogramSnapshot, q: number): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const { buckets, counts } = snapshot;
  const n = buckets.length;
  const observations = counts[n];
  if (n === 0 || !(observations > 0)) return NaN;
  const rank = q * observations;
  let b = 0;
  while (b < n && !(counts[b] >= rank && counts[b] > 0)) b++;
  if (b === n) return buckets[n - 1];
  if (b === 0 && buckets[0] <= 0) return buckets[0];
  const start = b === 0 ? 0 : buckets[b - 1];
  const below = b === 0 ? 0 : counts[b - 1];
  return start + (buckets[b] - start) * ((rank - below) / (counts[b] - below));
}

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
