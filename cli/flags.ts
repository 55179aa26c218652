/**
 * What the two programs share of their command lines: the broker flags and
 * the environment they fall back on, reading whole numbers, and bad command
 * lines, whether the program finds them or the library does: the library's
 * option errors (`isOptionError`) are mapped to the flag that set the
 * option, so both exit 2 with one line that names the flag. Nothing here
 * writes to the console or reads the environment itself.
 *
 * @module
 */

import type { ConnectionOptions } from "../lib/amqp/connection.ts";
import { DEFAULT_URL, maskUrl, urlList } from "../lib/amqp/url.ts";
import { isOptionError } from "../lib/checks.ts";
import { MAX_LOG_LINE } from "../lib/observability/logger.ts";
import { escapeControls, truncate } from "../lib/text.ts";

/** The help lines of the broker flags both programs take. */
export const CONNECTION_HELP: string =
  `  --url URL        broker URL; repeat it, or give a comma-separated list, for
                   the nodes of a cluster: tried in order, and after a loss
                   the next one first (default: $AMQP_URL, else
                   ${DEFAULT_URL}). Other users of the
                   machine see a password here (ps): use --url-file or
                   AMQP_URL for one
  --url-file PATH  read the URL(s) from a file, one per line or
                   comma-separated, such as a container secret (default:
                   $AMQP_URL_FILE). The tasks may read /run/secrets; a file
                   elsewhere needs --allow-read=PATH. Not with --url, and
                   AMQP_URL_FILE not with AMQP_URL; a flag wins over both
  --ca-file PATH   PEM file of the CA to trust for amqps:// URLs
                   (default: $AMQP_CA_FILE; needs --allow-read=PATH)`;

/** The `parseArgs` options of the broker flags. */
export const CONNECTION_FLAGS = {
  url: { type: "string", multiple: true },
  "url-file": { type: "string" },
  "ca-file": { type: "string" },
} as const;

/** The broker flags as `parseArgs` returns them. */
export interface ConnectionFlags {
  url?: string[];
  "url-file"?: string;
  "ca-file"?: string;
}

/**
 * What the programs read of the environment; the entry scripts read it
 * (nothing under `cli/` or `lib/` does).
 */
export interface ProgramEnv {
  /** The broker URL(s), when neither `--url` nor `--url-file` is given. */
  AMQP_URL?: string;
  /**
   * A file holding the broker URL(s), when neither `--url` nor
   * `--url-file` is given; not with `AMQP_URL`.
   */
  AMQP_URL_FILE?: string;
  /** The CA file for `amqps://`, when `--ca-file` is not given. */
  AMQP_CA_FILE?: string;
  /**
   * Where the user ran `deno task` (which runs in the project's folder), so
   * that `--handler ./x.ts` means the file where the user is.
   */
  INIT_CWD?: string;
}

/**
 * The connection options of the broker flags: flags first, then the
 * environment, then the defaults. The broker URL comes from `--url` or
 * `--url-file`, else from `AMQP_URL` or `AMQP_URL_FILE`, else
 * {@linkcode DEFAULT_URL}; both forms at once, on the command line or in
 * the environment, are a usage error, and an empty variable counts as
 * unset. A URL file holds one URL, or several (one per line, or
 * comma-separated, as `--url` takes them); it is read here, and never
 * echoed.
 *
 * @example
 * ```ts
 * import { connectionOptions } from "./flags.ts";
 *
 * const options = connectionOptions(
 *   { url: ["amqp://a", "amqp://b"] },
 *   { AMQP_CA_FILE: "/etc/ca.pem" },
 * );
 * console.log(options.url, options.tls); // amqp://a,amqp://b { caFile: "/etc/ca.pem" }
 * ```
 *
 * @throws {UsageError} if both forms of the URL are given, or a URL file
 * holds no broker URL.
 * @throws {Error} if a URL file cannot be read: one line that says why.
 */
export function connectionOptions(
  flags: ConnectionFlags,
  env: ProgramEnv,
): Pick<ConnectionOptions, "url" | "tls"> {
  const caFile = flags["ca-file"] ?? env.AMQP_CA_FILE;
  return {
    url: brokerUrl(flags, env),
    tls: caFile ? { caFile } : undefined,
  };
}

function brokerUrl(flags: ConnectionFlags, env: ProgramEnv): string {
  const file = flags["url-file"];
  if (flags.url !== undefined && file !== undefined) {
    throw new UsageError("--url and --url-file both give the broker: give one");
  }
  if (flags.url !== undefined) return flags.url.join(",");
  if (file !== undefined) return readUrlFile("--url-file", file);
  const url = env.AMQP_URL || undefined;
  const envFile = env.AMQP_URL_FILE || undefined;
  if (url !== undefined && envFile !== undefined) {
    throw new UsageError(
      "AMQP_URL and AMQP_URL_FILE are both set: unset one of them",
    );
  }
  if (envFile !== undefined) return readUrlFile("AMQP_URL_FILE", envFile);
  return url ?? DEFAULT_URL;
}

/** The broker URL(s) a file holds, as a comma-separated list. */
function readUrlFile(source: string, path: string): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new Error(
      `Cannot read ${source} ${path}: ${whyUnreadable(error, path)}`,
    );
  }
  const urls = text.replace(/^\uFEFF/, "").split(/[\r\n]+/)
    .map((line) => line.trim()).filter((line) => line !== "").join(",");
  try {
    urlList(urls);
  } catch (error) {
    // Its own words: the library's would quote what does not parse.
    if (!isOptionError(error)) throw error;
    throw new UsageError(
      urls === ""
        ? `${source} ${path} is empty: it should hold the broker URL`
        : `${source} ${path} should hold broker URLs (amqp://… or amqps://…), one per line or comma-separated`,
    );
  }
  return urls;
}

