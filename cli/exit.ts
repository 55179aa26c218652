// deno-lint-ignore-file no-console -- how a program ends: its last line.
/**
 * How a program ends when it fails: one line on stderr, never a stack
 * trace, and exit status 2 for a bad command line (its own finding, or an
 * option error of the library for one of its flags), 1 for anything else.
 *
 * @module
 */

import { describeError } from "./describe_error.ts";
import { usageErrorOf, usageLine } from "./flags.ts";

/**
 * Runs a program and resolves with its exit status: what `run` resolves
 * with, or the status of its failure, whose one line is written to stderr.
 * `flags` names the flag of each library option the program sets.
 *
 * @example
 * ```ts
 * import { runProgram } from "./exit.ts";
 *
 * const status = await runProgram(() => Promise.resolve(0), {});
 * console.log(status); // 0
 * ```
 */
export async function runProgram(
  run: () => Promise<number>,
  flags: Readonly<Record<string, string>>,
): Promise<number> {
  try {
    return await run();
  } catch (error) {
    const usage = usageErrorOf(error, flags);
    console.error(usage ? usageLine(usage) : describeError(error, flags));
    return usage ? 2 : 1;
  }
}
