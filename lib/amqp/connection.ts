/**
 * Opening a connection to the broker: TCP_NODELAY, heartbeats, a connection
 * name, failover across a list of URLs, and errors that say what failed
 * without the password.
 *
 * @module
 */

import { optionTypeError } from "../checks.ts";

import type { ReconnectOptions } from "./backoff.ts";
import { connectionError } from "./_connection_error.ts";
import { AMQPClient, type AMQPTlsOptions } from "../deps.ts";
import { AccessRefusedError, ConnectionError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { patchConnection } from "./patches.ts";
import { maskUrl, urlList, withDefaults } from "./url.ts";

/**
 * How to reach the broker.
 *
 * @example Failover across two brokers
 * ```ts
 * import type { ConnectionOptions } from "./connection.ts";
 *
 * const options: ConnectionOptions = {
 *   url: ["amqp://rabbit-1:5672", "amqp://rabbit-2:5672"],
 *   connectionName: "billing worker",
 *   reconnect: { maxDelay: 5_000 },
 * };
 * console.log(options.url?.length); // 2
 * ```
 */
export interface ConnectionOptions {
  /**
   * The broker URL, a comma-separated list of URLs, or a list; tried in
   * order until one connects.
   *
   * @default {"amqp://guest:guest@localhost:5672"}
   */
  url?: string | readonly string[];
  /**
   * The name the broker shows for this connection.
   *
   * @default {"rabbit-rpc <role> on <host> (pid <pid>)"} (the host name only
   * when Deno may read it)
   */
  connectionName?: string;
  /** Where to report what happens. */
  logger?: Logger;
  /** TLS settings for `amqps://` URLs. */
  tls?: TlsOptions;
  /**
   * How to reconnect after the connection is lost, or `false` not to
   * reconnect (calls and the worker then fail for good). The first
   * connection is never retried: a broker that cannot be reached at start
   * is reported at once.
   *
   * @default {{}} (the defaults of each reconnect option)
   */
  reconnect?: ReconnectOptions | false;
}

/**
 * TLS settings for `amqps://` URLs.
 *
 * @example
 * ```ts
 * import type { ConnectionOptions, TlsOptions } from "./connection.ts";
 *
 * const tls: TlsOptions = { caFile: "/etc/rabbitmq/ca.pem" };
 * const options: ConnectionOptions = { url: "amqps://rabbit.example.com", tls };
 * console.log(options.tls?.caFile); // /etc/rabbitmq/ca.pem
 * ```
 */
export interface TlsOptions {
  /**
   * A PEM file of the certificate authorities to trust instead of the
   * system's (needs `--allow-read` of that file).
   */
  caFile?: string;
  /** PEM text of the certificate authorities to trust. */
  ca?: string;
}

/**
 * The connection name the broker shows: role, host and process id, so that
 * operators can tell clients from workers in the management UI. The host
 * name is left out when Deno may not read it (`--allow-sys=hostname`).
 *
 * @example
 * ```ts
 * import { defaultConnectionName } from "./connection.ts";
 *
 * console.log(defaultConnectionName("client")); // rabbit-rpc client on myhost (pid 1234)
 * ```
 */
export function defaultConnectionName(role: string): string {
  let host = "";
  try {
    if (
      Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state ===
        "granted"
    ) host = ` on ${Deno.hostname()}`;
  } catch {
    // No host name to be had: the pid still tells connections apart.
  }
  return `rabbit-rpc ${role}${host} (pid ${Deno.pid})`;
}

function tlsOptionsOf(tls: TlsOptions | undefined): AMQPTlsOptions | undefined {
  if (tls === undefined) return undefined;
  if (typeof tls !== "object" || tls === null) {
    throw optionTypeError("tls", "must be an object");
  }
  let ca = tls.ca;
  if (tls.caFile !== undefined) {
    try {
      ca = Deno.readTextFileSync(tls.caFile);
    } catch (cause) {
      throw new ConnectionError(
        `Cannot read the CA file "${tls.caFile}": ${
          cause instanceof Error ? cause.message : String(cause)
        }`,
        { cause },
      );
    }
  }
  return ca === undefined ? {} : { ca };
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
 * @throws the reason of `signal` if it aborts first.
 */
export async function openConnection(
  options: ConnectionOptions = {},
  signal?: AbortSignal,
): Promise<AMQPClient> {
  const urls = urlList(options.url);
  const name = options.connectionName ?? defaultConnectionName("connection");
  const tls = tlsOptionsOf(options.tls);
  let lastError: ConnectionError | undefined;
  for (const url of urls) {
    signal?.throwIfAborted();
    const connection = new AMQPClient(withDefaults(url, name), tls);
    // A broker that accepts TCP but never answers holds connect() until the
    // socket times out: an abort must not wait for that.
    // (Destroying the socket does not settle connect(), so the abort
    // rejects a promise of its own.)
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        connection.socket?.destroy();
        reject(signal?.reason);
      };
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await (signal
        ? Promise.race([connection.connect(), aborted])
        : connection.connect());
    } catch (cause) {
      if (signal?.aborted) {
        connection.socket?.destroy();
        throw signal.reason;
      }
      lastError = connectionError(url, cause);
      if (lastError instanceof AccessRefusedError) {
        // Every broker of a cluster shares its users: another URL would
        // refuse the same login.
        connection.socket?.destroy();
        throw lastError;
      }
      if (url !== urls.at(-1)) {
        options.logger?.warn(`${lastError.message}; trying the next URL`);
      }
      // A refused login leaves the socket to the broker to close; make sure
      // nothing of this attempt stays open.
      connection.socket?.destroy();
      continue;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (signal?.aborted) {
      connection.socket?.destroy();
      throw signal.reason;
    }
    patchConnection(connection, options.logger);
    options.logger?.info(`Connected to ${maskUrl(url)}`);
    connectedUrls.set(connection, url);
    return connection;
  }
  throw lastError!;
}

const connectedUrls = new WeakMap<AMQPClient, string>();

/**
 * The URL, of those given to {@linkcode openConnection}, that `connection`
 * was opened with.
 */
export function connectedUrl(connection: AMQPClient): string | undefined {
  return connectedUrls.get(connection);
}

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
    // A blocked connection is not read by the broker: no close-ok would
    // come. Dropping the socket closes it just as well.
    if (!connection.closed && !connection.blocked) {
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
