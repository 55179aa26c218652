/**
 * The checks of options and arguments that the client, the worker and the
 * programs share, each rule written once. A failed check throws a
 * `TypeError` or `RangeError`, as Deno's own APIs do, that also names the
 * option ({@linkcode isOptionError}): the programs map it to their flag and
 * exit 2, while any other `TypeError` stays a bug.
 *
 * @module
 */

/**
 * The longest delay a timer takes, in milliseconds (2³¹ − 1): a longer one
 * fires at once.
 *
 * @example
 * ```ts
 * import { MAX_TIMER } from "./checks.ts";
 *
 * console.log(MAX_TIMER); // 2147483647
 * ```
 */
export const MAX_TIMER = 2 ** 31 - 1;

/**
 * A `TypeError` or `RangeError` about one option or argument.
 *
 * @example
 * ```ts
 * import { checkInteger, isOptionError } from "./checks.ts";
 *
 * try {
 *   checkInteger("prefetch", 0, { min: 1, max: 65535 });
 * } catch (error) {
 *   if (isOptionError(error)) console.log(error.option, error.detail);
 *   // prefetch must be an integer from 1 to 65535, got 0
 * }
 * ```
 */
export interface OptionError extends Error {
  /** The option's name, as the library spells it (`prefetch`). */
  readonly option: string;
  /** What is wrong, after the name: `must be …, got …`. */
  readonly detail: string;
}

/**
 * A `TypeError` about `option`, whose message is `option detail`.
 *
 * @example
 * ```ts
 * import { optionTypeError } from "./checks.ts";
 *
 * console.log(optionTypeError("queue", "must be a string").message); // queue must be a string
 * ```
 */
export function optionTypeError(option: string, detail: string): TypeError {
  return tag(new TypeError(`${option} ${detail}`), option, detail);
}

/**
 * A `RangeError` about `option`, whose message is `option detail`.
 *
 * @example
 * ```ts
 * import { optionRangeError } from "./checks.ts";
 *
 * console.log(optionRangeError("port", "must be at most 65535").name); // RangeError
 * ```
 */
export function optionRangeError(option: string, detail: string): RangeError {
  return tag(new RangeError(`${option} ${detail}`), option, detail);
}

function tag<E extends Error>(error: E, option: string, detail: string): E {
  Object.defineProperties(error, {
    option: { value: option },
    detail: { value: detail },
  });
  return error;
}

/**
 * Whether `error` is a failed check of one of the library's options or
 * arguments (and not a `TypeError` from a bug).
 *
 * @example
 * ```ts
 * import { isOptionError, optionRangeError } from "./checks.ts";
 *
 * console.log(isOptionError(optionRangeError("prefetch", "must be positive"))); // true
 * console.log(isOptionError(new TypeError("x is not a function"))); // false
 * ```
 */
export function isOptionError(
  error: unknown,
): error is (TypeError | RangeError) & OptionError {
  return (error instanceof TypeError || error instanceof RangeError) &&
    typeof (error as Partial<OptionError>).option === "string" &&
    typeof (error as Partial<OptionError>).detail === "string";
}

/** A value as a message shows it: strings quoted, the rest as they print. */
function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * Checks that `value` is an integer from `min` to `max` (inclusive).
 *
 * @example
 * ```ts
 * import { checkInteger } from "./checks.ts";
 *
 * console.log(checkInteger("prefetch", 10, { min: 1, max: 65535 })); // 10
 * ```
 *
 * @throws {RangeError} if it is not.
 */
export function checkInteger(
  option: string,
  value: unknown,
  range: { min: number; max?: number },
): number {
  const { min, max = Number.MAX_SAFE_INTEGER } = range;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < min ||
    value > max
  ) {
    throw optionRangeError(
      option,
      max === Number.MAX_SAFE_INTEGER
        ? `must be an integer of at least ${min}, got ${shown(value)}`
        : `must be an integer from ${min} to ${max}, got ${shown(value)}`,
    );
  }
  return value;
}

/**
 * Checks that `value` is a number of at least 0 (`Infinity` included).
 *
 * @example
 * ```ts
 * import { checkNonNegative } from "./checks.ts";
 *
 * console.log(checkNonNegative("gracePeriod", 5_000)); // 5000
 * ```
 *
 * @throws {RangeError} if it is not.
 */
