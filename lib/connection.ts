/**
 * Opening a connection to the broker: TCP_NODELAY, heartbeats, a connection
 * name, failover across a list of URLs, and errors that say what failed
 * without the password.
 *
 * @module
 */

import { AMQPClient, AMQPError } from "./deps.ts";
import { ConnectionError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import { identityOf, maskUrl, urlList, withDefaults } from "./url.ts";

/** How to reach the broker. */
export interface ConnectionOptions {
  /**
   * The broker URL, a comma-separated list of URLs, or a list; tried in
   * order until one connects. Default `amqp://guest:guest@localhost:5672`.
   */
  url?: string | readonly string[];
  /** The name the broker shows for this connection. */
  connectionName?: string;
  /** Where to report what happens. */
  logger?: Logger;
}

/**
 * Opens a connection to the first broker of `options.url` that accepts it.
 *
 * @example
 * ```ts ignore
 * import { openConnection } from "./connection.ts";
 *
 * const connection = await openConnection({ url: "amqp://localhost" });
 * await connection.close();
 * ```
 *
 * @throws {TypeError} if a URL is not an AMQP URL.
 * @throws {ConnectionError} if no broker accepts the connection.
 */
export async function openConnection(
  options: ConnectionOptions = {},
): Promise<AMQPClient> {
  const urls = urlList(options.url);
  const name = options.connectionName ?? `rabbit-rpc (pid ${Deno.pid})`;
  let lastError: ConnectionError | undefined;
  for (const url of urls) {
    const connection = new AMQPClient(withDefaults(url, name));
    try {
      await connection.connect();
    } catch (cause) {
      lastError = connectionError(url, cause);
      if (url !== urls.at(-1)) {
        options.logger?.warn(`${lastError.message}; trying the next URL`);
      }
      // A refused login leaves the socket to the broker to close; make sure
      // nothing of this attempt stays open.
      connection.socket?.destroy();
      continue;
    }
    // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold back the
    // small reply and ack frames: 45 calls/s instead of thousands.
    connection.socket?.setNoDelay(true);
    options.logger?.info(`Connected to ${maskUrl(url)}`);
    return connection;
  }
  throw lastError!;
}

/**
 * Turns a failed connection attempt into a {@linkcode ConnectionError}
 * whose message says what failed and what to do, without the password.
 *
 * @example
 * ```ts
 * import { connectionError } from "./connection.ts";
 *
 * const err = connectionError("amqp://u:pw@localhost:5672", new Error("connect ECONNREFUSED 127.0.0.1:5672"));
 * console.log(err.message);
 * ```
 */
export function connectionError(url: string, cause: unknown): ConnectionError {
  const { user, vhost, address } = identityOf(url);
  const reason = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  let what: string;
  if (/ACCESS_REFUSED|\(403\)/.test(reason) && /login/i.test(reason)) {
    what =
      `the broker refused the login of user "${user}" (check the user name and password)`;
  } else if (/NOT_ALLOWED|\(530\)|ACCESS_REFUSED/.test(reason)) {
    what =
      `user "${user}" may not use virtual host "${vhost}" (check that the vhost exists and the user has permissions on it)`;
  } else if (code === "ECONNREFUSED" || /ECONNREFUSED/.test(reason)) {
    what = "connection refused (is RabbitMQ running and listening there?)";
  } else if (
    code === "ENOTFOUND" || code === "EAI_AGAIN" ||
    /ENOTFOUND|EAI_AGAIN/.test(reason)
  ) {
    what = "host not found (check the host name)";
  } else if (/timeout/i.test(reason)) {
    what = "no answer in time (check the host, port and firewall)";
  } else {
    what = maskUrl(reason);
  }
  return new ConnectionError(
    `Cannot connect to ${address} as "${user}" (vhost "${vhost}"): ${what}`,
    { cause: cause instanceof AMQPError ? new Error(maskUrl(reason)) : cause },
  );
}

/** How long a close waits for the broker's `close-ok`, in milliseconds. */
export const CLOSE_TIMEOUT = 5_000;

/**
 * Closes a connection politely (`connection.close`, then `close-ok`), but
 * waits at most {@linkcode CLOSE_TIMEOUT} for a broker that no longer
 * answers; the socket is destroyed either way. Never rejects.
 *
 * @example
 * ```ts ignore
 * import { closeConnection, openConnection } from "./connection.ts";
 *
 * await closeConnection(await openConnection());
 * ```
 */
export async function closeConnection(connection: AMQPClient): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    if (!connection.closed) {
      await Promise.race([
        connection.close(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_TIMEOUT);
        }),
      ]);
    }
  } catch {
    // Already closed by the broker or the network: only the socket is left.
  } finally {
    clearTimeout(timer);
    connection.socket?.destroy();
  }
}
