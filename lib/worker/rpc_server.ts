/**
 * {@linkcode RpcServer}: a running worker. Its path for each request reads
 * top to bottom: deliver → decide (`admit`) → run → decide (`conclude`) →
 * reply → ack. The decisions are in `_decide.ts` and do no I/O; the I/O is
 * behind the {@linkcode WorkerTransport} seam.
 *
 * @module
 */

import { ConnectionEvent } from "../amqp/events.ts";
import type { ConnectionState } from "../amqp/supervisor.ts";
import { ConnectionLostError, RpcError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { MetricsRegistry } from "../observability/metrics/registry.ts";
import type { ServerStats } from "../observability/stats.ts";
import type { Reply } from "../protocol/reply.ts";
import { WorkerLink } from "./_link.ts";
import { ServerMetrics } from "./_metrics.ts";
import { HandlerRunner, OVERRUN_REPLY } from "./_runner.ts";
import { allSettled } from "./_settled.ts";
import { admit, conclude, type Policy } from "./_decide.ts";
import type { WorkerConfig } from "./options.ts";
import { loadFingerprints, ReplyCache } from "./_reply_cache.ts";
import { ReplyPath } from "./_reply_path.ts";
import { ReplyToGuard } from "./_reply_to_guard.ts";
import { type Route, UNKNOWN_METHOD } from "./_router.ts";
import type { Delivery, QueueState, WorkerTransport } from "./transport.ts";

/**
 * How long handlers get to settle after their signals abort, before the
 * connection closes anyway (their requests are then redelivered).
 */
const ABORT_GRACE = 1_000;

/**
 * A running worker, from `serve`.
 *
 * It reconnects by itself after the connection or channel is lost, or its
 * consumer is cancelled by the broker (the queue was deleted): it declares
 * the queue again and consumes again. Requests it was handling at the loss
 * are redelivered by the broker; their handlers finish, and their replies to
 * idempotent calls are remembered to answer the redelivered copies. It
 * dispatches a {@linkcode ConnectionEvent} of type `disconnect`,
 * `reconnect`, `blocked`, `unblocked` and `failed`, and an `Event` of type
 * `unhealthy` when it stops consuming for good (see
 * {@linkcode RpcServer.unhealthy}).
 *
 * @example Stopping a worker
 * ```ts ignore
 * import { serve } from "./serve.ts";
 *
 * const server = await serve({ queue: "echo" }, (request) => request.text());
 * await server.close(); // waits for the requests it is handling
 * ```
 */
export class RpcServer extends EventTarget implements AsyncDisposable {
  /** The queue it consumes. */
  readonly queue: string;
  /**
   * Settles when the server stops: resolves after {@linkcode close}, rejects
   * with {@linkcode ConnectionLostError} if the connection is lost for good
   * (reconnecting was refused, given up, or turned off).
   */
  readonly finished: Promise<void>;
  readonly #config: WorkerConfig;
  readonly #transport: WorkerTransport;
  #policy: Policy;
  #queueState?: QueueState;
  readonly #logger: Logger;
  readonly #metrics: ServerMetrics;
  readonly #running = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  readonly #runner: HandlerRunner;
  #closing?: Promise<void>;
  #stuck = 0;
  readonly #replyPath: ReplyPath;
  #unhealthy: string | undefined;
  #finish!: (error?: Error) => void;
  readonly #link: WorkerLink;

  /**
   * @internal Use `serve`, which checks the options into a `config`; a test
   * may give a fake transport.
   */
  constructor(transport: WorkerTransport, config: WorkerConfig) {
    super();
    this.#config = config;
    this.#transport = transport;
    this.queue = config.queue.name;
    this.#logger = config.logger;
    this.#policy = {
      queue: config.queue.name,
      router: config.router,
      maxRequestBytes: config.maxRequestBytes,
      cache: new ReplyCache(config.replyCacheSize),
      replyTo: new ReplyToGuard(),
      // Until the queue is found or declared: never handed back.
      deliveryLimit: undefined,
    };
    this.#replyPath = new ReplyPath(
      this.#policy.replyTo,
      transport,
      config.logger,
    );
    this.#metrics = new ServerMetrics(config.metrics, config.queue.name);
    this.#runner = new HandlerRunner({
      stop: this.#stop.signal,
      logger: config.logger,
      maxHandlerTime: config.maxHandlerTime,
      exposeErrors: config.exposeErrors,
      overrun: (route, finished) => this.#overrun(route, finished),
    });
    this.finished = new Promise<void>((resolve, reject) => {
      this.#finish = (error) => (error ? reject(error) : resolve());
    });
    // Nobody may be listening yet; the rejection is still delivered to
    // whoever awaits `finished` later.
    this.finished.catch(() => {});
    const link = this.#link = new WorkerLink({
      metrics: this.#metrics,
      emit: (type, init) => {
        if (this.#closing && type !== "failed") return;
        this.dispatchEvent(new ConnectionEvent(type, init));
      },
      failed: (error) => this.#fail(error),
    });
    transport.listen({
      queue: (state) => this.#found(state),
      delivery: (delivery) => void this.#deliver(delivery),
      lost: (error) => link.lost(error),
      restored: () => {
        this.#replyPath.reconnected();
        link.restored();
      },
      failed: (error) => link.failed(error),
      blocked: (reason) => link.blocked(reason),
      unblocked: () => link.unblocked(),
    });
  }

  /**
   * What the worker knows of its queue since it last found or declared it
   * (`undefined` before it first did): whether it declared the queue or
   * found it, and its delivery limit where known, under which failed
   * idempotent requests get another try.
   */
  get queueState(): QueueState | undefined {
    return this.#queueState;
  }

  /** The queue is found or declared: its delivery limit rules retries. */
  #found(state: QueueState): void {
    const before = this.#queueState;
    this.#queueState = state;
    this.#policy = { ...this.#policy, deliveryLimit: state.deliveryLimit };
    if (state.declared) {
      if (before !== undefined) {
        this.#logger.info(
          `Declared queue "${this.queue}" again: it was missing`,
        );
      }
      return;
    }
    if (
      before !== undefined && !before.declared &&
      before.deliveryLimit === state.deliveryLimit &&
      before.deadLetterQueue === state.deadLetterQueue
    ) return;
    const checked = state.checked.length === 0
      ? "its type and arguments are its declarer's"
      : `it has what ${state.checked.join(", ")} asked for`;
    const retries = state.deliveryLimit === undefined
      ? "failed requests are answered at once, never handed back"
      : `failed idempotent requests get up to ${state.deliveryLimit} more tries`;
    this.#logger.info(
      `Using the existing queue "${this.queue}" as it is (${state.messageCount} requests waiting, ${state.consumerCount} other consumers): ${checked}; ${retries}`,
    );
  }

  /** The number of requests being handled now. */
  get inFlight(): number {
    return this.#running.size;
  }

  /**
   * The registry the worker counts in (its own, or the `metrics` option):
   * `server.metrics.render()` is the Prometheus text that `serveMetrics`
   * serves.
   */
  get metrics(): MetricsRegistry {
    return this.#config.metrics;
  }

  /**
   * What its registry counted for its queue: requests by outcome, error
   * replies by code, redeliveries, expired requests, cache hits, requeues,
   * dead-letters, drops and handling time (of every worker of the queue
   * that shares the registry, through the `metrics` option); and the
   * requests this worker has in hand now.
   *
   * @example
   * ```ts ignore
   * import { serve } from "./serve.ts";
   *
   * await using server = await serve({ queue: "echo" }, (r) => r.text());
   * console.log(server.stats().received); // 0
   * ```
   */
  stats(): ServerStats {
    return this.#metrics.snapshot(this.#running.size);
  }

  /**
   * Where the connection is: `open`, `blocked`, `reconnecting`, `closed` or
   * `failed`. An `open` server consumes its queue, unless it is
   * {@linkcode unhealthy}.
   */
  get state(): ConnectionState {
    return this.#transport.state;
  }

  /**
   * Why the worker stopped serving although its connection may be fine:
   * as many handlers stuck past their time as `maxStuckHandlers`. It then
   * consumes no more and needs a restart (`/healthz` answers 503).
   * `undefined` while it is healthy.
   */
  get unhealthy(): string | undefined {
    return this.#unhealthy;
  }

  /**
   * @internal Connects, declares the queue, sets the prefetch, and
   * consumes; used by `serve`.
   */
  async start(): Promise<void> {
    await loadFingerprints();
    await this.#transport.start();
    this.#metrics.connected(true);
    this.#logger.info(
      `Consuming "${this.queue}" with prefetch ${this.#config.prefetch}`,
    );
  }

  /**
   * Stops consuming, lets the requests being handled finish within the
   * grace period (then aborts their signals and requeues those that stop),
   * and closes the connection. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Closes the server; for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // deliver → decide → run → decide → reply → ack

  #deliver(delivery: Delivery): Promise<void> {
    const metrics = this.#metrics;
    metrics.received(delivery.redelivered);
    const work = this.#handle(delivery).catch((error) =>
      this.#failedToAnswer(delivery, error)
    );
    this.#running.add(work);
    return work.finally(() => {
      this.#running.delete(work);
      metrics.done();
    });
  }

  async #handle(delivery: Delivery): Promise<void> {
    const started = performance.now();
    const policy = this.#policy;
    const now = Date.now();
    const admission = admit(delivery, now, policy);
    let reply: Reply | undefined;
    let pending: Promise<Reply | undefined> | undefined;
    switch (admission.kind) {
      case "drop":
        this.#logger.warn(
          admission.reason === "no reply_to"
            ? "Dropped a request without reply_to"
            : "Dropped a request whose reply_to or correlation_id cannot be answered",
          { correlation_id: delivery.properties.correlationId },
        );
        this.#metrics.dropped();
        await this.#transport.settle(delivery, "ack");
        return;
      case "refuse":
        if (admission.reason === "expired") this.#metrics.expired();
        if (admission.reason === "no such method") {
          // The reply does not list the methods (callers need not learn
          // them all); the worker's own log does.
          this.#logger.debug("Answered METHOD_NOT_FOUND", {
            method: delivery.properties.type || "(none)",
            correlation_id: delivery.properties.correlationId,
            methods: policy.router.methodNames,
          });
        }
        reply = admission.reply;
        break;
      case "reuse":
        this.#metrics.cacheHit();
        this.#logger.debug("Answered a repeat from the reply cache", {
          message_id: delivery.properties.messageId,
        });
        // The middleware still runs, and may refuse the repeat.
        reply = await this.#runner.reuse(
          delivery,
          admission.route,
          admission.reply,
          now,
        );
        break;
      case "run": {
        const slot = admission.remember;
        pending = this.#runner.run(delivery, admission.route, now);
        if (slot) policy.cache.set(slot.key, slot.fingerprint, pending);
        reply = await pending;
        // A repeat must not wait on a handler that may never stop.
        if (slot && reply === OVERRUN_REPLY) {
          policy.cache.forget(slot.key, pending);
        }
        break;
      }
    }
    const conclusion = conclude(delivery, reply, policy);
    switch (conclusion) {
      case "retry":
        // Another try, here or on another worker: the caller said the
        // request may run more than once. The broker counts the tries; the
        // last one is answered and parked.
        this.#logger.warn(
          `Handing a failed request back to "${this.queue}" for another try`,
        );
        if (admission.kind === "run" && admission.remember) {
          policy.cache.forget(admission.remember.key, pending!);
        }
      // falls through
      case "requeue":
        // (Or stopped because this worker is closing, not because the
        // request is bad: for another worker to answer.)
        this.#metrics.requeued();
        if (this.#transport.isLive(delivery)) {
          await this.#transport.settle(delivery, "requeue");
        }
        return;
      case "park": {
        const deadLetterQueue = this.#queueState?.deadLetterQueue;
        if (deadLetterQueue !== false) this.#metrics.deadLettered();
        const tries = (policy.deliveryLimit ?? 0) + 1;
        this.#logger.error(
          deadLetterQueue === false
            ? `Dropped a request that failed ${tries} times`
            : deadLetterQueue === undefined
            ? `Rejected a request that failed ${tries} times, for the queue's dead-lettering`
            : `Parked a request that failed ${tries} times in "${deadLetterQueue}"`,
        );
        break;
      }
      case "ack":
        break;
    }
    await this.#send(
      delivery,
      reply!,
      conclusion === "park" ? "reject" : "ack",
      admission.route,
      started,
    );
  }

  /** Sends the reply, then acks (or rejects) the request. */
  async #send(
    delivery: Delivery,
    reply: Reply,
    settlement: "ack" | "reject",
    route: Route | undefined,
    started: number,
  ): Promise<void> {
    const transport = this.#transport;
    // The connection was lost meanwhile: the broker redelivers the request
    // (answered from the cache if it is idempotent), and a reply now would
    // be a duplicate.
    if (!transport.isLive(delivery)) return;
    // The broker refuses every publish while it blocks the connection:
    // wait (the loss of the connection or a close ends the wait too).
    if (this.#link.isBlocked) {
      await this.#link.publishable();
      if (!transport.isLive(delivery)) return;
    }
    const series = this.#metrics.method(route?.name ?? UNKNOWN_METHOD);
    let way = this.#replyPath.way(delivery, reply);
    if (typeof way !== "string") way = await way;
    switch (way) {
      case "channel":
        break;
      case "gone":
        return;
      case "probed":
        // Sent already, on the probe's connection.
        this.#metrics.answered(series, reply.errorCode, started);
        await transport.settle(delivery, settlement);
        return;
      case "dropped":
        this.#metrics.dropped();
        await transport.settle(delivery, settlement);
        return;
      case "bad":
        this.#metrics.dropped();
        await transport.settle(delivery, "ack");
        return;
    }
    await transport.reply(delivery, reply, settlement);
    // Counted once the reply is written: a reply that cannot be sent is not
    // an answer (the request is redelivered, and counted then).
    this.#metrics.answered(series, reply.errorCode, started);
  }

  /**
   * A handler ran past its time: its request was answered; it is counted
   * as stuck until it stops, and at `maxStuckHandlers` of them the worker
   * stops consuming for good.
   */
  #overrun(route: Route, finished: Promise<unknown>): void {
    this.#stuck++;
    this.#metrics.overrun();
    this.#logger.warn(
      `A handler ran past its time: answered DEADLINE_EXCEEDED and freed its slot; ${this.#stuck} stuck now`,
      { method: route.method ?? "(handler)" },
    );
    finished.finally(() => {
      this.#stuck--;
      this.#metrics.unstuck();
    }).catch(() => {});
    const limit = this.#config.maxStuckHandlers;
    if (this.#stuck < limit || this.#unhealthy !== undefined) return;
    this.#unhealthy =
      `${this.#stuck} handlers are stuck past their time (maxStuckHandlers is ${limit})`;
    this.#logger.error(
      `Stopped consuming "${this.queue}": ${this.#unhealthy}; restart the worker`,
    );
    this.#metrics.connected(false);
    this.#transport.stopConsuming().catch(() => {});
    this.dispatchEvent(new Event("unhealthy"));
  }

  #failedToAnswer(delivery: Delivery, error: unknown): void {
    const reason = error instanceof Error ? error.message : "unknown error";
    if (!this.#transport.isLive(delivery)) {
      // The connection went away under the reply: the broker redelivers
      // the request, so nothing is lost.
      this.#logger.debug(`Could not answer a request: ${reason}`);
      return;
    }
    this.#logger.error(`Failed to answer a request: ${reason}`);
    // Never leave a request unacked: it would hold a prefetch slot for
    // good. Requeue it once for another try; drop it if it failed before.
    if (!this.#transport.isSettled(delivery)) {
      this.#transport.settle(
        delivery,
        delivery.redelivered ? "reject" : "requeue",
      ).catch(() => {});
    }
  }

  // Closing

  async #close(): Promise<void> {
    // Closing: a loss from now on is not reconnected.
    this.#transport.endReconnects();
    try {
      await this.#transport.stopConsuming();
      // Let running handlers answer; past the grace period, abort their
      // signals and give them a moment to settle. Whatever is still unacked
      // when the connection closes goes back to the queue for another worker.
      if (!(await allSettled(this.#running, this.#config.gracePeriod))) {
        this.#logger.warn(
          `Aborting ${this.#running.size} request(s) still running after the grace period`,
        );
        this.#stop.abort(new RpcError("RpcServer closed"));
        await allSettled(this.#running, ABORT_GRACE);
      }
      this.#stop.abort(new RpcError("RpcServer closed"));
      this.#runner.close();
      this.#link.unblock();
      await this.#transport.close();
      this.#metrics.stopped();
    } finally {
      this.#logger.info(`Stopped consuming "${this.queue}"`);
      this.#finish();
    }
  }

  #fail(error: Error): void {
    if (this.#closing) return;
    const lost = new ConnectionLostError(
      `Worker for "${this.queue}" lost its connection for good: ${error.message}`,
      { cause: error },
    );
    this.#closing = Promise.resolve();
    this.#stop.abort(lost);
    this.#runner.close();
    this.dispatchEvent(new ConnectionEvent("failed", { error }));
    this.#finish(lost);
  }
}
