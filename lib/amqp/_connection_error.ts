/**
 * What a failed connection attempt tells the user: which broker, user and
 * virtual host, what failed and what to do, and never the password.
 *
 * @module
 */

import { AMQPError } from "../deps.ts";
import { AccessRefusedError, ConnectionError } from "../errors.ts";
import { identityOf, maskUrl } from "./url.ts";

/**
 * Turns a failed connection attempt into a {@linkcode ConnectionError}
 * whose message says what failed and what to do, without the password.
 *
 * @example
 * ```ts
 * import { connectionError } from "./_connection_error.ts";
 *
 * const err = connectionError("amqp://u:pw@localhost:5672", new Error("connect ECONNREFUSED 127.0.0.1:5672"));
 * console.log(err.message);
 * ```
 */
export function connectionError(url: string, cause: unknown): ConnectionError {
  const { user, vhost, address } = identityOf(url);
  const reason = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  const where = `Cannot connect to ${address} as "${user}" (vhost "${vhost}")`;
  const masked = cause instanceof AMQPError
    ? new Error(maskUrl(reason))
    : cause;
  if (/ACCESS_REFUSED|\(403\)/.test(reason) && /login/i.test(reason)) {
    return new AccessRefusedError(
      `${where}: the broker refused the login of user "${user}" (check the user name and password)`,
      { user, vhost },
      { cause: masked },
    );
  }
  // 530 also means a connection limit reached or a vhost that is down:
  // passing states of a busy or starting cluster, worth retrying.
  if (
    /NOT_ALLOWED|\(530\)|ACCESS_REFUSED/.test(reason) &&
    !/limit|is down/i.test(reason)
  ) {
    return new AccessRefusedError(
      `${where}: user "${user}" may not use virtual host "${vhost}" (check that the vhost exists and the user has permissions on it)`,
      { user, vhost },
      { cause: masked },
    );
  }
  let what: string;
  if (/NOT_ALLOWED|\(530\)/.test(reason)) {
    what = `the broker refused the connection for now: ${maskUrl(reason)}`;
  } else if (code === "ECONNREFUSED" || /ECONNREFUSED/.test(reason)) {
    what = "connection refused (is RabbitMQ running and listening there?)";
  } else if (
    code === "ENOTFOUND" || code === "EAI_AGAIN" ||
    /ENOTFOUND|EAI_AGAIN/.test(reason)
  ) {
    what = "host not found (check the host name)";
  } else if (/timeout/i.test(reason)) {
    what = "no answer in time (check the host, port and firewall)";
  } else {
    what = maskUrl(reason);
  }
  return new ConnectionError(`${where}: ${what}`, { cause: masked });
}
