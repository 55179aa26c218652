/**
 * How a worker comes by its request queue (`PROTOCOL.md` section 2): it
 * looks first (a passive declare), consumes a queue it finds as it is, and
 * declares one only if it is missing. Options given explicitly demand:
 * a queue found must have what they declare, checked with declarations
 * the broker refuses if the queue differs. The I/O is behind
 * {@linkcode QueueDeclarer}.
 *
 * @module
 */

import { QueueError } from "../errors.ts";
import type { HeaderValue } from "../protocol/properties.ts";
import {
  demandedProperties,
  type QueueDeclaration,
  queueDeclarations,
  type QueueOption,
  type RequestQueue,
} from "../protocol/queue.ts";
import { escapeControls, truncate } from "../text.ts";
import { readInequivalence } from "./_inequivalent.ts";
import type { QueueState } from "./transport.ts";

/** What a `queue.declare` tells: the queue's counts. */
export interface QueueCounts {
  /** Requests ready in it. */
  readonly messageCount: number;
  /** Consumers on it. */
  readonly consumerCount: number;
}

/**
 * Makes `queue.declare`s: rejects with a {@linkcode QueueError} carrying
 * the broker's reply code and text when the broker refuses one.
 */
export interface QueueDeclarer {
  /** Declares `declaration`; with `passive`, only looks. */
  declare(
    declaration: QueueDeclaration,
    passive: boolean,
  ): Promise<QueueCounts>;
}

/** How many times a queue may vanish or appear under a worker's hands. */
const MAX_RACES = 3;

/** More differing properties than any queue declaration has. */
const MAX_PROPERTIES = 32;

/** The longest value quoted in a message. */
const MAX_QUOTED = 80;

const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;

/**
 * The state of a queue this worker declared as `queue` says.
 *
 * @example
 * ```ts
 * import { declaredState } from "./_queue_setup.ts";
 *
 * const state = declaredState({
 *   name: "jobs",
 *   type: "quorum",
 *   deliveryLimit: 5,
 *   deadLetterQueue: "jobs.dead-letter",
 *   arguments: {},
 * });
 * console.log(state.deliveryLimit, state.deadLetterQueue); // 5 jobs.dead-letter
 * ```
 */
export function declaredState(queue: RequestQueue): QueueState {
  const quorum = queue.type === "quorum";
  return {
    declared: true,
    messageCount: 0,
    consumerCount: 0,
    deliveryLimit: quorum && queue.deliveryLimit !== false
      ? queue.deliveryLimit
      : undefined,
    deadLetterQueue: quorum ? queue.deadLetterQueue : false,
    checked: [],
  };
}

/**
 * Finds or declares the request queue: a passive declare first; if the
 * queue is missing, the declarations of {@linkcode queueDeclarations}; if
 * it exists, its demanded properties checked. A queue deleted or declared
 * by another between two steps starts it over, a few times at most.
 *
 * @throws {QueueError} if the broker refuses, or the queue found differs
 * from what an explicit option asks (its `mismatch` says how).
 */
export async function setUpQueue(
  declarer: QueueDeclarer,
  queue: RequestQueue,
): Promise<QueueState> {
  const declarations = queueDeclarations(queue);
  const own = declarations[declarations.length - 1];
  for (let race = 0;; race++) {
    let found: QueueCounts;
    try {
      found = await declarer.declare(own, true);
    } catch (error) {
      if (!isCode(error, NOT_FOUND)) throw error;
      try {
        for (const declaration of declarations) {
          await declarer.declare(declaration, false);
        }
        return declaredState(queue);
      } catch (error) {
        // Declared by another in between, otherwise: look again.
        if (isCode(error, PRECONDITION_FAILED) && race < MAX_RACES) continue;
        throw error;
      }
    }
    const demanded = demandedProperties(queue);
    if (demanded.size === 0) return adopted(found, undefined, []);
    // (Deleted in between, the queue is declared by the check's first
    // declare, which is the worker's own.)
    const checked = await check(declarer, own, demanded);
    const state = adopted(found, checked, [...new Set(demanded.values())]);
    return await withDeadLetterQueue(declarer, state, queue);
  }
}

/**
 * `state` once its dead-letter queue is known to exist: the worker's own
 * is declared if missing (as when it declares the request queue); another
 * that is missing means parked requests are dropped.
 */
async function withDeadLetterQueue(
  declarer: QueueDeclarer,
  state: QueueState,
  queue: RequestQueue,
): Promise<QueueState> {
  const target = state.deadLetterQueue;
  if (typeof target !== "string") return state;
  const declaration = queueDeclarations(queue).find((d) => d.name === target);
  try {
    await declarer.declare(
      declaration ?? { name: target, durable: true, arguments: {} },
      true,
    );
    return state;
  } catch (error) {
    if (!isCode(error, NOT_FOUND)) throw error;
  }
  if (declaration === undefined) return { ...state, deadLetterQueue: false };
  await declarer.declare(declaration, false);
  return state;
}

