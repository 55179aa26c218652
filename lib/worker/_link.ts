/**
 * {@linkcode WorkerLink}: what a worker does as its connection changes:
 * counting it, holding replies while the broker blocks publishing, and the
 * events it dispatches.
 *
 * @module
 */

import type { ConnectionEventType } from "../amqp/events.ts";
import type { ServerMetrics } from "./_metrics.ts";

/** What the link acts on. */
export interface WorkerLinkInit {
  readonly metrics: ServerMetrics;
  /** Dispatches an event of the worker. */
  emit(
    type: ConnectionEventType,
    init?: { error?: Error; reason?: string },
  ): void;
  /** The connection is lost for good. */
  failed(error: Error): void;
}

/** The changes of a worker's connection, and what follows from them. */
export class WorkerLink {
  readonly #init: WorkerLinkInit;
  /** Set while the broker blocks publishing; resolves when it no longer does. */
  #blocked?: PromiseWithResolvers<void>;

  constructor(init: WorkerLinkInit) {
    this.#init = init;
  }

  /** Whether the broker blocks publishing now (a memory or disk alarm). */
  get isBlocked(): boolean {
    return this.#blocked !== undefined;
  }

  /**
   * Resolves once the broker takes publishes: when it unblocks, the
   * connection is lost, or the worker closes. (Check {@linkcode isBlocked}
   * first: the common case needs no wait, and no promise.)
   */
  async publishable(): Promise<void> {
    while (this.#blocked) await this.#blocked.promise;
  }

  /** The connection is lost: reconnecting. */
  lost(error: Error): void {
    this.#init.metrics.connected(false);
    this.unblock();
    this.#init.emit("disconnect", { error });
  }

  /** Reconnected and consuming again. */
  restored(): void {
    this.#init.metrics.connected(true);
    this.#init.emit("reconnect");
  }

  /** Reconnecting was given up. */
  failed(error: Error): void {
    this.unblock();
    this.#init.failed(error);
  }

  /** The broker blocks publishing: replies wait. */
  blocked(reason: string): void {
    this.#blocked ??= Promise.withResolvers<void>();
    this.#init.emit("blocked", { reason });
  }

  /** The broker takes publishes again. */
  unblocked(): void {
    this.unblock();
    this.#init.emit("unblocked");
  }

  /** Ends any wait for the broker to take publishes. */
  unblock(): void {
    this.#blocked?.resolve();
    this.#blocked = undefined;
  }
}
