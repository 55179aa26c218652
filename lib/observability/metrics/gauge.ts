/**
 * {@linkcode Gauge}: a Prometheus gauge, a value per series that goes up
 * and down, or is read when rendered, with its series
 * {@linkcode GaugeChild} and its {@linkcode GaugeOptions}.
 *
 * @module
 */

import {
  checkLabelNames,
  checkName,
  Family,
  formatValue,
  header,
} from "./_family.ts";
import type { MetricSeries } from "./counter.ts";

/**
 * How to make a gauge.
 *
 * @example
 * ```ts
 * import type { GaugeOptions } from "./gauge.ts";
 * import { MetricsRegistry } from "./registry.ts";
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
 * One series of a {@linkcode Gauge}: a value that goes up and down. Made by
 * {@linkcode Gauge.labels}; keep it to record without a lookup.
 *
 * @example
 * ```ts
 * import type { GaugeChild } from "./gauge.ts";
 * import { MetricsRegistry } from "./registry.ts";
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
    this.labelNames = checkLabelNames(name, { names: options.labels ?? [] });
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
   * import { Gauge } from "./gauge.ts";
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
   * import { Gauge } from "./gauge.ts";
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
   * import { Gauge } from "./gauge.ts";
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
   * import { Gauge } from "./gauge.ts";
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
   * import { Gauge } from "./gauge.ts";
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
   * import { Gauge } from "./gauge.ts";
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
    let text = header({ name: this.name, help: this.help, type: "gauge" });
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
