/**
 * The worker's decisions, without I/O: every outcome of `admit` (a request
 * that arrives) and `conclude` (a request whose reply is known).
 */

import assert from "node:assert/strict";
import { textOf } from "../_fake_worker_transport.ts";
import { DEADLINE_HEADER } from "../../lib/protocol/request.ts";
import type { Reply } from "../../lib/protocol/reply.ts";
import {
  admit,
  conclude,
  type Policy,
  type RefuseAdmission,
} from "../../lib/worker/_decide.ts";
import { loadFingerprints, ReplyCache } from "../../lib/worker/_reply_cache.ts";
import { ReplyToGuard } from "../../lib/worker/_reply_to_guard.ts";
import { Router } from "../../lib/worker/_router.ts";
import type { Delivery } from "../../lib/worker/transport.ts";
import type { MessageProperties } from "../../lib/protocol/properties.ts";

const NOW = 1_700_000_000_000;
/** A direct reply-to address of a node that decodes well. */
const DIRECT =
  "amq.rabbitmq.reply-to.g1h2AA1yZXBseUA5MjQ4ODg0AAB/7gAAAAFrCWXt.PbeAjZZTwwEvu4TKSP19Yw==";
// What a worker loads before it consumes.
await loadFingerprints();

const IDEMPOTENT = { messageId: "m-1", headers: { "x-idempotent": true } };

function policy(overrides: Partial<Policy> = {}): Policy {
  return {
    queue: "calc",
    router: Router.ofMethods({ add: () => 0, fib: () => 0 }, {
      defaultMethod: "fib",
    }),
    maxRequestBytes: 100,
    cache: new ReplyCache(10),
    replyTo: new ReplyToGuard(),
    deliveryLimit: undefined,
    ...overrides,
  };
}

function delivery(
  properties: MessageProperties = {},
  bodySize = 2,
): Delivery {
  return {
    body: new Uint8Array(bodySize),
    bodySize,
    redelivered: false,
    properties: { replyTo: "amq.gen-1", correlationId: "c-1", ...properties },
  };
}

function refused(admission: ReturnType<typeof admit>): RefuseAdmission {
  assert.equal(admission.kind, "refuse");
  return admission as RefuseAdmission;
}

const ok: Reply = { body: "3", contentType: "text/plain" };
const internal: Reply = {
  body: "{}",
  contentType: "application/json",
  errorCode: "INTERNAL",
};

Deno.test("admit() drops a request without reply_to: nobody could read a reply", () => {
  for (const replyTo of [undefined, ""]) {
    const admission = admit(delivery({ replyTo }), NOW, policy());
    assert.deepEqual(admission, { kind: "drop", reason: "no reply_to" });
  }
});

Deno.test("admit() drops a request whose reply_to or correlation_id cannot be answered", () => {
  const cases: MessageProperties[] = [
    // More than a short string holds, once encoded again.
    { replyTo: "é".repeat(200) },
    { correlationId: "é".repeat(200) },
    // A direct reply-to address that decodes to no node.
    { replyTo: "amq.rabbitmq.reply-to.abc.def" },
  ];
  for (const properties of cases) {
    assert.deepEqual(admit(delivery(properties), NOW, policy()), {
      kind: "drop",
      reason: "unanswerable",
    });
  }
});

Deno.test("admit() drops a request to a direct reply-to node a probe found unknown", async () => {
  const guard = new ReplyToGuard();
  assert.equal(
    admit(delivery({ replyTo: DIRECT }), NOW, policy({ replyTo: guard }))
      .kind,
    "run",
  );
  await guard.probe(DIRECT, () => Promise.resolve(false));
  assert.equal(
    admit(delivery({ replyTo: DIRECT }), NOW, policy({ replyTo: guard }))
      .kind,
    "drop",
  );
});

Deno.test("admit() refuses a request past its deadline with DEADLINE_EXCEEDED, counted as expired", () => {
  const admission = refused(
    admit(delivery({ headers: { [DEADLINE_HEADER]: NOW } }), NOW, policy()),
  );
  assert.equal(admission.reason, "expired");
  assert.equal(admission.reply.errorCode, "DEADLINE_EXCEEDED");
  assert.equal(admission.route?.name, "fib");
  // A millisecond to go: it runs.
  assert.equal(
    admit(delivery({ headers: { [DEADLINE_HEADER]: NOW + 1 } }), NOW, policy())
      .kind,
    "run",
  );
});

Deno.test("admit() refuses a request over maxRequestBytes with TOO_LARGE, naming both sizes", () => {
  const admission = refused(admit(delivery({}, 101), NOW, policy()));
  assert.equal(admission.reason, "too large");
  assert.equal(admission.reply.errorCode, "TOO_LARGE");
  assert.match(textOf(admission.reply), /101 bytes; the limit is 100/);
  assert.equal(admit(delivery({}, 100), NOW, policy()).kind, "run");
});

Deno.test("admit() refuses an unknown method with METHOD_NOT_FOUND, which does not list the methods", () => {
  const admission = refused(admit(delivery({ type: "mul" }), NOW, policy()));
  assert.equal(admission.reason, "no such method");
  assert.equal(admission.reply.errorCode, "METHOD_NOT_FOUND");
  assert.equal(admission.route, undefined);
  assert.match(textOf(admission.reply), /No method \\"mul\\" on \\"calc\\"/);
  assert.doesNotMatch(textOf(admission.reply), /add/);
  // Two methods and no default: a request naming none has no method.
  const noDefault = policy({
    router: Router.ofMethods({ add: () => 0, fib: () => 0 }),
  });
  assert.match(
    textOf(refused(admit(delivery(), NOW, noDefault)).reply),
    /names no method/,
  );
});

