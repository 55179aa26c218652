/**
 * The pending-call map of a client: one entry per call in flight, keyed by
 * correlation id.
 *
 * @module
 */

import type { RpcReply } from "./message.ts";

/** One call waiting for its reply. */
export interface PendingCall {
  /** The queue it was sent to, for error messages. */
  readonly queue: string;
  /** Its timeout in milliseconds (`Infinity` for none). */
  readonly timeout: number;
  /** Settles the call's promise with a reply. */
  readonly resolve: (reply: RpcReply) => void;
  /** Settles the call's promise with an error. */
  readonly reject: (error: unknown) => void;
  /** The timeout timer, if the call has a timeout. */
  timer?: ReturnType<typeof setTimeout>;
  /** The caller's signal, if any, and the listener added to it. */
  signal?: AbortSignal;
  /** The `abort` listener added to `signal`. */
  onAbort?: () => void;
}

/**
 * Calls in flight by correlation id. An entry is added before its request
 * is published and taken out exactly once: by its reply, its return, its
 * timeout, its abort, a failed publish, or the client's close. Taking an
 * entry out also stops its timer and abort listener, so a settled call
 * leaves nothing behind.
 *
 * @example
 * ```ts
 * import { PendingCalls } from "./pending_calls.ts";
 *
 * const pending = new PendingCalls();
 * pending.add("id-1", { queue: "rpc_queue", timeout: 1000, resolve: () => {}, reject: () => {} });
 * console.log(pending.size); // 1
 * pending.take("id-1");
 * console.log(pending.size, pending.take("id-1")); // 0 undefined
 * ```
 */
export class PendingCalls {
  readonly #calls = new Map<string, PendingCall>();

  /** The number of calls in flight. */
  get size(): number {
    return this.#calls.size;
  }

  /** Registers a call. */
  add(id: string, call: PendingCall): void {
    this.#calls.set(id, call);
  }

  /**
   * Takes a call out and stops its timer and abort listener; `undefined`
   * if it is unknown or already settled.
   */
  take(id: string | undefined): PendingCall | undefined {
    if (id === undefined) return undefined;
    const call = this.#calls.get(id);
    if (call === undefined) return undefined;
    this.#calls.delete(id);
    if (call.timer !== undefined) clearTimeout(call.timer);
    if (call.onAbort) call.signal?.removeEventListener("abort", call.onAbort);
    return call;
  }

  /** Takes every call out and rejects each with `errorFor(call)`. */
  rejectAll(errorFor: (call: PendingCall) => unknown): void {
    for (const id of [...this.#calls.keys()]) {
      const call = this.take(id)!;
      call.reject(errorFor(call));
    }
  }
}