export function checkNonNegative(option: string, value: unknown): number {
  if (typeof value !== "number" || !(value >= 0)) {
    throw optionRangeError(
      option,
      `must be a non-negative number, got ${shown(value)}`,
    );
  }
  return value;
}

/**
 * Checks that `value` is a timeout: from 1 to {@linkcode MAX_TIMER}
 * milliseconds, or `Infinity`.
 *
 * @example
 * ```ts
 * import { checkTimeout } from "./checks.ts";
 *
 * console.log(checkTimeout("timeout", 5_000)); // 5000
 * ```
 *
 * @throws {TypeError} if it is not a number.
 * @throws {RangeError} if it is out of range.
 */
export function checkTimeout(option: string, value: unknown): number {
  if (typeof value !== "number") {
    throw optionTypeError(option, `must be a number, got ${typeof value}`);
  }
  if (!(value > 0) || (value > MAX_TIMER && value !== Infinity)) {
    throw optionRangeError(
      option,
      `must be from 1 to ${MAX_TIMER} milliseconds, or Infinity, got ${value}`,
    );
  }
  return value;
}

/**
 * Checks that `value` is a boolean, if given.
 *
 * @example
 * ```ts
 * import { checkBoolean } from "./checks.ts";
 *
 * checkBoolean("persistent", true);
 * ```
 *
 * @throws {TypeError} if it is given and not a boolean.
 */
export function checkBoolean(option: string, value: unknown): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw optionTypeError(option, `must be a boolean, got ${shown(value)}`);
  }
}

/**
 * Checks that `value` is one of `choices`.
 *
 * @example
 * ```ts
 * import { checkOneOf } from "./checks.ts";
 *
 * const type = checkOneOf("queueType", "quorum", {
 *   choices: ["classic", "quorum"] as const,
 * });
 * console.log(type); // quorum
 * ```
 *
 * @throws {TypeError} if it is not.
 */
export function checkOneOf<T extends string>(
  option: string,
  value: unknown,
  allowed: { choices: readonly T[] },
): T {
  const choices = allowed.choices;
  if (!choices.includes(value as T)) {
    throw optionTypeError(
      option,
      `must be ${
        choices.map((choice) => JSON.stringify(choice)).join(" or ")
      }, got ${shown(value)}`,
    );
  }
  return value as T;
}

/**
 * Checks that `value` is an array of functions (middleware), and copies it.
 *
 * @example
 * ```ts
 * import { checkFunctions } from "./checks.ts";
 *
 * console.log(checkFunctions("middleware", [() => {}]).length); // 1
 * ```
 *
 * @throws {TypeError} if it is not.
 */
export function checkFunctions<F>(option: string, value: unknown): F[] {
  if (!Array.isArray(value)) {
    throw optionTypeError(option, "must be an array of functions");
  }
  value.forEach((item, i) => {
    if (typeof item !== "function") {
      throw optionTypeError(`${option}[${i}]`, "must be a function");
    }
  });
  return [...value];
}

const encoder = new TextEncoder();

/**
 * Whether `text` fits an AMQP short string: at most 255 bytes of UTF-8.
 *
 * @example
 * ```ts
 * import { fitsShortString } from "./checks.ts";
 *
 * console.log(fitsShortString("rpc_queue"), fitsShortString("é".repeat(128))); // true false
 * ```
 */
export function fitsShortString(text: string): boolean {
  // Three bytes at most per UTF-16 unit: short text needs no encoding.
  return text.length <= 85 || encoder.encode(text).length <= 255;
}

/**
 * Checks that `value` is a name an AMQP short string can carry (a queue, a
 * method): a non-empty string without NUL, at most 255 bytes of UTF-8.
 *
 * @example
 * ```ts
 * import { checkName } from "./checks.ts";
 *
 * console.log(checkName("queue", "rpc_queue")); // rpc_queue
 * ```
 *
 * @throws {TypeError} if it is not a non-empty string, or holds a NUL.
 * @throws {RangeError} if it is longer than 255 bytes.
 */
export function checkName(option: string, value: unknown): string {
  if (typeof value !== "string" || value === "") {
    throw optionTypeError(option, "must be a non-empty string");
  }
  if (value.includes("\0")) {
    throw optionTypeError(option, "must not contain NUL characters");
  }
  if (!fitsShortString(value)) {
    throw optionRangeError(option, "must be at most 255 bytes long");
  }
  return value;
}
