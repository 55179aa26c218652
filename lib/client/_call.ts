/**
 * One call of a client, from the moment it is made until it settles.
 *
 * @module
 */

import type { RpcReply } from "../protocol/message.ts";
import type { MessageProperties } from "../protocol/properties.ts";
import type { ClientMetrics } from "./_metrics.ts";
import type { PendingCall } from "./_pending_calls.ts";

/**
 * A call in the pending map. Its `resolve` and `reject` count it before they
 * settle its promise; as methods, not closures, they cost no allocation per
 * call (the hot path makes tens of thousands of calls a second).
 */
export class Call implements PendingCall {
  readonly deadline: number;
  attempts = 0;
  sent = false;
  signal?: AbortSignal;
  onAbort?: () => void;
  replyUserId?: string;
  readonly started: number = performance.now();
  readonly #resolve: (reply: RpcReply) => void;
  readonly #reject: (error: unknown) => void;
  readonly #metrics: ClientMetrics;

  constructor(
    readonly id: string,
    readonly queue: string,
    readonly body: string | Uint8Array,
    readonly properties: MessageProperties | undefined,
    readonly timeout: number,
    readonly messageId: string | undefined,
    readonly persistent: boolean,
    settle: {
      resolve: (reply: RpcReply) => void;
      reject: (error: unknown) => void;
    },
    metrics: ClientMetrics,
  ) {
    this.deadline = timeout === Infinity ? Infinity : Date.now() + timeout;
    this.#resolve = settle.resolve;
    this.#reject = settle.reject;
    this.#metrics = metrics;
  }

  /** The method it names, if any. */
  get method(): string | undefined {
    return this.properties?.type;
  }

  resolve(reply: RpcReply): void {
    try {
      this.#metrics.settled(this.queue, this.method, this.started);
    } finally {
      this.#resolve(reply);
    }
  }

  reject(error: unknown): void {
    try {
      this.#metrics.settled(this.queue, this.method, this.started, error);
    } finally {
      this.#reject(error);
    }
  }
}
