/**
 * The seam between `RpcServer` and the broker: a worker transport delivers
 * requests, sends replies, settles deliveries (ack, reject, requeue) and
 * reports the life of its connection. `AmqpWorkerTransport` (in
 * `amqp_transport.ts`) is the real one, over `@cloudamqp/amqp-client`;
 * unit tests use a fake, so that the worker runs without a broker.
 *
 * @module
 */

import type { ConnectionState } from "../amqp/supervisor.ts";
import type { MessageProperties } from "../protocol/properties.ts";
import type { QueueOption } from "../protocol/queue.ts";
import type { Reply } from "../protocol/reply.ts";

/**
 * A request as the broker delivered it.
 *
 * @example
 * ```ts
 * import type { Delivery } from "./transport.ts";
 *
 * const delivery: Delivery = {
 *   body: new TextEncoder().encode("30"),
 *   bodySize: 2,
 *   redelivered: false,
 *   properties: { replyTo: "amq.gen-1", correlationId: "c1" },
 * };
 * console.log(delivery.bodySize); // 2
 * ```
 */
export interface Delivery {
  /** The body (`null` for an empty one). */
  readonly body: Uint8Array | null;
  /** The size of the body, as the broker announced it. */
  readonly bodySize: number;
  /** The AMQP properties and headers. */
  readonly properties: MessageProperties;
  /** Whether the broker delivered it before (to a worker that went away). */
  readonly redelivered: boolean;
}

/**
 * How a delivery is settled: `ack` (done), `reject` (done, dead-lettered
 * where the queue says so: never delivered again), `requeue` (back to the
 * queue, for this worker or another).
 *
 * @example
 * ```ts
 * import type { Settlement } from "./transport.ts";
 *
 * const settlement: Settlement = "requeue";
 * console.log(settlement); // requeue
 * ```
 */
export type Settlement = "ack" | "reject" | "requeue";

/**
 * What a worker knows of its request queue once it consumes it.
 *
 * @example
 * ```ts
 * import type { QueueState } from "./transport.ts";
 *
 * const state: QueueState = {
 *   declared: false,
 *   messageCount: 3,
 *   consumerCount: 1,
 *   deliveryLimit: undefined,
 *   deadLetterQueue: undefined,
 *   checked: [],
 * };
 * console.log(state.declared); // false
 * ```
 */
export interface QueueState {
  /** Whether this worker declared it (it was missing), or found it. */
  readonly declared: boolean;
  /** Requests ready in it when it was found (0 when declared). */
  readonly messageCount: number;
  /** Other consumers on it when it was found (0 when declared). */
  readonly consumerCount: number;
  /**
   * Its delivery limit, where known for sure (declared so, or checked);
   * `undefined` where it has none or none is known: failed requests are
   * then never handed back.
   */
  readonly deliveryLimit: number | undefined;
  /**
   * Where it dead-letters, where known (a queue name through the default
   * exchange); `false` for nowhere; `undefined` where not known.
   */
  readonly deadLetterQueue: string | false | undefined;
  /** The options whose demands a queue found was checked against. */
  readonly checked: readonly QueueOption[];
}

/**
 * What a worker transport reports to its worker.
 *
 * @example
 * ```ts
 * import type { WorkerTransportListener } from "./transport.ts";
 *
 * const listener: WorkerTransportListener = {
 *   queue: (state) => console.log(state.declared),
 *   delivery: (delivery) => console.log(delivery.properties.correlationId),
 *   lost: (error) => console.log("lost:", error.message),
 *   restored: () => {},
 *   failed: () => {},
 *   blocked: () => {},
 *   unblocked: () => {},
 * };
 * listener.lost(new Error("socket closed")); // lost: socket closed
 * ```
 */
export interface WorkerTransportListener {
  /**
   * The request queue is found or declared, before the first request of
   * a connection arrives: at start and after every reconnect.
   */
  queue(state: QueueState): void;
  /** A request arrived. */
  delivery(delivery: Delivery): void;
  /**
   * The connection is gone: deliveries not yet settled go back to the
   * queue. The transport reconnects (and consumes again) unless it reports
   * `failed` next.
   */
  lost(error: Error): void;
  /** Reconnected and consuming again. */
  restored(): void;
  /** The transport gave up reconnecting. */
  failed(error: Error): void;
  /** The broker blocks publishing (memory or disk alarm): no reply leaves. */
  blocked(reason: string): void;
  /** The broker accepts publishes again. */
  unblocked(): void;
}

/**
 * What `RpcServer` needs of the broker.
 *
 * @example A transport that has nothing to deliver
 * ```ts
 * import type { WorkerTransport } from "./transport.ts";
 *
 * const idle: WorkerTransport = {
 *   state: "open",
 *   listen() {},
 *   start: () => Promise.resolve(),
 *   isLive: () => true,
 *   isSettled: () => false,
 *   reply: () => Promise.resolve(),
 *   probe: () => Promise.resolve(true),
 *   ownReplyTo: () => Promise.resolve(undefined),
 *   settle: () => Promise.resolve(),
 *   stopConsuming: () => Promise.resolve(),
 *   endReconnects() {},
 *   close: () => Promise.resolve(),
 * };
 * console.log(idle.state); // open
 * ```
 */
export interface WorkerTransport {
  /** Where the connection is; `open` means consuming. */
  readonly state: ConnectionState;
  /** Sets the listener; called once, before {@linkcode start}. */
  listen(listener: WorkerTransportListener): void;
  /**
   * Connects, declares the queue and consumes. A failure here is not
   * retried: it is thrown, and nothing is left open.
   */
  start(): Promise<void>;
  /**
   * Whether `delivery` can still be answered and settled: after the loss of
   * its connection, the broker delivers it again, and a reply now would be
   * a duplicate.
   */
  isLive(delivery: Delivery): boolean;
  /** Whether `delivery` was settled already. */
  isSettled(delivery: Delivery): boolean;
  /**
   * Publishes `reply` to the delivery's `reply_to` (with its correlation
   * id), then settles the delivery (`ack`, or `reject` to park it) in the
   * same write, so that the broker always sees the reply first. Rejects,
   * settling nothing, if the reply cannot be written.
   */
  reply(
    delivery: Delivery,
    reply: Reply,
    settlement: "ack" | "reject",
  ): Promise<void>;
  /**
   * Publishes `reply` to the delivery's `reply_to` on a connection of its
   * own, with publisher confirms, and settles nothing: resolves true if the
   * broker took it, false if the broker refused the address (a direct
   * reply-to address naming a node it does not know); rejects for any other
   * failure.
   */
  probe(delivery: Delivery, reply: Reply): Promise<boolean>;
  /**
   * A direct reply-to address that the broker makes on this worker's own
   * connection, which names the node the worker is connected to (a node
   * that needs no probe); `undefined` if there is none to be had.
   */
  ownReplyTo(): Promise<string | undefined>;
  /** Settles a delivery without a reply. */
  settle(delivery: Delivery, settlement: Settlement): Promise<void>;
  /**
   * Stops consuming for good (also once the connection is set up again);
   * deliveries in hand may still be answered.
   */
  stopConsuming(): Promise<void>;
  /**
   * Stops reconnecting, but keeps the connection while it is open: the
   * worker is closing and answers the requests in hand.
   */
  endReconnects(): void;
  /** Closes the connection; idempotent. */
  close(): Promise<void>;
}
