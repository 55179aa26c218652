/**
 * Every patch of `@cloudamqp/amqp-client`'s internals, in one place: the
 * most fragile code at the next upgrade of the dependency. Each relies on
 * something the library does not promise; `tests/unit/amqp_patches_test.ts`
 * and `tests/broker/amqp_patches_test.ts` fail loudly if a new version
 * changes it:
 *
 * - the frame reader is the socket's `data` listener, and a channel keeps
 *   the delivery it is reading in `channel.delivery` (the parser guard);
 * - every frame is written through `connection.send()` (the write
 *   coalescer);
 * - `connection.socket` is the Node socket (TCP_NODELAY, and whether a
 *   connection can still write).
 *
 * @module
 */

import { nextTick } from "node:process";
import type { AMQPClient, AMQPMessage } from "../deps.ts";
import { ProtocolError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";

/**
 * The version of `@cloudamqp/amqp-client` these patches were written for
 * and tested with (`lib/deps.ts` pins it): read them again before moving.
 */
export const PATCHED_VERSION = "4.1.1";

/**
 * Patches a connection that just opened: TCP_NODELAY, the parser guard and
 * the write coalescer.
 */
export function patchConnection(connection: AMQPClient, logger?: Logger): void {
  // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold back the
  // small reply and ack frames: 45 calls/s instead of thousands.
  connection.socket?.setNoDelay(true);
  guardParser(connection, logger);
  coalesceWrites(connection);
}

/**
 * Whether `connection` may still write: its socket exists and is neither
 * destroyed nor ended (the connection itself may not have noticed yet).
 */
export function canWrite(connection: AMQPClient): boolean {
  const socket = connection.socket;
  return socket !== undefined && !socket.destroyed && !socket.writableEnded;
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
