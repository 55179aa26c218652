/**
 * The pending-call map of a client: one entry per call, keyed by
 * correlation id, from the moment it is made until it settles.
 *
 * @module
 */

import { Deadlines } from "./_deadlines.ts";
import type { RpcReply } from "../protocol/message.ts";
import type { RequestParts } from "../protocol/request.ts";

/** One call waiting for its reply. */
export interface PendingCall extends RequestParts {
  /** The queue it is sent to. */
  readonly queue: string;
  /** Its timeout in milliseconds (`Infinity` for none). */
  readonly timeout: number;
  /** Settles the call's promise with a reply. */
  readonly resolve: (reply: RpcReply) => void;
  /** Settles the call's promise with an error. */
  readonly reject: (error: unknown) => void;
  /** How many times it was published. */
  attempts: number;
  /** Whether it is published and not yet answered (in flight). */
  sent: boolean;
  /** When it was made, by `performance.now()`: for its latency. */
  started?: number;
  /** The caller's signal, if any. */
  signal?: AbortSignal;
  /** The `abort` listener added to `signal`. */
  onAbort?: () => void;
  /**
   * The `user_id` its reply must carry (`replyUserId`); replies from
   * anyone else are dropped.
   */
  replyUserId?: string;
}

/**
 * Calls by correlation id, each either waiting to be sent (the connection
 * is down or blocked, or too many calls are in flight) or sent. An entry is
 * added when the call is made and taken out exactly once: by its reply, its
 * return, its timeout, its abort, a failed publish, the loss of the
 * connection, or the client's close. Taking an entry out also removes its
 * abort listener. Deadlines share one timer (see `_deadlines.ts`), which
 * {@linkcode PendingCalls.stopTimer} stops.
 *
 * @example
 * ```ts
 * import { type PendingCall, PendingCalls } from "./_pending_calls.ts";
 *
 * const pending = new PendingCalls();
 * const call: PendingCall = {
 *   id: "id-1", queue: "rpc_queue", body: "30", timeout: 1000, deadline: Date.now() + 1000,
 *   resolve: () => {}, reject: () => {}, attempts: 0, sent: false,
 * };
 * pending.add("id-1", call);
 * console.log(pending.size, pending.waiting); // 1 1
 * pending.markSent("id-1", call);
 * console.log(pending.inFlight); // 1
 * pending.take("id-1");
 * console.log(pending.size, pending.take("id-1")); // 0 undefined
 * ```
 */
export class PendingCalls {
  readonly #calls = new Map<string, PendingCall>();
  // The calls not yet sent, in the order they were made (or sent back).
  readonly #waiting = new Map<string, PendingCall>();
  #inFlight = 0;
  readonly #deadlines?: Deadlines;

  /**
   * With `expire`, calls with a finite timeout are handed to it once it has
   * passed since they were added (still pending; `expire` takes them out).
   */
  constructor(expire?: (id: string, call: PendingCall) => void) {
    if (expire) {
      this.#deadlines = new Deadlines({
        isLive: (id) => this.#calls.has(id),
        expire: (id) => expire(id, this.#calls.get(id)!),
      });
    }
  }

  /** The number of calls not yet settled. */
  get size(): number {
    return this.#calls.size;
  }

  /** The number of calls published and waiting for their reply. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The number of calls waiting to be published. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Registers a call: waiting to be sent, or, with `sending`, about to be
   * published at once (it skips the waiting list: the common case).
   */
  add(id: string, call: PendingCall, sending = false): void {
    this.#calls.set(id, call);
    if (call.timeout !== Infinity) {
      // The call's own start time, when it has one: one clock read less.
      this.#deadlines?.add(
        id,
        (call.started ?? performance.now()) + call.timeout,
      );
    }
    if (sending) {
      call.sent = true;
      call.attempts++;
      this.#inFlight++;
    } else {
      this.#waiting.set(id, call);
    }
  }

  /** The call with this id, if it is not settled. */
  get(id: string | undefined): PendingCall | undefined {
    return id === undefined ? undefined : this.#calls.get(id);
  }

  /** The longest-waiting call not yet sent. */
  firstWaiting(): [string, PendingCall] | undefined {
    for (const entry of this.#waiting) return entry;
    return undefined;
  }

  /** Records that a waiting call is published. */
  markSent(id: string, call: PendingCall): void {
    this.#waiting.delete(id);
    call.sent = true;
    call.attempts++;
    this.#inFlight++;
  }

  /** Puts a sent call back to wait, to be sent again. */
  unsend(id: string, call: PendingCall): void {
    if (!call.sent) return;
    call.sent = false;
    this.#inFlight--;
    this.#waiting.set(id, call);
  }

  /** The ids and calls that are sent, as a snapshot. */
  sentCalls(): [string, PendingCall][] {
    return [...this.#calls].filter(([, call]) => call.sent);
  }

  /**
   * Takes a call out and removes its abort listener; `undefined`
   * if it is unknown or already settled.
   */
  take(id: string | undefined): PendingCall | undefined {
    if (id === undefined) return undefined;
    const call = this.#calls.get(id);
    if (call === undefined) return undefined;
    this.#calls.delete(id);
    if (call.sent) this.#inFlight--;
    else this.#waiting.delete(id);
    if (call.timeout !== Infinity) this.#deadlines?.settled();
    if (call.onAbort) call.signal?.removeEventListener("abort", call.onAbort);
    return call;
  }

  /**
   * Takes every call out and rejects each with `errorFor(call)`; the
   * deadline timer stops.
   */
  rejectAll(errorFor: (call: PendingCall) => unknown): void {
    for (const id of [...this.#calls.keys()]) {
      const call = this.take(id)!;
      call.reject(errorFor(call));
    }
    this.stopTimer();
  }

  /**
   * Stops the deadline timer and forgets every deadline: for a client that
   * is closed (calls added afterwards get their deadlines again).
   */
  stopTimer(): void {
    this.#deadlines?.clear();
  }
}
