/**
 * {@linkcode HandlerRunner}: running a route's handler for one request,
 * with the request's signal (the caller's deadline, or the worker's close),
 * made only if the handler reads it.
 *
 * @module
 */

import { MAX_TIMER } from "../checks.ts";
import { HandlerError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { errorBodyOf, errorReply } from "../protocol/error_reply.ts";
import { EMPTY_BODY, RpcRequest } from "../protocol/message.ts";
import type { Reply } from "../protocol/reply.ts";
import { deadlineOf } from "../protocol/request.ts";
import { resultReply } from "./_outcome.ts";
import type { Route } from "./_router.ts";
import type { Delivery } from "./transport.ts";

/** Runs handlers until the worker's `stop` signal aborts. */
export class HandlerRunner {
  readonly #stop: AbortSignal;
  readonly #logger: Logger;

  /**
   * `stop` aborts when the worker closing gives up on its running handlers;
   * handler failures are logged to `logger`.
   */
  constructor(stop: AbortSignal, logger: Logger) {
    this.#stop = stop;
    this.#logger = logger;
  }

  /**
   * Runs `route`'s handler for `delivery`, and resolves with the reply: its
   * result, or the error reply of what it threw; `undefined` if it stopped
   * because the worker is closing.
   */
  async run(delivery: Delivery, route: Route): Promise<Reply | undefined> {
    const deadline = deadlineOf(delivery.properties.headers);
    // The signal, its timer and its listener cost more than many a handler:
    // they are made only if the handler asks for the signal.
    const stop = this.#stop;
    let controller: AbortController | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onStop: (() => void) | undefined;
    const signal = (): AbortSignal => {
      controller = new AbortController();
      onStop = () => controller!.abort(stop.reason);
      if (stop.aborted) controller.abort(stop.reason);
      else stop.addEventListener("abort", onStop, { once: true });
      const left = deadline === undefined ? Infinity : deadline - Date.now();
      if (left <= MAX_TIMER) {
        timer = setTimeout(
          () =>
            controller!.abort(
              new HandlerError(
                "DEADLINE_EXCEEDED",
                "The caller's deadline passed",
              ),
            ),
          Math.max(0, left),
        );
      }
      return controller.signal;
    };
    try {
      const request = new RpcRequest(
        delivery.body ?? EMPTY_BODY,
        delivery.properties,
        {
          signal,
          deadline,
          redelivered: delivery.redelivered,
          method: route.method,
        },
      );
      return resultReply(await route.handle(request), route.mayReturnNothing);
    } catch (error) {
      if (
        controller?.signal.aborted && controller.signal.reason === stop.reason
      ) {
        return undefined;
      }
      const body = errorBodyOf(error);
      if (body.code === "INTERNAL") {
        this.#logger.error(`Handler failed: ${body.message}`);
      }
      return errorReply(body);
    } finally {
      if (onStop) {
        clearTimeout(timer);
        stop.removeEventListener("abort", onStop);
      }
    }
  }
}
