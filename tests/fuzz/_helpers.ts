/**
 * Small helpers both fuzz tests use: waiting (with a limit, or polling),
 * and tearing a test down.
 *
 * @module
 */

import type { RpcServer } from "../../mod.ts";
import type { Connection } from "./_amqplib.ts";

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`'s value, or `undefined` if it takes longer than `ms`. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every 25 ms until it holds or `stop` does; true if it held. */
export async function until(
  check: () => boolean | Promise<boolean>,
  limit: number,
  stop: () => boolean,
): Promise<boolean> {
  const end = Date.now() + limit;
  for (;;) {
    if (await check()) return true;
    if (stop() || Date.now() > end) return false;
    await delay(25);
  }
}

/**
 * Closes the worker (giving up after 15 s: a wedged worker is reported, not
 * waited for), deletes the queue and closes the fuzzer's connection.
 */
export async function tearDown(
  label: string,
  server: RpcServer | undefined,
  connection: Connection | undefined,
  queue: string,
): Promise<void> {
  if (server) {
    const closed = await within(
      server.close().then(() => true, () => true),
      15_000,
    );
    // deno-lint-ignore no-console -- a wedged worker is reported.
    if (!closed) console.log(`${label}: the worker did not close in 15 s`);
  }
  if (connection) {
    try {
      const channel = await connection.createChannel();
      await channel.deleteQueue(queue);
    } catch {
      // The connection is gone; the queue is left behind.
    }
    await connection.close().catch(() => {});
  }
}
