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
import { DEFAULT_URL, maskUrl } from "../lib/amqp/url.ts";
import { isOptionError } from "../lib/checks.ts";

/** The help lines of the broker flags both programs take. */
export const CONNECTION_HELP: string =
  `  --url URL        broker URL; repeat it, or give a comma-separated list, for
                   the nodes of a cluster: tried in order, and after a loss
                   the next one first (default: $AMQP_URL, else
                   ${DEFAULT_URL})
  --ca-file PATH   PEM file of the CA to trust for amqps:// URLs
                   (default: $AMQP_CA_FILE; needs --allow-read=PATH)`;

/** The `parseArgs` options of the broker flags. */
export const CONNECTION_FLAGS = {
  url: { type: "string", multiple: true },
  "ca-file": { type: "string" },
} as const;

/** The broker flags as `parseArgs` returns them. */
export interface ConnectionFlags {
  url?: string[];
  "ca-file"?: string;
}

/**
 * What the programs read of the environment; the entry scripts read it
 * (nothing under `cli/` or `lib/` does).
 */
export interface ProgramEnv {
  /** The broker URL(s), when `--url` is not given. */
  AMQP_URL?: string;
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
 * environment, then the defaults.
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
 */
export function connectionOptions(
  flags: ConnectionFlags,
  env: ProgramEnv,
): Pick<ConnectionOptions, "url" | "tls"> {
  const caFile = flags["ca-file"] ?? env.AMQP_CA_FILE;
  return {
    url: flags.url?.join(",") ?? env.AMQP_URL ?? DEFAULT_URL,
    tls: caFile ? { caFile } : undefined,
  };
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

/** Text on one line, with passwords of URLs masked. */
export function oneLine(text: string): string {
  return maskUrl(text).replaceAll("\n", " ");
}
