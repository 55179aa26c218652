/**
 * {@linkcode Counter}: a Prometheus counter, a value per series that only
 * goes up, with its series {@linkcode CounterChild}, its
 * {@linkcode CounterOptions}, and {@linkcode MetricSeries}, the value of one
 * series of a counter or gauge.
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

/**
 * How to make a counter.
 *
 * @example
 * ```ts
 * import type { CounterOptions } from "./counter.ts";
 * import { MetricsRegistry } from "./registry.ts";
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
 * The value of one series of a counter or gauge.
 *
 * @example
 * ```ts
 * import type { MetricSeries } from "./counter.ts";
 * import { MetricsRegistry } from "./registry.ts";
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
 * One series of a {@linkcode Counter}: a value that only goes up. Made by
 * {@linkcode Counter.labels}; keep it to record without a lookup.
 *
 * @example
 * ```ts
 * import type { CounterChild } from "./counter.ts";
 * import { MetricsRegistry } from "./registry.ts";
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
    this.labelNames = checkLabelNames(name, { names: options.labels ?? [] });
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
   * import { Counter } from "./counter.ts";
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
   * import { Counter } from "./counter.ts";
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
   * import { Counter } from "./counter.ts";
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
   * import { Counter } from "./counter.ts";
   *
   * console.log(new Counter("calls_total", "Calls.").render());
   * // # HELP calls_total Calls.
   * // # TYPE calls_total counter
   * // calls_total 0
   * ```
   */
  render(): string {
    let text = header({ name: this.name, help: this.help, type: "counter" });
    for (const { child, pairs } of this.#family.entries.values()) {
      text += `${this.name}${pairs && `{${pairs}}`} ${
        formatValue(child.value)
      }\n`;
    }
    return text;
  }
}
