/**
 * The one line a program prints when it fails: what failed and what to do,
 * without a stack trace or a password.
 *
 * @module
 */

import {
  ConnectionError,
  ConnectionLostError,
  NoRouteError,
  ProtocolError,
  QueueError,
  type QueueMismatch,
  RemoteError,
  TimeoutError,
} from "../lib/errors.ts";
import { oneLine } from "./flags.ts";

/**
 * One line saying what failed and what to do, without a stack trace or a
 * password, naming the program's flag for each library option in `flags`: a message from elsewhere (a worker's, say) is bounded, its
 * control characters escaped, by {@linkcode oneLine}.
 *
 * @example
 * ```ts
 * import { describeError } from "./describe_error.ts";
 * import { NoRouteError } from "../lib/errors.ts";
 *
 * console.log(describeError(new NoRouteError("rpc_queue")));
 * ```
 */
export function describeError(
  error: unknown,
  flags: Readonly<Record<string, string>> = {},
): string {
  let line: string;
  if (error instanceof QueueError && error.mismatch) {
    line = queueMismatchLine(error, error.mismatch, flags);
  } else if (error instanceof NoRouteError) {
    line =
      `${error.message}. Start a worker first (deno task server), or check --queue.`;
  } else if (error instanceof TimeoutError) {
    line =
      `${error.message}: no worker answered in time. Check that a worker runs and keeps up, or raise --timeout.`;
  } else if (error instanceof RemoteError) {
    line =
      `The worker answered with an error (${error.code}): ${error.message}`;
  } else if (error instanceof ConnectionError) {
    line = `${error.message}. Set the broker with --url or AMQP_URL.`;
  } else if (error instanceof ConnectionLostError) {
    line = `${error.message}. Check the broker and try again.`;
  } else if (error instanceof QueueError) {
    line = error.replyCode === 406
      ? `${error.message}. The queue exists with other arguments: delete it (rabbitmqctl delete_queue ${error.queue}) or choose another with --queue.`
      : `${error.message.replace(/\.$/, "")}.`;
  } else if (error instanceof ProtocolError) {
    line = `${error.message}. The worker does not speak this protocol.`;
  } else if (error instanceof Error) {
    line = error.message;
  } else {
    line = String(error);
  }
  return `Error: ${oneLine(line)}`;
}

/** What differs, and the two ways out, in the program's flags. */
function queueMismatchLine(
  error: QueueError,
  mismatch: QueueMismatch,
  flags: Readonly<Record<string, string>>,
): string {
  const given = [...new Set(mismatch.options.map((o) => flags[o] ?? o))]
    .join(", ");
  const wayOut = `Start without ${given} to use the queue as it is, or ` +
    `delete it first (rabbitmqctl delete_queue ${error.queue}) to have it declared as asked.`;
  return mismatch.found === undefined
    ? `Cannot check queue "${error.queue}" against ${given}: the broker says ${error.replyText}. ${wayOut}`
    : `Queue "${error.queue}" exists with ${mismatch.found}, but ${given} asks for ${
      mismatch.asked ?? "another"
    }. ${wayOut}`;
}
