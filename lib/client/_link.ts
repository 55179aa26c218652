/**
 * {@linkcode ClientLink}: what a client does as its connection changes:
 * its state, what happens to its calls at a loss, a recovery, a block or a
 * failure, and the events it dispatches.
 *
 * @module
 */

import type { ConnectionEventType } from "../amqp/events.ts";
import type { ConnectionState } from "../amqp/supervisor.ts";
import { ConnectionLostError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Dispatcher } from "./_dispatcher.ts";
import type { ClientMetrics } from "./_metrics.ts";
import type { RpcTransport } from "./transport.ts";

/** What the link acts on. */
export interface ClientLinkInit {
  readonly transport: RpcTransport;
  readonly calls: Dispatcher;
  readonly metrics: ClientMetrics;
  readonly logger: Logger;
  /** Whether requests carry `user_id`: turned off if the broker refuses it. */
  readonly sender: { sendUserId: boolean };
  /** Dispatches an event of the client. */
  emit(
    type: ConnectionEventType,
    init?: { error?: Error; reason?: string },
  ): void;
}

/** The state of a client's connection, and what follows from its changes. */
export class ClientLink {
  readonly #init: ClientLinkInit;
  /** Where the connection is. */
  state: ConnectionState = "open";
  /** The last loss, to name as the cause of a call that timed out waiting. */
  lastLoss?: Error;
  /** Why the connection is lost for good, once it is. */
  failure?: Error;
  /** Set once the client's owner closed it: changes no longer matter. */
  closing = false;

  constructor(init: ClientLinkInit) {
    this.#init = init;
    const state = init.transport.state ?? "open";
    if (state === "closed" || state === "failed") {
      this.state = "failed";
      this.failure = new Error(`The transport is ${state}`);
    } else {
      this.state = state;
    }
  }

  /** The connection is lost: reconnecting. */
  lost(error: Error): void {
    if (this.closing) return;
    this.state = "reconnecting";
    this.lastLoss = error;
    this.#init.logger.error(`Connection lost: ${error.message}`);
    if (
      this.#init.sender.sendUserId &&
      /user_id property set to/.test(error.message)
    ) {
      // The broker authenticates the login as another name (an OAuth 2
      // token's, say) and closes the channel for every request: send none
      // rather than lose every call.
      this.#init.sender.sendUserId = false;
      this.#init.logger.error(
        "The broker refused the login's user name as user_id: requests go without user_id from now on (set sendUserId: false to start that way)",
      );
    }
    const resent = this.#init.calls.lost(error);
    this.#init.metrics.disconnected();
    if (resent > 0) {
      this.#init.metrics.resend(resent);
      this.#init.logger.info(
        `${resent} idempotent call(s) will be sent again after reconnecting`,
      );
    }
    this.#init.emit("disconnect", { error });
  }

  /** Reconnected. */
  restored(): void {
    if (this.closing) return;
    this.state = this.#init.transport.state === "blocked" ? "blocked" : "open";
    this.#init.logger.info("Reconnected");
    this.#init.metrics.reconnected();
    this.#init.emit("reconnect");
    this.#init.calls.pump();
  }

  /** Reconnecting was given up: every call fails. */
  failed(error: Error): void {
    if (this.closing) return;
    this.state = "failed";
    this.failure = error;
    this.#init.calls.rejectAll((call) =>
      new ConnectionLostError(
        `Call to "${call.queue}" failed: the connection is lost for good`,
        { cause: error },
      )
    );
    this.#init.emit("failed", { error });
  }

  /** The broker blocks publishing: calls wait. */
  blocked(reason: string): void {
    if (this.closing || this.state !== "open") return;
    this.state = "blocked";
    this.#init.logger.warn(
      `The broker blocks publishing (${reason}): calls wait until it unblocks`,
    );
    this.#init.emit("blocked", { reason });
  }

  /** The broker takes publishes again. */
  unblocked(): void {
    if (this.closing || this.state !== "blocked") return;
    this.state = "open";
    this.#init.logger.info("The broker unblocked publishing");
    this.#init.emit("unblocked");
    this.#init.calls.pump();
  }
}
