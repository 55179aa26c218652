/**
 * The pieces of many-method services, without a broker: routing, argument
 * decoding, middleware, handler modules, the body codec, trace context and
 * the log formats.
 */

import assert from "node:assert/strict";
import { requestLogMiddleware } from "../../cli/request_log.ts";
import {
  bodyKindOf,
  decodeValue,
  encodeValue,
} from "../../lib/protocol/codec.ts";
import { HandlerError } from "../../lib/errors.ts";
import { formatLogger } from "../../lib/observability/logger.ts";
import { RpcRequest } from "../../lib/protocol/message.ts";
import type { MessageProperties } from "../../lib/protocol/properties.ts";
import type { RpcHandler, RpcMethods } from "../../lib/worker/methods.ts";
import type { ServerMiddleware } from "../../lib/worker/middleware.ts";
import { Router } from "../../lib/worker/_router.ts";
import { serviceOfModule } from "../../lib/worker/module_service.ts";
import { errorBodyOf } from "../../lib/protocol/error_reply.ts";
import {
  formatTraceparent,
  newTraceparent,
  parseTraceparent,
} from "../../lib/protocol/trace.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const encoder = new TextEncoder();

function request(body: string, properties: MessageProperties = {}): RpcRequest {
  return new RpcRequest(encoder.encode(body), properties, {
    signal: new AbortController().signal,
  });
}

/**
 * What a worker runs for a request routed by `router`: the route's
 * middleware and method, with the request's method the routed one.
 */
function handlerOf(router: Router): (request: RpcRequest) => unknown {
  return (request) => {
    const route = router.route(request.properties.type);
    if (route === undefined) {
      throw new HandlerError("METHOD_NOT_FOUND", "no such method");
    }
    return route.handle(
      new RpcRequest(request.body, request.properties, {
        signal: request.signal,
        method: route.method,
      }),
    );
  };
}

function methods(
  table: RpcMethods,
  options?: Parameters<typeof Router.ofMethods>[1],
): (request: RpcRequest) => unknown {
  return handlerOf(Router.ofMethods(table, options));
}

function withMiddleware(
  middleware: ServerMiddleware[],
  handler: (request: RpcRequest) => unknown,
): (request: RpcRequest) => Promise<unknown> {
  const handle = handlerOf(
    Router.ofHandler(handler as RpcHandler, { middleware }),
  );
  return async (request) => await handle(request);
}

async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    return errorBodyOf(error).code;
  }
  throw new Error("it did not throw");
}

Deno.test({
  ...opts,
  name:
    "Router.ofMethods() routes by the type property, and its routes decode JSON arguments",
  async fn() {
    const handle = methods({
      add: ({ a, b }: { a: number; b: number }) => a + b,
      echo: (text: string) => text,
    });
    const json = { contentType: "application/json" };
    assert.equal(
      await handle(request('{"a":1,"b":2}', { ...json, type: "add" })),
      3,
    );
    assert.equal(await handle(request("hi", { type: "echo" })), "hi");
    assert.equal(
      await codeOf(() => handle(request("1", { ...json, type: "mul" }))),
      "METHOD_NOT_FOUND",
    );
    // Two methods and no default: a request naming none has no method.
    assert.equal(await codeOf(() => handle(request("1"))), "METHOD_NOT_FOUND");
    assert.equal(
      await codeOf(() => handle(request("{", { ...json, type: "add" }))),
      "INVALID_ARGUMENT",
    );
  },
});

Deno.test({
  ...opts,
  name:
    "Router.ofMethods() gives requests without a method to the default method, or to the only one",
  async fn() {
    const only = methods({
      upper: (text: string) => text.toUpperCase(),
    });
    assert.equal(await only(request("abc")), "ABC");
    const chosen = methods({
      upper: (text: string) => text.toUpperCase(),
      lower: (text: string) => text.toLowerCase(),
    }, { defaultMethod: "lower" });
    assert.equal(await chosen(request("ABC")), "abc");
    // An empty type is no method too.
    assert.equal(await chosen(request("ABC", { type: "" })), "abc");
  },
});

Deno.test({
  ...opts,
  name: "Router.ofMethods() refuses bad method tables with TypeError",
  fn() {
    assert.throws(() => Router.ofMethods({}), TypeError);
    assert.throws(
      () =>
        Router.ofMethods({ a: "x" } as unknown as Record<string, () => void>),
      TypeError,
    );
    assert.throws(
      () => Router.ofMethods({ a: () => 1 }, { defaultMethod: "b" }),
      /defaultMethod "b" is not one of its methods \(a\)/,
    );
    assert.throws(() => Router.ofMethods({ "": () => 1 }), TypeError);
  },
});

