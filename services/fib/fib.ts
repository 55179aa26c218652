/**
 * The Fibonacci numbers of the tutorial's service, exact for large n.
 *
 * @module
 */

/**
 * The largest n {@linkcode fib} accepts (its bits must fit 32-bit shifts).
 *
 * @example
 * ```ts
 * import { fib, MAX_FIB_N } from "./fib.ts";
 *
 * console.log(MAX_FIB_N); // 2147483647
 * console.log(fib(90)); // 2880067194370816120n
 * ```
 */
export const MAX_FIB_N = 2 ** 31 - 1;

/**
 * The n-th Fibonacci number (fib(0) = 0, fib(1) = 1), computed exactly with
 * `bigint` by fast doubling in O(log n) multiplications.
 *
 * @example
 * ```ts
 * import { fib } from "./fib.ts";
 *
 * console.log(fib(30)); // 832040n
 * console.log(fib(10_000).toString().length); // 2090
 * ```
 *
 * @throws {RangeError} if `n` is not an integer from 0 to {@linkcode MAX_FIB_N}.
 */
export function fib(n: number): bigint {
  if (!Number.isInteger(n) || n < 0 || n > MAX_FIB_N) {
    throw new RangeError(
      `n must be an integer from 0 to ${MAX_FIB_N}, got ${n}`,
    );
  }
  // Fast doubling: with a = F(k), b = F(k+1),
  // F(2k) = a(2b - a) and F(2k+1) = a² + b².
  let a = 0n;
  let b = 1n;
  for (let bit = 31 - Math.clz32(n); bit >= 0 && n > 0; bit--) {
    const c = a * (2n * b - a);
    const d = a * a + b * b;
    if ((n >>> bit) & 1) {
      a = d;
      b = c + d;
    } else {
      a = c;
      b = d;
    }
  }
  return a;
}
