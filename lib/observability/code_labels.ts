/**
 * Error codes as metric labels, bounded: whoever sends the codes (a worker
 * to its clients, a handler to its worker) cannot make series without
 * bound.
 *
 * @module
 */

/** How many distinct codes get a label of their own. */
const MAX_CODES = 64;

/**
 * Error codes as metric labels: an upper-case code such as `NOT_FOUND` is
 * its own label, up to 64 of them; anything else, and codes beyond those,
 * are `OTHER`.
 *
 * @example
 * ```ts
 * import { CodeLabels } from "./code_labels.ts";
 *
 * const codes = new CodeLabels();
 * console.log(codes.of("OUT_OF_RANGE"), codes.of("<script>")); // OUT_OF_RANGE OTHER
 * ```
 */
export class CodeLabels {
  readonly #seen = new Set<string>();

  /** The label of `code`. */
  of(code: string): string {
    if (this.#seen.has(code)) return code;
    if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(code) || this.#seen.size >= MAX_CODES) {
      return "OTHER";
    }
    this.#seen.add(code);
    return code;
  }
}
