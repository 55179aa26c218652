/**
 * The error codes of error replies (`PROTOCOL.md` section 5.4).
 *
 * @module
 */

/**
 * The error codes a worker of this library sends in an error reply's
 * `x-rpc-error` header. Handlers may send others (see `HandlerError`).
 *
 * @example
 * ```ts
 * import { ERROR_CODES } from "./error_codes.ts";
 *
 * console.log(ERROR_CODES.includes("OUT_OF_RANGE")); // true
 * ```
 */
export const ERROR_CODES = [
  "INVALID_ARGUMENT",
  "OUT_OF_RANGE",
  "TOO_LARGE",
  "DEADLINE_EXCEEDED",
  "METHOD_NOT_FOUND",
  "PERMISSION_DENIED",
  "UNAUTHENTICATED",
  "INTERNAL",
] as const;

/**
 * One of the {@linkcode ERROR_CODES}.
 *
 * @example
 * ```ts
 * import type { ErrorCode } from "./error_codes.ts";
 *
 * const code: ErrorCode = "PERMISSION_DENIED";
 * console.log(code); // PERMISSION_DENIED
 * ```
 */
export type ErrorCode = typeof ERROR_CODES[number];
