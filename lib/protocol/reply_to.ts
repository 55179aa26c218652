/**
 * Reply addresses (`PROTOCOL.md` section 4): RabbitMQ's direct reply-to
 * pseudo-queue, and reading the node a direct reply-to address names.
 *
 * @module
 */

/**
 * The queue name of RabbitMQ's direct reply-to pseudo-queue.
 *
 * @example
 * ```ts
 * import { DIRECT_REPLY_TO } from "./reply_to.ts";
 *
 * console.log(DIRECT_REPLY_TO); // amq.rabbitmq.reply-to
 * const replyTo = "amq.rabbitmq.reply-to.g1h2AA5yZXBseUAyNzEyMDk4MgAAbLwAAAAAZKmhsQ==";
 * console.log(replyTo.startsWith(DIRECT_REPLY_TO)); // true
 * ```
 */
export const DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";

const PREFIX = `${DIRECT_REPLY_TO}.`;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Whether `replyTo` is a direct reply-to address (not the pseudo-queue
 * itself, which only a consumer names).
 *
 * @example
 * ```ts
 * import { isDirectReplyTo } from "./reply_to.ts";
 *
 * console.log(isDirectReplyTo("amq.rabbitmq.reply-to.abc.def"), isDirectReplyTo("amq.gen-1")); // true false
 * ```
 */
export function isDirectReplyTo(replyTo: string): boolean {
  return replyTo.startsWith(PREFIX);
}

/**
 * The node name a direct reply-to address encodes (as the broker encodes
 * it, e.g. `reply@9248884`); `undefined` for an address that is not a direct
 * reply-to address, `null` for one that is malformed.
 *
 * @example
 * ```ts
 * import { directReplyNode } from "./reply_to.ts";
 *
 * console.log(directReplyNode("amq.gen-1")); // undefined
 * console.log(directReplyNode("amq.rabbitmq.reply-to.not-base64!.x")); // null
 * ```
 */
export function directReplyNode(replyTo: string): string | null | undefined {
  if (!isDirectReplyTo(replyTo)) return undefined;
  const encoded = replyTo.slice(PREFIX.length).split(".")[0];
  let bytes: Uint8Array;
  try {
    const binary = atob(encoded);
    // Only the padded base64 that the broker itself writes decodes there.
    if (btoa(binary) !== encoded) return null;
    bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
  return pidNode(bytes);
}

/**
 * Reads the node name of an Erlang pid in the external term format:
 * version 131, `PID_EXT` (103) or `NEW_PID_EXT` (88), a UTF-8 atom, then
 * the id, serial and creation fields, and nothing after them. (The broker
 * fails on the Latin-1 atom types, 100 and 115, so they count as malformed.)
 */
function pidNode(bytes: Uint8Array): string | null {
  if (bytes.length < 4 || bytes[0] !== 131) return null;
  const tag = bytes[1];
  if (tag !== 103 && tag !== 88) return null;
  let offset = 2;
  const atom = bytes[offset++];
  let length: number;
  if (atom === 118) {
    // ATOM_UTF8_EXT: two-byte length.
    length = (bytes[offset] << 8) | bytes[offset + 1];
    offset += 2;
  } else if (atom === 119) {
    // SMALL_ATOM_UTF8_EXT: one-byte length.
    length = bytes[offset++];
  } else {
    return null;
  }
  const rest = tag === 103 ? 9 : 12;
  if (length === 0 || offset + length + rest !== bytes.length) return null;
  try {
    return strictUtf8.decode(bytes.subarray(offset, offset + length));
  } catch {
    return null;
  }
}