function whyUnreadable(error: unknown, path: string): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied (check the file's owner and mode)";
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `Deno may not read it: run with --allow-read=${path} (deno task server and client may read /run/secrets only)`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * The warning for broker passwords given on the command line, where other
 * users of the machine see them (`ps`, `/proc/PID/cmdline`), with the
 * passwords masked; `undefined` if `--url` holds none.
 *
 * @example
 * ```ts
 * import { passwordWarning } from "./flags.ts";
 *
 * console.log(passwordWarning({ url: ["amqp://app:secret@broker"] }));
 * // --url puts the broker's password on the command line, where other users of this machine can see it (ps): amqp://app:***@broker. Give it with --url-file or AMQP_URL instead
 * console.log(passwordWarning({ url: ["amqp://broker"] })); // undefined
 * ```
 */
export function passwordWarning(flags: ConnectionFlags): string | undefined {
  const withPassword = (flags.url ?? [])
    .flatMap((url) => url.split(/,\s*(?=amqps?:\/\/)/i))
    .filter(hasPassword);
  if (withPassword.length === 0) return undefined;
  return `--url puts the broker's password on the command line, where other users of this machine can see it (ps): ${
    withPassword.map((url) => maskUrl(url.trim())).join(", ")
  }. Give it with --url-file or AMQP_URL instead`;
}

function hasPassword(url: string): boolean {
  try {
    return new URL(url.trim()).password !== "";
  } catch {
    return maskUrl(url) !== url;
  }
}

/**
 * A bad command line: the program prints its message as one line with a
 * pointer to `--help`, and exits 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./flags.ts";
 *
 * console.log(new UsageError("expected one number N").message); // expected one number N
 * ```
 */
export class UsageError extends Error {
  /** Makes the error; `message` names the flag and what is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Reads a flag's value as a whole number (digits only).
 *
 * @example
 * ```ts
 * import { wholeNumber } from "./flags.ts";
 *
 * console.log(wholeNumber("--prefetch", "10")); // 10
 * ```
 *
 * @throws {UsageError} if it is not one.
 */
export function wholeNumber(flag: string, value: string): number {
  if (/^\d+$/.test(value) && Number.isSafeInteger(Number(value))) {
    return Number(value);
  }
  throw new UsageError(
    `${flag} must be a whole number, got ${JSON.stringify(value)}`,
  );
}

/**
 * The usage error `error` stands for: a {@linkcode UsageError} as it is,
 * and a library option error whose option one of `flags` sets, with the
 * option's name replaced by the flag's. Anything else is not a usage error
 * (a bug stays a bug): `undefined`.
 *
 * @example
 * ```ts
 * import { usageErrorOf } from "./flags.ts";
 * import { optionRangeError } from "../lib/checks.ts";
 *
 * const error = optionRangeError("prefetch", "must be an integer from 1 to 65535, got 0");
 * console.log(usageErrorOf(error, { prefetch: "--prefetch" })?.message);
 * // --prefetch must be an integer from 1 to 65535, got 0
 * ```
 */
export function usageErrorOf(
  error: unknown,
  flags: Readonly<Record<string, string>>,
): UsageError | undefined {
  if (error instanceof UsageError) return error;
  if (isOptionError(error) && Object.hasOwn(flags, error.option)) {
    return new UsageError(`${flags[error.option]} ${error.detail}`);
  }
  return undefined;
}

/**
 * The line a program prints for a bad command line.
 *
 * @example
 * ```ts
 * import { usageLine, UsageError } from "./flags.ts";
 *
 * console.log(usageLine(new UsageError("--queue must name a queue")));
 * // Error: --queue must name a queue. Run with --help for usage.
 * ```
 */
export function usageLine(error: UsageError): string {
  return `Error: ${oneLine(error.message)}. Run with --help for usage.`;
}

/**
 * Text on one line, as the programs print what they did not write (an
 * error's message, what a worker answered): at most
 * {@linkcode MAX_LOG_LINE} characters of it, passwords of URLs masked,
 * newlines as spaces, and other control characters escaped (`\u001b`), so
 * that it cannot drive the terminal.
 *
 * @example
 * ```ts
 * import { oneLine } from "./flags.ts";
 *
 * console.log(oneLine("failed: amqp://app:secret@broker\n\x1b[31mred"));
 * // failed: amqp://app:***@broker \u001b[31mred
 * ```
 */
export function oneLine(text: string): string {
  return escapeControls(maskedLine(text));
}

/**
 * {@linkcode oneLine} but for the escaping, for JSON output, whose own
 * escapes make control characters harmless (`JSON.stringify`, then
 * `escapeControls` for C1 and bidi controls, which it leaves as they are).
 *
 * @example
 * ```ts
 * import { maskedLine } from "./flags.ts";
 *
 * console.log(JSON.stringify(maskedLine("amqp://app:secret@broker\r\n\x1b[0m")));
 * // "amqp://app:***@broker \u001b[0m"
 * ```
 */
export function maskedLine(text: string): string {
  return maskUrl(truncate(text, MAX_LOG_LINE)).replace(/\r?\n/g, " ");
}
