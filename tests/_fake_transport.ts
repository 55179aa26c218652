/**
 * A transport that records what a client publishes and lets a test play
 * the broker: reply, return, or lose the connection.
 *
 * @module
 */

import type {
  ConnectionState,
  MessageProperties,
  RpcTransport,
  TransportListener,
} from "../mod.ts";

/** One request the client published. */
export interface Published {
  queue: string;
  body: string | Uint8Array;
  properties: MessageProperties;
}

/**
 * The fake. `failNextPublish` makes the next publish reject; `lose`,
 * `restore`, `fail`, `block` and `unblock` play the connection's life.
 */
export class FakeTransport implements RpcTransport {
  readonly replyTo = "fake.reply-to";
  readonly published: Published[] = [];
  state?: ConnectionState;
  throwNextPublish?: Error;
  failNextPublish?: Error;
  closed = 0;
  #listener?: TransportListener;

  listen(listener: TransportListener): void {
    this.#listener = listener;
  }

  publish(
    queue: string,
    body: string | Uint8Array,
    properties: MessageProperties,
  ): Promise<void> {
    const thrown = this.throwNextPublish;
    this.throwNextPublish = undefined;
    if (thrown) throw thrown;
    this.published.push({ queue, body, properties });
    const failure = this.failNextPublish;
    this.failNextPublish = undefined;
    return failure ? Promise.reject(failure) : Promise.resolve();
  }

  close(): Promise<void> {
    this.closed++;
    return Promise.resolve();
  }

  /** The last request published. */
  get last(): Published {
    const last = this.published.at(-1);
    if (!last) throw new Error("nothing was published");
    return last;
  }

  reply(
    correlationId: string | undefined,
    body: string,
    properties: MessageProperties = {},
  ): void {
    this.#listener!.reply(new TextEncoder().encode(body), {
      ...properties,
      correlationId,
    });
  }

  returnLast(): void {
    this.#listener!.returned(this.last.properties, "312 NO_ROUTE");
  }

  lose(error = new Error("socket closed")): void {
    this.#listener!.lost(error);
  }

  restore(): void {
    this.#listener!.restored?.();
  }

  fail(error = new Error("gave up")): void {
    this.#listener!.failed?.(error);
  }

  block(reason = "low on memory"): void {
    this.#listener!.blocked?.(reason);
  }

  unblock(): void {
    this.#listener!.unblocked?.();
  }
}
