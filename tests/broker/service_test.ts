/**
 * Many methods on one queue, against the real broker: typed calls, the
 * typed error of an unknown method, middleware on both sides, the user id
 * the broker vouches for, trace context from client to handler, and the
 * counts of `stats()` and `metrics`.
 */

import assert from "node:assert/strict";
import {
  type ClientMiddleware,
  HandlerError,
  MethodNotFoundError,
  RemoteError,
  RpcClient,
  serve,
  type ServerMiddleware,
  serviceOfModule,
} from "../../mod.ts";
import {
  MetricsRegistry,
  newTraceparent,
  parseTraceparent,
} from "../../observability.ts";
import { startRig } from "./_rig.ts";
import { AMQP_URL, scratchQueue } from "../_helpers.ts";
import * as calc from "../fixtures/calc_service.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const url = AMQP_URL;

Deno.test({
  ...opts,
  name:
    "a worker serves three methods to a typed client, and answers an unknown method with MethodNotFoundError",
  async fn() {
    await using scratch = scratchQueue("methods");
    const queue = scratch.name;
    const service = serviceOfModule(calc);
    await using _server = await serve({ url, queue, ...service });
    await using client = await RpcClient.connect({ url });

    const api = client.service<typeof calc>(queue);
    const sum: number = await api.add({ a: 2, b: 40 });
    assert.equal(sum, 42);
    const division = await api.divide({ a: 17, b: 5 });
    assert.deepEqual(division, { quotient: 3, remainder: 2 });
    const me = await api.whoami();
    assert.equal(me.user, new URL(url).username || "guest");
    assert.equal(me.method, "whoami");

    // The types come from the module: these do not compile.
    // @ts-expect-error: add takes { a: number, b: number }
    const _badArgs = () => api.add({ a: "1", b: 2 });
    const _badResult = async (): Promise<number> =>
      // @ts-expect-error: divide resolves with an object, not a number
      await api.divide({ a: 1, b: 1 });
    // @ts-expect-error: the service has no such method
    const _missing = () => api.multiply({ a: 1, b: 2 });
    // @ts-expect-error: VERSION is a constant, not a method
    const _constant = () => api.VERSION();

    // The same, one method at a time.
    const add = client.method<{ a: number; b: number }, number>(queue, "add");
    assert.equal(await add({ a: 1, b: 2 }), 3);

    // Errors keep their codes.
    await assert.rejects(api.divide({ a: 1, b: 0 }), (error) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.code, "OUT_OF_RANGE");
      assert.equal(error.message, "Cannot divide by zero");
      return true;
    });

    const missing = client.method<number, number>(queue, "multiply");
    await assert.rejects(missing(3), (error) => {
      assert.ok(error instanceof MethodNotFoundError);
      assert.ok(error instanceof RemoteError);
      assert.equal(error.code, "METHOD_NOT_FOUND");
      assert.equal(error.method, "multiply");
      // The reply does not list the worker's methods to any caller.
      assert.equal(error.message, `No method "multiply" on "${queue}"`);
      return true;
    });
    // No method named, and no default method with three of them.
    await assert.rejects(
      client.call(queue, "1"),
      (error) =>
        error instanceof MethodNotFoundError && error.method === undefined,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "the default method answers requests that name none, in the tutorial's text format",
  async fn() {
    await using scratch = scratchQueue("default-method");
    await using bytesScratch = scratchQueue("bytes-method");
    const queue = scratch.name;
    const seen: (string | undefined)[] = [];
    await using _server = await serve({
      url,
      queue,
      methods: {
        shout: (text: string) => text.toUpperCase(),
        length: (text: string) => text.length,
      },
      defaultMethod: "shout",
      middleware: [(request, next) => {
        seen.push(request.method);
        return next();
      }],
    });
    await using client = await RpcClient.connect({ url });
    const reply = await client.call(queue, "hello");
    assert.equal(reply.text(), "HELLO");
    // Middleware sees the method the request is routed to, named or not.
    assert.deepEqual(seen, ["shout"]);
    assert.equal(reply.properties.contentType, "text/plain");
    const length = client.method<string, number>(queue, "length");
    assert.equal(await length("hello"), 5);
    // Bytes go as bytes, and come back as bytes.
    await using _bytes = await serve({
      url,
      queue: bytesScratch.name,
      methods: { reverse: (bytes: Uint8Array) => bytes.toReversed() },
    });
    const reverse = client.method<Uint8Array, Uint8Array>(
      bytesScratch.name,
      "reverse",
    );
    assert.deepEqual(
      await reverse(new Uint8Array([1, 2, 3])),
      new Uint8Array([3, 2, 1]),
    );
  },
});

Deno.test({
  ...opts,
  name: "a request body that is not JSON is answered INVALID_ARGUMENT",
  async fn() {
    await using rig = await startRig("bad-json", {
      serve: { methods: { add: calc.add } },
    });
    const { queue, client } = rig;
    await assert.rejects(
      client.call(queue, "{not json", {
        properties: { type: "add", contentType: "application/json" },
      }),
      (error) =>
        error instanceof RemoteError && error.code === "INVALID_ARGUMENT" &&
        /not valid JSON/.test(error.message),
    );
  },
});

