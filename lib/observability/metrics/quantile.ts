/**
 * {@linkcode quantileOf}: a quantile estimated from a histogram's buckets,
 * as Prometheus's `histogram_quantile` does.
 *
 * @module
 */

import type { HistogramSnapshot } from "./histogram.ts";

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
 * import { Histogram } from "./histogram.ts";
 * import { quantileOf } from "./quantile.ts";
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
