/**
 * Broker URLs: defaults, validation and masking of passwords.
 *
 * @module
 */

import { optionTypeError } from "../checks.ts";
import { markerLengthAt } from "../text.ts";

/**
 * The URL used when none is given.
 *
 * @example
 * ```ts
 * import { DEFAULT_URL, maskUrl } from "./url.ts";
 *
 * console.log(DEFAULT_URL); // amqp://guest:guest@localhost:5672
 * console.log(maskUrl(DEFAULT_URL)); // amqp://guest:***@localhost:5672
 * ```
 */
export const DEFAULT_URL = "amqp://guest:guest@localhost:5672";

/** The heartbeat, in seconds, set on URLs that do not choose one. */
export const DEFAULT_HEARTBEAT_SECONDS = 10;

/**
 * The largest frame requested from the broker, so that a 64 KiB body
 * travels in one frame rather than eight.
 */
export const DEFAULT_FRAME_MAX = 131_072;

/**
 * The URL with its password replaced by `***`, for log lines and errors.
 * Text that is not a URL is masked by pattern: after each `scheme://user:`,
 * the password runs to the last `@` before the next white space or
 * `scheme://` (passwords may hold `/`, `@` or `,`). A password cut short by
 * `truncate` of `lib/text.ts` (its `@` may be in what was left out) is
 * masked up to the `… (N more characters)` marker. It takes time linear in
 * the length of `url`, whatever it holds.
 *
 * @example
 * ```ts
 * import { maskUrl } from "./url.ts";
 *
 * console.log(maskUrl("amqp://app:secret@broker:5672/prod"));
 * // amqp://app:***@broker:5672/prod
 * console.log(maskUrl("failed amqps://a:p@1@x, amqp://b:p2@y"));
 * // failed amqps://a:***@x, amqp://b:***@y
 * ```
 *
 * @example Text cut short
 * ```ts
 * import { maskUrl } from "./url.ts";
 * import { truncate } from "../text.ts";
 *
 * console.log(maskUrl(truncate("amqp://app:long-secret@broker", 16)));
 * // amqp://app:***… (13 more characters)
 * ```
 */
export function maskUrl(url: string): string {
  const parts: string[] = [];
  let from = 0;
  let at = 0;
  for (;;) {
    const start = passwordStart(url, at);
    if (start === -1) break;
    const end = passwordEnd(url, start);
    if (end.lastAt === -1 && end.marker === -1) {
      // No "@" before its end: not a password (`amqp://host:5672`).
      at = start;
      continue;
    }
    // Cut short, a password is masked up to the marker, "@" or not.
    const stop = end.marker !== -1 ? end.marker : end.lastAt;
    parts.push(url.slice(from, start), "***");
    from = stop;
    at = stop;
  }
  parts.push(url.slice(from));
  return parts.join("");
}

// maskUrl's scanner. It reads each character a bounded number of times: a
// regular expression here was quadratic (a long run of letters is a
// scheme that might end in "://" at each of its starts).

const COLON = 0x3a;
const SLASH = 0x2f;
const AT = 0x40;

/**
 * The offset just after the first `scheme://user:` that starts at or after
 * `from` (as `/[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:/i` finds it), or -1.
 */
function passwordStart(text: string, from: number): number {
  // Whether the run of scheme characters just before `i` holds a letter
  // (a scheme starts with one).
  let letter = false;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isSchemeChar(c)) {
      letter ||= isLetter(c);
      continue;
    }
    if (letter && isSchemeSeparator(text, i)) {
      let user = i + 3;
      while (user < text.length && isUserChar(text.charCodeAt(user))) user++;
      if (text.charCodeAt(user) === COLON) return user + 1;
      // The user part is read again as ordinary text: it holds no ":", so
      // no other user part overlaps it.
      i += 2;
    }
    letter = false;
  }
  return -1;
}

/**
 * Where the password that starts at `start` ends: the last `@` before the
 * next white space or `scheme://`, or the truncation marker it runs into.
 */
function passwordEnd(
  text: string,
  start: number,
): { lastAt: number; marker: number } {
  let lastAt = -1;
  // The first letter of the run of scheme characters just before `i`.
  let letter = -1;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isSchemeChar(c)) {
      if (letter === -1 && isLetter(c)) letter = i;
      continue;
    }
    if (isSpace(c)) {
      // A marker is "… (N more characters)": "…" and a space.
      const marker = i - 1 >= start && markerLengthAt(text, i - 1) > 0
        ? i - 1
        : -1;
      return { lastAt, marker };
    }
    if (letter !== -1 && isSchemeSeparator(text, i)) {
      return { lastAt, marker: -1 };
    }
    if (c === AT) lastAt = i;
    letter = -1;
  }
  return { lastAt, marker: -1 };
}

