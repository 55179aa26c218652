/**
 * What a worker counts: requests by method and outcome, their handling
 * time, and what happened to requests that were not answered the usual way
 * (redelivered, expired, answered from the cache, requeued, dead-lettered,
 * dropped), in a Prometheus registry. Counted once: `RpcServer.stats()`
 * reads the same series the registry renders (those of its queue).
 *
 * @module
 */

import { CodeLabels } from "../observability/code_labels.ts";
import type {
  Counter,
  CounterChild,
} from "../observability/metrics/counter.ts";
import type { GaugeChild } from "../observability/metrics/gauge.ts";
import type {
  Histogram,
  HistogramChild,
} from "../observability/metrics/histogram.ts";
import type { MetricsRegistry } from "../observability/metrics/registry.ts";
import {
  countsBy,
  latencyOf,
  type ServerStats,
} from "../observability/stats.ts";

/** The counters of one method: its outcomes and its handling time. */
export interface MethodSeries {
  readonly name: string;
  /** The `ok` counter, the common case, without a map lookup. */
  ok?: CounterChild;
  readonly outcomes: Map<string, CounterChild>;
  readonly duration: HistogramChild;
}

/** The counters of one worker. */
export class ServerMetrics {
  readonly #queue: string;
  readonly #requests: Counter;
  readonly #duration: Histogram;
  readonly #methods = new Map<string, MethodSeries>();
  readonly #codes = new CodeLabels();
  #up = false;
  #wasDown = false;
  readonly #received: CounterChild;
  readonly #redelivered: CounterChild;
  readonly #expired: CounterChild;
  readonly #cacheHits: CounterChild;
  readonly #requeued: CounterChild;
  readonly #deadLettered: CounterChild;
  readonly #dropped: CounterChild;
  readonly #disconnects: CounterChild;
  readonly #reconnects: CounterChild;
  readonly #overruns: CounterChild;
  readonly #inFlight: GaugeChild;
  readonly #stuck: GaugeChild;
  readonly #connected: GaugeChild;

