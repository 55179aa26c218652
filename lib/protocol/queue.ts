/**
 * The request queue (`PROTOCOL.md` sections 2 and 2.1): how a worker
 * declares it, as the tutorial does (classic, not durable, no arguments) or
 * as a quorum queue with a delivery limit and a dead-letter queue.
 *
 * @module
 */

import type { HeaderValue } from "./properties.ts";

/**
 * The type of a request queue: `classic`, as the tutorial declares
 * `rpc_queue`, or `quorum`: durable and replicated across a cluster's nodes.
 *
 * @example
 * ```ts
 * import type { QueueType } from "./queue.ts";
 *
 * const queueType: QueueType = "quorum";
 * console.log(queueType); // quorum
 * ```
 */
export type QueueType = "classic" | "quorum";

/**
 * The queue types, for checks.
 *
 * @example
 * ```ts
 * import { QUEUE_TYPES } from "./queue.ts";
 *
 * console.log(QUEUE_TYPES.join(", ")); // classic, quorum
 * ```
 */
export const QUEUE_TYPES: readonly QueueType[] = Object.freeze([
  "classic",
  "quorum",
]);

/**
 * What decides a request queue's declaration.
 *
 * @example
 * ```ts
 * import type { RequestQueue } from "./queue.ts";
 *
 * const queue: RequestQueue = {
 *   name: "billing",
 *   type: "quorum",
 *   deliveryLimit: 5,
 *   deadLetterQueue: "billing.dead-letter",
 *   arguments: {},
 * };
 * console.log(queue.type); // quorum
 * ```
 */
export interface RequestQueue {
  /** The queue's name. */
  readonly name: string;
  /** Its type. */
  readonly type: QueueType;
  /** Quorum: how many times a request is handed back before it is parked. */
  readonly deliveryLimit: number;
  /** Quorum: where parked requests go, or `false` to drop them. */
  readonly deadLetterQueue: string | false;
  /** Arguments of the user's own, added last. */
  readonly arguments: Readonly<Record<string, HeaderValue>>;
}

/**
 * A `queue.declare` of a worker: never exclusive nor auto-delete.
 *
 * @example
 * ```ts
 * import type { QueueDeclaration } from "./queue.ts";
 *
 * const declaration: QueueDeclaration = { name: "rpc_queue", durable: false, arguments: {} };
 * console.log(declaration.durable); // false
 * ```
 */
export interface QueueDeclaration {
  /** The queue's name. */
  readonly name: string;
  /** Whether it survives a broker restart. */
  readonly durable: boolean;
  /** Its arguments (`x-queue-type`, …). */
  readonly arguments: Readonly<Record<string, HeaderValue>>;
}

/**
 * The declarations a worker makes for its request queue, in order: for a
 * quorum queue with a dead-letter queue, the dead-letter queue first (so
 * that nothing parked before it exists is lost), then the request queue:
 * durable, `x-queue-type: quorum`, `x-delivery-limit` and the dead-letter
 * exchange and routing key; a classic queue as the tutorial declares it.
 * The user's arguments come last and win.
 *
 * @example
 * ```ts
 * import { queueDeclarations } from "./queue.ts";
 *
 * const [queue] = queueDeclarations({
 *   name: "rpc_queue",
 *   type: "classic",
 *   deliveryLimit: 5,
 *   deadLetterQueue: false,
 *   arguments: {},
 * });
 * console.log(queue); // { name: "rpc_queue", durable: false, arguments: {} }
 * ```
 */
export function queueDeclarations(queue: RequestQueue): QueueDeclaration[] {
  if (queue.type === "classic") {
    return [{ name: queue.name, durable: false, arguments: queue.arguments }];
  }
  const args: Record<string, HeaderValue> = {
    "x-queue-type": "quorum",
    "x-delivery-limit": queue.deliveryLimit,
  };
  const declarations: QueueDeclaration[] = [];
  if (queue.deadLetterQueue !== false) {
    args["x-dead-letter-exchange"] = "";
    args["x-dead-letter-routing-key"] = queue.deadLetterQueue;
    declarations.push({
      name: queue.deadLetterQueue,
      durable: true,
      arguments: { "x-queue-type": "quorum" },
    });
  }
  declarations.push({
    name: queue.name,
    durable: true,
    arguments: { ...args, ...queue.arguments },
  });
  return declarations;
}
