import assert from "node:assert/strict";
import { fib, MAX_FIB_N } from "../../services/fib/fib.ts";
import { fibHandler } from "../../services/fib/method.ts";
import { parseFibRequest } from "../../services/fib/parse.ts";
import { HandlerError } from "../../lib/errors.ts";
import { RpcRequest } from "../../lib/protocol/message.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test({
  ...opts,
  name: "fib() agrees with the recurrence for the first 500 numbers",
  fn() {
    let a = 0n;
    let b = 1n;
    for (let n = 0; n < 500; n++) {
      assert.equal(fib(n), a, `fib(${n})`);
      [a, b] = [b, a + b];
    }
  },
});

Deno.test({
  ...opts,
  name: "fib(30) is 832040 and fib(10000) has 2,090 digits",
  fn() {
    assert.equal(fib(30), 832040n);
    const big = fib(10_000).toString();
    assert.equal(big.length, 2090);
    assert.ok(big.endsWith("0701794976171121233066073310059947366875"));
    assert.ok(big.startsWith(
      "3364476487643178326662161200510754331030214846068006390656476997468008144216666236815559551363373402",
    ));
  },
});

Deno.test({
  ...opts,
  name: "fib() throws RangeError for negative, fractional and too large n",
  fn() {
    assert.throws(() => fib(-1), RangeError);
    assert.throws(() => fib(1.5), RangeError);
    assert.throws(() => fib(NaN), RangeError);
    assert.throws(() => fib(MAX_FIB_N + 1), RangeError);
  },
});

Deno.test({
  ...opts,
  name: "parseFibRequest() accepts digits with ASCII whitespace around",
  fn() {
    assert.equal(parseFibRequest(bytes("30")), 30);
    assert.equal(parseFibRequest(bytes(" \t30\r\n")), 30);
    assert.equal(parseFibRequest(bytes("0")), 0);
    assert.equal(parseFibRequest(bytes("000042")), 42);
    assert.equal(parseFibRequest(bytes("100000")), 100_000);
    assert.equal(parseFibRequest(bytes("7"), { maxN: 7 }), 7);
  },
});

function rejects(body: string | Uint8Array, code: string, maxN?: number) {
  const input = typeof body === "string" ? bytes(body) : body;
  assert.throws(
    () => parseFibRequest(input, { maxN }),
    (err) => {
      assert.ok(err instanceof HandlerError, `${err}`);
      assert.equal(err.code, code, `${JSON.stringify(body)}: ${err.message}`);
      return true;
    },
  );
}

Deno.test({
  ...opts,
  name:
    "parseFibRequest() rejects what is not a decimal integer with INVALID_ARGUMENT",
  fn() {
    for (
      const body of [
        "",
        "   ",
        "abc",
        "3.5",
        "1e3",
        "+5",
        "0x10",
        "3 0",
        "٣",
        "30\u00a0",
        "\u000b30",
        "-",
        "- 5",
        "30abc",
        "NaN",
        "Infinity",
      ]
    ) rejects(body, "INVALID_ARGUMENT");
    rejects(new Uint8Array([0xff, 0xfe, 0x00, 0x31]), "INVALID_ARGUMENT");
    rejects(new Uint8Array([0x33, 0x00]), "INVALID_ARGUMENT");
  },
});

Deno.test({
  ...opts,
  name: "parseFibRequest() rejects negative and too large n with OUT_OF_RANGE",
  fn() {
    rejects("-5", "OUT_OF_RANGE");
    rejects("-0", "OUT_OF_RANGE");
    rejects("100001", "OUT_OF_RANGE");
    rejects("9".repeat(5000), "OUT_OF_RANGE");
    rejects("18446744073709551617", "OUT_OF_RANGE");
    rejects("8", "OUT_OF_RANGE", 7);
  },
});

Deno.test({
  ...opts,
  name: "fibHandler() answers fib(n) in decimal",
  async fn() {
    const handler = fibHandler({ maxN: 50 });
    const request = new RpcRequest(bytes("30"), {}, {
      signal: new AbortController().signal,
    });
    assert.equal(await handler(request), "832040");
    assert.throws(() => fibHandler({ maxN: -1 }), RangeError);
  },
});

Deno.test("the fib service answers the tutorial's request whatever content type it carries", async () => {
  const { fakeWorker, textOf } = await import("../_fake_worker_transport.ts");
  const { serviceOfModule } = await import(
    "../../lib/worker/module_service.ts"
  );
  const fibService = await import("../../services/fib/mod.ts");
  await using worker = await fakeWorker(serviceOfModule(fibService));
  for (
    const contentType of [
      undefined,
      "text/plain",
      "text/plain; charset=utf-8",
      "application/octet-stream",
      "application/json",
      "application/x-anything",
    ]
  ) {
    const { reply } = await worker.transport.deliver({
      body: "30",
      properties: { contentType },
    });
    assert.equal(reply?.errorCode, undefined, String(contentType));
    assert.equal(textOf(reply), "832040", String(contentType));
  }
  // Bytes that are not a decimal are still refused, naming what came.
  const { reply } = await worker.transport.deliver({
    body: "ab",
    properties: { contentType: "application/octet-stream" },
  });
  assert.equal(reply?.errorCode, "INVALID_ARGUMENT");
  assert.match(JSON.parse(textOf(reply)).message, /got "ab"/);
});
