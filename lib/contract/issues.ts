/**
 * The issues a schema found, bounded and in words: how many an error
 * carries, how long each message may be, and how a path reads.
 *
 * @module
 */

import { truncate } from "../text.ts";
import type { StandardIssue } from "./standard_schema.ts";

/** The most issues an error reply carries (the rest are counted). */
export const MAX_ISSUES = 20;

/** The longest message of one issue, in characters. */
export const MAX_ISSUE_MESSAGE = 256;

/** The most keys of an issue's path. */
export const MAX_PATH_KEYS = 16;

/** The longest key of a path, in characters. */
export const MAX_PATH_KEY = 64;

/**
 * One issue as an error reply carries it: its path (keys and indexes) and
 * its message.
 *
 * @example
 * ```ts
 * import type { Issue } from "./issues.ts";
 *
 * const issue: Issue = { path: ["items", 0, "price"], message: "Expected a number" };
 * console.log(issue.path.join(".")); // items.0.price
 * ```
 */
export interface Issue {
  /** The keys from the value's root to the problem: strings and indexes. */
  readonly path: readonly (string | number)[];
  /** What is wrong. */
  readonly message: string;
}

/**
 * At most {@linkcode MAX_ISSUES} of `issues`, each bounded, in the wire's
 * shape (a symbol key reads as its description).
 *
 * @example
 * ```ts
 * import { boundedIssues } from "./issues.ts";
 *
 * console.log(boundedIssues([{ message: "Required", path: [{ key: "a" }] }]));
 * // [ { path: [ "a" ], message: "Required" } ]
 * ```
 */
export function boundedIssues(issues: readonly StandardIssue[]): Issue[] {
  return issues.slice(0, MAX_ISSUES).map((issue) => ({
    path: (issue.path ?? []).slice(0, MAX_PATH_KEYS).map((segment) => {
      const key = typeof segment === "object" && segment !== null
        ? segment.key
        : segment;
      return typeof key === "number" ? key : truncate(
        typeof key === "symbol" ? key.description ?? "" : String(key),
        MAX_PATH_KEY,
      );
    }),
    message: truncate(String(issue.message), MAX_ISSUE_MESSAGE),
  }));
}

/**
 * Issues read from an error reply, as a worker may have sent anything:
 * only well-formed ones, bounded as {@linkcode boundedIssues} bounds them.
 *
 * @example
 * ```ts
 * import { issuesOf } from "./issues.ts";
 *
 * console.log(issuesOf([{ path: ["b"], message: "Too small" }, 42]));
 * // [ { path: [ "b" ], message: "Too small" } ]
 * ```
 */
export function issuesOf(value: unknown): Issue[] {
  if (!Array.isArray(value)) return [];
  const issues: StandardIssue[] = [];
  for (const item of value.slice(0, MAX_ISSUES)) {
    if (typeof item !== "object" || item === null) continue;
    const { path, message } = item as Record<string, unknown>;
    if (typeof message !== "string") continue;
    issues.push({
      message,
      path: Array.isArray(path)
        ? path.slice(0, MAX_PATH_KEYS).filter((key) =>
          typeof key === "string" || typeof key === "number"
        )
        : [],
    });
  }
  return boundedIssues(issues);
}

/**
 * The issues in one line: `a: Expected number; items[0].price: Required`
 * (`(root)` for an empty path), and how many more there were.
 *
 * @example
 * ```ts
 * import { issuesText } from "./issues.ts";
 *
 * console.log(issuesText([{ path: ["items", 0, "price"], message: "Required" }], 3));
 * // items[0].price: Required; and 2 more
 * ```
 */
export function issuesText(issues: readonly Issue[], total: number): string {
  const parts = issues.map((issue) =>
    `${pathText(issue.path)}: ${issue.message}`
  );
  const more = total - issues.length;
  return parts.join("; ") + (more > 0 ? `; and ${more} more` : "");
}

function pathText(path: readonly (string | number)[]): string {
  if (path.length === 0) return "(root)";
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) {
      text += text === "" ? key : `.${key}`;
    } else text += `[${JSON.stringify(key)}]`;
  }
  return text;
}
