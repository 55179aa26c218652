/**
 * The request queue (`PROTOCOL.md` sections 2 and 2.1): how a worker
 * declares it when it is missing, as the tutorial did (classic, not
 * durable, no arguments), as today's tutorials do (quorum, durable, no
 * other argument) or as a quorum queue with a delivery limit and a
 * dead-letter queue; and which of those properties an existing queue must
 * have because an option asked for them explicitly.
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
 * An option of a worker that shapes its queue's declaration, and that,
 * given explicitly, an existing queue must match.
 *
 * @example
 * ```ts
 * import type { QueueOption } from "./queue.ts";
 *
 * const demanded: QueueOption[] = ["queueType"];
 * console.log(demanded); // [ "queueType" ]
 * ```
 */
export type QueueOption =
  | "queueType"
  | "deliveryLimit"
  | "deadLetterQueue"
  | "queueArguments";

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
 *   demands: ["queueType"],
 * };
 * console.log(queue.type); // quorum
 * ```
 */
export interface RequestQueue {
  /** The queue's name. */
  readonly name: string;
  /** Its type. */
  readonly type: QueueType;
  /**
   * Quorum: how many times a request is handed back before it is parked,
   * or `false` for no `x-delivery-limit` argument.
   */
  readonly deliveryLimit: number | false;
  /** Quorum: where parked requests go, or `false` for no dead-lettering. */
  readonly deadLetterQueue: string | false;
  /** Arguments of the user's own, added last. */
  readonly arguments: Readonly<Record<string, HeaderValue>>;
  /**
   * The options the user gave explicitly: a queue that exists already must
   * have what they declare. Defaults never demand anything.
   *
   * @default {[]}
   */
  readonly demands?: readonly QueueOption[];
}

/**
 * A `queue.declare` of a worker: never exclusive.
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
  /**
   * Whether the broker deletes it when its last consumer leaves: a worker
   * never declares one so, but may find one (PHP's php-amqp declares its
   * queues so by default).
   *
   * @default {false}
   */
  readonly autoDelete?: boolean;
  /** Its arguments (`x-queue-type`, …). */
  readonly arguments: Readonly<Record<string, HeaderValue>>;
}

/**
 * The declarations a worker makes for its request queue when it is
 * missing, in order: for a quorum queue with a dead-letter queue, the
 * dead-letter queue first (so that nothing parked before it exists is
 * lost), then the request queue: durable, `x-queue-type: quorum`, then
 * `x-delivery-limit` and the dead-letter exchange and routing key unless
 * they are `false`; a classic queue as the tutorial declares it. The
 * user's arguments come last and win.
 *
 * @example
 * ```ts
 * import { queueDeclarations } from "./queue.ts";
 *
 * const [queue] = queueDeclarations({
 *   name: "rpc_queue",
 *   type: "quorum",
 *   deliveryLimit: false,
 *   deadLetterQueue: false,
 *   arguments: {},
 * });
 * console.log(queue); // { name: "rpc_queue", durable: true, arguments: { "x-queue-type": "quorum" } }
 * ```
 */
export function queueDeclarations(queue: RequestQueue): QueueDeclaration[] {
  if (queue.type === "classic") {
    return [{ name: queue.name, durable: false, arguments: queue.arguments }];
  }
  const args: Record<string, HeaderValue> = { "x-queue-type": "quorum" };
  if (queue.deliveryLimit !== false) {
    args["x-delivery-limit"] = queue.deliveryLimit;
  }
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

/**
 * The properties of the request queue's declaration (`durable`,
 * `auto_delete`, or an argument's name) that an existing queue must have,
 * each with the option that asks for it: `queueType` asks for
 * `x-queue-type` (none and `classic` are the same to RabbitMQ), `deliveryLimit` for
 * `x-delivery-limit` (or its absence), `deadLetterQueue` for the
 * dead-letter exchange and routing key, `queueArguments` for its own.
 *
 * @example
 * ```ts
 * import { demandedProperties } from "./queue.ts";
 *
 * const demanded = demandedProperties({
 *   name: "rpc_queue",
 *   type: "quorum",
 *   deliveryLimit: 5,
 *   deadLetterQueue: false,
 *   arguments: {},
 *   demands: ["queueType"],
 * });
 * console.log([...demanded.keys()]); // [ "x-queue-type" ]
 * ```
 */
export function demandedProperties(
  queue: RequestQueue,
): ReadonlyMap<string, QueueOption> {
  const demanded = new Map<string, QueueOption>();
  for (const option of queue.demands ?? []) {
    switch (option) {
      case "queueType":
        // Not `durable`: a quorum queue is durable, and a queue that is not
        // is refused on its type, which says more.
        demanded.set("x-queue-type", option);
        break;
      case "deliveryLimit":
        demanded.set("x-delivery-limit", option);
        break;
      case "deadLetterQueue":
        demanded.set("x-dead-letter-exchange", option);
        demanded.set("x-dead-letter-routing-key", option);
        break;
      case "queueArguments":
        for (const key of Object.keys(queue.arguments)) {
          demanded.set(key, option);
        }
        break;
    }
  }
  return demanded;
}
