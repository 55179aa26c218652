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
 * import { runChain } from "./_chain.ts";
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
    try {
      return await chain[i](context, () => {
        if (inner) {
          return Promise.reject(new Error("next() called more than once"));
        }
        inner = run(i + 1);
        return inner;
      }) as Result;
    } finally {
      inner?.catch(() => {});
    }
  };
  return run(0);
}
