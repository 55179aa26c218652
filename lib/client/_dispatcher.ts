/**
 * {@linkcode Dispatcher}: the path of a client's calls once made: published
 * at once, or kept waiting (the connection is down or blocked, or too many
 * are in flight) and published in order; then settled exactly once by
 * their reply, their return, their timeout, their abort, a failed publish,
 * the loss of the connection, or the client's close.
 *
 * @module
 */

import type { ConnectionState } from "../amqp/supervisor.ts";
import { RandomIds } from "./_ids.ts";
import {
  ConnectionLostError,
  NoRouteError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { decodeErrorReply } from "../protocol/error_reply.ts";
import { RpcReply } from "../protocol/message.ts";
import type { MessageProperties } from "../protocol/properties.ts";
import { errorCodeOf } from "../protocol/reply.ts";
import { requestProperties, type RequestSender } from "../protocol/request.ts";
import type { Call } from "./_call.ts";
import type { ClientMetrics } from "./_metrics.ts";
import { type PendingCall, PendingCalls } from "./_pending_calls.ts";
import type { RpcTransport } from "./transport.ts";

/** What a dispatcher works with. */
export interface DispatcherInit {
  /** Publishes requests. */
  readonly transport: RpcTransport;
  /** What requests are sent as. */
  readonly sender: RequestSender;
  /** Where calls are counted. */
  readonly metrics: ClientMetrics;
  /** Where dropped replies are told. */
  readonly logger: Logger;
  /** How many calls may be in flight at once. */
  readonly maxInFlight: number;
  /** The largest reply body accepted. */
  readonly maxReplyBytes: number;
  /** Where the connection is: calls go out only while it is `open`. */
  state(): ConnectionState;
  /** The last loss of the connection, to name as a timeout's cause. */
  lastLoss(): Error | undefined;
}

/** The calls of one client, from dispatch to settlement. */
export class Dispatcher {
  readonly #init: DispatcherInit;
  readonly #pending = new PendingCalls((id, call) => this.#expire(id, call));
  // Correlation ids no one can predict: another service's worker that sees
  // one of them cannot answer this client's other calls first.
  readonly #ids = new RandomIds();

  constructor(init: DispatcherInit) {
    this.#init = init;
  }

  /** Calls not yet settled (sent or waiting). */
  get size(): number {
    return this.#pending.size;
  }

  /** Calls sent and waiting for their reply. */
  get inFlight(): number {
    return this.#pending.inFlight;
  }

  /** Calls waiting to be sent. */
  get waiting(): number {
    return this.#pending.waiting;
  }

  /** The correlation id of the next call. */
  nextId(): string {
    return this.#ids.next();
  }

  /**
   * Takes a new call: publishes it at once if the connection takes it and
   * no call waits before it, else keeps it waiting.
   */
  dispatch(call: Call): void {
    const pending = this.#pending;
    const id = call.id;
    const signal = call.signal;
    if (signal) {
      call.onAbort = () => {
        if (pending.take(id)) call.reject(signal.reason);
        this.pump();
      };
      signal.addEventListener("abort", call.onAbort, { once: true });
    }
    if (
      this.#init.state() === "open" && pending.waiting === 0 &&
      pending.inFlight < this.#init.maxInFlight
    ) {
      pending.add(id, call, true);
      this.#publish(call);
    } else {
      pending.add(id, call);
      this.pump();
    }
  }

  /** Rejects a call whose timeout passed. */
  #expire(id: string, call: PendingCall): void {
    this.#pending.take(id);
    // A call that never left names what held it back.
    const state = this.#init.state();
    const cause = call.attempts > 0
      ? undefined
      : state === "blocked"
      ? new Error("The broker blocked publishing")
      : state === "reconnecting"
      ? this.#init.lastLoss()
      : undefined;
    call.reject(new TimeoutError(call.queue, call.timeout, { cause }));
    this.pump();
  }

  /** Sends waiting calls while the connection takes them. */
  pump(): void {
    const pending = this.#pending;
    const max = this.#init.maxInFlight;
    while (
      pending.waiting > 0 && this.#init.state() === "open" &&
      pending.inFlight < max
    ) {
      const [id, call] = pending.firstWaiting()!;
      this.#send(id, call);
    }
  }

  #send(id: string, call: PendingCall): void {
    this.#pending.markSent(id, call);
    this.#publish(call);
  }

  /** Publishes a call already counted as sent. */
  #publish(call: PendingCall): void {
    const pending = this.#pending;
    const id = call.id;
    const attempt = call.attempts;
    const properties = requestProperties(call, this.#init.sender);
    let published: Promise<unknown>;
    try {
      published = this.#init.transport.publish(
        call.queue,
        call.body,
        properties,
      );
    } catch (error) {
      // A transport that throws instead of rejecting.
      published = Promise.reject(error);
    }
    published.catch(
      (cause) => {
        // Settled meanwhile, or already handled by the loss of the
        // connection and sent again.
        if (pending.get(id) !== call || call.attempts !== attempt) return;
        if (!call.sent) return;
        if (cause instanceof TypeError || cause instanceof RangeError) {
          // An encoding failure is the caller's bad argument.
          pending.take(id);
          call.reject(cause);
        } else if (
          this.#init.state() === "blocked" ||
          (call.messageId !== undefined &&
            this.#init.state() === "reconnecting")
        ) {
          // Refused before it left while the broker blocks publishing, or
          // idempotent and the connection went away under it: send it again
          // once the connection takes it. (While the connection looks open,
          // sending again at once could fail the same way forever, so the
          // call fails instead.)
          pending.unsend(id, call);
        } else {
          pending.take(id);
          call.reject(
            new ConnectionLostError(
              `Cannot call "${call.queue}": the request could not be sent`,
              { cause },
            ),
          );
        }
        this.pump();
      },
    );
  }

  /** A message arrived on the reply path: settles the call it answers. */
  reply(body: Uint8Array, properties: MessageProperties): void {
    const pending = this.#pending;
    const expected = pending.get(properties.correlationId)?.replyUserId;
    if (expected !== undefined && properties.userId !== expected) {
      // Not from the worker the caller expects (the broker vouches for
      // user_id): someone else who knows the reply address. The call still
      // waits for its real reply.
      this.#init.metrics.forgedReply();
      this.#init.logger.warn(
        "Dropped a reply whose user_id is not the one its call expects (replyUserId)",
        { user_id: properties.userId ?? "(none)", expected },
      );
      return;
    }
    const call = pending.take(properties.correlationId);
    if (call === undefined) {
      // Not ours, or no longer awaited: a late reply to a call that timed
      // out or was aborted, or a duplicate sent when a worker died between
      // replying and acking and the request was redelivered. The tutorial's
      // rule applies: discard it, it is not an error.
      this.#init.metrics.lateReply();
      this.#init.logger.debug(
        `Dropped a reply with unknown correlation id ${properties.correlationId}`,
      );
      return;
    }
    this.pump();
    if (body.byteLength > this.#init.maxReplyBytes) {
      call.reject(
        new ProtocolError(
          `The reply from "${call.queue}" has ${body.byteLength} bytes; this client accepts at most ${this.#init.maxReplyBytes} (maxReplyBytes)`,
        ),
      );
      return;
    }
    const code = errorCodeOf(properties);
    if (code === undefined) {
      call.resolve(new RpcReply(body, properties));
      return;
    }
    const error = decodeErrorReply(code, body, {
      method: call.properties?.type,
    });
    if (error instanceof RemoteError && error.code === "DEADLINE_EXCEEDED") {
      call.reject(new TimeoutError(call.queue, call.timeout, { cause: error }));
    } else {
      call.reject(error);
    }
  }

  /** The broker returned a request: no queue has its name. */
  returned(properties: MessageProperties, replyText: string): void {
    const call = this.#pending.take(properties.correlationId);
    call?.reject(
      new NoRouteError(call.queue, { cause: new Error(replyText) }),
    );
    this.pump();
  }

  /**
   * The connection is lost: no reply to a call in flight can arrive. An
   * idempotent call waits to be sent again; any other rejects with
   * `ConnectionLostError`. Returns how many wait to be sent again.
   */
  lost(error: Error): number {
    let resent = 0;
    for (const [id, call] of this.#pending.sentCalls()) {
      if (call.messageId !== undefined) {
        this.#pending.unsend(id, call);
        resent++;
        continue;
      }
      this.#pending.take(id);
      call.reject(
        new ConnectionLostError(
          `Call to "${call.queue}" lost: the connection closed before its reply came`,
          { cause: error },
        ),
      );
    }
    return resent;
  }

  /** Rejects every call not yet settled with `errorFor(call)`. */
  rejectAll(errorFor: (call: PendingCall) => unknown): void {
    this.#pending.rejectAll(errorFor);
  }
}
