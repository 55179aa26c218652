/**
 * {@linkcode ConnectionSupervisor}: one AMQP connection kept alive. It
 * opens the connection, runs the owner's setup on it (declare, consume),
 * and after any loss reconnects with backoff and runs the setup again,
 * until it is closed or reconnecting becomes hopeless.
 *
 * @module
 */

import {
  backoffDelay,
  type ReconnectOptions,
  reconnectOptions,
} from "./backoff.ts";
import {
  closeConnection,
  connectedUrl,
  type ConnectionOptions,
  openConnection,
} from "./connection.ts";
import { failoverOrder } from "./_failover.ts";
import type { AMQPClient } from "../deps.ts";
import { AccessRefusedError, ConnectionError } from "../errors.ts";
import { type Logger, silentLogger } from "../observability/logger.ts";

/**
 * Where a supervised connection is: `open` (usable), `blocked` (open, but
 * the broker accepts no publishes: a memory or disk alarm), `reconnecting`,
 * `closed` (by its owner) or `failed` (gave up; see the `failed` event).
 *
 * @example
 * ```ts
 * import type { ConnectionState } from "./supervisor.ts";
 *
 * const canPublish = (state: ConnectionState) => state === "open";
 * console.log(canPublish("open")); // true
 * console.log(canPublish("blocked")); // false
 * ```
 */
export type ConnectionState =
  | "open"
  | "blocked"
  | "reconnecting"
  | "closed"
  | "failed";

/** What a supervisor tells its owner. */
export interface SupervisorHooks {
  /**
   * Sets up a new connection: open channels, declare, consume. Throwing
   * makes the attempt fail; it is retried like a failed connect.
   */
  setup(connection: AMQPClient): Promise<void>;
  /** The connection was lost; a reconnection follows unless disabled. */
  lost(error: Error): void;
  /** A new connection is set up after a loss. */
  restored(): void;
  /** Reconnecting was given up: the error says why. */
  failed(error: Error): void;
  /** The broker blocked publishing on this connection. */
  blocked(reason: string): void;
  /** The broker unblocked publishing. */
  unblocked(): void;
}

/**
 * Keeps one connection open for its owner (a client or a worker).
 *
 * @example
 * ```ts ignore
 * import { ConnectionSupervisor } from "./supervisor.ts";
 *
 * const supervisor = new ConnectionSupervisor({ url: "amqp://localhost" }, {
 *   setup: async (connection) => void await connection.channel(),
 *   lost: (error) => console.log("lost", error.message),
 *   restored: () => console.log("back"),
 *   failed: (error) => console.log("gave up", error.message),
 *   blocked: () => {},
 *   unblocked: () => {},
 * });
 * await supervisor.start();
 * await supervisor.close();
 * ```
 */
export class ConnectionSupervisor {
  readonly #options: ConnectionOptions;
  readonly #hooks: SupervisorHooks;
  readonly #reconnect: Required<ReconnectOptions> | false;
  readonly #logger: Logger;
  #state: ConnectionState = "reconnecting";
  #connection?: AMQPClient;
  #closing?: Promise<void>;
  #ending = false;
  readonly #abort = new AbortController();
  #wake?: () => void;
  #loop?: Promise<void>;

  /**
   * Makes a supervisor; nothing connects before {@linkcode start}.
   *
   * @throws {RangeError} for bad reconnect options.
   */
  constructor(options: ConnectionOptions, hooks: SupervisorHooks) {
    this.#options = options;
    this.#hooks = hooks;
    this.#reconnect = options.reconnect === false
      ? false
      : reconnectOptions(options.reconnect);
    this.#logger = options.logger ?? silentLogger;
  }

  /** Where the connection is now. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The connection while it is open or blocked. */
  get connection(): AMQPClient | undefined {
    return this.#connection;
  }

  /**
   * Connects and runs the setup once. A failure here is not retried: it is
   * thrown, and nothing is left open.
   *
   * @throws {ConnectionError} if no broker accepts the connection.
   */
  async start(): Promise<void> {
    const connection = await this.#connect();
    if (this.#closing) {
      await closeConnection(connection);
      throw new ConnectionError("Closed while connecting");
    }
    this.#adopt(connection);
  }

