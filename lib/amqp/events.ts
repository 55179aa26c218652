/**
 * The events a client or worker dispatches when its connection changes.
 *
 * @module
 */

/**
 * `disconnect` (the connection was lost; reconnecting), `reconnect` (set up
 * again), `blocked` (the broker accepts no publishes: a memory or disk
 * alarm), `unblocked`, and `failed` (gave up reconnecting).
 *
 * @example
 * ```ts
 * import { ConnectionEvent, type ConnectionEventType } from "./events.ts";
 *
 * const type: ConnectionEventType = "blocked";
 * const event = new ConnectionEvent(type, { reason: "low on memory" });
 * console.log(event.type, event.reason); // blocked low on memory
 * ```
 */
export type ConnectionEventType =
  | "disconnect"
  | "reconnect"
  | "blocked"
  | "unblocked"
  | "failed";

/**
 * A change of a client's or worker's connection.
 *
 * @example Watching a client's connection
 * ```ts ignore
 * import { RpcClient } from "../../mod.ts";
 * import type { ConnectionEvent } from "./events.ts";
 *
 * const client = await RpcClient.connect();
 * client.addEventListener("blocked", (event) => {
 *   console.warn("publishing blocked:", (event as ConnectionEvent).reason);
 * });
 * ```
 */
export class ConnectionEvent extends Event {
  /** The error that caused a `disconnect` or `failed`. */
  readonly error?: Error;
  /** The broker's reason for a `blocked`. */
  readonly reason?: string;
  /** Creates the event. */
  constructor(
    type: ConnectionEventType,
    init: { error?: Error; reason?: string } = {},
  ) {
    super(type);
    this.error = init.error;
    this.reason = init.reason;
  }
}