function isSchemeSeparator(text: string, i: number): boolean {
  return text.charCodeAt(i) === COLON && text.charCodeAt(i + 1) === SLASH &&
    text.charCodeAt(i + 2) === SLASH;
}

function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

/** `[a-z0-9+.-]`, any case. */
function isSchemeChar(c: number): boolean {
  return isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x2b ||
    c === 0x2e || c === 0x2d;
}

/** `[^\s:/@]`. */
function isUserChar(c: number): boolean {
  return c !== COLON && c !== SLASH && c !== AT && !isSpace(c);
}

/** What `\s` matches in a regular expression. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 ||
    c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 ||
    c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 ||
    c === 0xfeff;
}

/**
 * The list of URLs to connect to, from an option that may be a string
 * (possibly comma-separated), a list, or absent.
 *
 * @example
 * ```ts
 * import { urlList } from "./url.ts";
 *
 * console.log(urlList("amqp://a:5672,amqp://b:5672")); // ["amqp://a:5672", "amqp://b:5672"]
 * console.log(urlList(undefined)); // ["amqp://guest:guest@localhost:5672"]
 * ```
 *
 * @throws {TypeError} if a URL is not an `amqp://` or `amqps://` URL.
 */
export function urlList(url: string | readonly string[] | undefined): string[] {
  const raw = url === undefined ? [DEFAULT_URL] : typeof url === "string"
    // Split only where a new URL starts: a password may contain a comma.
    ? url.split(/,\s*(?=amqps?:\/\/)/i)
    : [...url];
  const list = raw.map((u) => {
    if (typeof u !== "string") {
      throw optionTypeError("url", `must be a string, got ${typeof u}`);
    }
    return u.trim();
  }).filter((u) => u !== "");
  if (list.length === 0) {
    throw optionTypeError("url", "must name at least one broker");
  }
  for (const u of list) parseAmqpUrl(u);
  return list;
}

/**
 * Parses an `amqp://` or `amqps://` URL.
 *
 * @example
 * ```ts
 * import { parseAmqpUrl } from "./url.ts";
 *
 * console.log(parseAmqpUrl("amqp://localhost").hostname); // localhost
 * ```
 *
 * @throws {TypeError} if it is not one.
 */
export function parseAmqpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never echo text that did not parse: it may hold a password.
    throw optionTypeError(
      "url",
      "must be a broker URL such as amqp://user:password@host:port/vhost",
    );
  }
  if (parsed.protocol !== "amqp:" && parsed.protocol !== "amqps:") {
    throw optionTypeError(
      "url",
      `must start with amqp:// or amqps://, got ${
        JSON.stringify(maskUrl(url))
      }`,
    );
  }
  return parsed;
}

/** The user name and virtual host a URL logs in with. */
export interface UrlIdentity {
  /** The user name (default `guest`). */
  user: string;
  /** The virtual host (default `/`). */
  vhost: string;
  /** `host:port`. */
  address: string;
}

/**
 * The user, virtual host and address of a URL, for error messages.
 *
 * @example
 * ```ts
 * import { identityOf } from "./url.ts";
 *
 * console.log(identityOf("amqp://app:pw@broker/prod"));
 * // { user: "app", vhost: "prod", address: "broker:5672" }
 * ```
 */
export function identityOf(url: string): UrlIdentity {
  const u = parseAmqpUrl(url);
  const port = u.port || (u.protocol === "amqps:" ? "5671" : "5672");
  return {
    user: decodeURIComponent(u.username) || "guest",
    vhost: decodeURIComponent(u.pathname.slice(1)) || "/",
    address: `${u.hostname || "localhost"}:${port}`,
  };
}

/**
 * The URL with the library's defaults added where it chooses nothing:
 * a heartbeat, a frame size, and the connection name shown by the broker.
 *
 * @example
 * ```ts
 * import { withDefaults } from "./url.ts";
 *
 * console.log(withDefaults("amqp://localhost", "my client"));
 * // amqp://localhost?heartbeat=10&frameMax=131072&name=my+client
 * ```
 */
export function withDefaults(url: string, connectionName: string): string {
  const u = parseAmqpUrl(url);
  const params = u.searchParams;
  if (!params.has("heartbeat")) {
    params.set("heartbeat", String(DEFAULT_HEARTBEAT_SECONDS));
  }
  if (!params.has("frameMax")) {
    params.set("frameMax", String(DEFAULT_FRAME_MAX));
  }
  if (!params.has("name")) params.set("name", connectionName);
  return u.toString();
}
