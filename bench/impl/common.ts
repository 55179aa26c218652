/**
 * What every implementation of the benchmark provides: a client side that
 * makes one call at a time per caller (the harness runs as many callers as
 * there are calls in flight) and a worker side that echoes each request's
 * body. Also the helpers the baselines on amqp-client share.
 *
 * @module
 */

import { AMQPClient } from "../deps.ts";

/** The client side of one implementation, in its own process. */
export interface ClientSide {
  /** Sends `body` and resolves with the echoed body. */
  call(body: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** The worker side of one implementation, in its own process. */
export interface WorkerSide {
  /** Requests answered so far. */
  handled(): number;
  close(): Promise<void>;
}

/** Where each side connects, and the queues of this run. */
export interface SideOptions {
  url: string;
  /** The request queue. */
  queue: string;
  /** The raw ping-pong's reply queue (the other baselines use their own). */
  replyQueue: string;
  /** Names the connection in the broker's management UI. */
  name: string;
}

export interface Implementation {
  client(options: SideOptions): Promise<ClientSide>;
  worker(options: SideOptions): Promise<WorkerSide>;
}

/** The frame size the library negotiates too, so 64 KiB is one frame. */
export const FRAME_MAX = 131_072;

/**
 * The URL with a 128 KiB frame size and a connection name, for the baselines
 * on amqp-client (whose default frame size is 8 KiB).
 */
export function tunedUrl(url: string, name: string): string {
  const u = new URL(url);
  if (!u.searchParams.has("frameMax")) {
    u.searchParams.set("frameMax", String(FRAME_MAX));
  }
  if (!u.searchParams.has("heartbeat")) u.searchParams.set("heartbeat", "30");
  u.searchParams.set("name", name);
  return u.toString();
}

/** Opens an amqp-client connection with TCP_NODELAY, as the library does. */
export async function connect(url: string, name: string): Promise<AMQPClient> {
  const connection = new AMQPClient(tunedUrl(url, name));
  const connected = connection.connect();
  // Set on the socket as soon as it exists, before the handshake: the
  // handshake's small frames would otherwise wait for delayed ACKs (the
  // tutorial's Go client gets TCP_NODELAY from Go's net package at once).
  (connection as unknown as { socket?: { setNoDelay(on: boolean): void } })
    .socket?.setNoDelay(true);
  await connected;
  return connection;
}

/** Closes a connection, ignoring one that is already gone. */
export async function closeQuietly(connection: AMQPClient): Promise<void> {
  try {
    await connection.close();
  } catch {
    // Already closed.
  }
}
