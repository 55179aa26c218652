/**
 * What `RpcClient.stats()` and `RpcServer.stats()` report:
 * plain numbers counted since the client or worker started.
 *
 * @module
 */

import type { MetricSeries } from "./metrics/counter.ts";
import type {
  HistogramSeries,
  HistogramSnapshot,
} from "./metrics/histogram.ts";
import { quantileOf } from "./metrics/quantile.ts";

/**
 * How a call ended: `ok`, or the kind of its error.
 *
 * @example
 * ```ts
 * import type { CallOutcome } from "./stats.ts";
 *
 * const worthRetrying = (outcome: CallOutcome) =>
 *   outcome === "timeout" || outcome === "connection_lost";
 * console.log(worthRetrying("timeout"), worthRetrying("no_route")); // true false
 * ```
 */
export type CallOutcome =
  | "ok"
  | "timeout"
  | "no_route"
  | "connection_lost"
  | "closed"
  | "aborted"
  | "remote"
  | "protocol"
  | "invalid_argument";

/**
 * Latency figures estimated from a histogram, in milliseconds.
 *
 * @example
 * ```ts
 * import type { LatencyStats } from "./stats.ts";
 *
 * const describe = ({ count, p50, p99 }: LatencyStats) =>
 *   `${count} calls, p50 ${p50} ms, p99 ${p99} ms`;
 * const latency: LatencyStats = { count: 120, mean: 3.1, p50: 2.5, p90: 6, p99: 14 };
 * console.log(describe(latency)); // 120 calls, p50 2.5 ms, p99 14 ms
 * ```
 */
export interface LatencyStats {
  /** How many were measured. */
  count: number;
  /** Their mean. */
  mean: number;
  /** The median, estimated from the histogram's buckets. */
  p50: number;
  /** The 90th percentile, estimated. */
  p90: number;
  /** The 99th percentile, estimated. */
  p99: number;
}

/**
 * A client's counts since it was made; see `RpcClient.stats()`.
 *
 * @example
 * ```ts
 * import type { ClientStats } from "./stats.ts";
 *
 * // Reads the figures that client.stats() returns:
 * const failureRate = ({ calls, ok }: Pick<ClientStats, "calls" | "ok">) =>
 *   (calls - ok) / calls;
 * console.log(failureRate({ calls: 200, ok: 190 })); // 0.05
 * ```
 */
export interface ClientStats {
  /** Calls made (settled or not). */
  calls: number;
  /** Calls answered with a success reply. */
  ok: number;
  /** Calls that failed, by kind (see {@linkcode CallOutcome}). */
  errors: Record<string, number>;
  /** Error replies from workers, by code (`INVALID_ARGUMENT`, …). */
  remoteErrors: Record<string, number>;
  /** Calls that timed out (also counted in `errors.timeout`). */
  timeouts: number;
  /** Requests the broker returned: no queue (also `errors.no_route`). */
  returns: number;
  /** Replies dropped because no call waited for them: late or unknown. */
  lateReplies: number;
  /**
   * Replies dropped because their `user_id` was not the one their call
   * expects (`replyUserId`): forged by someone who knows the reply address.
   */
  forgedReplies: number;
  /**
   * Idempotent calls in flight at a loss of the connection, kept to be sent
   * again once it is back (each loss counts them again).
   */
  resent: number;
  /** Times the connection was lost. */
  disconnects: number;
  /** Times it was set up again. */
  reconnects: number;
  /** Calls sent and waiting for their reply now. */
  inFlight: number;
  /** Calls waiting to be sent now. */
  waiting: number;
  /** Time from call to reply of calls that got one (success or error). */
  latency: LatencyStats;
}

/**
 * A worker's counts since it started; see `RpcServer.stats()`.
 *
 * @example
 * ```ts
 * import type { ServerStats } from "./stats.ts";
 *
 * // Reads the figures that server.stats() returns:
 * const errorCount = ({ errors }: Pick<ServerStats, "errors">) =>
 *   Object.values(errors).reduce((sum, n) => sum + n, 0);
 * console.log(errorCount({ errors: { INVALID_ARGUMENT: 2, INTERNAL: 1 } })); // 3
 * ```
 */