Deno.test("admit() checks in order: unanswerable, then the deadline, then the size, then the method", () => {
  const late = { [DEADLINE_HEADER]: NOW - 1 };
  assert.equal(
    admit(delivery({ replyTo: "", headers: late }, 500), NOW, policy()).kind,
    "drop",
  );
  assert.equal(
    refused(admit(delivery({ headers: late, type: "x" }, 500), NOW, policy()))
      .reason,
    "expired",
  );
  assert.equal(
    refused(admit(delivery({ type: "x" }, 500), NOW, policy())).reason,
    "too large",
  );
});

Deno.test("admit() runs a routed request with the same decision object every time: no allocation", () => {
  const rules = policy();
  const first = admit(delivery({ type: "add" }), NOW, rules);
  const second = admit(delivery({ type: "add" }), NOW, rules);
  assert.equal(first.kind, "run");
  assert.equal(first, second);
  assert.deepEqual(
    first.kind === "run" && [first.route.name, first.remember],
    ["add", undefined],
  );
  // Naming none: the default method's route.
  const byDefault = admit(delivery(), NOW, rules);
  assert.equal(byDefault.kind === "run" && byDefault.route.name, "fib");
});

/** Admits `request` and, if it runs, remembers `reply` as its reply. */
function remember(rules: Policy, request: Delivery, reply: Reply): void {
  const admission = admit(request, NOW, rules);
  assert.ok(admission.kind === "run" && admission.remember);
  const { key, fingerprint } = admission.remember;
  rules.cache.set(key, fingerprint, Promise.resolve(reply));
}

Deno.test("admit() remembers the reply of an idempotent call, and answers its repeat from the cache", async () => {
  const rules = policy();
  remember(rules, delivery(IDEMPOTENT), ok);
  const repeat = admit(delivery(IDEMPOTENT), NOW, rules);
  assert.equal(repeat.kind, "reuse");
  assert.equal(repeat.kind === "reuse" && await repeat.reply, ok);
  // The header without a message id, or a message id without the header:
  // not an idempotent call.
  for (
    const properties of [
      { headers: { "x-idempotent": true } },
      { messageId: "m-1" },
    ]
  ) {
    const admission = admit(delivery(properties), NOW, rules);
    assert.equal(admission.kind === "run" && admission.remember, undefined);
  }
});

Deno.test("admit() keeps each caller's idempotency keys to itself: another user's repeat of a key runs anew", () => {
  const rules = policy();
  remember(rules, delivery({ ...IDEMPOTENT, userId: "alice" }), ok);
  for (const userId of ["mallory", undefined]) {
    const other = admit(delivery({ ...IDEMPOTENT, userId }), NOW, rules);
    assert.equal(other.kind, "run");
  }
  assert.equal(
    admit(delivery({ ...IDEMPOTENT, userId: "alice" }), NOW, rules).kind,
    "reuse",
  );
});

Deno.test("admit() refuses a key reused for another method or another body, naming the key", () => {
  const rules = policy();
  remember(rules, delivery({ ...IDEMPOTENT, type: "add" }), ok);
  const otherMethod = refused(
    admit(delivery({ ...IDEMPOTENT, type: "fib" }), NOW, rules),
  );
  assert.equal(otherMethod.reason, "reused key");
  assert.equal(otherMethod.reply.errorCode, "INVALID_ARGUMENT");
  assert.match(
    JSON.parse(new TextDecoder().decode(otherMethod.reply.body as Uint8Array))
      .message,
    /"m-1"/,
  );
  const otherBody = refused(
    admit(delivery({ ...IDEMPOTENT, type: "add" }, 3), NOW, rules),
  );
  assert.equal(otherBody.reason, "reused key");
});

Deno.test("conclude() acks a request once its reply is known", () => {
  assert.equal(conclude(delivery(), ok, policy()), "ack");
  // An argument error is never tried again.
  const invalid = { ...internal, errorCode: "INVALID_ARGUMENT" };
  assert.equal(
    conclude(delivery(IDEMPOTENT), invalid, policy({ deliveryLimit: 5 })),
    "ack",
  );
});

Deno.test("conclude() requeues a request whose handler stopped because the worker is closing", () => {
  assert.equal(conclude(delivery(), undefined, policy()), "requeue");
});

Deno.test("conclude() retries a failed idempotent request below the delivery limit, and parks its last try", () => {
  const rules = policy({ deliveryLimit: 2 });
  const tried = (count: number) =>
    delivery({
      ...IDEMPOTENT,
      headers: { ...IDEMPOTENT.headers, "x-delivery-count": count },
    });
  assert.equal(conclude(delivery(IDEMPOTENT), internal, rules), "retry");
  assert.equal(conclude(tried(1), internal, rules), "retry");
  assert.equal(conclude(tried(2), internal, rules), "park");
  assert.equal(conclude(tried(3), internal, rules), "park");
});

Deno.test("conclude() never retries a call that is not idempotent, or on a queue without a delivery limit", () => {
  assert.equal(
    conclude(delivery(), internal, policy({ deliveryLimit: 2 })),
    "ack",
  );
  assert.equal(conclude(delivery(IDEMPOTENT), internal, policy()), "ack");
});

Deno.test("conclude() never hands back again a redelivery the broker did not count: its queue counts nothing", () => {
  const uncounted = { ...delivery(IDEMPOTENT), redelivered: true };
  assert.equal(
    conclude(uncounted, internal, policy({ deliveryLimit: 5 })),
    "ack",
  );
});