function adopted(
  found: QueueCounts,
  checked: QueueDeclaration | undefined,
  options: readonly QueueOption[],
): QueueState {
  const args = checked?.arguments;
  // RabbitMQ compares only the arguments a queue's type knows: a classic
  // queue takes any x-delivery-limit unchecked, and counts nothing. Its
  // x-queue-type it always compares.
  const quorum = args?.["x-queue-type"] === "quorum";
  const limit = quorum ? args?.["x-delivery-limit"] : undefined;
  const exchange = args?.["x-dead-letter-exchange"];
  const routingKey = args?.["x-dead-letter-routing-key"];
  return {
    declared: false,
    messageCount: found.messageCount,
    consumerCount: found.consumerCount,
    // A declare the broker took with these arguments: the queue has them.
    deliveryLimit: typeof limit === "number" ? limit : undefined,
    deadLetterQueue: args === undefined || !quorum
      ? undefined
      : exchange === undefined
      ? false
      : exchange === "" && typeof routingKey === "string"
      ? routingKey
      : undefined,
    checked: options,
  };
}

/**
 * Declares `own` against the queue that exists, taking on the queue's
 * value of each differing property that no option demands, until the
 * broker accepts it (every demand met: the declaration it took is the
 * queue's) or refuses a demanded one.
 */
async function check(
  declarer: QueueDeclarer,
  own: QueueDeclaration,
  demanded: ReadonlyMap<string, QueueOption>,
): Promise<QueueDeclaration> {
  let declaration = own;
  const learned = new Set<string>();
  for (let step = 0;; step++) {
    try {
      await declarer.declare(declaration, false);
      return declaration;
    } catch (error) {
      if (!isCode(error, PRECONDITION_FAILED)) throw error;
      const refusal = (error as QueueError).replyText;
      const sent = sentValues(declaration);
      const differs = readInequivalence(refusal, sent);
      const option = differs && demanded.get(differs.key);
      if (
        differs === undefined || step >= MAX_PROPERTIES ||
        learned.has(differs.key)
      ) {
        throw new QueueError(own.name, {
          code: PRECONDITION_FAILED,
          text: refusal,
        }, {
          cause: error,
          mismatch: {
            options: [...new Set(demanded.values())],
            property: differs?.key ?? unreadKey(refusal),
            found: undefined,
          },
        });
      }
      if (option !== undefined) {
        throw new QueueError(own.name, {
          code: PRECONDITION_FAILED,
          text: refusal,
        }, {
          cause: error,
          mismatch: {
            options: [option],
            property: differs.key,
            found: describe(differs.key, differs.current),
            asked: describe(differs.key, sent[differs.key]),
          },
        });
      }
      learned.add(differs.key);
      declaration = withValue(declaration, differs.key, differs.current);
    }
  }
}

/** What a declaration sends, by the names the broker gives them. */
function sentValues(
  declaration: QueueDeclaration,
): Record<string, HeaderValue | undefined> {
  return {
    ...declaration.arguments,
    durable: declaration.durable,
    auto_delete: declaration.autoDelete ?? false,
  };
}

/** `declaration` with the queue's own value of `key`. */
function withValue(
  declaration: QueueDeclaration,
  key: string,
  value: HeaderValue | undefined,
): QueueDeclaration {
  if (key === "durable") return { ...declaration, durable: value === true };
  if (key === "auto_delete") {
    return { ...declaration, autoDelete: value === true };
  }
  const args = { ...declaration.arguments };
  if (value === undefined) delete args[key];
  else args[key] = value;
  return { ...declaration, arguments: args };
}

/** The property a refusal names, where its value could not be read. */
function unreadKey(refusal: string): string {
  return /inequivalent arg '([^']{1,64})'/.exec(refusal)?.[1] ?? "";
}

/** A property's value, in words: "type quorum", "no x-delivery-limit". */
function describe(key: string, value: HeaderValue | undefined): string {
  const quoted = value === undefined
    ? ""
    : escapeControls(truncate(JSON.stringify(value), MAX_QUOTED));
  switch (key) {
    case "durable":
    case "auto_delete":
      return `${key}=${value === true}`;
    case "x-queue-type":
      return value === undefined || value === "classic"
        ? "type classic"
        : typeof value === "string" && /^[a-z-]{1,20}$/.test(value)
        ? `type ${value}`
        : `type ${quoted}`;
    default:
      return value === undefined ? `no ${key}` : `${key} ${quoted}`;
  }
}

function isCode(error: unknown, code: number): boolean {
  return error instanceof QueueError && error.replyCode === code;
}
