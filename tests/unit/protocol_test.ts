import assert from "node:assert/strict";
import { HandlerError, ProtocolError, RemoteError } from "../../lib/errors.ts";
import {
  decodeErrorReply,
  encodeErrorBody,
  errorBodyOf,
} from "../../lib/protocol/error_reply.ts";
import { deadlineOf } from "../../lib/protocol/request.ts";
import {
  identityOf,
  maskUrl,
  urlList,
  withDefaults,
} from "../../lib/amqp/url.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  ...opts,
  name: "errorBodyOf() maps handler errors to protocol codes",
  fn() {
    assert.equal(errorBodyOf(new TypeError("t")).code, "INVALID_ARGUMENT");
    assert.equal(errorBodyOf(new RangeError("r")).code, "OUT_OF_RANGE");
    assert.equal(errorBodyOf(new Error("e")).code, "INTERNAL");
    assert.equal(errorBodyOf("a string").code, "INTERNAL");
    // Never throws, even for a value that cannot be turned into a string.
    assert.equal(errorBodyOf(Object.create(null)).code, "INTERNAL");
    assert.deepEqual(errorBodyOf(new HandlerError("TOO_LARGE", "big")), {
      code: "TOO_LARGE",
      name: "HandlerError",
      message: "big",
    });
  },
});

Deno.test({
  ...opts,
  name: "an encoded error body decodes to the same RemoteError",
  fn() {
    const body = encodeErrorBody({
      code: "OUT_OF_RANGE",
      name: "RangeError",
      message: "n ≤ 10",
    });
    const error = decodeErrorReply("OUT_OF_RANGE", body);
    assert.ok(error instanceof RemoteError);
    assert.equal(error.code, "OUT_OF_RANGE");
    assert.equal(error.remoteName, "RangeError");
    assert.equal(error.message, "n ≤ 10");
  },
});

Deno.test({
  ...opts,
  name:
    "decodeErrorReply() gives ProtocolError for bodies that are not a JSON object",
  fn() {
    const enc = (s: string) => new TextEncoder().encode(s);
    assert.ok(
      decodeErrorReply("INTERNAL", enc("nope")) instanceof ProtocolError,
    );
    assert.ok(decodeErrorReply("INTERNAL", enc("42")) instanceof ProtocolError);
    assert.ok(
      decodeErrorReply("INTERNAL", enc("null")) instanceof ProtocolError,
    );
    const partial = decodeErrorReply("INTERNAL", enc("{}"));
    assert.ok(partial instanceof RemoteError);
    assert.equal(partial.code, "INTERNAL");
  },
});

Deno.test({
  ...opts,
  name:
    "deadlineOf() reads integer and decimal-string deadlines and ignores the rest",
  fn() {
    assert.equal(
      deadlineOf({ "x-deadline": 1_700_000_000_000 }),
      1_700_000_000_000,
    );
    assert.equal(
      deadlineOf({ "x-deadline": 1_700_000_000_000n }),
      1_700_000_000_000,
    );
    assert.equal(
      deadlineOf({ "x-deadline": "1700000000000" }),
      1_700_000_000_000,
    );
    assert.equal(deadlineOf(undefined), undefined);
    assert.equal(deadlineOf({}), undefined);
    for (const bad of ["soon", -1, 1.5, true, null, {}, "1e12", 2 ** 60]) {
      assert.equal(deadlineOf({ "x-deadline": bad }), undefined, String(bad));
    }
  },
});

Deno.test({
  ...opts,
  name: "maskUrl() hides passwords and keeps the rest",
  fn() {
    assert.equal(maskUrl("amqp://u:secret@h:5672/v"), "amqp://u:***@h:5672/v");
    assert.equal(
      maskUrl("failed amqps://a:p1@x,amqp://b:p2@y"),
      "failed amqps://a:***@x,amqp://b:***@y",
    );
    assert.equal(maskUrl("amqp://h:5672"), "amqp://h:5672");
  },
});

Deno.test({
  ...opts,
  name: "urlList() splits lists and rejects URLs that are not AMQP",
  fn() {
    assert.deepEqual(urlList("amqp://a, amqps://b"), ["amqp://a", "amqps://b"]);
    assert.deepEqual(urlList(["amqp://a"]), ["amqp://a"]);
    assert.equal(urlList(undefined).length, 1);
    assert.throws(() => urlList("http://a"), TypeError);
    assert.throws(() => urlList(""), TypeError);
    assert.throws(
      () => urlList("not a url:secret@"),
      (err: Error) =>
        err instanceof TypeError && !err.message.includes("secret"),
    );
  },
});

Deno.test({
  ...opts,
  name:
    "withDefaults() adds a heartbeat, frame size and name unless the URL sets them",
  fn() {
    const url = new URL(withDefaults("amqp://h", "client"));
    assert.equal(url.searchParams.get("heartbeat"), "10");
    assert.equal(url.searchParams.get("frameMax"), "131072");
    assert.equal(url.searchParams.get("name"), "client");
    const own = new URL(withDefaults("amqp://h?heartbeat=0&name=x", "client"));
    assert.equal(own.searchParams.get("heartbeat"), "0");
    assert.equal(own.searchParams.get("name"), "x");
    assert.deepEqual(identityOf("amqps://bob:pw@h/prod"), {
      user: "bob",
      vhost: "prod",
      address: "h:5671",
    });
  },
});
