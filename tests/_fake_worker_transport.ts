/**
 * A worker transport that lets a test play the broker for an `RpcServer`:
 * deliver requests and see what becomes of each (a reply and an ack, a
 * park, a requeue, a drop), lose and restore the connection, block it.
 *
 * @module
 */

import type { ConnectionState } from "../lib/amqp/supervisor.ts";
import type { MessageProperties } from "../lib/protocol/properties.ts";
import type { Reply } from "../lib/protocol/reply.ts";
import {
  resolveServeOptions,
  type ServeOptions,
} from "../lib/worker/options.ts";
import type { RpcHandler } from "../lib/worker/methods.ts";
import { RpcServer } from "../lib/worker/rpc_server.ts";
import { declaredState } from "../lib/worker/_queue_setup.ts";
import type {
  Delivery,
  QueueState,
  Settlement,
  WorkerTransport,
  WorkerTransportListener,
} from "../lib/worker/transport.ts";

/** What became of one delivery. */
export interface Outcome {
  /** The reply sent, if any. */
  reply?: Reply;
  /** Whether the reply went out on a probe connection of its own. */
  probed?: boolean;
  /** How the delivery was settled. */
  settlement: Settlement;
}

/** A request to deliver: its body and properties, as a client sends them. */
export interface FakeRequest {
  body?: string | Uint8Array;
  properties?: MessageProperties;
  redelivered?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The fake. */
export class FakeWorkerTransport implements WorkerTransport {
  state: ConnectionState = "reconnecting";
  /** What `probe` resolves with (true: the broker took the reply). */
  probeResult = true;
  /** Deliveries whose channel is gone (see {@linkcode loseDelivery}). */
  readonly #dead = new Set<Delivery>();
  readonly #settled = new Map<Delivery, (outcome: Outcome) => void>();
  readonly #outcomes = new Map<Delivery, Outcome>();
  #listener?: WorkerTransportListener;
  #sequence = 0;
  /**
   * What the worker learns of its queue at start: by default, a queue it
   * declared as `queue` says (see {@linkcode declaredState}).
   */
  queueState: QueueState;
  closed = 0;
  stoppedConsuming = 0;

  listen(listener: WorkerTransportListener): void {
    this.#listener = listener;
  }

  /** A fake whose worker finds (or declares) its queue as `queueState`. */
  constructor(queueState: QueueState) {
    this.queueState = queueState;
  }

  start(): Promise<void> {
    this.state = "open";
    this.#listener!.queue(this.queueState);
    return Promise.resolve();
  }

  /**
   * Delivers a request (with a `reply_to` and a correlation id unless the
   * properties say otherwise) and resolves with what became of it.
   */
  deliver(request: FakeRequest = {}): Promise<Outcome> {
    const body = typeof request.body === "string"
      ? encoder.encode(request.body)
      : request.body ?? new Uint8Array();
    const delivery: Delivery = {
      body,
      bodySize: body.byteLength,
      redelivered: request.redelivered ?? false,
      properties: {
        replyTo: "amq.gen-fake",
        correlationId: `fake.${this.#sequence++}`,
        ...request.properties,
      },
    };
    return this.handOver(delivery);
  }

  /** Hands a delivery made by the test to the worker. */
  handOver(delivery: Delivery): Promise<Outcome> {
    const { promise, resolve } = Promise.withResolvers<Outcome>();
    this.#settled.set(delivery, resolve);
    this.#listener!.delivery(delivery);
    return promise;
  }

  /** Makes a delivery's channel go away: it can no longer be answered. */
  loseDelivery(delivery: Delivery): void {
    this.#dead.add(delivery);
  }

  isLive(delivery: Delivery): boolean {
    return !this.#dead.has(delivery);
  }

  isSettled(delivery: Delivery): boolean {
    return this.#outcomes.has(delivery);
  }

  reply(
    delivery: Delivery,
    reply: Reply,
    settlement: "ack" | "reject",
  ): Promise<void> {
    this.#finish(delivery, { reply, settlement });
    return Promise.resolve();
  }

  /** What `ownReplyTo` resolves with. */
  ownAddress: string | undefined = undefined;

  ownReplyTo(): Promise<string | undefined> {
    return Promise.resolve(this.ownAddress);
  }

  probe(delivery: Delivery, reply: Reply): Promise<boolean> {
    // The probe sends the reply; the worker settles the delivery next.
    if (this.probeResult) this.#pendingProbes.set(delivery, reply);
    return Promise.resolve(this.probeResult);
  }

  readonly #pendingProbes = new Map<Delivery, Reply>();

  settle(delivery: Delivery, settlement: Settlement): Promise<void> {
    const probed = this.#pendingProbes.get(delivery);
    this.#pendingProbes.delete(delivery);
    this.#finish(
      delivery,
      probed ? { reply: probed, probed: true, settlement } : { settlement },
    );
    return Promise.resolve();
  }

  stopConsuming(): Promise<void> {
    this.stoppedConsuming++;
    return Promise.resolve();
  }

  endReconnects(): void {}

  close(): Promise<void> {
    this.closed++;
    this.state = "closed";
    return Promise.resolve();
  }

  #finish(delivery: Delivery, outcome: Outcome): void {
    if (this.#outcomes.has(delivery)) {
      throw new Error("A delivery was settled twice");
    }
    this.#outcomes.set(delivery, outcome);
    this.#settled.get(delivery)?.(outcome);
  }

  lose(error = new Error("socket closed")): void {
    this.state = "reconnecting";
    this.#listener!.lost(error);
  }

  restore(): void {
    this.state = "open";
    this.#listener!.restored();
  }

  fail(error = new Error("gave up")): void {
    this.state = "failed";
    this.#listener!.failed(error);
  }

  block(reason = "low on memory"): void {
    this.state = "blocked";
    this.#listener!.blocked(reason);
  }

  unblock(): void {
    this.state = "open";
    this.#listener!.unblocked();
  }
}

/** The text of a reply's body. */
export function textOf(reply: Reply | undefined): string {
  if (reply === undefined) throw new Error("no reply");
  return typeof reply.body === "string"
    ? reply.body
    : decoder.decode(reply.body);
}

/** A worker over a fake transport, closed on disposal. */
export interface FakeWorker extends AsyncDisposable {
  readonly server: RpcServer;
  readonly transport: FakeWorkerTransport;
  /**
   * Resolves once no request is in hand: a request's counts are complete
   * a little after its reply is handed to the transport.
   */
  idle(): Promise<void>;
}

/**
 * Starts an `RpcServer` with `serve`'s options over a fake transport: the
 * worker's whole path, with no broker.
 */
export async function fakeWorker(
  options: ServeOptions,
  handler?: RpcHandler,
  queueState?: QueueState,
): Promise<FakeWorker> {
  const config = resolveServeOptions(
    { gracePeriod: 1_000, ...options },
    handler,
  );
  const transport = new FakeWorkerTransport(
    queueState ?? declaredState(config.queue),
  );
  const server = new RpcServer(transport, config);
  await server.start();
  return {
    server,
    transport,
    async idle() {
      while (server.inFlight > 0) {
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    },
    [Symbol.asyncDispose]: () => server.close(),
  };
}
