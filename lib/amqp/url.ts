/**
 * Broker URLs: defaults, validation and masking of passwords.
 *
 * @module
 */

import { optionTypeError } from "../checks.ts";

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
 * Text that is not a URL is masked by pattern.
 *
 * @example
 * ```ts
 * import { maskUrl } from "./url.ts";
 *
 * console.log(maskUrl("amqp://app:secret@broker:5672/prod"));
 * // amqp://app:***@broker:5672/prod
 * ```
 */
export function maskUrl(url: string): string {
  // After each "scheme://user:", the password runs to the last "@" before
  // the next URL or white space: passwords may hold "/", "@" or ",".
  const scheme = /[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:/gi;
  let out = "";
  let from = 0;
  for (let match; (match = scheme.exec(url)) !== null;) {
    const start = match.index + match[0].length;
    if (start < from) continue;
    const next = url.slice(start).search(/\s|[a-z][a-z0-9+.-]*:\/\//i);
    const end = next === -1 ? url.length : start + next;
    const at = url.lastIndexOf("@", end - 1);
    if (at < start) continue;
    out += url.slice(from, start) + "***";
    from = at;
    scheme.lastIndex = at;
  }
  return out + url.slice(from);
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
