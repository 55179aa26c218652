/**
 * Reading n from a request of the tutorial's fib service: decimal digits,
 * validated before any work.
 *
 * @module
 */

import { HandlerError } from "../../lib/errors.ts";

/**
 * The largest n the fib service accepts unless told otherwise.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_N, parseFibRequest } from "./parse.ts";
 *
 * console.log(DEFAULT_MAX_N); // 100000
 * const body = new TextEncoder().encode(String(DEFAULT_MAX_N));
 * console.log(parseFibRequest(body)); // 100000
 * ```
 */
export const DEFAULT_MAX_N = 100_000;

/**
 * Options of {@linkcode fibHandler} and {@linkcode parseFibRequest}.
 *
 * @example
 * ```ts
 * import { type FibOptions, parseFibRequest } from "./parse.ts";
 *
 * const options: FibOptions = { maxN: 1_000 };
 * console.log(parseFibRequest(new TextEncoder().encode("90"), options)); // 90
 * ```
 */
export interface FibOptions {
  /** The largest n accepted (default 100 000). */
  maxN?: number;
}

/**
 * Reads n from a request body: ASCII whitespace around, decimal digits
 * only, `0 ≤ n ≤ maxN`. The content type is not consulted: the tutorial's
 * clients send none.
 *
 * @example
 * ```ts
 * import { parseFibRequest } from "./parse.ts";
 *
 * console.log(parseFibRequest(new TextEncoder().encode(" 30\n"))); // 30
 * ```
 *
 * @throws {HandlerError} `INVALID_ARGUMENT` for anything but digits, or
 * `OUT_OF_RANGE` for a negative number or one above `maxN`.
 */
export function parseFibRequest(
  body: Uint8Array,
  options: FibOptions = {},
): number {
  const maxN = options.maxN ?? DEFAULT_MAX_N;
  let start = 0;
  let end = body.length;
  while (start < end && isSpace(body[start])) start++;
  while (end > start && isSpace(body[end - 1])) end--;
  if (start === end) {
    throw new HandlerError(
      "INVALID_ARGUMENT",
      "Expected a decimal integer n, got an empty body",
    );
  }
  const negative = body[start] === 0x2d; // "-"
  let first = negative ? start + 1 : start;
  if (first === end) throw invalid(body, start, end);
  for (let i = first; i < end; i++) {
    if (body[i] < 0x30 || body[i] > 0x39) throw invalid(body, start, end);
  }
  if (negative) {
    throw new HandlerError(
      "OUT_OF_RANGE",
      `n must be from 0 to ${maxN}, got a negative number`,
    );
  }
  while (first < end - 1 && body[first] === 0x30) first++; // leading zeros
  // More digits than maxN has cannot be in range; do not parse them.
  if (end - first > String(maxN).length) throw outOfRange(maxN);
  let n = 0;
  for (let i = first; i < end; i++) n = n * 10 + (body[i] - 0x30);
  if (n > maxN) throw outOfRange(maxN, n);
  return n;
}

function isSpace(byte: number): boolean {
  // ASCII whitespace as WHATWG defines it: tab, LF, FF, CR, space.
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0c ||
    byte === 0x0d;
}

function invalid(body: Uint8Array, start: number, end: number): HandlerError {
  const shown = end - start > 40 ? "a body" : JSON.stringify(
    new TextDecoder().decode(body.subarray(start, end)),
  );
  return new HandlerError(
    "INVALID_ARGUMENT",
    `Expected a decimal integer n, got ${shown}`,
  );
}

function outOfRange(maxN: number, n?: number): HandlerError {
  return new HandlerError(
    "OUT_OF_RANGE",
    `n must be from 0 to ${maxN}, got ${n ?? "a larger number"}`,
  );
}
