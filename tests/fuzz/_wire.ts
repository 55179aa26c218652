/**
 * AMQP bytes written by hand, for requests amqplib cannot encode: invalid
 * UTF-8 in short strings, table keys and long strings, and headers nested
 * deeper than its recursive encoder goes. Their frames are written by hand
 * into the publisher channel's queue of outgoing frames inside amqplib, so
 * that they keep their place among the channel's other frames.
 *
 * {@linkcode Wire} writes AMQP's wire types, {@linkcode rawTable} and
 * {@linkcode rawNestedArray} field tables and values, and
 * {@linkcode sendRaw} publishes a request as raw frames.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Channel } from "./_amqplib.ts";

const encoder = new TextEncoder();

/** Basic properties as raw bytes; `headers` is an encoded field table. */
export interface RawProperties {
  contentType?: Uint8Array;
  headers?: Uint8Array;
  correlationId?: Uint8Array;
  replyTo?: Uint8Array;
  messageId?: Uint8Array;
  type?: Uint8Array;
  appId?: Uint8Array;
}

/** Writes AMQP's big-endian wire types. */
export class Wire {
  readonly #parts: Uint8Array[] = [];
  #size = 0;
  bytes(bytes: Uint8Array): this {
    this.#parts.push(bytes);
    this.#size += bytes.length;
    return this;
  }
  u8(n: number): this {
    return this.bytes(Uint8Array.of(n));
  }
  u16(n: number): this {
    return this.bytes(Uint8Array.of(n >>> 8, n & 0xff));
  }
  u32(n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    return this.bytes(b);
  }
  u64(n: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n));
    return this.bytes(b);
  }
  shortstr(bytes: Uint8Array): this {
    return this.u8(bytes.length).bytes(bytes);
  }
  longstr(bytes: Uint8Array): this {
    return this.u32(bytes.length).bytes(bytes);
  }
  done(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let offset = 0;
    for (const part of this.#parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

/** A field table of `entries` (key bytes, tagged value bytes). */
export function rawTable(
  entries: readonly [Uint8Array, Uint8Array][],
): Uint8Array {
  const body = new Wire();
  for (const [key, value] of entries) body.shortstr(key).bytes(value);
  const bytes = body.done();
  return new Wire().u32(bytes.length).bytes(bytes).done();
}

/** A field value of arrays nested `depth` deep, built without recursion. */
export function rawNestedArray(depth: number): Uint8Array {
  const size = depth * 5 + 2;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  for (let level = 0; level < depth; level++) {
    const at = level * 5;
    out[at] = 0x41; // 'A'
    view.setUint32(at + 1, size - at - 5);
  }
  out[size - 2] = 0x62; // 'b', a signed byte
  out[size - 1] = 7;
  return out;
}

/** The frames of a `basic.publish` of `body` to `queue` on `channel`. */
function rawPublishFrames(
  channel: number,
  frameMax: number,
  queue: string,
  raw: RawProperties,
  body: Uint8Array,
): Uint8Array {
  const frame = (type: number, payload: Uint8Array) =>
    new Wire().u8(type).u16(channel).u32(payload.length).bytes(payload)
      .u8(0xce).done();
  const method = new Wire().u16(60).u16(40).u16(0) // basic.publish
    .shortstr(new Uint8Array(0)).shortstr(encoder.encode(queue)).u8(0)
    .done();
  const flags = (raw.contentType ? 0x8000 : 0) | (raw.headers ? 0x2000 : 0) |
    (raw.correlationId ? 0x0400 : 0) | (raw.replyTo ? 0x0200 : 0) |
    (raw.messageId ? 0x0080 : 0) | (raw.type ? 0x0020 : 0) |
    (raw.appId ? 0x0008 : 0);
  const header = new Wire().u16(60).u16(0).u64(body.length).u16(flags);
  if (raw.contentType) header.shortstr(raw.contentType);
  if (raw.headers) header.bytes(raw.headers);
  if (raw.correlationId) header.shortstr(raw.correlationId);
  if (raw.replyTo) header.shortstr(raw.replyTo);
  if (raw.messageId) header.shortstr(raw.messageId);
  if (raw.type) header.shortstr(raw.type);
  if (raw.appId) header.shortstr(raw.appId);
  const frames = new Wire().bytes(frame(1, method)).bytes(
    frame(2, header.done()),
  );
  for (let at = 0; at < body.length; at += frameMax - 8) {
    frames.bytes(frame(3, body.subarray(at, at + frameMax - 8)));
  }
  return frames.done();
}

/** What of amqplib's internals {@linkcode sendRaw} relies on. */
interface AmqplibChannelInternals {
  ch: number;
  connection: {
    frameMax: number;
    channels: ({ buffer: { write(chunk: Buffer): boolean } } | null)[];
  };
}

/**
 * Publishes a raw request on `channel`, after whatever amqplib has queued
 * on it; false when amqplib's buffer is full (wait for `drain`).
 */
export function sendRaw(
  channel: Channel,
  queue: string,
  raw: RawProperties,
  body: Uint8Array,
): boolean {
  const internals = channel as unknown as AmqplibChannelInternals;
  const slot = internals.connection.channels[internals.ch];
  if (!slot) throw new Error("the publisher channel is closed");
  const frames = rawPublishFrames(
    internals.ch,
    internals.connection.frameMax,
    queue,
    raw,
    body,
  );
  return slot.buffer.write(
    Buffer.from(frames.buffer, frames.byteOffset, frames.byteLength),
  );
}
