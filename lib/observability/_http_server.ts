/**
 * A small HTTP/1.1 server for a few GET endpoints over a listener of its
 * own, bounded against callers that open connections and send nothing:
 * at most `maxConnections` open (more are closed as soon as they are
 * accepted), a deadline for each request's head and for taking its
 * response, a cap on the head's size, an idle timeout between requests,
 * and an accept loop that a failure to accept (too many open files, say)
 * pauses for a while but never ends.
 *
 * `Deno.serve` has none of these bounds, and its accept loop's errors
 * escape as uncaught ones: held idle connections run the process out of
 * file descriptors and end it.
 *
 * @module
 */

import {
  headEnd,
  leadingEmptyLines,
  parseRequestHead,
  responseHead,
} from "./_http_head.ts";

/** The bounds of an {@linkcode HttpServer}, in milliseconds and bytes. */
export interface HttpLimits {
  /** Connections open at once; more are closed as soon as accepted. */
  readonly maxConnections: number;
  /**
   * Time a caller has to send a request's head, counted from when the
   * connection was accepted or the head's first byte arrived; and to take
   * (read) its response.
   */
  readonly headersTimeout: number;
  /** Time a connection may stay open, idle, between requests. */
  readonly keepAliveTimeout: number;
  /** The largest request head read, in bytes; a larger one gets 431. */
  readonly maxHeaderSize: number;
}

/** What an {@linkcode HttpServer} reports, for metrics and logs. */
export interface HttpServerEvents {
  /** A connection was accepted and is being served. */
  opened?(): void;
  /** A connection served was closed. */
  closed?(): void;
  /**
   * A connection was closed to stay within `maxConnections`: the oldest
   * one still waiting for its request head, to make room for a new one, or
   * the new one when every other is being answered.
   */
  refused?(): void;
  /**
   * A connection was closed for sending no request head, or taking no
   * response, in time (not for being idle between requests).
   */
  timedOut?(): void;
  /**
   * Accepting failed, for the `failures`-th time in a row; the server tries
   * again in `retryIn` ms.
   */
  acceptFailed?(error: unknown, failures: number, retryIn: number): void;
  /** Accepting works again, after `failures` failures in a row. */
  acceptResumed?(failures: number): void;
}

/** Answers a request: its method and the path of its target. */
export type HttpHandler = (
  method: string,
  path: string,
) => Response | Promise<Response>;

/** The first pause after a failed accept; it doubles up to the last. */
const ACCEPT_BACKOFF_MIN = 50;
const ACCEPT_BACKOFF_MAX = 1_000;
const READ_SIZE = 4_096;
const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Serves `handler` on the connections `listener` accepts, within `limits`,
 * until closed. The server owns the listener: closing it closes the
 * listener and every connection.
 */
export class HttpServer {
  readonly #listener: Deno.Listener;
  readonly #handler: HttpHandler;
  readonly #limits: HttpLimits;
  readonly #events: HttpServerEvents;
  /**
   * Open connections, oldest first, each with whether it waits for a
   * request head (silent since it was accepted or answered last).
   */
  readonly #connections = new Map<Deno.Conn, { waiting: boolean }>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #closing?: Promise<void>;
  #pause?: { timer: ReturnType<typeof setTimeout>; resolve: () => void };

  /** Starts serving. */
  constructor(
    listener: Deno.Listener,
    handler: HttpHandler,
    limits: HttpLimits,
    events: HttpServerEvents = {},
  ) {
    this.#listener = listener;
    this.#handler = handler;
    this.#limits = limits;
    this.#events = events;
    this.#accepting = this.#acceptLoop();
  }

