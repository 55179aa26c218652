/**
 * Guarding the worker against `reply_to` addresses that crash the broker.
 *
 * RabbitMQ (3.10 at least) closes the publishing connection with
 * `541 INTERNAL_ERROR` when a reply is published to an
 * `amq.rabbitmq.reply-to.<pid>.<key>` address whose `<pid>` does not decode
 * to a process of a node of the cluster. A hostile or broken client could
 * put such an address on every request and make each worker that answers
 * lose its connection, again and again as the request is redelivered. The
 * node a direct reply-to address points to is the only part that matters
 * (a stale process id or key is dropped quietly), so the worker decodes it:
 * malformed addresses are never answered, and a reply to a node not seen
 * before is first published on a separate connection, whose fate tells
 * whether the node is real.
 *
 * @module
 */

const PREFIX = "amq.rabbitmq.reply-to.";
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The node name a direct reply-to address encodes (as the broker encodes
 * it, e.g. `reply@9248884`); `undefined` for an address that is not a direct
 * reply-to address, `null` for one that is malformed.
 */
export function directReplyNode(replyTo: string): string | null | undefined {
  if (!replyTo.startsWith(PREFIX)) return undefined;
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

/** What a worker knows of the nodes direct reply-to addresses point to. */
export class DirectReplyNodes {
  readonly #good = new Set<string>();
  readonly #bad = new Set<string>();
  readonly #probing = new Map<string, Promise<boolean>>();
  // A client keeps one address for its connection's life: decode each once.
  readonly #decoded = new Map<string, string | null | undefined>();

  #nodeOf(replyTo: string): string | null | undefined {
    let node = this.#decoded.get(replyTo);
    if (node === undefined && !this.#decoded.has(replyTo)) {
      node = directReplyNode(replyTo);
      if (this.#decoded.size >= 1_000) this.#decoded.clear();
      this.#decoded.set(replyTo, node);
    }
    return node;
  }

  /**
   * `plain` (not a direct reply-to address), `good`, `bad` (malformed, or a
   * node the broker did not know), or `unknown` (to be probed).
   */
  verdict(replyTo: string): "plain" | "good" | "bad" | "unknown" {
    if (!replyTo.startsWith(PREFIX)) return "plain";
    const node = this.#nodeOf(replyTo);
    if (node === undefined) return "plain";
    if (node === null) return "bad";
    if (this.#good.has(node)) return "good";
    if (this.#bad.has(node)) return "bad";
    return "unknown";
  }

  /**
   * Runs `probe` once per node (callers for the same node share its
   * outcome) and remembers whether the node is real.
   */
  probe(replyTo: string, probe: () => Promise<boolean>): Promise<boolean> {
    const node = this.#nodeOf(replyTo);
    if (!node) return Promise.resolve(false);
    let running = this.#probing.get(node);
    if (!running) {
      running = probe().then((good) => {
        if (good) this.#good.add(node);
        else {
          // Bounded: a flood of made-up nodes cannot grow it for ever.
          if (this.#bad.size >= 1_000) this.#bad.clear();
          this.#bad.add(node);
        }
        return good;
      }).finally(() => this.#probing.delete(node));
      this.#probing.set(node, running);
    }
    return running;
  }
}
