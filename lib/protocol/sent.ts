/**
 * The types of values after a trip through the wire: what a typed client's
 * results are, given a method's declared result type.
 *
 * @module
 */

/**
 * The type a value has after a trip through {@linkcode encodeValue} and
 * {@linkcode decodeValue}: a string, bytes and `undefined` as they are,
 * anything else as `JSON.parse(JSON.stringify(value))` gives it back: a
 * `Date` as a string, a `Map` as an empty object, functions and symbols
 * left out. A `bigint` cannot be sent at all.
 *
 * @example
 * ```ts
 * import type { Sent } from "./sent.ts";
 *
 * type Reply = Sent<{ at: Date; tags: Set<string>; n: number }>;
 * const reply: Reply = { at: "2026-11-27T00:00:00.000Z", tags: {}, n: 1 };
 * console.log(typeof reply.at); // string
 * ```
 */
export type Sent<T> = unknown extends T ? T // unknown and any say nothing
  : T extends string | Uint8Array | undefined | void ? T
  // Any other view of bytes is sent as its bytes.
  : T extends ArrayBufferView ? Uint8Array
  : Jsonified<T>;

/**
 * The type `JSON.parse(JSON.stringify(value))` gives back for a value of
 * type `T`.
 *
 * @example
 * ```ts
 * import type { Jsonified } from "./sent.ts";
 *
 * const value: Jsonified<{ when: Date; list: number[] }> = {
 *   when: "2026-11-27T00:00:00.000Z",
 *   list: [1, 2],
 * };
 * console.log(value.when.length); // 24
 * ```
 */
export type Jsonified<T> = unknown extends T ? T
  : T extends string | number | boolean | null ? T
  : T extends bigint | symbol | ((...args: never[]) => unknown) ? never
  : T extends { toJSON(): infer J } ? Jsonified<J>
  // Their entries are no properties: JSON writes them as {}.
  : T extends
    | ReadonlyMap<unknown, unknown>
    | ReadonlySet<unknown>
    | WeakMap<object, unknown>
    | WeakSet<object> ? Record<string, never>
  : T extends readonly unknown[] ? { [I in keyof T]: JsonItem<T[I]> }
  : T extends object ? {
      [
        K in keyof T as K extends symbol ? never
          : T[K] extends undefined | symbol | ((...args: never[]) => unknown)
            ? never
          : K
      ]: Jsonified<T[K]>;
    }
  : never;

/**
 * An array item after JSON: what JSON cannot write (`undefined`, a
 * function) becomes `null`.
 *
 * @example
 * ```ts
 * import type { JsonItem } from "./sent.ts";
 *
 * const item: JsonItem<undefined> = null;
 * console.log(item); // null
 * ```
 */
export type JsonItem<T> = T extends
  undefined | symbol | ((...args: never[]) => unknown) ? null
  : Jsonified<T>;