Deno.test({
  ...opts,
  name:
    "middleware runs outermost first, and may refuse a request or replace its result",
  async fn() {
    const seen: string[] = [];
    const handle = withMiddleware([
      async (_request, next) => {
        seen.push("a in");
        const result = await next();
        seen.push("a out");
        return `${result}!`;
      },
      async (request, next) => {
        seen.push("b in");
        if (request.text() === "stop") {
          throw new HandlerError("PERMISSION_DENIED", "no");
        }
        const result = await next();
        seen.push("b out");
        return result;
      },
    ], (request) => {
      seen.push("handler");
      return request.text().toUpperCase();
    });
    assert.equal(await handle(request("go")), "GO!");
    assert.deepEqual(seen, ["a in", "b in", "handler", "b out", "a out"]);
    assert.equal(
      await codeOf(() => handle(request("stop"))),
      "PERMISSION_DENIED",
    );
    const twice = withMiddleware([async (_r, next) => {
      await next();
      return await next();
    }], () => 1);
    await assert.rejects(twice(request("")), /next\(\) called more than once/);
    assert.throws(
      () => withMiddleware([1 as unknown as ServerMiddleware], () => 1),
      TypeError,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "serviceOfModule() takes exported functions as methods and leaves constants and classes alone",
  fn() {
    class Helper {}
    const service = serviceOfModule({
      add: (x: number) => x + 1,
      defaultMethod: "add",
      middleware: [(_r: RpcRequest, next: () => Promise<unknown>) => next()],
      VERSION: "1",
      Helper,
      default: () => "not a method",
    });
    assert.deepEqual(Object.keys(service.methods), ["add"]);
    assert.equal(service.defaultMethod, "add");
    assert.equal(service.middleware?.length, 1);
    assert.throws(
      () => serviceOfModule({ VERSION: "1" }),
      /exports no function/,
    );
    assert.throws(
      () => serviceOfModule({ f: () => 1, defaultMethod: 1 }),
      /defaultMethod must be a string/,
    );
    assert.throws(
      () => serviceOfModule({ f: () => 1, middleware: () => 1 }),
      /middleware must be an array/,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "encodeValue() and decodeValue() carry strings as text, bytes as bytes, the rest as JSON",
  fn() {
    const roundTrip = (value: unknown) => {
      const { body, contentType } = encodeValue(value);
      const bytes = typeof body === "string" ? encoder.encode(body) : body;
      return decodeValue(bytes, contentType);
    };
    for (
      const value of ["text", "", 0, 1.5, true, null, [1, "a"], { a: { b: 1 } }]
    ) {
      assert.deepEqual(roundTrip(value), value);
    }
    assert.equal(roundTrip(undefined), undefined);
    assert.deepEqual(roundTrip(new Uint8Array([1, 2])), new Uint8Array([1, 2]));
    assert.deepEqual(
      roundTrip(new Uint16Array([1])),
      new Uint8Array(new Uint16Array([1]).buffer),
    );
    assert.throws(() => encodeValue(1n), TypeError);
    assert.throws(() => encodeValue(() => 1), TypeError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.throws(() => encodeValue(cycle), TypeError);
    assert.equal(bodyKindOf("application/vnd.api+json"), "json");
    assert.equal(bodyKindOf("Application/JSON; charset=utf-8"), "json");
    assert.equal(bodyKindOf("text/csv"), "text");
    assert.equal(bodyKindOf(""), "text");
    assert.equal(bodyKindOf("application/octet-stream"), "bytes");
    assert.throws(
      () => decodeValue(encoder.encode("{"), "application/json"),
      SyntaxError,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "parseTraceparent() accepts W3C traceparents and ignores malformed ones",
  fn() {
    const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert.deepEqual(parseTraceparent(valid), {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      flags: 1,
      sampled: true,
    });
    // A later version may add fields.
    assert.ok(parseTraceparent(`01-${valid.slice(3)}-extra`));
    for (
      const bad of [
        undefined,
        42,
        "",
        valid.toUpperCase(),
        `ff-${valid.slice(3)}`,
        `${valid}-extra`,
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
      ]
    ) {
      assert.equal(parseTraceparent(bad), undefined, String(bad));
    }
    const fresh = parseTraceparent(newTraceparent());
    assert.ok(fresh?.sampled);
    assert.notEqual(newTraceparent(), newTraceparent());
    assert.equal(
      formatTraceparent({ ...fresh!, sampled: false }).slice(-3),
      "-00",
    );
    assert.throws(
      () => formatTraceparent({ traceId: "x", spanId: "y" }),
      TypeError,
    );
    // The handler sees it on the request.
    const seen = request("", { headers: { traceparent: valid } });
    assert.equal(seen.traceparent, valid);
    assert.equal(seen.trace?.spanId, "00f067aa0ba902b7");
    assert.equal(
      request("", { headers: { traceparent: "junk" } }).trace,
      undefined,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "formatLogger() writes text or JSON lines at or above its level, with passwords hidden",
  fn() {
    const lines: string[] = [];
    const text = formatLogger({
      level: "info",
      write: (line) => lines.push(line),
    });
    text.debug("hidden");
    text.info("Connected to amqp://app:secret@host", { queue: "a b", n: 1 });
    text.error("failed", { error: new RangeError("boom") });
    assert.deepEqual(lines, [
      'info: Connected to amqp://app:***@host queue="a b" n=1',
      'error: failed error="RangeError: boom"',
    ]);
    lines.length = 0;
    const json = formatLogger({
      format: "json",
      level: "debug",
      write: (line) => lines.push(line),
      now: () => new Date(0),
    });
    json.debug("detail", { big: 1n, none: undefined });
    assert.deepEqual(JSON.parse(lines[0]), {
      time: "1970-01-01T00:00:00.000Z",
      level: "debug",
      msg: "detail",
      big: "1",
    });
    assert.throws(
      () => formatLogger({ level: "loud" as "info", write: () => {} }),
      TypeError,
    );
    assert.throws(
      () => formatLogger({ format: "xml" as "json", write: () => {} }),
      TypeError,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "requestLogMiddleware() says the tutorial's line per request and logs its outcome at debug",
  async fn() {
    const said: string[] = [];
    const debug: Record<string, unknown>[] = [];
    const logger = formatLogger({
      format: "json",
      level: "debug",
      write: (line) => debug.push(JSON.parse(line)),
    });
    const answer = (args: unknown) => {
      if (args === "bad") throw new RangeError("too big");
      return "ok";
    };
    const handle = methods({ fib: answer, add: answer }, {
      defaultMethod: "fib",
      middleware: [
        requestLogMiddleware({
          logger,
          say: (line) => said.push(line),
          detail: true,
        }),
      ],
    });
    await handle(request(" 30\n"));
    await assert.rejects(
      async () => await handle(request("bad", { type: "add" })),
      RangeError,
    );
    await handle(request("x", { contentType: "image/png" }));
    assert.deepEqual(said, [
      " [.] fib(30)",
      " [.] add(bad)",
      " [.] fib(<1 bytes>)",
    ]);
    assert.deepEqual(
      debug.map((line) => [line.method, line.outcome]),
      [["fib", "ok"], ["add", "OUT_OF_RANGE"], ["fib", "ok"]],
    );
  },
});

Deno.test({
  ...opts,
  name:
    "errorBodyOf() keeps the code of a HandlerError from another copy of the library",
  fn() {
    class HandlerError extends Error {
      code = "PERMISSION_DENIED";
      override name = "HandlerError";
    }
    assert.equal(errorBodyOf(new HandlerError("no")).code, "PERMISSION_DENIED");
  },
});

Deno.test({
  ...opts,
  name:
    "decodeValue() reads a text body in its charset, and refuses one it does not know",
  fn() {
    assert.equal(
      decodeValue(
        new Uint8Array([0x63, 0x61, 0x66, 0xe9]),
        "text/plain; charset=ISO-8859-1",
      ),
      "café",
    );
    assert.throws(
      () => decodeValue(new Uint8Array([1]), 'text/plain; charset="x-bogus"'),
      RangeError,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "formatLogger() text lines escape control characters, so a caller cannot forge a line",
  fn() {
    const lines: string[] = [];
    const logger = formatLogger({ write: (line) => lines.push(line) });
    logger.info("Handled\nerror: forged", {
      correlation_id: "a\u001b[31m",
      method: "x\ny",
    });
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0], /\p{Cc}/u);
    assert.equal(
      lines[0],
      'info: Handled\\u000aerror: forged correlation_id="a\\u001b[31m" method="x\\ny"',
    );
  },
});

Deno.test({
  ...opts,
  name:
    "a request for an unknown method has no route, so no middleware runs for it; a middleware that forgets to wait for next() crashes nothing",
  async fn() {
    const seen: string[] = [];
    const handle = methods({
      ok: () => "fine",
      fails: () => Promise.reject(new Error("late failure")),
    }, {
      middleware: [(request, next) => {
        seen.push(request.method ?? "");
        // Not awaited, not returned: a bug in the middleware.
        next();
        return "early";
      }],
    });
    assert.equal(
      await codeOf(() => handle(request("", { type: "missing" }))),
      "METHOD_NOT_FOUND",
    );
    assert.deepEqual(seen, []);
    assert.equal(await handle(request("", { type: "ok" })), "early");
    // The method's failure comes after the middleware returned: it must
    // not surface as an unhandled rejection (which would fail this test).
    assert.equal(await handle(request("", { type: "fails" })), "early");
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(seen, ["ok", "fails"]);
  },
});

Deno.test({
  ...opts,
  name:
    "a middleware that calls next() twice without waiting gets a refusal, and crashes nothing",
  async fn() {
    const handle = withMiddleware([(_request, next) => {
      const first = next();
      next(); // a bug: refused, and its refusal is not left unhandled
      return first;
    }], () => "once");
    assert.equal(await handle(request("")), "once");
    await new Promise((resolve) => setTimeout(resolve, 0));
  },
});

Deno.test({
  ...opts,
  name: "RpcMessage.text() reads the body in the charset of its content type",
  fn() {
    const latin = new RpcRequest(new Uint8Array([0x63, 0xe9]), {
      contentType: "text/plain; charset=iso-8859-1",
    }, { signal: new AbortController().signal });
    assert.equal(latin.text(), "cé");
    const unknown = new RpcRequest(encoder.encode("é"), {
      contentType: "text/plain; charset=x-nothing",
    }, { signal: new AbortController().signal });
    assert.equal(unknown.text(), "é");
  },
});
