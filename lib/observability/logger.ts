/**
 * The logger interface the library writes to, and loggers that format lines
 * as text or JSON. The library never writes to the console itself: pass a
 * logger to see what it does.
 *
 * @module
 */

import { checkOneOf } from "../checks.ts";

import { maskUrl } from "../amqp/url.ts";

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
 * A {@linkcode Logger} that formats each line as text or JSON, drops those
 * below a level, and hides passwords of URLs.
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
        write(
          maskUrl(JSON.stringify({
            time: now().toISOString(),
            level: name,
            msg: line,
            ...fields,
          }, jsonSafe)),
          name,
        )
      : (line: string, fields?: LogFields) =>
        write(
          maskUrl(`${name}: ${escapeControls(line)}${textFields(fields)}`),
          name,
        );
  };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  };
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return value;
}

/** A line with its control characters (newlines, escapes) written as `\uXXXX`. */
function escapeControls(line: string): string {
  return line.replace(
    /\p{Cc}/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function textFields(fields: LogFields | undefined): string {
  if (fields === undefined) return "";
  let text = "";
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    // Quoted (and so escaped) unless plain: a caller-chosen value such as
    // a correlation id must not start a line of its own or drive a terminal.
    const shown = typeof value === "string"
      ? (/^[^\s"=\p{Cc}]+$/u.test(value) ? value : JSON.stringify(value))
      : value instanceof Error
      ? JSON.stringify(`${value.name}: ${value.message}`)
      : JSON.stringify(value, jsonSafe) ?? String(value);
    text += ` ${key}=${shown}`;
  }
  return text;
}
