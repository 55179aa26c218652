/**
 * The OpenTelemetry bridge against the real broker, with the real API and
 * SDK: the caller's span, the worker's span and the handler's own spans
 * make one trace; failures mark the spans; and without an SDK the calls go
 * out untouched.
 */

import assert from "node:assert/strict";
import {
  type ClientMiddleware,
  HandlerError,
  RemoteError,
  RpcClient,
  serve,
  type TraceContext,
} from "../../mod.ts";
import {
  newTraceparent,
  type OtelApi,
  otelMiddleware,
  parseTraceparent,
} from "../../observability.ts";
import { AMQP_URL, scratchQueue } from "../_helpers.ts";
import {
  AsyncLocalStorageContextManager,
  BasicTracerProvider,
  InMemorySpanExporter,
  otel,
  type ReadableSpan,
  SimpleSpanProcessor,
  W3CTraceContextPropagator,
} from "../deps.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const url = AMQP_URL;

// The real API fits the structural type the library asks for.
const _api: OtelApi = otel;

/** The SDK, registered globally until disposed of. */
interface Sdk extends AsyncDisposable {
  /** The spans ended so far. */
  spans(): Promise<ReadableSpan[]>;
}

function registerSdk(): Sdk {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const registered = [
    otel.trace.setGlobalTracerProvider(provider),
    otel.context.setGlobalContextManager(
      new AsyncLocalStorageContextManager().enable(),
    ),
    otel.propagation.setGlobalPropagator(new W3CTraceContextPropagator()),
  ];
  try {
    assert.ok(registered.every(Boolean), "another test left an SDK registered");
  } catch (error) {
    unregister();
    throw error;
  }
  return {
    async spans() {
      await provider.forceFlush();
      return exporter.getFinishedSpans();
    },
    async [Symbol.asyncDispose]() {
      try {
        await provider.shutdown();
      } finally {
        unregister();
      }
    },
  };
}

function unregister(): void {
  otel.trace.disable();
  otel.context.disable();
  otel.propagation.disable();
}

function only(spans: ReadableSpan[], kind: otel.SpanKind): ReadableSpan {
  const found = spans.filter((span) => span.kind === kind);
  assert.equal(found.length, 1, `one span of kind ${otel.SpanKind[kind]}`);
  return found[0];
}

Deno.test({
  ...opts,
  name:
    "otelMiddleware links the worker's span to the caller's span across the broker",
  async fn() {
    await using sdk = registerSdk();
    await using scratch = scratchQueue("otel-link");
    const queue = scratch.name;
    const tracing = otelMiddleware(otel, { queue, tracerVersion: "9.9.9" });
    let seen: TraceContext | undefined;
    let user: string | undefined;
    await using _server = await serve({
      url,
      queue,
      methods: {
        add: ({ a, b }: { a: number; b: number }, request) => {
          seen = request.trace;
          user = request.userId;
          otel.trace.getTracer("handler").startSpan("lookup").end();
          return a + b;
        },
      },
      middleware: [tracing.server],
    });
    await using client = await RpcClient.connect({
      url,
      middleware: [tracing.client],
    });
    const add = client.method<{ a: number; b: number }, number>(queue, "add");

    const tracer = otel.trace.getTracer("test");
    const parent = await tracer.startActiveSpan("parent", async (span) => {
      try {
        assert.equal(await add({ a: 1, b: 2 }), 3);
        return span;
      } finally {
        span.end();
      }
    });

    const spans = await sdk.spans();
    assert.deepEqual(
      spans.map((span) => span.name).sort(),
      ["lookup", "parent", `${queue} add`, `${queue} add`],
    );
    const parentContext = parent.spanContext();
    const traceId = parentContext.traceId;
    const sent = only(spans, otel.SpanKind.CLIENT);
    const handled = only(spans, otel.SpanKind.SERVER);
    const inner = spans.find((span) => span.name === "lookup")!;

    // The client's span is a child of the active span.
    assert.equal(sent.spanContext().traceId, traceId);
    assert.equal(sent.parentSpanContext?.spanId, parentContext.spanId);
    assert.ok(!sent.parentSpanContext?.isRemote);
    assert.deepEqual(sent.instrumentationScope, {
      name: "rabbit-rpc",
      version: "9.9.9",
      schemaUrl: undefined,
    });
    assert.deepEqual(sent.attributes, {
      "messaging.system": "rabbitmq",
      "messaging.destination.name": queue,
      "messaging.operation.type": "send",
      "messaging.operation.name": "send",
      "rpc.system": "rabbit-rpc",
      "rpc.service": queue,
      "rpc.method": "add",
    });
    assert.equal(sent.status.code, otel.SpanStatusCode.UNSET);

    // The worker's span continues the trace across the broker.
    assert.equal(handled.spanContext().traceId, traceId);
    assert.equal(handled.parentSpanContext?.spanId, sent.spanContext().spanId);
    assert.equal(handled.parentSpanContext?.isRemote, true);
    const { "messaging.message.conversation_id": conversation, ...rest } =
      handled.attributes;
    assert.equal(typeof conversation, "string");
    assert.deepEqual(rest, {
      "messaging.system": "rabbitmq",
      "messaging.destination.name": queue,
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "rpc.system": "rabbit-rpc",
      "rpc.service": queue,
      "rpc.method": "add",
      "enduser.id": user,
    });
    assert.ok(user !== undefined);
    assert.equal(handled.status.code, otel.SpanStatusCode.UNSET);

    // The handler's own span is a child of the worker's.
    assert.equal(inner.spanContext().traceId, traceId);
    assert.equal(inner.parentSpanContext?.spanId, handled.spanContext().spanId);

    // The handler saw the client span's context in the request.
    assert.equal(seen?.traceId, traceId);
    assert.equal(seen?.spanId, sent.spanContext().spanId);
    assert.equal(seen?.sampled, true);
  },
});