  /**
   * Stops accepting, closes every connection, and resolves once all is
   * done; idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    try {
      this.#listener.close();
    } catch {
      // Closed already.
    }
    if (this.#pause) {
      clearTimeout(this.#pause.timer);
      this.#pause.resolve();
    }
    for (const conn of this.#connections.keys()) closeQuietly(conn);
    this.#closing = Promise.all([this.#accepting, ...this.#tasks]).then(
      () => {},
    );
    return this.#closing;
  }

  async #acceptLoop(): Promise<void> {
    let failures = 0;
    while (!this.#closing) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        // Closed, by close() or under it: nothing more to accept.
        if (this.#closing || error instanceof Deno.errors.BadResource) return;
        failures++;
        const retryIn = Math.min(
          ACCEPT_BACKOFF_MAX,
          ACCEPT_BACKOFF_MIN * 2 ** (failures - 1),
        );
        this.#events.acceptFailed?.(error, failures, retryIn);
        await this.#wait(retryIn);
        continue;
      }
      if (failures > 0) {
        this.#events.acceptResumed?.(failures);
        failures = 0;
      }
      if (this.#closing) {
        closeQuietly(conn);
      } else if (
        this.#connections.size >= this.#limits.maxConnections &&
        !this.#evictSilent()
      ) {
        closeQuietly(conn);
        this.#events.refused?.();
      } else {
        const state = { waiting: true };
        this.#connections.set(conn, state);
        this.#events.opened?.();
        const task = this.#serve(conn, state).finally(() => {
          this.#connections.delete(conn);
          this.#tasks.delete(task);
          closeQuietly(conn);
          this.#events.closed?.();
        });
        this.#tasks.add(task);
      }
    }
  }

  /**
   * Closes the oldest connection that still waits for a request head, to
   * make room: callers that connect and send nothing cannot keep the
   * places from a probe that asks at once. `false` if every connection is
   * being answered.
   */
  #evictSilent(): boolean {
    for (const [conn, state] of this.#connections) {
      if (!state.waiting) continue;
      this.#connections.delete(conn);
      closeQuietly(conn);
      this.#events.refused?.();
      return true;
    }
    return false;
  }

  /** A pause that close() cuts short. */
  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pause = undefined;
        resolve();
      }, ms);
      this.#pause = { timer, resolve };
    });
  }

  /** Serves one connection's requests, one after the other. */
  async #serve(conn: Deno.Conn, state: { waiting: boolean }): Promise<void> {
    const { headersTimeout, keepAliveTimeout, maxHeaderSize } = this.#limits;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const chunk = new Uint8Array(READ_SIZE);
    let buffered: Uint8Array = EMPTY;
    // Between requests, idle: the next head is due from its first byte.
    let idle = false;
    // Closing the connection ends the read or write it waits on. A kept
    // alive connection closed for being idle missed no deadline.
    const deadline = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = !idle;
        closeQuietly(conn);
      }, ms);
    };
    try {
      // The first head is due from the accept: no idle time before it.
      deadline(headersTimeout);
      for (;;) {
        buffered = buffered.subarray(leadingEmptyLines(buffered));
        let end = headEnd(buffered);
        while (end === -1 && buffered.length <= maxHeaderSize) {
          const n = await conn.read(chunk);
          if (n === null) return;
          if (idle) {
            idle = false;
            deadline(headersTimeout);
          }
          buffered = concat(buffered, chunk.subarray(0, n));
          buffered = buffered.subarray(leadingEmptyLines(buffered));
          end = headEnd(buffered);
        }
        if (end === -1 || end > maxHeaderSize) {
          await this.#write(conn, status(431), "GET", false);
          return;
        }
        const head = parseRequestHead(buffered.subarray(0, end));
        buffered = buffered.subarray(end);
        state.waiting = false;
        if (!head) {
          await this.#write(conn, status(400), "GET", false);
          return;
        }
        // A body is not read: after the answer, the connection closes.
        const keepAlive = head.keepAlive && !head.hasBody;
        let response: Response;
        try {
          response = await this.#handler(head.method, head.path);
        } catch {
          await this.#write(conn, status(500), head.method, false);
          return;
        }
        deadline(headersTimeout);
        await this.#write(conn, response, head.method, keepAlive);
        if (!keepAlive) return;
        // The next request may have come with this one (pipelined).
        idle = buffered.length === 0;
        state.waiting = true;
        deadline(idle ? keepAliveTimeout : headersTimeout);
      }
    } catch {
      // Reset by the caller, or closed on a deadline or by close().
    } finally {
      clearTimeout(timer);
      if (timedOut) this.#events.timedOut?.();
    }
  }

  async #write(
    conn: Deno.Conn,
    response: Response,
    method: string,
    keepAlive: boolean,
  ): Promise<void> {
    const body = new Uint8Array(await response.arrayBuffer());
    const head = responseHead(response, body.length, keepAlive);
    await writeAll(conn, method === "HEAD" ? head : concat(head, body));
  }
}

function status(code: number): Response {
  return new Response(null, { status: code });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}
