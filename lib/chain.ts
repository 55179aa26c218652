/**
 * Runs middleware around a last step: what the client's and the worker's
 * middleware chains share.
 *
 * @module
 */

/** A middleware: gets the context and `next`, which runs the rest. */
export type Link<Context, Result> = (
  context: Context,
  next: () => Promise<Result>,
) => Result | Promise<Result> | unknown;

/**
 * Runs `chain` around `last`, the first outermost. `next()` may be called
 * once; a middleware that does not wait for it leaves no unhandled failure
 * behind (Deno would end the program for one).
 *
 * @example
 * ```ts
 * import { runChain } from "./chain.ts";
 *
 * const result = await runChain(
 *   [async (n: number, next: () => Promise<number>) => (await next()) + n],
 *   1,
 *   () => 10,
 * );
 * console.log(result); // 11
 * ```
 */
export function runChain<Context, Result>(
  chain: readonly Link<Context, Result>[],
  context: Context,
  last: () => Result | Promise<Result>,
): Promise<Result> {
  const run = async (i: number): Promise<Result> => {
    if (i === chain.length) return await last();
    let inner: Promise<Result> | undefined;
    return await chain[i](context, () => {
      if (inner) {
        const twice = Promise.reject(
          new Error("next() called more than once"),
        );
        twice.catch(() => {});
        return twice;
      }
      inner = run(i + 1);
      // Handled from the start: a middleware that does not wait for it
      // (or calls next() after it returned) leaves no unhandled failure.
      inner.catch(() => {});
      return inner;
    }) as Result;
  };
  return run(0);
}