export interface ServerStats {
  /** Requests delivered to it. */
  received: number;
  /** Requests answered with a success reply. */
  ok: number;
  /** Error replies sent, by code (`INVALID_ARGUMENT`, `INTERNAL`, …). */
  errors: Record<string, number>;
  /** Requests delivered again after a worker holding them went away. */
  redelivered: number;
  /**
   * Requests whose caller's deadline had passed before they were handled:
   * answered `DEADLINE_EXCEEDED` without running the handler.
   */
  expired: number;
  /** Repeats of idempotent requests answered from the reply cache. */
  cacheHits: number;
  /** Requests handed back to the queue (a retry, or closing). */
  requeued: number;
  /** Requests parked in the dead-letter queue after their last try. */
  deadLettered: number;
  /** Requests dropped without a reply (no `reply_to`, or one that cannot be answered). */
  dropped: number;
  /**
   * Handlers that ran past their time (the caller's deadline and a grace,
   * or the worker's `maxHandlerTime`): their requests were answered
   * `DEADLINE_EXCEEDED` and acked.
   */
  overruns: number;
  /** Handlers still running past their time now. */
  stuck: number;
  /** Times the connection was lost. */
  disconnects: number;
  /** Times it was set up again. */
  reconnects: number;
  /** Requests being handled now. */
  inFlight: number;
  /** Time from delivery to reply, of answered requests. */
  latency: LatencyStats;
}

/**
 * Latency figures in milliseconds from the series of a histogram in
 * seconds, taken together (their buckets, sums and counts added up).
 *
 * @example
 * ```ts
 * import { Histogram } from "./metrics/histogram.ts";
 * import { latencyOf } from "./stats.ts";
 *
 * const seconds = new Histogram("seconds", "Time.", { labels: ["method"] });
 * seconds.labels("a").observe(0.001);
 * seconds.labels("b").observe(0.003);
 * console.log(latencyOf(seconds.series()).count); // 2
 * ```
 */
export function latencyOf(series: readonly HistogramSeries[]): LatencyStats {
  let all: HistogramSnapshot | undefined;
  for (const { snapshot } of series) {
    if (all === undefined) {
      all = { ...snapshot, counts: [...snapshot.counts] };
      continue;
    }
    for (let i = 0; i < all.counts.length; i++) {
      all.counts[i] += snapshot.counts[i];
    }
    all.sum += snapshot.sum;
    all.count += snapshot.count;
  }
  if (all === undefined || all.count === 0) {
    return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0 };
  }
  const total = all;
  const ms = (q: number) => quantileOf(total, q) * 1000;
  return {
    count: total.count,
    mean: (total.sum / total.count) * 1000,
    p50: ms(0.5),
    p90: ms(0.9),
    p99: ms(0.99),
  };
}

/**
 * Adds up series of a counter by the value of one label, into an object
 * without a prototype (so that a value named `constructor` is a count like
 * any other), keeping only the series `where` accepts.
 *
 * @example
 * ```ts
 * import { Counter } from "./metrics/counter.ts";
 * import { countsBy } from "./stats.ts";
 *
 * const calls = new Counter("calls_total", "Calls.", { labels: ["queue", "outcome"] });
 * calls.labels("a", "ok").inc(2);
 * calls.labels("b", "ok").inc();
 * console.log(countsBy(calls.series(), { by: "outcome" })); // [Object: null prototype] { ok: 3 }
 * ```
 */
export function countsBy(
  series: readonly MetricSeries[],
  options: {
    /** The label whose values the counts are kept by. */
    by: string;
    /** Which series count (default: all). */
    where?: (labels: Readonly<Record<string, string>>) => boolean;
  },
): Record<string, number> {
  const { by, where } = options;
  const counts: Record<string, number> = Object.create(null);
  for (const { labels, value } of series) {
    if (where !== undefined && !where(labels)) continue;
    const key = labels[by];
    counts[key] = (counts[key] ?? 0) + value;
  }
  return counts;
}
