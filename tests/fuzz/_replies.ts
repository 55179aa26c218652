/**
 * Replies: which ones a request may get besides those it was generated
 * with ({@linkcode allowCachedReplies}), reading one
 * ({@linkcode readReply}), and describing a request in the reports of a
 * missing or wrong reply ({@linkcode describe}, {@linkcode detail}).
 *
 * @module
 */

import { ERROR_CODES } from "../../lib/protocol/error_codes.ts";
import type { Delivery } from "./_amqplib.ts";
import {
  fibOutcome,
  type FuzzRequest,
  MAX_REQUEST_BYTES,
  type Outcome,
} from "./_generator.ts";

/**
 * Widens the expected replies of requests the worker may answer from its
 * reply cache: an idempotent request (header `x-idempotent` true, with a
 * message id) that runs the handler gets the reply of an earlier one of the
 * same caller (`user_id`) with the same message id and the same request
 * (body, `type`, `content_type`, `content_encoding`), or `INVALID_ARGUMENT`
 * if that earlier one was another request (a reused key is
 * refused, never answered from the cache). Which earlier one is still
 * remembered depends on expirations and near deadlines, so any earlier
 * candidate's answer is accepted.
 */
export function allowCachedReplies(requests: readonly FuzzRequest[]): void {
  const ran = new Map<string, { request: FuzzRequest; outcome: Outcome }[]>();
  for (const request of requests) {
    const id = request.options.messageId;
    const headers = request.options.headers as
      | Record<string, unknown>
      | undefined;
    if (id === undefined || headers?.["x-idempotent"] !== true) continue;
    // Dropped, or answered before the cache is consulted.
    if (request.target === "none") continue;
    if (request.deadline === "past") continue;
    if (request.body.length > MAX_REQUEST_BYTES) continue;
    const own = fibOutcome(request.body);
    const key = `${request.options.userId ?? ""}\u0000${id}`;
    const earlier = ran.get(key) ?? [];
    for (const first of earlier) {
      request.expected.add(
        sameRequest(first.request, request)
          ? first.outcome
          : "err:INVALID_ARGUMENT",
      );
    }
    ran.set(key, [...earlier, { request, outcome: own }]);
  }
}

/** Whether the worker's reply cache takes `a` and `b` for one request. */
function sameRequest(a: FuzzRequest, b: FuzzRequest): boolean {
  return a.body.length === b.body.length &&
    a.body.every((byte, i) => byte === b.body[i]) &&
    (a.options.type ?? "") === (b.options.type ?? "") &&
    (a.options.contentType ?? "") === (b.options.contentType ?? "") &&
    (a.options.contentEncoding ?? "") === (b.options.contentEncoding ?? "");
}

/** The request in full (long values cut), to reproduce it by hand. */
export function detail(request: FuzzRequest): string {
  let options: string;
  try {
    options = JSON.stringify(request.options, (_key, value) => {
      if (value instanceof Uint8Array) return `<${value.length} bytes>`;
      if (typeof value === "string" && value.length > 80) {
        return `${value.slice(0, 80)}… (${value.length} chars)`;
      }
      return value;
    });
  } catch {
    options = "(too deep to show)";
  }
  if (request.raw) {
    const hex = (bytes: Uint8Array) =>
      Array.from(bytes.subarray(0, 48), (b) => b.toString(16).padStart(2, "0"))
        .join("") + (bytes.length > 48 ? "…" : "");
    options = Object.entries(request.raw).map(([name, bytes]) =>
      `${name}: ${bytes.length} bytes ${hex(bytes)}`
    ).join(", ");
  }
  if (options.length > 1500) options = `${options.slice(0, 1500)}…`;
  const body = new TextDecoder().decode(request.body.subarray(0, 80));
  return `${describe(request)}\n  body ${JSON.stringify(body)}${
    request.body.length > 80 ? "…" : ""
  }\n  options ${options}`;
}

/** The request in short: its index, labels and body size. */
export function describe(request: FuzzRequest): string {
  return `#${request.index} [${
    request.labels.join(", ")
  }] body ${request.body.length} bytes`;
}

// ---------------------------------------------------------------------------
// Reading replies

/** A reply read: its outcome, and what is wrong with it, if anything. */
export interface ReceivedReply {
  outcome: Outcome;
  problem?: string;
}

/** Reads a reply, and checks that it follows the protocol. */
export function readReply(message: Delivery): ReceivedReply {
  const headers = message.properties.headers ?? {};
  const code = headers["x-rpc-error"];
  const text = message.content.toString("utf8");
  if (code === undefined) {
    const problem = message.properties.contentType === "text/plain"
      ? undefined
      : `success reply with content type ${message.properties.contentType}`;
    return { outcome: `ok:${text}`, problem };
  }
  const problems: string[] = [];
  if (!(ERROR_CODES as readonly unknown[]).includes(code)) {
    problems.push(`unknown error code ${JSON.stringify(code)}`);
  }
  if (message.properties.contentType !== "application/json") {
    problems.push(
      `error reply with content type ${message.properties.contentType}`,
    );
  }
  try {
    const parsed = JSON.parse(text);
    if (
      parsed?.code !== code || typeof parsed.name !== "string" ||
      typeof parsed.message !== "string"
    ) problems.push(`error body does not match the protocol: ${text}`);
  } catch {
    problems.push(`error body is not JSON: ${text.slice(0, 100)}`);
  }
  return {
    outcome: `err:${code}`,
    problem: problems.length ? problems.join("; ") : undefined,
  };
}
