/**
 * Methods with runtime contracts (`method()` with Standard Schema schemas),
 * without a broker: the same facts with zod, valibot and arktype.
 */

import assert from "node:assert/strict";
import {
  contractOf,
  HandlerError,
  method,
  RemoteError,
  type ServerMiddleware,
  type ServiceClient,
  type StandardSchema,
} from "../../mod.ts";
import { MAX_ISSUES } from "../../lib/contract/issues.ts";
import { decodeErrorReply } from "../../lib/protocol/error_reply.ts";
import { methodCaller } from "../../lib/client/service.ts";
import type { RpcReply } from "../../lib/protocol/message.ts";
import { fakeWorker, textOf } from "../_fake_worker_transport.ts";
import { type, v, z } from "../deps.ts";
import * as calc from "../fixtures/checked_calc_service.ts";

const JSON_BODY = { contentType: "application/json" };

/** `{ a: number, b: number }` and `number` in each library. */
const LIBRARIES: Record<
  string,
  {
    pair: StandardSchema<{ a: number; b: number }>;
    number: StandardSchema<number>;
  }
> = {
  zod: { pair: z.object({ a: z.number(), b: z.number() }), number: z.number() },
  valibot: {
    pair: v.object({ a: v.number(), b: v.number() }),
    number: v.number(),
  },
  arktype: { pair: type({ a: "number", b: "number" }), number: type("number") },
};

async function reply(
  worker: Awaited<ReturnType<typeof fakeWorker>>,
  methodName: string,
  body: string,
) {
  return (await worker.transport.deliver({
    body,
    properties: { ...JSON_BODY, type: methodName },
  })).reply;
}

for (const [library, schemas] of Object.entries(LIBRARIES)) {
  Deno.test(`${library}: a call that fits the input schema runs; one that does not is INVALID_ARGUMENT listing the path of each problem`, async () => {
    let runs = 0;
    const add = method(
      { input: schemas.pair, output: schemas.number },
      ({ a, b }) => {
        runs++;
        return a + b;
      },
    );
    await using worker = await fakeWorker({ methods: { add } });
    assert.equal(textOf(await reply(worker, "add", '{"a":1,"b":2}')), "3");
    const bad = await reply(worker, "add", '{"a":"x"}');
    assert.equal(bad?.errorCode, "INVALID_ARGUMENT");
    const error = decodeErrorReply("INVALID_ARGUMENT", bad!.body as Uint8Array);
    assert.ok(error instanceof RemoteError);
    assert.deepEqual(
      error.issues.map((issue) => issue.path).sort(),
      [["a"], ["b"]],
    );
    assert.match(error.message, /^Invalid arguments: /);
    assert.match(error.message, /\ba: /);
    assert.match(error.message, /\bb: /);
    const array = await reply(worker, "add", "[1,2]");
    assert.equal(array?.errorCode, "INVALID_ARGUMENT");
    assert.equal(runs, 1);
  });

  Deno.test(`${library}: a result that fails the output schema is INTERNAL, its message kept for the worker's log`, async () => {
    const lines: string[] = [];
    const broken = method(
      { input: schemas.number, output: schemas.number },
      // deno-lint-ignore no-explicit-any -- the bug under test
      (n) => String(n) as any,
    );
    await using worker = await fakeWorker({
      methods: { broken },
      logger: {
        debug: () => {},
        info: () => {},
        warn: () => {},
        error: (line) => lines.push(line),
      },
    });
    const failed = await reply(worker, "broken", "1");
    assert.equal(failed?.errorCode, "INTERNAL");
    assert.doesNotMatch(textOf(failed), /output schema/);
    assert.ok(lines.some((line) => /output schema/.test(line)), lines.join());
  });
}

Deno.test("a caller the middleware refuses learns nothing of the schema", async () => {
  const add = method({ input: z.object({ secret: z.string() }) }, () => 0);
  const refuse: ServerMiddleware = () => {
    throw new HandlerError("PERMISSION_DENIED", "No");
  };
  await using worker = await fakeWorker({
    methods: { add },
    middleware: [refuse],
  });
  const refused = await reply(worker, "add", "{}");
  assert.equal(refused?.errorCode, "PERMISSION_DENIED");
  assert.doesNotMatch(textOf(refused), /secret|issues/);
});

Deno.test("an error reply carries at most MAX_ISSUES issues, each bounded, whatever the worker sends", () => {
  const issues = Array.from({ length: 1000 }, (_, i) => ({
    path: ["x".repeat(10_000), i, { no: 1 }],
    message: "m".repeat(10_000),
  }));
  const body = new TextEncoder().encode(
    JSON.stringify({ name: "HandlerError", message: "bad", issues }),
  );
  const error = decodeErrorReply("INVALID_ARGUMENT", body) as RemoteError;
  assert.equal(error.issues.length, MAX_ISSUES);
  // Cut to their bound, and a marker that says how much is left out.
  const MARKER = 40;
  assert.ok(
    error.issues.every((issue) =>
      issue.path.length === 2 &&
      String(issue.path[0]).length <= 64 + MARKER &&
      issue.message.length <= 256 + MARKER
    ),
  );
});

Deno.test("a client given the service's contracts checks arguments before sending, and sends nothing that fails", async () => {
  const sent: string[] = [];
  const caller = {
    call(_queue: string, body: string | Uint8Array): Promise<RpcReply> {
      sent.push(String(body));
      return Promise.reject(new Error("not under test"));
    },
  };
  const add = methodCaller<unknown, number>(caller, {
    queue: "calc",
    name: "add",
    input: LIBRARIES.zod.pair,
  });
  await assert.rejects(add({ a: "x", b: 2 }), (error) => {
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /^Invalid arguments for "add" on "calc": a: /);
    return true;
  });
  assert.deepEqual(sent, []);
  await assert.rejects(add({ a: 1, b: 2 }), /not under test/);
  assert.equal(sent.length, 1);
});

Deno.test("method() refuses what is not a Standard Schema, and a handler that is not a function", () => {
  // deno-lint-ignore no-explicit-any -- wrong on purpose
  const wrong = method as any;
  assert.throws(() => wrong({ input: {} }, () => 0), TypeError);
  assert.throws(() => wrong({ input: z.number() }, "x"), TypeError);
});

Deno.test("typed clients take argument and result types from the schemas (checked by deno check)", () => {
  type Calc = ServiceClient<typeof calc>;
  const typed = (client: Calc) => {
    const sum: Promise<number> = client.add({ a: 1, b: 2 });
    // @ts-expect-error: a must be a number, as the input schema says
    client.add({ a: "x", b: 2 });
    // @ts-expect-error: sum takes numbers
    client.sum(["1"]);
    return sum;
  };
  assert.equal(typeof typed, "function");
  assert.ok(contractOf(calc.add)?.input);
  assert.equal(contractOf((n: number) => n), undefined);
});
