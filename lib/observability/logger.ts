/**
 * The logger interface the library writes to, and loggers that format lines
 * as text or JSON. The library never writes to the console itself: pass a
 * logger to see what it does.
 *
 * @module
 */

import { checkOneOf } from "../checks.ts";

import { maskUrl } from "../amqp/url.ts";
import { escapeControls, hasControls, truncate } from "../text.ts";

/**
 * Structured detail of a log line: correlation id, method, duration, …
 *
 * @example
 * ```ts
 * import { formatLogger, type LogFields } from "./logger.ts";
 *
 * const fields: LogFields = { queue: "rpc_queue", correlationId: "ab12.1", ms: 4.2 };
 * const logger = formatLogger({ write: (line) => console.log(line) });
 * logger.info("Replied", fields);
 * // info: Replied queue=rpc_queue correlationId=ab12.1 ms=4.2
 * ```
 */
export type LogFields = Record<string, unknown>;

/**
 * Where the library reports what it does. Each method takes one line of
 * text, and maybe fields with detail; passwords never appear in them.
 *
 * @example Logging to the console
 * ```ts
 * import type { Logger } from "./logger.ts";
 *
 * const logger: Logger = {
 *   debug: (line, fields) => console.debug(line, fields ?? ""),
 *   info: (line) => console.info(line),
 *   warn: (line) => console.warn(line),
 *   error: (line) => console.error(line),
 * };
 * ```
 */
export interface Logger {
  /** Per-request detail. */
  debug(line: string, fields?: LogFields): void;
  /** Lifecycle events: connected, consuming, closed. */
  info(line: string, fields?: LogFields): void;
  /** Something was dropped or retried, but the program carries on. */
  warn(line: string, fields?: LogFields): void;
  /** Something failed. */
  error(line: string, fields?: LogFields): void;
}

const ignore = (_line: string, _fields?: LogFields): void => {};

/**
 * A logger that drops every line: the default.
 *
 * @example
 * ```ts
 * import { silentLogger } from "./logger.ts";
 *
 * silentLogger.info("nobody sees this");
 * ```
 */
export const silentLogger: Logger = Object.freeze({
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
});

/**
 * A log level, from the most detailed.
 *
 * @example
 * ```ts
 * import { formatLogger, type LogLevel } from "./logger.ts";
 *
 * const level: LogLevel = "warn";
 * const logger = formatLogger({ level, write: (line) => console.log(line) });
 * logger.info("dropped: below warn");
 * logger.warn("Reply queue full");
 * // warn: Reply queue full
 * ```
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * The log levels, from the most detailed.
 *
 * @example
 * ```ts
 * import { LOG_LEVELS, type LogLevel } from "./logger.ts";
 *
 * console.log(LOG_LEVELS.join(", ")); // debug, info, warn, error
 * const flag = "trace"; // from a command line, say
 * console.log(LOG_LEVELS.includes(flag as LogLevel)); // false
 * ```
 */
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze([
  "debug",
  "info",
  "warn",
  "error",
]);

/**
 * How {@linkcode formatLogger} writes lines.
 *
 * @example
 * ```ts
 * import { formatLogger, type LogFormat } from "./logger.ts";
 *
 * const format: LogFormat = "json";
 * const write = (line: string) => console.log(line);
 * formatLogger({ format, write, now: () => new Date(0) }).warn("Retrying");
 * // {"time":"1970-01-01T00:00:00.000Z","level":"warn","msg":"Retrying"}
 * ```
 */
export type LogFormat = "text" | "json";

/** The log formats, for checks. */
const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/**
 * Options of {@linkcode formatLogger}.
 *
 * @example
 * ```ts
 * import { formatLogger, type FormatLoggerOptions } from "./logger.ts";
 *
 * const options: FormatLoggerOptions = {
 *   level: "debug",
 *   write: (line, level) =>
 *     level === "error" ? console.error(line) : console.log(line),
 * };
 * formatLogger(options).debug("Published", { queue: "calc" });
 * // debug: Published queue=calc
 * ```
 */
export interface FormatLoggerOptions {
  /**
   * Lines below this level are dropped.
   *
   * @default {"info"}
   */
  level?: LogLevel;
  /**
   * `text`: `level: line key=value …`; `json`: one JSON object per line,
   * with `time`, `level`, `msg` and the fields.
   *
   * @default {"text"}
   */
  format?: LogFormat;
  /** Writes one formatted line (without a newline). */
  write: (line: string, level: LogLevel) => void;
  /**
   * The clock of JSON lines' `time`.
   *
   * @default {() => new Date()}
   */
  now?: () => Date;
}

/**
 * The most characters of its message and its fields' values a log line of
 * {@linkcode formatLogger} shows, together: a longer message or value (a
 * handler's error that echoes a huge argument, say) is cut short, with a
 * `… (N more characters)` marker, before it is escaped or masked, so that
 * a string of any length costs no more than one of this length (values
 * that are not strings are written as JSON first, whole). Short values are
 * kept whole; long ones share what is left evenly. The line adds its
 * level, keys, quotes and markers, and a control character counts as one
 * though written as six (`\u001b`).
 *
 * @example
 * ```ts
 * import { formatLogger, MAX_LOG_LINE } from "./logger.ts";
 *
 * const logger = formatLogger({ write: (line) => console.log(line.length) });
 * logger.error(`Handler failed: ${"x".repeat(1_000_000)}`); // 8225
 * console.log(MAX_LOG_LINE); // 8192
 * ```
 */
export const MAX_LOG_LINE = 8192;

