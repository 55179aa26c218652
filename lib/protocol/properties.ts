/**
 * The AMQP 0-9-1 properties of a message, and the check of what the wire can
 * carry in them, made before a request is published (a property the AMQP
 * library cannot encode would fail the channel, and every call on it).
 *
 * @module
 */

import {
  fitsShortString,
  optionRangeError,
  optionTypeError,
} from "../checks.ts";

/**
 * A value of an AMQP header table, as RabbitMQ carries it.
 *
 * @example
 * ```ts
 * import type { HeaderValue, MessageProperties } from "./properties.ts";
 *
 * const headers: Record<string, HeaderValue> = {
 *   tenant: "acme",
 *   attempt: 2,
 *   regions: ["eu-west", "eu-north"],
 * };
 * const properties: MessageProperties = { headers };
 * console.log(properties.headers?.regions); // [ "eu-west", "eu-north" ]
 * ```
 */
export type HeaderValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | Date
  | Uint8Array
  | HeaderValue[]
  | { [key: string]: HeaderValue };

/**
 * The AMQP 0-9-1 basic properties of a message, with its headers.
 *
 * `correlationId` and `replyTo` of a request are always set by the client,
 * and `expiration` too unless the call's timeout is `Infinity`.
 *
 * @example
 * ```ts
 * import { RpcMessage } from "./message.ts";
 * import type { MessageProperties } from "./properties.ts";
 *
 * const properties: MessageProperties = {
 *   contentType: "application/json",
 *   type: "add",
 *   headers: { tenant: "acme" },
 * };
 * const message = new RpcMessage(new TextEncoder().encode('{"a":1,"b":2}'), properties);
 * console.log(message.properties.type, message.json()); // add { a: 1, b: 2 }
 * ```
 */
export interface MessageProperties {
  /** MIME type of the body, e.g. `text/plain`. */
  contentType?: string;
  /** Encoding of the body, e.g. `gzip`. */
  contentEncoding?: string;
  /** Application headers. */
  headers?: Record<string, HeaderValue>;
  /** 1 for transient, 2 for persistent. */
  deliveryMode?: number;
  /** Priority, 0 to 255. */
  priority?: number;
  /** Correlates a reply with its request. */
  correlationId?: string;
  /** Where the reply goes. */
  replyTo?: string;
  /** Time to live in the queue, in milliseconds, as a decimal string. */
  expiration?: string;
  /** Application message id. */
  messageId?: string;
  /** When the message was made. */
  timestamp?: Date;
  /** Application message type. */
  type?: string;
  /** The user that published it, validated by the broker. */
  userId?: string;
  /** Name of the application that published it. */
  appId?: string;
}

/** The properties that are AMQP short strings. */
const SHORT_STRINGS = [
  "contentType",
  "contentEncoding",
  "messageId",
  "type",
  "appId",
] as const;

/**
 * Checks the properties and headers a caller gives a request: short strings
 * of at most 255 bytes, a priority from 0 to 255, a delivery mode of 1 or 2,
 * a `Date` timestamp, and header values an AMQP table can carry.
 *
 * @example
 * ```ts
 * import { checkProperties } from "./properties.ts";
 *
 * checkProperties({ type: "add", headers: { tenant: "acme", attempt: 2 } });
 * ```
 *
 * @throws {TypeError} for a value of the wrong type.
 * @throws {RangeError} for a value out of range.
 */
export function checkProperties(properties: MessageProperties): void {
  if (typeof properties !== "object" || properties === null) {
    throw optionTypeError("properties", "must be an object");
  }
  for (const key of SHORT_STRINGS) {
    const value = properties[key];
    if (value === undefined) continue;
    if (typeof value !== "string") {
      throw optionTypeError(`properties.${key}`, "must be a string");
    }
    if (!fitsShortString(value)) {
      throw optionRangeError(
        `properties.${key}`,
        "must be at most 255 bytes long",
      );
    }
  }
  const { priority, deliveryMode, headers, timestamp } = properties;
  if (
    priority !== undefined &&
    !(Number.isInteger(priority) && priority >= 0 && priority <= 255)
  ) {
    throw optionRangeError(
      "properties.priority",
      "must be an integer from 0 to 255",
    );
  }
  if (deliveryMode !== undefined && deliveryMode !== 1 && deliveryMode !== 2) {
    throw optionRangeError("properties.deliveryMode", "must be 1 or 2");
  }
  if (timestamp !== undefined && !(timestamp instanceof Date)) {
    throw optionTypeError("properties.timestamp", "must be a Date");
  }
  if (headers !== undefined) checkHeaderValue(headers, "properties.headers");
}

function checkHeaderValue(value: unknown, path: string): void {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "bigint":
    case "undefined":
      return;
    case "number":
      // amqp-client writes integers below 2^32 as signed 32-bit: those from
      // 2^31 would arrive negative.
      if (Number.isInteger(value) && value >= 2 ** 31 && value < 2 ** 32) {
        throw optionRangeError(
          path,
          "is from 2^31 to 2^32: pass it as a bigint to send it intact",
        );
      }
      if (Number.isFinite(value)) return;
      throw optionRangeError(path, "must be a finite number");
    case "object":
      if (
        value === null || value instanceof Date || value instanceof Uint8Array
      ) return;
      if (Array.isArray(value)) {
        value.forEach((item, i) => checkHeaderValue(item, `${path}[${i}]`));
        return;
      }
      for (const [key, item] of Object.entries(value)) {
        if (!fitsShortString(key)) {
          throw optionRangeError(path, "has a key longer than 255 bytes");
        }
        checkHeaderValue(item, `${path}.${key}`);
      }
      return;
    default:
      throw optionTypeError(path, "cannot be sent in an AMQP header");
  }
}