  /**
   * Reports a loss the connection itself did not notice (a channel closed,
   * a consumer cancelled): the connection is dropped and made anew.
   */
  lose(connection: AMQPClient, error: Error): void {
    if (connection !== this.#connection || this.#closing) return;
    this.#connection = undefined;
    connection.ondisconnect = undefined;
    connection.onblocked = undefined;
    connection.onunblocked = undefined;
    connection.socket?.destroy();
    if (this.#ending) {
      // The owner is closing: nothing to reconnect for.
      this.#state = "closed";
      return;
    }
    this.#logger.warn(`Connection lost: ${error.message}`);
    const reconnect = this.#reconnect;
    this.#state = reconnect === false ? "failed" : "reconnecting";
    this.#hooks.lost(error);
    // A listener of the loss may have closed the owner meanwhile.
    if (this.#closing || this.#ending) return;
    if (reconnect === false) {
      this.#fail(error);
      return;
    }
    this.#loop = this.#reconnectLoop(reconnect);
  }

  /**
   * Stops reconnecting, but keeps the connection open if it is: the owner
   * is closing and needs the connection a little longer (to answer the
   * requests in hand), but must not come back after a loss.
   */
  endReconnects(): void {
    this.#ending = true;
    this.#abort.abort();
    this.#wake?.();
  }

  /** Closes the connection and stops reconnecting; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#state !== "failed") this.#state = "closed";
      this.#abort.abort();
      this.#wake?.();
      await this.#loop;
      const connection = this.#connection;
      this.#connection = undefined;
      if (connection) {
        connection.ondisconnect = undefined;
        await closeConnection(connection);
      }
    })();
    return this.#closing;
  }

  /** The URL of the last connection, to fail over from. */
  #lastUrl?: string;

  async #connect(): Promise<AMQPClient> {
    // After a loss, the next broker of the list first.
    const connection = await openConnection(
      {
        ...this.#options,
        url: failoverOrder(this.#options.url, this.#lastUrl),
      },
      this.#abort.signal,
    );
    this.#lastUrl = connectedUrl(connection);
    try {
      await this.#hooks.setup(connection);
    } catch (error) {
      connection.ondisconnect = undefined;
      await closeConnection(connection);
      throw error;
    }
    return connection;
  }

  #adopt(connection: AMQPClient): void {
    this.#connection = connection;
    this.#state = connection.blocked ? "blocked" : "open";
    if (connection.closed) {
      // Closed by the broker in the same read as the end of the setup,
      // before its handlers were in place.
      queueMicrotask(() =>
        this.lose(connection, new Error("Connection closed during setup"))
      );
    }
    connection.ondisconnect = (error) =>
      this.lose(connection, error ?? new Error("Connection closed"));
    connection.onblocked = (reason) => {
      if (connection !== this.#connection) return;
      this.#state = "blocked";
      this.#logger.warn(`The broker blocks publishing: ${reason}`);
      this.#hooks.blocked(reason);
    };
    connection.onunblocked = () => {
      if (connection !== this.#connection) return;
      this.#state = "open";
      this.#logger.info("The broker unblocked publishing");
      this.#hooks.unblocked();
    };
  }

  async #reconnectLoop(options: Required<ReconnectOptions>): Promise<void> {
    const started = Date.now();
    for (let attempt = 0;; attempt++) {
      await this.#sleep(backoffDelay(attempt, options));
      if (this.#closing || this.#ending) return;
      let connection: AMQPClient;
      try {
        connection = await this.#connect();
      } catch (error) {
        const reason = error instanceof Error
          ? error
          : new Error(String(error));
        if (this.#closing || this.#ending) return;
        if (error instanceof AccessRefusedError) {
          this.#fail(reason);
          return;
        }
        if (attempt + 1 >= options.maxAttempts) {
          this.#fail(
            new ConnectionError(
              `Gave up reconnecting after ${
                attempt + 1
              } attempt(s): ${reason.message}`,
              { cause: error },
            ),
          );
          return;
        }
        this.#logger.warn(
          `Reconnection attempt ${attempt + 1} failed: ${reason.message}`,
        );
        continue;
      }
      if (this.#closing || this.#ending) {
        connection.ondisconnect = undefined;
        await closeConnection(connection);
        return;
      }
      this.#adopt(connection);
      this.#logger.info(
        `Reconnected after ${Date.now() - started} ms (${
          attempt + 1
        } attempt(s))`,
      );
      this.#hooks.restored();
      return;
    }
  }

  #fail(error: Error): void {
    this.#state = "failed";
    this.#logger.error(`Not reconnecting: ${error.message}`);
    this.#hooks.failed(error);
  }

  /** Waits `ms`, or less if the supervisor closes meanwhile. */
  #sleep(ms: number): Promise<void> {
    if (this.#closing || this.#ending) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
