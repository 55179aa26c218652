/**
 * Direct reply-to addresses naming made-up broker nodes, as a hostile
 * caller sends them: for the tests and the hostile-callers benchmark.
 *
 * @module
 */

/**
 * A direct reply-to address as RabbitMQ 3.10 makes it (a pid in Erlang's
 * external term format: `NEW_PID_EXT` with the node as an `ATOM_UTF8_EXT`),
 * but naming the made-up node `ghost<i>@nowhere`.
 *
 * @example
 * ```ts
 * import { madeUpReplyTo } from "./_reply_to.ts";
 *
 * console.log(madeUpReplyTo(1).startsWith("amq.rabbitmq.reply-to.")); // true
 * ```
 */
export function madeUpReplyTo(i: number): string {
  const node = new TextEncoder().encode(`ghost${i}@nowhere`);
  const pid = [
    131,
    88,
    118,
    0,
    node.length,
    ...node,
    0,
    0,
    127,
    238,
    0,
    0,
    0,
    1,
    107,
    9,
    101,
    237,
  ];
  return `amq.rabbitmq.reply-to.${btoa(String.fromCharCode(...pid))}.${
    btoa(`key-${i}`)
  }`;
}
