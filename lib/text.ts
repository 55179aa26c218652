/**
 * Text from others made fit to show on one line of a terminal or a log:
 * control characters escaped, and the length bounded by a marker that says
 * how much was left out. One rule each, for the loggers, the error replies
 * a client keeps, and the programs' output.
 *
 * @module
 */

import { checkInteger, optionTypeError } from "./checks.ts";

/**
 * The characters {@linkcode escapeControls} writes as `\uXXXX`: the C0
 * controls (newline, ESC, BEL, …), DEL and the C1 controls (among them
 * U+009B, a one-character CSI), the bidirectional controls (U+061C,
 * U+200E/F, U+202A–U+202E, U+2066–U+2069), and the line and paragraph
 * separators U+2028/9.
 */
const CONTROLS = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]/u;
const ALL_CONTROLS = new RegExp(CONTROLS.source, "gu");

/**
 * `text` with each control character (see {@linkcode hasControls}) written
 * as `\uXXXX`, so that it can neither drive a terminal (escape sequences,
 * a carriage return over the line, text reordered by a bidi override) nor
 * start a line of its own. The escapes are also JSON's: applied to a JSON
 * text, the result is JSON of the same value.
 *
 * @example
 * ```ts
 * import { escapeControls } from "./text.ts";
 *
 * console.log(escapeControls("\x1b[31mred\x1b[0m\n")); // \u001b[31mred\u001b[0m\u000a
 * console.log(escapeControls(JSON.stringify({ csi: "\x9b2J" }))); // {"csi":"\u009b2J"}
 * ```
 */
export function escapeControls(text: string): string {
  // Most text has none: no copy, no callback.
  if (!CONTROLS.test(text)) return text;
  return text.replace(ALL_CONTROLS, escapeOf);
}

/** The escapes, made once each. */
const ESCAPES = new Map<string, string>();

function escapeOf(c: string): string {
  let escape = ESCAPES.get(c);
  if (escape === undefined) {
    escape = `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    ESCAPES.set(c, escape);
  }
  return escape;
}

/**
 * Whether `text` holds a character that {@linkcode escapeControls} escapes:
 * C0 and C1 controls, DEL, bidirectional controls, U+2028 and U+2029.
 *
 * @example
 * ```ts
 * import { hasControls } from "./text.ts";
 *
 * console.log(hasControls("plain text")); // false
 * console.log(hasControls("\u202egnp.exe")); // true
 * ```
 */
export function hasControls(text: string): boolean {
  return CONTROLS.test(text);
}

/**
 * The marker that ends text cut short by {@linkcode truncate}: how many
 * characters (UTF-16 code units) were left out.
 *
 * @example
 * ```ts
 * import { truncationMarker } from "./text.ts";
 *
 * console.log(truncationMarker(123456)); // … (123456 more characters)
 * ```
 */
export function truncationMarker(left: number): string {
  return `${MARKER_START}${left}${MARKER_END}`;
}

const MARKER_START = "\u2026 (";
const MARKER_END = " more characters)";

/**
 * The length of the {@linkcode truncationMarker} that starts at `index` of
 * `text`, or 0 if none does. (`maskUrl` masks a password cut by one.)
 *
 * @example
 * ```ts
 * import { markerLengthAt, truncate } from "./text.ts";
 *
 * const cut = truncate("abcdef", 3); // abc… (3 more characters)
 * console.log(markerLengthAt(cut, 3), markerLengthAt(cut, 0)); // 21 0
 * ```
 */
export function markerLengthAt(text: string, index: number): number {
  if (!text.startsWith(MARKER_START, index)) return 0;
  let end = index + MARKER_START.length;
  const digits = end;
  while (end < text.length && isDigit(text.charCodeAt(end))) end++;
  if (end === digits || !text.startsWith(MARKER_END, end)) return 0;
  return end + MARKER_END.length - index;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/**
 * `text` as it is if it has at most `max` characters (UTF-16 code units),
 * else its first `max` (one fewer rather than half a surrogate pair) and
 * the {@linkcode truncationMarker}. It costs the length of what it keeps,
 * not of `text`.
 *
 * @example
 * ```ts
 * import { truncate } from "./text.ts";
 *
 * console.log(truncate("short", 10)); // short
 * console.log(truncate("x".repeat(1_000_000), 8)); // xxxxxxxx… (999992 more characters)
 * ```
 *
 * @throws {TypeError} if `max` is not a number.
 * @throws {RangeError} if `max` is not a non-negative integer.
 */
export function truncate(text: string, max: number): string {
  if (typeof max !== "number") {
    throw optionTypeError("max", `must be a number, got ${typeof max}`);
  }
  checkInteger("max", max, { min: 0 });
  if (text.length <= max) return text;
  let kept = max;
  const last = text.charCodeAt(kept - 1);
  // Never the first half of a surrogate pair on its own.
  if (kept > 0 && last >= 0xd800 && last <= 0xdbff) kept--;
  return text.slice(0, kept) + truncationMarker(text.length - kept);
}
