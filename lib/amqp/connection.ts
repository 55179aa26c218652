/**
 * Opening a connection to the broker: TCP_NODELAY, heartbeats, a connection
 * name, failover across a list of URLs, and errors that say what failed
 * without the password.
 *
 * @module
 */

import { nextTick } from "node:process";
import type { ReconnectOptions } from "./backoff.ts";
import {
  AMQPClient,
  AMQPError,
  type AMQPMessage,
  type AMQPTlsOptions,
} from "../deps.ts";
import {
  AccessRefusedError,
  ConnectionError,
  ProtocolError,
} from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { identityOf, maskUrl, urlList, withDefaults } from "./url.ts";

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
   * order until one connects. Default `amqp://guest:guest@localhost:5672`.
   */
  url?: string | readonly string[];
  /**
   * The name the broker shows for this connection (default: the role, the
   * host name when Deno may read it, and the process id).
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
    throw new TypeError("tls must be an object");
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
    // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold back the
    // small reply and ack frames: 45 calls/s instead of thousands.
    connection.socket?.setNoDelay(true);
    guardParser(connection, options.logger);
    coalesceWrites(connection);
    options.logger?.info(`Connected to ${maskUrl(url)}`);
    connectedUrls.set(connection, url);
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
  const where = `Cannot connect to ${address} as "${user}" (vhost "${vhost}")`;
  const masked = cause instanceof AMQPError
    ? new Error(maskUrl(reason))
    : cause;
  if (/ACCESS_REFUSED|\(403\)/.test(reason) && /login/i.test(reason)) {
    return new AccessRefusedError(
      `${where}: the broker refused the login of user "${user}" (check the user name and password)`,
      { user, vhost },
      { cause: masked },
    );
  }
  // 530 also means a connection limit reached or a vhost that is down:
  // passing states of a busy or starting cluster, worth retrying.
  if (
    /NOT_ALLOWED|\(530\)|ACCESS_REFUSED/.test(reason) &&
    !/limit|is down/i.test(reason)
  ) {
    return new AccessRefusedError(
      `${where}: user "${user}" may not use virtual host "${vhost}" (check that the vhost exists and the user has permissions on it)`,
      { user, vhost },
      { cause: masked },
    );
  }
  let what: string;
  if (/NOT_ALLOWED|\(530\)/.test(reason)) {
    what = `the broker refused the connection for now: ${maskUrl(reason)}`;
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
  return new ConnectionError(`${where}: ${what}`, { cause: masked });
}

/**
 * The consumer tags of consumers that acknowledge by hand start with this:
 * a delivery of theirs that cannot be parsed is rejected, so that it does
 * not come back for ever.
 */
export const MANUAL_ACK_TAG = "rabbit-rpc.ack.";

/** How long the broker gets to act on a reject before the connection ends. */
const REJECT_GRACE = 250;

/**
 * Makes a frame that amqp-client cannot parse (it reads header tables
 * recursively, so a table nested a few thousand levels deep overflows the
 * stack inside the socket's data handler) fail the connection instead of
 * crashing the process or leaving the frame reader out of step. A delivery
 * being read at that moment by a manual-ack consumer is rejected first
 * (dropped, or dead-lettered if the queue says so): it could never be read.
 */
function guardParser(connection: AMQPClient, logger?: Logger): void {
  const socket = connection.socket;
  if (!socket) return;
  const readers = socket.listeners("data") as ((chunk: unknown) => void)[];
  socket.removeAllListeners("data");
  let failed = false;
  socket.on("data", (chunk: unknown) => {
    if (failed) return;
    try {
      for (const read of readers) read.call(socket, chunk);
    } catch (cause) {
      failed = true;
      const error = new ProtocolError(
        `Cannot read a frame from the broker: ${
          cause instanceof Error ? cause.message : String(cause)
        }`,
        { cause },
      );
      const rejects: Promise<unknown>[] = [];
      for (const channel of connection.channels) {
        const delivery = (channel as { delivery?: AMQPMessage } | undefined)
          ?.delivery;
        if (delivery?.consumerTag?.startsWith(MANUAL_ACK_TAG)) {
          logger?.warn(
            `Dropped a request that cannot be read (${error.message})`,
          );
          rejects.push(
            channel.basicReject(delivery.deliveryTag, false).catch(() => {}),
          );
        }
      }
      // Give the broker's channel a moment to act on the rejects (a
      // connection that ends first takes its channel's unprocessed work with
      // it), then close the writing side and keep reading (and dropping)
      // until the broker closes: destroying a socket with unread input sends
      // a reset, and the broker would lose what is still in its buffers.
      Promise.all(rejects).finally(() => {
        let timer = setTimeout(() => {
          timer = setTimeout(() => socket.destroy(error), 2_000);
          socket.end();
        }, rejects.length > 0 ? REJECT_GRACE : 0);
        socket.once("close", () => clearTimeout(timer));
      });
    }
  });
}

/** The URL (of the list given) that each connection was opened with. */
const connectedUrls = new WeakMap<AMQPClient, string>();

/**
 * The URL, of those given to {@linkcode openConnection}, that `connection`
 * was opened with.
 */
export function connectedUrl(connection: AMQPClient): string | undefined {
  return connectedUrls.get(connection);
}

/**
 * The URLs of `url` in the order to try them after the connection to
 * `last` was lost: those after it first, `last` itself at the end, so that
 * a client fails over to the next broker of a cluster instead of waiting on
 * the one that just went away.
 *
 * @example
 * ```ts
 * import { failoverOrder } from "./connection.ts";
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
const coalescers = new WeakMap<AMQPClient, Coalescer>();

interface Coalescer {
  /** Corks the socket (if not yet) and schedules the flush. */
  hold(): void;
  /** Work to do just before the flush, in the same write. */
  readonly tasks: (() => void)[];
}

/**
 * Gathers the frames written in one turn of the event loop into one socket
 * write: amqp-client writes each publish and each ack on its own, and a
 * system call per frame was a fifth of the CPU time of client and worker
 * alike (and each write is a TCP segment the broker reads on its own). The
 * socket is corked at the first frame and uncorked once the current work is
 * done (`nextTick`, which runs after the promise jobs of this turn), before
 * any I/O is waited for, so no frame waits for a later event.
 */
function coalesceWrites(connection: AMQPClient): void {
  const socket = connection.socket;
  if (!socket) return;
  const send = connection.send.bind(connection);
  let corked = false;
  const tasks: (() => void)[] = [];
  const flush = () => {
    // Tasks may write more frames: they join this write.
    for (let i = 0; i < tasks.length; i++) {
      try {
        tasks[i]();
      } catch {
        // A task handles its own failures; the others still run.
      }
    }
    tasks.length = 0;
    corked = false;
    socket.uncork();
  };
  const hold = () => {
    if (!corked) {
      corked = true;
      socket.cork();
      nextTick(flush);
    }
  };
  coalescers.set(connection, { hold, tasks });
  connection.send = (bytes: Uint8Array): Promise<void> => {
    hold();
    return send(bytes);
  };
}

/**
 * Runs `task` at the end of this turn of the event loop, just before the
 * frames written in it go out, so that frames the task writes (acks, say)
 * leave in the same socket write. Without a write coalescer (a connection
 * not opened by {@linkcode openConnection}) it runs on `nextTick`.
 */
export function beforeFlush(connection: AMQPClient, task: () => void): void {
  const coalescer = coalescers.get(connection);
  if (coalescer === undefined) {
    nextTick(task);
    return;
  }
  coalescer.tasks.push(task);
  coalescer.hold();
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
