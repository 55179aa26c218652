/**
 * The heads of HTTP/1.1 messages, as the metrics endpoint reads and writes
 * them: finding where a request's head ends, reading its request line and
 * the few header fields that matter to a server of GET endpoints, and
 * writing a response's status line and header fields. No bodies are read:
 * a request that has one is answered, then its connection closed.
 *
 * @module
 */

/** A request head, as {@linkcode parseRequestHead} reads it. */
export interface RequestHead {
  /** The method, as sent (case matters: `get` is not `GET`). */
  readonly method: string;
  /** The path of the target, without its query: `/metrics`. */
  readonly path: string;
  /** Whether the connection may carry another request after this one. */
  readonly keepAlive: boolean;
  /** Whether a body follows, which this server does not read. */
  readonly hasBody: boolean;
}

const CR = 13;
const LF = 10;

/**
 * Where the head at the start of `bytes` ends (the index just past its
 * empty line), or -1 if its empty line has not arrived yet. A bare LF ends
 * a line as CRLF does.
 */
export function headEnd(bytes: Uint8Array): number {
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) {
    if (bytes[i + 1] === LF) return i + 2;
    if (bytes[i + 1] === CR && bytes[i + 2] === LF) return i + 3;
  }
  return -1;
}

/** How many empty lines (CRLF or LF) `bytes` starts with, in bytes. */
export function leadingEmptyLines(bytes: Uint8Array): number {
  let i = 0;
  while (bytes[i] === LF || (bytes[i] === CR && bytes[i + 1] === LF)) {
    i += bytes[i] === CR ? 2 : 1;
  }
  return i;
}

// RFC 9110's token, the characters of a method or a field name.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^(\S+) (\S+) HTTP\/1\.([01])$/;

/**
 * Reads a request head (its bytes up to and including the empty line);
 * `undefined` if it is not one.
 */
export function parseRequestHead(bytes: Uint8Array): RequestHead | undefined {
  // Latin-1: every byte is one character, and none is invalid.
  const lines = new TextDecoder("latin1").decode(bytes).split(/\r?\n/);
  const request = REQUEST_LINE.exec(lines[0]);
  if (!request || !TOKEN.test(request[1])) return undefined;
  const [, method, target, minor] = request;
  const path = pathOf(target);
  if (path === undefined) return undefined;
  const connection: string[] = [];
  let hasBody = false;
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    // No white space before the colon (RFC 9112, 5.1), and no folding.
    if (colon < 1 || !TOKEN.test(name)) return undefined;
    const value = line.slice(colon + 1).trim();
    if (name === "connection") {
      connection.push(...value.toLowerCase().split(/\s*,\s*/));
    } else if (name === "transfer-encoding") {
      hasBody = true;
    } else if (name === "content-length") {
      if (!/^\d+$/.test(value)) return undefined;
      if (Number(value) > 0) hasBody = true;
    }
  }
  const keepAlive = minor === "1"
    ? !connection.includes("close")
    : connection.includes("keep-alive");
  return { method, path, keepAlive, hasBody };
}

/** The path of a request target; `undefined` if it has none. */
function pathOf(target: string): string | undefined {
  try {
    // Origin form, /metrics?x: appended to an origin rather than resolved,
    // so that //host/x stays a path.
    if (target.startsWith("/")) {
      return new URL(`http://localhost${target}`).pathname;
    }
    // Absolute form, http://host/metrics, which proxies send.
    const url = new URL(target);
    return url.protocol === "http:" || url.protocol === "https:"
      ? url.pathname
      : undefined;
  } catch {
    return undefined;
  }
}

const REASONS: Readonly<Record<number, string>> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Header fields the server writes itself, whatever the handler says. */
const OWN_FIELDS = new Set([
  "connection",
  "content-length",
  "date",
  "keep-alive",
  "transfer-encoding",
]);

/**
 * The head of a response (status line, header fields, empty line) with a
 * body of `length` bytes, saying whether the connection stays open.
 */
export function responseHead(
  response: Response,
  length: number,
  keepAlive: boolean,
): Uint8Array {
  const reason = response.statusText || REASONS[response.status] || "";
  let head = `HTTP/1.1 ${response.status} ${reason}\r\n`;
  for (const [name, value] of response.headers) {
    if (!OWN_FIELDS.has(name)) head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${length}\r\n`;
  head += `date: ${new Date().toUTCString()}\r\n`;
  head += `connection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n`;
  return new TextEncoder().encode(head);
}
