/**
 * Reads RabbitMQ's refusal of a `queue.declare` that differs from the
 * existing queue (`406 PRECONDITION_FAILED - inequivalent arg …`): which
 * property differs, and what the queue has. The broker tells nothing else
 * about an existing queue's type and arguments (a passive declare tells
 * only counts), so this is how a worker checks what its options demand.
 *
 * The format is RabbitMQ's (`rabbit_misc:assert_args_equivalence`, the same
 * from 3.x to 4.x); anything else reads as `undefined`, and the worker says
 * it could not check rather than guess.
 *
 * @module
 */

import type { HeaderValue } from "../protocol/properties.ts";

/** A property the broker says differs, and the queue's own value of it. */
export interface Inequivalence {
  /** `durable`, `auto_delete`, or an argument's name. */
  readonly key: string;
  /** The queue's value; `undefined` when it has none. */
  readonly current: HeaderValue | undefined;
}

const SHAPE =
  /^(?:PRECONDITION_FAILED - )?inequivalent arg '(.*?)' for queue '.*' in vhost '.*': received (.*)$/s;
const TYPED = /^the value '(.*)' of type '([a-z]+)'$/s;
const QUOTED = /^'(.*)'$/s;
const NUMERIC = /^-?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/i;
const NUMBER_TYPES = new Set([
  "byte",
  "unsignedbyte",
  "short",
  "unsignedshort",
  "signedint",
  "unsignedint",
  "long",
  "float",
  "double",
]);

/**
 * What the broker's refusal `text` says differs, given the value this
 * worker sent for each property (`sent`), which tells the type of the
 * queue's value where the broker does not print it; `undefined` if the
 * text is not such a refusal, or the queue's value is not one a
 * declaration can carry back (a table, a timestamp).
 *
 * @example
 * ```ts
 * import { readInequivalence } from "./_inequivalent.ts";
 *
 * const text = "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'q' in vhost '/': " +
 *   "received none but current is the value '5' of type 'signedint'";
 * console.log(readInequivalence(text, {})); // { key: "x-delivery-limit", current: 5 }
 * ```
 */
export function readInequivalence(
  text: string,
  sent: Readonly<Record<string, HeaderValue | undefined>>,
): Inequivalence | undefined {
  const shape = SHAPE.exec(text);
  if (shape === null) return undefined;
  const key = shape[1];
  const rest = shape[2];
  const at = rest.lastIndexOf(" but current is ");
  if (at < 0) return undefined;
  const current = rest.slice(at + " but current is ".length);
  if (current === "none") return { key, current: undefined };
  const typed = TYPED.exec(current);
  if (typed !== null) {
    const [, value, type] = typed;
    if (type === "longstr") return { key, current: value };
    if (type === "bool" && (value === "true" || value === "false")) {
      return { key, current: value === "true" };
    }
    if (NUMBER_TYPES.has(type) && NUMERIC.test(value)) {
      return { key, current: Number(value) };
    }
    return undefined;
  }
  const quoted = QUOTED.exec(current);
  if (quoted === null) return undefined;
  const value = quoted[1];
  // Both sides have a value: the queue's is of a type compatible with the
  // one sent (else the broker prints its type), so read it as that type.
  switch (typeof sent[key]) {
    case "string":
      return { key, current: value };
    case "number":
      return NUMERIC.test(value) ? { key, current: Number(value) } : undefined;
    case "boolean":
      return value === "true" || value === "false"
        ? { key, current: value === "true" }
        : undefined;
    default:
      return undefined;
  }
}
