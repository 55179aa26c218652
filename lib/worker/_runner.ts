/**
 * {@linkcode HandlerRunner}: running a route's handler for one request,
 * with the request's signal (the caller's deadline, the worker's limit on
 * handler time, or the worker's close), made only if the handler reads it;
 * answering for a handler that runs past its time; and turning what it
 * throws into the error reply its caller may see.
 *
 * @module
 */

import { MAX_TIMER } from "../checks.ts";
import { HandlerError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import {
  errorBodyOf,
  errorReply,
  hiddenErrorBody,
  isHandlerError,
  newErrorId,
} from "../protocol/error_reply.ts";
import { EMPTY_BODY, RpcRequest } from "../protocol/message.ts";
import type { Reply } from "../protocol/reply.ts";
import { deadlineOf } from "../protocol/request.ts";
import { resultReply } from "./_outcome.ts";
import type { Route } from "./_router.ts";
import { Watch, Watchdog } from "./_watchdog.ts";
import type { Delivery } from "./transport.ts";

/**
 * How long a handler may run past its time (its caller's deadline, or the
 * worker's `maxHandlerTime`), once its signal aborted, before the worker
 * answers `DEADLINE_EXCEEDED` for it, frees its slot and counts it stuck.
 */
export const OVERRUN_GRACE = 1_000;

/**
 * The reply for a handler that ran past its time: its caller gave up, or
 * will; the request is acked so that its prefetch slot frees.
 */
export const OVERRUN_REPLY: Reply = errorReply({
  code: "DEADLINE_EXCEEDED",
  name: "TimeoutError",
  message: "The handler ran past its time; the worker stopped waiting for it",
});

/** What a {@linkcode HandlerRunner} works with. */
export interface RunnerInit {
  /** Aborts when the worker closing gives up on its running handlers. */
  readonly stop: AbortSignal;
  /** Where handler failures are logged. */
  readonly logger: Logger;
  /** The longest a handler may run, whatever its caller's deadline. */
  readonly maxHandlerTime: number;
  /** Whether callers see the messages of every error (development). */
  readonly exposeErrors: boolean;
  /**
   * A handler ran past its time: `finished` settles when (if ever) it
   * stops.
   */
  readonly overrun: (route: Route, finished: Promise<unknown>) => void;
}

/** Runs handlers until the worker's `stop` signal aborts. */
export class HandlerRunner {
  readonly #init: RunnerInit;
  readonly #watchdog = new Watchdog();

  /** A runner; {@linkcode close} stops its watchdog. */
  constructor(init: RunnerInit) {
    this.#init = init;
  }

  /**
   * Runs `route`'s handler for `delivery`, which arrived at `now` (epoch
   * milliseconds), and resolves with the reply: its result, or the error
   * reply of what it threw; {@linkcode OVERRUN_REPLY} if it runs past its
   * time (its signal then aborts); `undefined` if it stopped because the
   * worker is closing.
   */
  run(
    delivery: Delivery,
    route: Route,
    now: number,
  ): Promise<Reply | undefined> {
    const deadline = deadlineOf(delivery.properties.headers);
    const run = this.#watch(route, now, deadline);
    run.finished = this.#invoke(delivery, route, deadline, run);
    return run.reply;
  }

  /**
   * A run of `route`, watched: its time ends at the caller's `deadline`
   * or `maxHandlerTime` after `now`, whichever is first, and the watchdog
   * gives up on it a grace later.
   */
  #watch(route: Route, now: number, deadline: number | undefined): HandlerRun {
    const timeUp = Math.min(
      now + this.#init.maxHandlerTime,
      deadline ?? Infinity,
    );
    const run = new HandlerRun(route, timeUp, this.#init.overrun);
    this.#watchdog.add(run, timeUp + OVERRUN_GRACE);
    return run;
  }

  /** Runs the handler; settles `run` unless it ran out of time first. */
  async #invoke(
    delivery: Delivery,
    route: Route,
    deadline: number | undefined,
    run: HandlerRun,
  ): Promise<void> {
    // The signal, its timer and its listener cost more than many a handler:
    // they are made only if the handler asks for the signal.
    const stop = this.#init.stop;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onStop: (() => void) | undefined;
    const signal = (): AbortSignal => {
      const controller = run.controller = new AbortController();
      onStop = () => controller.abort(stop.reason);
      if (stop.aborted) controller.abort(stop.reason);
      else stop.addEventListener("abort", onStop, { once: true });
      const left = run.timeUp - Date.now();
      if (left <= MAX_TIMER) {
        timer = setTimeout(
          () =>
            controller.abort(
              new HandlerError(
                "DEADLINE_EXCEEDED",
                deadline !== undefined && deadline <= run.timeUp
                  ? "The caller's deadline passed"
                  : "The handler ran past the worker's limit (maxHandlerTime)",
              ),
            ),
          Math.max(0, left),
        );
      }
      return controller.signal;
    };
    let reply: Reply | undefined;
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
      reply = resultReply(await route.handle(request), route.mayReturnNothing);
    } catch (error) {
      const controller = run.controller;
      reply = controller?.signal.aborted &&
          controller.signal.reason === stop.reason
        ? undefined
        : this.#errorReply(error, delivery, route);
    } finally {
      if (onStop) {
        clearTimeout(timer);
        stop.removeEventListener("abort", onStop);
      }
    }
    if (this.#watchdog.release(run)) run.resolve(reply);
  }

  /**
   * Runs `route`'s middleware for a repeat of an idempotent call that the
   * reply cache answers, which arrived at `now`: the middleware may refuse
   * it (its error reply is the answer) or let it pass (`cached` is); a
   * middleware that answers by itself without calling `next()` gives that
   * answer. Watched as a run is: a repeat waits at most its own time.
   */
  reuse(
    delivery: Delivery,
    route: Route,
    cached: Promise<Reply | undefined>,
    now: number,
  ): Promise<Reply | undefined> {
    const deadline = deadlineOf(delivery.properties.headers);
    const run = this.#watch(route, now, deadline);
    run.finished = this.#pass(delivery, route, cached, run);
    return run.reply;
  }

  /** Runs the middleware around the cached reply; settles `run`. */
  async #pass(
    delivery: Delivery,
    route: Route,
    cached: Promise<Reply | undefined>,
    run: HandlerRun,
  ): Promise<void> {
    let reply: Reply | undefined;
    let reached = false;
    try {
      const request = new RpcRequest(
        delivery.body ?? EMPTY_BODY,
        delivery.properties,
        {
          signal: () => (run.controller = new AbortController()).signal,
          deadline: deadlineOf(delivery.properties.headers),
          redelivered: delivery.redelivered,
          method: route.method,
        },
      );
      const result = await route.pass(request, async () => {
        reached = true;
        reply = await cached;
        return undefined;
      });
      if (!reached) reply = resultReply(result, route.mayReturnNothing);
    } catch (error) {
      reply = this.#errorReply(error, delivery, route);
    }
    if (this.#watchdog.release(run)) run.resolve(reply);
  }

  /** Stops the watchdog. Idempotent. */
  close(): void {
    this.#watchdog.close();
  }

  /**
   * The error reply for what a handler (or middleware) threw: a
   * `HandlerError` as written; any other error with its code and an error
   * id instead of its message, logged in full beside the id (unless the
   * worker exposes errors).
   */
  #errorReply(error: unknown, delivery: Delivery, route: Route): Reply {
    const body = errorBodyOf(error);
    if (isHandlerError(error)) return errorReply(body);
    const { logger, exposeErrors } = this.#init;
    const errorId = newErrorId();
    const fields = {
      error_id: errorId,
      method: route.method ?? delivery.properties.type,
      correlation_id: delivery.properties.correlationId,
    };
    // The stack, where it is cheap: V8 writes it out (message included) on
    // first read, and a message that echoes a huge argument would make that
    // cost more than the log line can show.
    const text = error instanceof Error && body.message.length <= 1_000 &&
        typeof error.stack === "string"
      ? error.stack
      : `${body.name}: ${body.message}`;
    try {
      if (body.code === "INTERNAL") {
        logger.error(`Handler failed: ${text}`, fields);
      } else {
        logger.warn(`Handler refused a request: ${text}`, fields);
      }
    } catch {
      // A logger that fails (a closed stdout) must not cost the reply.
    }
    return errorReply(exposeErrors ? body : hiddenErrorBody(body, errorId));
  }
}

/** One handler's run, as the watchdog watches it. */
class HandlerRun extends Watch {
  /** The reply: the handler's, or {@linkcode OVERRUN_REPLY}. */
  readonly reply: Promise<Reply | undefined>;
  /** Settles {@linkcode reply}. */
  resolve!: (reply: Reply | undefined) => void;
  /** When its time is up: its signal aborts (epoch milliseconds). */
  readonly timeUp: number;
  /** The handler's signal's controller, once the handler asked for it. */
  controller: AbortController | undefined;
  /** Settles when the handler stops. */
  finished!: Promise<void>;
  readonly #route: Route;
  readonly #overrun: RunnerInit["overrun"];

  constructor(route: Route, timeUp: number, overrun: RunnerInit["overrun"]) {
    super();
    this.reply = new Promise((resolve) => this.resolve = resolve);
    this.timeUp = timeUp;
    this.#route = route;
    this.#overrun = overrun;
  }

  overrun(): void {
    this.controller?.abort(
      new HandlerError("DEADLINE_EXCEEDED", "The handler ran past its time"),
    );
    this.#overrun(this.#route, this.finished);
    this.resolve(OVERRUN_REPLY);
  }
}
