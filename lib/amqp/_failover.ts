/**
 * The order in which a client or worker tries the brokers of a cluster after
 * it lost its connection.
 *
 * @module
 */

import { urlList } from "./url.ts";

/**
 * The URLs of `url` in the order to try them after the connection to
 * `last` was lost: those after it first, `last` itself at the end, so that
 * a client fails over to the next broker of a cluster instead of waiting on
 * the one that just went away.
 *
 * @example
 * ```ts
 * import { failoverOrder } from "./_failover.ts";
 *
 * console.log(failoverOrder("amqp://a,amqp://b,amqp://c", "amqp://b"));
 * // ["amqp://c", "amqp://a", "amqp://b"]
 * ```
 */
export function failoverOrder(
  url: string | readonly string[] | undefined,
  last: string | undefined,
): string[] {
  const urls = urlList(url);
  // The last copy, should the list name a broker twice.
  const at = last === undefined ? -1 : urls.lastIndexOf(last);
  return at < 0 ? urls : [...urls.slice(at + 1), ...urls.slice(0, at + 1)];
}

/** The write coalescer of each connection that has one. */
