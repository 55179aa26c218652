/**
 * What the client program prints: a result, a failure, and a load's
 * summary, as lines or as JSON. Whatever a worker sent (results, error
 * codes and messages) may hold control characters, which would drive the
 * user's terminal: lines show them escaped (`\u001b`), and JSON writes
 * them as JSON escapes, C1 and bidirectional controls included, which
 * `JSON.stringify` leaves as they are. A worker's error message is kept to
 * a bounded length by the library, and masked and cut to one line here.
 *
 * @module
 */

import { MethodNotFoundError, RemoteError } from "../lib/errors.ts";
import { escapeControls } from "../lib/text.ts";
import { describeError } from "./describe_error.ts";
import { maskedLine, oneLine } from "./flags.ts";
import { errorName, type LoadSummary } from "./load.ts";

/** The summary of a load as text: one line, then one per kind of failure. */
export function summaryLines(summary: LoadSummary): string[] {
  const lines = [
    `${summary.calls} calls in ${summary.seconds.toFixed(2)} s: ${
      Math.round(summary.callsPerSecond)
    } calls/s, p50 ${ms(summary.p50)}, p90 ${ms(summary.p90)}, p99 ${
      ms(summary.p99)
    }, max ${ms(summary.max)}, ${summary.failed} failed`,
  ];
  for (const [kind, calls] of Object.entries(summary.errors)) {
    lines.push(
      `  ${calls} failed with ${oneLine(kind)}: ${
        oneLine(summary.errorMessages[kind] ?? "")
      }`,
    );
  }
  return lines;
}

/**
 * The summary with times rounded to the microsecond, messages masked and
 * on one line (for {@linkcode jsonLine}, which escapes them).
 */
export function roundSummary(summary: LoadSummary): LoadSummary {
  return {
    ...summary,
    errorMessages: Object.fromEntries(
      Object.entries(summary.errorMessages).map((
        [kind, message],
      ) => [kind, maskedLine(message)]),
    ),
    seconds: round(summary.seconds, 6),
    callsPerSecond: round(summary.callsPerSecond, 1),
    p50: round(summary.p50, 3),
    p90: round(summary.p90, 3),
    p99: round(summary.p99, 3),
    max: round(summary.max, 3),
  };
}

/** The error's line on stderr: {@linkcode describeError}'s, or more. */
export function errorLine(error: unknown): string {
  if (error instanceof MethodNotFoundError) {
    const [what, advice] = error.method === undefined
      ? ["no default method", "Name one with --method"]
      : [`no method "${error.method}"`, "Check --method"];
    const detail = error.message.replace(/\.$/, "");
    // describeError masks passwords and keeps it to one line.
    return describeError(
      new Error(
        `The worker has ${what} (METHOD_NOT_FOUND): ${detail}. ${advice}.`,
      ),
    );
  }
  return describeError(error);
}

/** The error as `--json` prints it (through {@linkcode jsonLine}). */
export function errorJson(
  error: unknown,
): { name: string; code?: string; message: string } {
  const message = maskedLine(
    error instanceof Error ? error.message : String(error),
  );
  if (error instanceof RemoteError) {
    return { name: error.name, code: error.code, message };
  }
  return { name: errorName(error), message };
}

/**
 * A result as ` [.] Got …` shows it: text as it is, the rest as JSON,
 * control characters escaped either way.
 */
export function textOf(result: unknown): string {
  if (typeof result === "string") return escapeControls(result);
  if (result instanceof Uint8Array) return `<${result.length} bytes>`;
  if (result === undefined) return "(nothing)";
  return escapeControls(JSON.stringify(result));
}

/**
 * What `--json` prints: one line of JSON with no control character in it,
 * the same value for a JSON parser (`\u009b` for a C1 CSI, say).
 */
export function jsonLine(value: unknown): string {
  return escapeControls(JSON.stringify(value));
}

/** A result as `--json` writes it: bytes as `{"base64": …}`. */
export function jsonOf(result: unknown): unknown {
  if (result instanceof Uint8Array) {
    let binary = "";
    for (let i = 0; i < result.length; i += 0x8000) {
      binary += String.fromCharCode(...result.subarray(i, i + 0x8000));
    }
    return { base64: btoa(binary) };
  }
  return result ?? null;
}

/** A latency in milliseconds, or `-` if no call succeeded. */
function ms(value: number): string {
  if (Number.isNaN(value)) return "-";
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ms`;
}

/** `value` rounded to `digits` decimal places. */
export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