Deno.test({
  ...opts,
  name:
    "a trace id set on the client reaches the handler, and middleware runs around calls on both sides",
  async fn() {
    await using scratch = scratchQueue("trace");
    const queue = scratch.name;
    const serverSeen: string[] = [];
    const auth: ServerMiddleware = async (request, next) => {
      serverSeen.push(`before ${request.method}`);
      if (request.userId !== (new URL(url).username || "guest")) {
        throw new HandlerError("PERMISSION_DENIED", "Unknown caller");
      }
      request.state.caller = request.userId;
      const result = await next();
      serverSeen.push(`after ${request.method}`);
      return result;
    };
    await using _server = await serve({
      url,
      queue,
      methods: {
        ...serviceOfModule(calc).methods,
        caller: (_: void, request) => request.state.caller,
        refused: () => "never",
      },
      middleware: [
        auth,
        (request, next) => {
          if (request.method === "refused") {
            throw new HandlerError("PERMISSION_DENIED", "Not for you");
          }
          return next();
        },
      ],
    });

    const traceparent = newTraceparent();
    const traceId = parseTraceparent(traceparent)!.traceId;
    const clientSeen: string[] = [];
    const tracing: ClientMiddleware = (call, next) => {
      clientSeen.push(`${call.queue === queue} ${call.method}`);
      call.options.traceparent = traceparent;
      return next();
    };
    await using client = await RpcClient.connect({
      url,
      middleware: [tracing],
    });
    const api = client.service<typeof calc>(queue);
    const me = await api.whoami();
    assert.equal(me.traceId, traceId);
    assert.deepEqual(clientSeen, ["true whoami"]);
    assert.deepEqual(serverSeen, ["before whoami", "after whoami"]);
    assert.equal(
      await client.method<void, string>(queue, "caller")(),
      new URL(url).username || "guest",
    );
    await assert.rejects(
      client.method(queue, "refused")(undefined),
      (error) =>
        error instanceof RemoteError && error.code === "PERMISSION_DENIED",
    );

    // Without middleware, the call option carries it too.
    await using plain = await RpcClient.connect({ url });
    const other = newTraceparent();
    const seen = await plain.service<typeof calc>(queue).whoami(undefined, {
      traceparent: other,
    });
    assert.equal(seen.traceId, parseTraceparent(other)!.traceId);
    // And without one, the handler sees none.
    assert.equal(
      (await plain.service<typeof calc>(queue).whoami()).traceId,
      null,
    );
    assert.throws(
      () => plain.call(queue, "x", { traceparent: "not-a-traceparent" }),
      TypeError,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "stats() and the Prometheus metrics count calls and requests on both sides",
  async fn() {
    await using scratch = scratchQueue("stats");
    const queue = scratch.name;
    const registry = new MetricsRegistry();
    await using server = await serve({
      url,
      queue,
      metrics: registry,
      methods: serviceOfModule(calc).methods,
    });
    await using client = await RpcClient.connect({ url, metrics: registry });
    const api = client.service<typeof calc>(queue);
    for (let i = 0; i < 5; i++) await api.add({ a: i, b: 1 });
    await assert.rejects(api.divide({ a: 1, b: 0 }), RemoteError);
    await assert.rejects(client.method(queue, "nope")(1), MethodNotFoundError);
    await assert.rejects(client.call(`${queue}.nobody`, "1"), /no queue/);

    const stats = client.stats();
    assert.equal(stats.calls, 8);
    assert.equal(stats.ok, 5);
    assert.deepEqual(stats.errors, { remote: 2, no_route: 1 });
    assert.deepEqual(stats.remoteErrors, {
      OUT_OF_RANGE: 1,
      METHOD_NOT_FOUND: 1,
    });
    assert.equal(stats.returns, 1);
    assert.equal(stats.inFlight, 0);
    assert.equal(stats.latency.count, 7);
    assert.ok(stats.latency.p50 > 0);

    const served = server.stats();
    assert.equal(served.received, 7);
    assert.equal(served.ok, 5);
    assert.deepEqual(served.errors, { OUT_OF_RANGE: 1, METHOD_NOT_FOUND: 1 });
    assert.equal(served.inFlight, 0);

    const text = registry.render();
    const q = JSON.stringify(queue);
    assert.match(
      text,
      new RegExp(
        `rabbit_rpc_client_calls_total\\{queue=${
          esc(q)
        },method="add",outcome="ok"\\} 5`,
      ),
    );
    assert.match(
      text,
      new RegExp(
        `rabbit_rpc_server_requests_total\\{queue=${
          esc(q)
        },method="\\(unknown\\)",outcome="METHOD_NOT_FOUND"\\} 1`,
      ),
    );
    assert.match(
      text,
      new RegExp(
        `rabbit_rpc_server_request_duration_seconds_count\\{queue=${
          esc(q)
        },method="add"\\} 5`,
      ),
    );
    assert.match(
      text,
      new RegExp(`rabbit_rpc_server_connected\\{queue=${esc(q)}\\} 1`),
    );
    assert.match(text, /rabbit_rpc_client_calls_in_flight 0/);
  },
});

function esc(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test({
  ...opts,
  name:
    "a single handler that returns nothing is answered INTERNAL, while a method may return nothing",
  async fn() {
    await using scratch = scratchQueue("returns-nothing");
    await using methodScratch = scratchQueue("returns-nothing-method");
    await using _server = await serve(
      { url, queue: scratch.name },
      // A forgotten `return`.
      (() => {}) as unknown as () => string,
    );
    await using _methods = await serve({
      url,
      queue: methodScratch.name,
      methods: { nothing: () => {} },
    });
    await using client = await RpcClient.connect({ url });
    await assert.rejects(
      client.call(scratch.name, "x"),
      (error) =>
        error instanceof RemoteError && error.code === "INTERNAL" &&
        /returned nothing/.test(error.message),
    );
    assert.equal(
      await client.method<void, void>(methodScratch.name, "nothing")(),
      undefined,
    );
  },
});