/**
 * A {@linkcode Logger} that formats each line as text or JSON, drops those
 * below a level, and hides passwords of URLs. Control characters are
 * escaped as `\uXXXX` (in JSON too, beyond what JSON requires: C1 and
 * bidirectional controls), and a line shows at most
 * {@linkcode MAX_LOG_LINE} characters of its message and fields.
 *
 * @example
 * ```ts
 * import { formatLogger } from "./logger.ts";
 *
 * const logger = formatLogger({
 *   format: "json",
 *   write: (line) => console.log(line),
 *   now: () => new Date(0),
 * });
 * logger.debug("dropped: below info");
 * logger.info("Consuming", { queue: "rpc_queue" });
 * // {"time":"1970-01-01T00:00:00.000Z","level":"info","msg":"Consuming","queue":"rpc_queue"}
 * ```
 *
 * @throws {TypeError} for an unknown level or format.
 */
export function formatLogger(options: FormatLoggerOptions): Logger {
  const level = checkOneOf("level", options.level ?? "info", {
    choices: LOG_LEVELS,
  });
  const min = LOG_LEVELS.indexOf(level);
  const format = checkOneOf("format", options.format ?? "text", {
    choices: LOG_FORMATS,
  });
  const { write } = options;
  const now = options.now ?? (() => new Date());
  const at = (name: LogLevel) => {
    if (LOG_LEVELS.indexOf(name) < min) return ignore;
    return format === "json"
      ? (line: string, fields?: LogFields) =>
        write(jsonLine(now(), name, line, fields), name)
      : (line: string, fields?: LogFields) =>
        write(textLine(name, line, fields), name);
  };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  };
}

/** `level: message key=value …`, bounded, escaped, then masked. */
function textLine(
  level: LogLevel,
  message: string,
  fields: LogFields | undefined,
): string {
  const values = shownFields(
    fields,
    (value) => JSON.stringify(value, jsonSafe) ?? String(value),
  );
  const max = shares([message, ...values.map(({ text }) => text)]);
  let line = `${level}: ${escapeControls(truncate(message, max[0]))}`;
  values.forEach(({ key, text, kind }, i) => {
    const kept = truncate(text, max[i + 1]);
    // Quoted (and so escaped) unless plain: a caller-chosen value such as
    // a correlation id must not start a line of its own or drive a terminal.
    const shown = kind === "json"
      ? kept
      : kind === "string" && /^[^\s"=]+$/.test(kept) && !hasControls(kept)
      ? kept
      : JSON.stringify(kept);
    line += ` ${escapeControls(key)}=${escapeControls(shown)}`;
  });
  // After escaping, as ever: a password cut short ends at its marker.
  return maskUrl(line);
}

/** One JSON object: `time`, `level`, `msg` and the fields, bounded. */
function jsonLine(
  time: Date,
  level: LogLevel,
  message: string,
  fields: LogFields | undefined,
): string {
  // Values JSON cannot write (functions, symbols) are left out, as ever.
  const values = shownFields(
    fields,
    (value) => JSON.stringify(value, maskedJson),
  );
  const max = shares([message, ...values.map(({ text }) => text)]);
  const entries: [string, unknown][] = [
    ["time", time.toISOString()],
    ["level", level],
    ["msg", truncate(message, max[0])],
  ];
  values.forEach(({ key, text, kind, value }, i) => {
    const kept = truncate(text, max[i + 1]);
    // A JSON value cut short is shown as the text of its start.
    entries.push([key, kind === "json" && kept === text ? value : kept]);
  });
  // As `{ time, level, msg, ...fields }` (a field may replace those), each
  // string masked on its own, so that the line stays JSON; the escapes
  // beyond JSON's (C1, bidi) are JSON escapes too.
  return escapeControls(
    JSON.stringify(Object.fromEntries(entries), maskedJson),
  );
}

/** A field of a line, and the text that shows its value. */
interface ShownField {
  key: string;
  value: unknown;
  /** The value as a string, `Name: message` for an error, or as JSON. */
  text: string;
  kind: "string" | "error" | "json";
}

/**
 * The fields to show: a string as it is, an error as `Name: message`,
 * anything else as `json` writes it. `undefined` values, and those `json`
 * cannot write, are left out.
 */
function shownFields(
  fields: LogFields | undefined,
  json: (value: unknown) => string | undefined,
): ShownField[] {
  if (fields === undefined) return [];
  const shown: ShownField[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (typeof value === "string") {
      shown.push({ key, value, text: value, kind: "string" });
    } else if (value instanceof Error) {
      const text = `${value.name}: ${value.message}`;
      shown.push({ key, value, text, kind: "error" });
    } else {
      const text = json(value);
      if (text !== undefined) shown.push({ key, value, text, kind: "json" });
    }
  }
  return shown;
}

/**
 * How many characters of each text a line keeps: each whole if they fit
 * in {@linkcode MAX_LOG_LINE} together, else the shortest whole and the
 * rest evenly.
 */
function shares(texts: string[]): number[] {
  const order = texts.map((_, i) => i)
    .sort((a, b) => texts[a].length - texts[b].length);
  const max = new Array<number>(texts.length);
  let left = MAX_LOG_LINE;
  let count = texts.length;
  for (const i of order) {
    max[i] = Math.min(texts[i].length, Math.floor(left / count));
    left -= max[i];
    count--;
  }
  return max;
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return value;
}

function maskedJson(key: string, value: unknown): unknown {
  const safe = jsonSafe(key, value);
  return typeof safe === "string" ? maskUrl(safe) : safe;
}
