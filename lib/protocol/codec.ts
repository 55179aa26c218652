/**
 * How values travel in message bodies: a string as `text/plain`, bytes as
 * `application/octet-stream`, anything else as `application/json`; and back,
 * by the message's content type.
 *
 * @module
 */

/**
 * The content type of a string body.
 *
 * @example
 * ```ts
 * import { encodeValue, TEXT_CONTENT_TYPE } from "./codec.ts";
 *
 * console.log(TEXT_CONTENT_TYPE); // text/plain
 * console.log(encodeValue("30").contentType === TEXT_CONTENT_TYPE); // true
 * ```
 */
export const TEXT_CONTENT_TYPE = "text/plain";
/**
 * The content type of a byte body.
 *
 * @example
 * ```ts
 * import { BYTES_CONTENT_TYPE, encodeValue } from "./codec.ts";
 *
 * console.log(BYTES_CONTENT_TYPE); // application/octet-stream
 * console.log(encodeValue(new Uint8Array([1, 2])).contentType === BYTES_CONTENT_TYPE); // true
 * ```
 */
export const BYTES_CONTENT_TYPE = "application/octet-stream";
/**
 * The content type of a JSON body.
 *
 * @example
 * ```ts
 * import { encodeValue, JSON_CONTENT_TYPE } from "./codec.ts";
 *
 * console.log(JSON_CONTENT_TYPE); // application/json
 * console.log(encodeValue({ a: 1 }).contentType === JSON_CONTENT_TYPE); // true
 * ```
 */
export const JSON_CONTENT_TYPE = "application/json";

/**
 * A value encoded for a message: its body and content type.
 *
 * @example
 * ```ts
 * import { encodeValue, type EncodedValue } from "./codec.ts";
 *
 * const encoded: EncodedValue = encodeValue([1, 2, 3]);
 * console.log(encoded.body, encoded.contentType); // [1,2,3] application/json
 * ```
 */
export interface EncodedValue {
  /** The body: a string is sent as UTF-8. */
  body: string | Uint8Array;
  /** The MIME type that tells the receiver how to decode the body. */
  contentType: string;
}

/**
 * Encodes a value for a message body: a string as text, a `Uint8Array` (or
 * any other `ArrayBufferView`) as bytes, `undefined` as an empty JSON body,
 * anything else as JSON.
 *
 * @example
 * ```ts
 * import { encodeValue } from "./codec.ts";
 *
 * console.log(encodeValue({ a: 1 })); // { body: '{"a":1}', contentType: "application/json" }
 * console.log(encodeValue("30").contentType); // text/plain
 * ```
 *
 * @throws {TypeError} if the value cannot be written as JSON (a `bigint`,
 * a cycle, a function).
 */
export function encodeValue(value: unknown): EncodedValue {
  if (typeof value === "string") {
    return { body: value, contentType: TEXT_CONTENT_TYPE };
  }
  if (value instanceof Uint8Array) {
    return { body: value, contentType: BYTES_CONTENT_TYPE };
  }
  if (ArrayBuffer.isView(value)) {
    return {
      body: new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
      contentType: BYTES_CONTENT_TYPE,
    };
  }
  if (value === undefined) return { body: "", contentType: JSON_CONTENT_TYPE };
  let body: string | undefined;
  try {
    body = JSON.stringify(value);
  } catch (cause) {
    throw new TypeError(
      `Cannot send a value as JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (body === undefined) {
    throw new TypeError(`Cannot send a ${typeof value} as JSON`);
  }
  return { body, contentType: JSON_CONTENT_TYPE };
}

const decoder = new TextDecoder();

/**
 * How a body of `contentType` is decoded: `json` for `application/json` and
 * `+json` types, `text` for `text/*` and for no content type at all (the
 * tutorial's clients send none, or `text/plain`), `bytes` for anything
 * else.
 *
 * @example
 * ```ts
 * import { bodyKindOf } from "./codec.ts";
 *
 * console.log(bodyKindOf("application/json; charset=utf-8")); // json
 * console.log(bodyKindOf(undefined)); // text
 * console.log(bodyKindOf("image/png")); // bytes
 * ```
 */
export function bodyKindOf(
  contentType: string | undefined,
): "json" | "text" | "bytes" {
  if (contentType === undefined || contentType === "") return "text";
  if (contentType === TEXT_CONTENT_TYPE) return "text";
  if (contentType === JSON_CONTENT_TYPE) return "json";
  const semi = contentType.indexOf(";");
  const mime = (semi === -1 ? contentType : contentType.slice(0, semi)).trim()
    .toLowerCase();
  if (mime === JSON_CONTENT_TYPE || mime.endsWith("+json")) return "json";
  if (mime.startsWith("text/") || mime === "") return "text";
  return "bytes";
}

/**
 * Decodes a body by its content type (see {@linkcode bodyKindOf}): JSON is
 * parsed (an empty JSON body is `undefined`), text is decoded by its
 * `charset` (UTF-8 by default), and bytes are returned as they are.
 *
 * @example
 * ```ts
 * import { decodeValue } from "./codec.ts";
 *
 * const body = new TextEncoder().encode('{"a":1}');
 * console.log(decodeValue(body, "application/json")); // { a: 1 }
 * console.log(decodeValue(body, "text/plain")); // {"a":1}
 * ```
 *
 * @throws {SyntaxError} if a JSON body is not JSON.
 * @throws {RangeError} if a text body's charset is one no decoder knows.
 */
export function decodeValue(
  body: Uint8Array,
  contentType: string | undefined,
): unknown {
  switch (bodyKindOf(contentType)) {
    case "text":
      return textDecoderOf(contentType).decode(body);
    case "json":
      return body.length === 0 ? undefined : JSON.parse(decoder.decode(body));
    default:
      return body;
  }
}

const decoders = new Map<string, TextDecoder>();

/**
 * The decoder of a text content type's `charset`; UTF-8 if it names none.
 *
 * @example
 * ```ts
 * import { textDecoderOf } from "./codec.ts";
 *
 * console.log(textDecoderOf("text/plain; charset=iso-8859-1").encoding); // windows-1252
 * ```
 *
 * @throws {RangeError} for a charset no decoder knows.
 */
export function textDecoderOf(contentType: string | undefined): TextDecoder {
  const charset = contentType === undefined
    ? undefined
    : /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType)?.[1]
      ?.toLowerCase();
  if (charset === undefined || charset === "utf-8" || charset === "utf8") {
    return decoder;
  }
  let found = decoders.get(charset);
  if (found === undefined) {
    try {
      found = new TextDecoder(charset);
    } catch {
      throw new RangeError(`Unknown charset "${charset}"`);
    }
    if (decoders.size < 16) decoders.set(charset, found);
  }
  return found;
}