  constructor(registry: MetricsRegistry, queue: string) {
    this.#queue = queue;
    const counter = (name: string, help: string) =>
      registry.counter(`rabbit_rpc_server_${name}`, help, {
        labels: ["queue"],
      }).labels(queue);
    this.#requests = registry.counter(
      "rabbit_rpc_server_requests_total",
      "Requests answered, by queue, method and outcome (ok, or the error code).",
      { labels: ["queue", "method", "outcome"] },
    );
    this.#duration = registry.histogram(
      "rabbit_rpc_server_request_duration_seconds",
      "Time from delivery to reply, by queue and method.",
      { labels: ["queue", "method"] },
    );
    this.#received = counter(
      "received_total",
      "Requests delivered to the worker.",
    );
    this.#redelivered = counter(
      "redelivered_total",
      "Requests delivered again after a worker holding them went away.",
    );
    this.#expired = counter(
      "expired_total",
      "Requests whose caller's deadline passed before they were handled.",
    );
    this.#cacheHits = counter(
      "cache_hits_total",
      "Repeats of idempotent requests answered from the reply cache.",
    );
    this.#requeued = counter(
      "requeued_total",
      "Requests handed back to the queue: a retry, or the worker closing.",
    );
    this.#deadLettered = counter(
      "dead_lettered_total",
      "Requests parked in the dead-letter queue after their last try.",
    );
    this.#dropped = counter(
      "dropped_total",
      "Requests dropped without a reply: no reply_to, or one that cannot be answered.",
    );
    this.#disconnects = counter(
      "disconnects_total",
      "Times the worker lost its connection.",
    );
    this.#reconnects = counter(
      "reconnects_total",
      "Times the worker set its connection up again.",
    );
    this.#overruns = counter(
      "overruns_total",
      "Handlers that ran past their time (the caller's deadline and a grace, or maxHandlerTime): answered DEADLINE_EXCEEDED and acked.",
    );
    this.#stuck = registry.gauge(
      "rabbit_rpc_server_handlers_stuck",
      "Handlers still running past their time, their requests already answered.",
      { labels: ["queue"] },
    ).labels(queue);
    this.#inFlight = registry.gauge(
      "rabbit_rpc_server_requests_in_flight",
      "Requests being handled.",
      { labels: ["queue"] },
    ).labels(queue);
    this.#connected = registry.gauge(
      "rabbit_rpc_server_connected",
      "Workers of the queue connected and consuming (1 or 0 for one worker).",
      { labels: ["queue"] },
    ).labels(queue);
  }

  /** The series of a method (`""` for a single handler). */
  method(name: string): MethodSeries {
    let series = this.#methods.get(name);
    if (series === undefined) {
      series = {
        name,
        outcomes: new Map(),
        duration: this.#duration.labels(this.#queue, name),
      };
      this.#methods.set(name, series);
    }
    return series;
  }

  received(redelivered: boolean): void {
    this.#received.inc();
    this.#inFlight.inc();
    if (redelivered) this.#redelivered.inc();
  }

  done(): void {
    this.#inFlight.dec();
  }

  /** A reply is sent: `code` is the error code, or undefined for success. */
  answered(
    series: MethodSeries,
    code: string | undefined,
    started: number,
  ): void {
    if (code === undefined) {
      (series.ok ??= this.#requests.labels(this.#queue, series.name, "ok"))
        .inc();
    } else {
      code = this.#codes.of(code);
      let counter = series.outcomes.get(code);
      if (counter === undefined) {
        counter = this.#requests.labels(this.#queue, series.name, code);
        series.outcomes.set(code, counter);
      }
      counter.inc();
    }
    series.duration.observe((performance.now() - started) / 1000);
  }

  expired(): void {
    this.#expired.inc();
  }

  cacheHit(): void {
    this.#cacheHits.inc();
  }

  requeued(): void {
    this.#requeued.inc();
  }

  deadLettered(): void {
    this.#deadLettered.inc();
  }

  dropped(): void {
    this.#dropped.inc();
  }

  /** A handler ran past its time. */
  overrun(): void {
    this.#overruns.inc();
    this.#stuck.inc();
  }

  /** A handler that ran past its time stopped. */
  unstuck(): void {
    this.#stuck.dec();
  }

  connected(up: boolean): void {
    // Counted up and down, not set: workers sharing a registry and a
    // queue share the series.
    if (up !== this.#up) {
      this.#up = up;
      this.#connected.inc(up ? 1 : -1);
    }
    if (!up) {
      this.#wasDown = true;
      this.#disconnects.inc();
    } else if (this.#wasDown) {
      this.#reconnects.inc();
    }
  }

  /** Marks the worker stopped, without counting a disconnect. */
  stopped(): void {
    if (this.#up) {
      this.#up = false;
      this.#connected.dec();
    }
  }

  /** The figures of the registry's series of this queue, as plain numbers. */
  snapshot(inFlight: number): ServerStats {
    const ofQueue = (labels: Readonly<Record<string, string>>) =>
      labels.queue === this.#queue;
    const { ok = 0, ...errors } = countsBy(
      this.#requests.series(),
      { by: "outcome", where: ofQueue },
    );
    return {
      received: this.#received.value,
      ok,
      errors,
      redelivered: this.#redelivered.value,
      expired: this.#expired.value,
      cacheHits: this.#cacheHits.value,
      requeued: this.#requeued.value,
      deadLettered: this.#deadLettered.value,
      dropped: this.#dropped.value,
      overruns: this.#overruns.value,
      stuck: this.#stuck.value,
      disconnects: this.#disconnects.value,
      reconnects: this.#reconnects.value,
      inFlight,
      latency: latencyOf(
        this.#duration.series().filter((series) => ofQueue(series.labels)),
      ),
    };
  }
}