Deno.test({
  ...opts,
  name: "otelMiddleware marks a failed call's spans as errors",
  async fn() {
    await using sdk = registerSdk();
    await using scratch = scratchQueue("otel-error");
    const queue = scratch.name;
    const tracing = otelMiddleware(otel, { queue });
    await using _server = await serve({
      url,
      queue,
      methods: {
        sqrt: (n: number) => {
          if (n < 0) {
            throw new HandlerError("OUT_OF_RANGE", "n must not be negative");
          }
          return Math.sqrt(n);
        },
      },
      middleware: [tracing.server],
    });
    await using client = await RpcClient.connect({
      url,
      middleware: [tracing.client],
    });
    const sqrt = client.method<number, number>(queue, "sqrt");
    await assert.rejects(
      sqrt(-1),
      (error) => error instanceof RemoteError && error.code === "OUT_OF_RANGE",
    );

    const spans = await sdk.spans();
    assert.equal(spans.length, 2);
    const sent = only(spans, otel.SpanKind.CLIENT);
    const handled = only(spans, otel.SpanKind.SERVER);
    assert.equal(
      handled.parentSpanContext?.spanId,
      sent.spanContext().spanId,
    );
    for (const span of [sent, handled]) {
      assert.deepEqual(span.status, {
        code: otel.SpanStatusCode.ERROR,
        message: "n must not be negative",
      });
      assert.equal(span.attributes["error.type"], "OUT_OF_RANGE");
      assert.deepEqual(span.events.map((event) => event.name), ["exception"]);
    }
    // The SDK names the type of an exception by its code, if it has one:
    // the HandlerError's on the worker, the RemoteError's on the client.
    for (const span of [handled, sent]) {
      assert.equal(
        span.events[0].attributes?.["exception.type"],
        "OUT_OF_RANGE",
      );
    }
  },
});

Deno.test({
  ...opts,
  name:
    "otelMiddleware leaves calls untouched when no tracer provider is registered",
  async fn() {
    // Nothing registered: the API's no-op tracer, propagator and context.
    assert.equal(
      otel.trace.getTracer("test").startSpan("probe").isRecording(),
      false,
    );
    await using scratch = scratchQueue("otel-noop");
    const queue = scratch.name;
    const tracing = otelMiddleware(otel, { queue });
    const traceparents: (string | undefined)[] = [];
    await using _server = await serve({
      url,
      queue,
      methods: {
        echo: (text: string, request) => {
          traceparents.push(request.traceparent);
          return text;
        },
      },
      middleware: [tracing.server],
    });
    const sentOptions: unknown[] = [];
    const spy: ClientMiddleware = (call, next) => {
      const { traceparent, tracestate } = call.options;
      sentOptions.push({ traceparent, tracestate });
      return next();
    };
    await using client = await RpcClient.connect({
      url,
      middleware: [tracing.client, spy],
    });
    const echo = client.method<string, string>(queue, "echo");
    assert.equal(await echo("plain"), "plain");
    assert.deepEqual(traceparents, [undefined]);
    assert.deepEqual(sentOptions, [{
      traceparent: undefined,
      tracestate: undefined,
    }]);

    // A traceparent the caller chose goes through as it is.
    const traceparent = newTraceparent();
    assert.equal(await echo("chosen", { traceparent }), "chosen");
    assert.deepEqual(traceparents, [undefined, traceparent]);
    assert.deepEqual(sentOptions[1], { traceparent, tracestate: undefined });
    assert.ok(parseTraceparent(traceparents[1]) !== undefined);
  },
});
