/**
 * What a client counts: its calls by outcome and their latency, per queue
 * and method, in a Prometheus registry (shared, or its own). Counted once:
 * `RpcClient.stats()` reads the same series the registry renders.
 *
 * @module
 */

import {
  ClosedError,
  ConnectionLostError,
  NoRouteError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from "../errors.ts";
import { CodeLabels } from "../observability/code_labels.ts";
import type {
  Counter,
  CounterChild,
} from "../observability/metrics/counter.ts";
import type { Gauge } from "../observability/metrics/gauge.ts";
import type {
  Histogram,
  HistogramChild,
} from "../observability/metrics/histogram.ts";
import type { MetricsRegistry } from "../observability/metrics/registry.ts";
import {
  type CallOutcome,
  type ClientStats,
  countsBy,
  latencyOf,
} from "../observability/stats.ts";

interface Series {
  readonly queue: string;
  readonly method: string | undefined;
  /** The `ok` counter, the common case, without a map lookup. */
  ok?: CounterChild;
  readonly outcomes: Map<string, CounterChild>;
  readonly duration: HistogramChild;
}

/** Live figures a registry's gauges read from every client sharing it. */
interface Source {
  inFlight(): number;
  waiting(): number;
}

const sources = new WeakMap<MetricsRegistry, Set<Source>>();

/** The counters of one client. */
export class ClientMetrics {
  readonly #registry: MetricsRegistry;
  readonly #source: Source;
  readonly #calls: Counter;
  readonly #remote: Counter;
  readonly #duration: Histogram;
  readonly #inFlight: Gauge;
  readonly #waiting: Gauge;
  readonly #late: CounterChild;
  readonly #forged: CounterChild;
  readonly #resent: CounterChild;
  readonly #disconnects: CounterChild;
  readonly #reconnects: CounterChild;
  readonly #series = new Map<string, Series>();
  /** The series of the last call: most clients call one method over and over. */
  #last?: Series;
  readonly #codes = new CodeLabels();

  constructor(registry: MetricsRegistry, source: Source) {
    this.#registry = registry;
    this.#source = source;
    const labels = ["queue", "method"];
    this.#calls = registry.counter(
      "rabbit_rpc_client_calls_total",
      "Calls settled, by queue, method and outcome (ok, or the kind of error).",
      { labels: [...labels, "outcome"] },
    );
    this.#remote = registry.counter(
      "rabbit_rpc_client_remote_errors_total",
      "Error replies from workers, by queue, method and error code.",
      { labels: [...labels, "code"] },
    );
    this.#duration = registry.histogram(
      "rabbit_rpc_client_call_duration_seconds",
      "Time from call to reply, of calls that got one.",
      { labels },
    );
    this.#late = registry.counter(
      "rabbit_rpc_client_late_replies_total",
      "Replies dropped because no call waited for them (late or unknown).",
    ).labels();
    this.#forged = registry.counter(
      "rabbit_rpc_client_forged_replies_total",
      "Replies dropped because their user_id was not the one their call expects (replyUserId).",
    ).labels();
    this.#resent = registry.counter(
      "rabbit_rpc_client_resent_total",
      "Idempotent calls in flight at a loss of the connection, kept to be sent again.",
    ).labels();
    this.#disconnects = registry.counter(
      "rabbit_rpc_client_disconnects_total",
      "Times a client lost its connection.",
    ).labels();
    this.#reconnects = registry.counter(
      "rabbit_rpc_client_reconnects_total",
      "Times a client set its connection up again.",
    ).labels();
    // One collect per registry, over every client that shares it.
    let live = sources.get(registry);
    const first = live === undefined;
    if (live === undefined) {
      live = new Set<Source>();
      sources.set(registry, live);
    }
    const all = live;
    this.#inFlight = registry.gauge(
      "rabbit_rpc_client_calls_in_flight",
      "Calls sent and waiting for their reply.",
      first
        ? { collect: (gauge) => gauge.set(sum(all, (s) => s.inFlight())) }
        : {},
    );
    this.#waiting = registry.gauge(
      "rabbit_rpc_client_calls_waiting",
      "Calls waiting to be sent (connection down, blocked, or at maxInFlight).",
      first
        ? { collect: (gauge) => gauge.set(sum(all, (s) => s.waiting())) }
        : {},
    );
    all.add(source);
  }

  /** Stops counting this client's live figures (it is closed). */
  detach(): void {
    sources.get(this.#registry)?.delete(this.#source);
  }

  /** A call settled; `started` is its `performance.now()` at the call. */
  settled(
    queue: string,
    method: string | undefined,
    started: number | undefined,
    error?: unknown,
  ): void {
    let series = this.#last;
    if (series?.queue !== queue || series.method !== method) {
      series = this.#seriesOf(queue, method);
      this.#last = series;
    }
    if (error === undefined) {
      (series.ok ??= this.#calls.labels(queue, method ?? "", "ok")).inc();
      if (started !== undefined) this.#observe(series, started);
      return;
    }
    const outcome: CallOutcome = outcomeOf(error);
    // Only these got a reply: their time is a call's latency.
    let replied = outcome === "protocol";
    if (outcome === "remote") {
      replied = true;
      // The worker chooses the code: bound what it can make of the labels.
      const code = this.#codes.of((error as RemoteError).code);
      this.#remote.labels(queue, method ?? "", code).inc();
    }
    let counter = series.outcomes.get(outcome);
    if (counter === undefined) {
      counter = this.#calls.labels(queue, method ?? "", outcome);
      series.outcomes.set(outcome, counter);
    }
    counter.inc();
    if (replied && started !== undefined) this.#observe(series, started);
  }

  #observe(series: Series, started: number): void {
    series.duration.observe((performance.now() - started) / 1000);
  }

  #seriesOf(queue: string, method: string | undefined): Series {
    const key = method === undefined ? queue : `${queue}\u0000${method}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = {
        queue,
        method,
        outcomes: new Map(),
        duration: this.#duration.labels(queue, method ?? ""),
      };
      this.#series.set(key, series);
    }
    return series;
  }

  /** Replies dropped because no call waited for them. */
  get lateReplies(): number {
    return this.#late.value;
  }

  lateReply(): void {
    this.#late.inc();
  }

  forgedReply(): void {
    this.#forged.inc();
  }

  resend(count: number): void {
    this.#resent.inc(count);
  }

  disconnected(): void {
    this.#disconnects.inc();
  }

  reconnected(): void {
    this.#reconnects.inc();
  }

  /** The figures of the registry's series, as plain numbers. */
  stats(): ClientStats {
    const outcomes = countsBy(this.#calls.series(), { by: "outcome" });
    const { ok = 0, ...errors } = outcomes;
    let settled = 0;
    for (const count of Object.values(outcomes)) settled += count;
    const inFlight = this.#inFlight.series()[0].value;
    const waiting = this.#waiting.series()[0].value;
    return {
      calls: settled + inFlight + waiting,
      ok,
      errors,
      remoteErrors: { ...countsBy(this.#remote.series(), { by: "code" }) },
      timeouts: errors.timeout ?? 0,
      returns: errors.no_route ?? 0,
      lateReplies: this.#late.value,
      forgedReplies: this.#forged.value,
      resent: this.#resent.value,
      disconnects: this.#disconnects.value,
      reconnects: this.#reconnects.value,
      inFlight,
      waiting,
      latency: latencyOf(this.#duration.series()),
    };
  }
}

function outcomeOf(error: unknown): CallOutcome {
  if (error instanceof TimeoutError) return "timeout";
  if (error instanceof RemoteError) return "remote";
  if (error instanceof NoRouteError) return "no_route";
  if (error instanceof ConnectionLostError) return "connection_lost";
  if (error instanceof ClosedError) return "closed";
  if (error instanceof ProtocolError) return "protocol";
  if (error instanceof TypeError || error instanceof RangeError) {
    return "invalid_argument";
  }
  return "aborted";
}

function sum(set: Set<Source>, read: (source: Source) => number): number {
  let total = 0;
  for (const source of set) total += read(source);
  return total;
}
