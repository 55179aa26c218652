/**
 * What a client counts: its calls by outcome and their latency, per queue
 * and method, in a Prometheus registry (shared, or its own) and in plain
 * numbers for {@linkcode ClientStats}.
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
import {
  type Counter,
  type CounterChild,
  type Histogram,
  HistogramChild,
  type HistogramSnapshot,
  type MetricsRegistry,
  quantileOf,
} from "../observability/metrics/registry.ts";
import { DEFAULT_LATENCY_BUCKETS } from "../observability/metrics/registry.ts";
import type {
  CallOutcome,
  ClientStats,
  LatencyStats,
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

/** @internal The counters of one client. */
export class ClientMetrics {
  readonly #registry: MetricsRegistry;
  readonly #source: Source;
  readonly #calls: Counter;
  readonly #remote: Counter;
  readonly #duration: Histogram;
  readonly #late: CounterChild;
  readonly #resent: CounterChild;
  readonly #disconnects: CounterChild;
  readonly #reconnects: CounterChild;
  readonly #series = new Map<string, Series>();
  /** The series of the last call: most clients call one method over and over. */
  #last?: Series;
  readonly #own = new HistogramChild([], DEFAULT_LATENCY_BUCKETS);
  #started = 0;
  #ok = 0;
  // No prototype: a code named "constructor" is a count like any other.
  readonly errors: Record<string, number> = Object.create(null);
  readonly remoteErrors: Record<string, number> = Object.create(null);
  readonly #codes = new CodeLabels();
  lateReplies = 0;
  resent = 0;
  disconnects = 0;
  reconnects = 0;

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
    let set = sources.get(registry);
    if (set === undefined) {
      const live = new Set<Source>();
      set = live;
      sources.set(registry, live);
      registry.gauge(
        "rabbit_rpc_client_calls_in_flight",
        "Calls sent and waiting for their reply.",
        { collect: (gauge) => gauge.set(sum(live, (s) => s.inFlight())) },
      );
      registry.gauge(
        "rabbit_rpc_client_calls_waiting",
        "Calls waiting to be sent (connection down, blocked, or at maxInFlight).",
        { collect: (gauge) => gauge.set(sum(live, (s) => s.waiting())) },
      );
    }
    set.add(source);
  }

  /** Stops counting this client's live figures (it is closed). */
  detach(): void {
    sources.get(this.#registry)?.delete(this.#source);
  }

  started(): void {
    this.#started++;
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
      this.#ok++;
      (series.ok ??= this.#calls.labels(queue, method ?? "", "ok")).inc();
      if (started !== undefined) this.#observe(series, started);
      return;
    }
    const outcome: CallOutcome = outcomeOf(error);
    this.errors[outcome] = (this.errors[outcome] ?? 0) + 1;
    // Only these got a reply: their time is a call's latency.
    let replied = outcome === "protocol";
    if (outcome === "remote") {
      replied = true;
      // The worker chooses the code: bound what it can make of the labels.
      const code = this.#codes.of((error as RemoteError).code);
      this.remoteErrors[code] = (this.remoteErrors[code] ?? 0) + 1;
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
    const seconds = (performance.now() - started) / 1000;
    series.duration.observe(seconds);
    this.#own.observe(seconds);
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

  lateReply(): void {
    this.lateReplies++;
    this.#late.inc();
  }

  resend(count: number): void {
    this.resent += count;
    this.#resent.inc(count);
  }

  disconnected(): void {
    this.disconnects++;
    this.#disconnects.inc();
  }

  reconnected(): void {
    this.reconnects++;
    this.#reconnects.inc();
  }

  stats(): ClientStats {
    return {
      calls: this.#started,
      ok: this.#ok,
      errors: { ...this.errors },
      remoteErrors: { ...this.remoteErrors },
      timeouts: this.errors.timeout ?? 0,
      returns: this.errors.no_route ?? 0,
      lateReplies: this.lateReplies,
      resent: this.resent,
      disconnects: this.disconnects,
      reconnects: this.reconnects,
      inFlight: this.#source.inFlight(),
      waiting: this.#source.waiting(),
      latency: latencyOf(this.#own.snapshot()),
    };
  }
}

/**
 * Error codes as metric labels: an upper-case code such as `NOT_FOUND` is
 * its own label, up to 64 of them; anything else, and codes beyond those,
 * are `OTHER`, so that whoever sends the codes cannot make series without
 * bound.
 *
 * @internal
 */
export class CodeLabels {
  readonly #seen = new Set<string>();

  of(code: string): string {
    if (this.#seen.has(code)) return code;
    if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(code) || this.#seen.size >= 64) {
      return "OTHER";
    }
    this.#seen.add(code);
    return code;
  }
}

/**
 * Latency figures in milliseconds from a histogram in seconds.
 *
 * @internal
 */
export function latencyOf(snapshot: HistogramSnapshot): LatencyStats {
  const ms = (q: number) =>
    snapshot.count === 0 ? 0 : quantileOf(snapshot, q) * 1000;
  return {
    count: snapshot.count,
    mean: snapshot.count === 0 ? 0 : (snapshot.sum / snapshot.count) * 1000,
    p50: ms(0.5),
    p90: ms(0.9),
    p99: ms(0.99),
  };
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
