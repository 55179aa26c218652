/**
 * How a worker comes by its queue, without a broker: it looks first,
 * consumes what it finds, declares only what is missing, and checks only
 * what options given explicitly demand. The fake below answers
 * `queue.declare` as RabbitMQ 3.10 does (its refusals word for word, as
 * seen from the shared broker).
 */

import assert from "node:assert/strict";
import { QueueError } from "../../lib/errors.ts";
import type { HeaderValue } from "../../lib/protocol/properties.ts";
import type { QueueDeclaration } from "../../lib/protocol/queue.ts";
import { readInequivalence } from "../../lib/worker/_inequivalent.ts";
import {
  type QueueCounts,
  type QueueDeclarer,
  setUpQueue,
} from "../../lib/worker/_queue_setup.ts";
import { resolveServeOptions } from "../../lib/worker/options.ts";

/** The arguments RabbitMQ compares, in the order it compares them. */
const COMPARED = [
  "x-dead-letter-exchange",
  "x-dead-letter-routing-key",
  "x-max-length",
  "x-queue-type",
  "x-delivery-limit",
];

interface FakeQueue {
  durable: boolean;
  autoDelete: boolean;
  args: Record<string, HeaderValue>;
}

function shown(value: HeaderValue | undefined): string {
  if (value === undefined) return "none";
  const type = typeof value === "string" ? "longstr" : "signedint";
  return `the value '${value}' of type '${type}'`;
}

/** A broker's `queue.declare`, for one vhost. */
class FakeBroker implements QueueDeclarer {
  readonly queues = new Map<string, FakeQueue>();
  readonly calls: string[] = [];
  /** Runs before each declare: a race of another program. */
  before?: (passive: boolean) => void;

  declare(
    declaration: QueueDeclaration,
    passive: boolean,
  ): Promise<QueueCounts> {
    this.calls.push(`${passive ? "passive" : "declare"} ${declaration.name}`);
    this.before?.(passive);
    const name = declaration.name;
    const queue = this.queues.get(name);
    const refuse = (code: number, text: string) =>
      Promise.reject(new QueueError(name, { code, text }));
    if (queue === undefined) {
      if (passive) {
        return refuse(404, `NOT_FOUND - no queue '${name}' in vhost '/'`);
      }
      this.queues.set(name, {
        durable: declaration.durable,
        autoDelete: declaration.autoDelete ?? false,
        args: { ...declaration.arguments },
      });
      return Promise.resolve({ messageCount: 0, consumerCount: 0 });
    }
    if (passive) return Promise.resolve({ messageCount: 2, consumerCount: 1 });
    const prefix =
      `PRECONDITION_FAILED - inequivalent arg '%' for queue '${name}' in vhost '/': received `;
    for (
      const [key, ours] of [
        ["durable", declaration.durable],
        ["auto_delete", declaration.autoDelete ?? false],
      ] as const
    ) {
      const theirs = key === "durable" ? queue.durable : queue.autoDelete;
      if (ours !== theirs) {
        return refuse(
          406,
          `${prefix.replace("%", key)}'${ours}' but current is '${theirs}'`,
        );
      }
    }
    for (const key of COMPARED) {
      // RabbitMQ compares only the arguments the queue's type knows.
      if (
        key === "x-delivery-limit" && queue.args["x-queue-type"] !== "quorum"
      ) {
        continue;
      }
      const ours = declaration.arguments[key];
      const theirs = queue.args[key];
      const same = ours === theirs ||
        (key === "x-queue-type" &&
          (ours ?? "classic") === (theirs ?? "classic"));
      if (same) continue;
      const text = ours === undefined || theirs === undefined
        ? `${shown(ours)} but current is ${shown(theirs)}`
        : `'${ours}' but current is '${theirs}'`;
      return refuse(406, prefix.replace("%", key) + text);
    }
    return Promise.resolve({ messageCount: 2, consumerCount: 1 });
  }
}

function queueOf(options: Parameters<typeof resolveServeOptions>[0]) {
  return resolveServeOptions({ queue: "jobs", ...options }, () => "").queue;
}

Deno.test("RabbitMQ's refusals read as the property that differs and the queue's value", () => {
  const head =
    "PRECONDITION_FAILED - inequivalent arg 'KEY' for queue 'q' in vhost '/': received ";
  const cases: [string, string, Record<string, HeaderValue>, unknown][] = [
    [
      "x-delivery-limit",
      "none but current is the value '5' of type 'signedint'",
      {},
      5,
    ],
    [
      "x-delivery-limit",
      "'6' but current is '5'",
      { "x-delivery-limit": 6 },
      5,
    ],
    ["x-queue-type", "'classic' but current is 'quorum'", {
      "x-queue-type": "classic",
    }, "quorum"],
    [
      "x-queue-type",
      "the value 'quorum' of type 'longstr' but current is none",
      {
        "x-queue-type": "quorum",
      },
      undefined,
    ],
    ["durable", "'false' but current is 'true'", { durable: false }, true],
    [
      "x-dead-letter-routing-key",
      `none but current is the value 'it's "odd" but current is ü' of type 'longstr'`,
      {},
      `it's "odd" but current is ü`,
    ],
  ];
  for (const [key, rest, sent, current] of cases) {
    const text = head.replace("KEY", key) + rest;
    if (key === "x-dead-letter-routing-key") {
      // A value holding the separator reads wrong, never as a match: the
      // worker then cannot check and says so.
      assert.notDeepEqual(readInequivalence(text, sent), { key, current });
      continue;
    }
    assert.deepEqual(readInequivalence(text, sent), { key, current }, rest);
  }
  assert.equal(
    readInequivalence("NOT_FOUND - no queue 'q' in vhost '/'", {}),
    undefined,
  );
  assert.equal(
    readInequivalence(
      head.replace("KEY", "x-x") +
        "none but current is the value '{}' of type 'table'",
      {},
    ),
    undefined,
  );
});

Deno.test("a missing queue is declared with the worker's own options, dead-letter queue first", async () => {
  const broker = new FakeBroker();
  const state = await setUpQueue(broker, queueOf({ queueType: "quorum" }));
  assert.deepEqual(broker.calls, [
    "passive jobs",
    "declare jobs.dead-letter",
    "declare jobs",
  ]);
  assert.deepEqual(
    [state.declared, state.deliveryLimit, state.deadLetterQueue],
    [true, 5, "jobs.dead-letter"],
  );
});

Deno.test("a queue found is used as it is when no option was given explicitly: one look, no declare", async () => {
  const broker = new FakeBroker();
  broker.queues.set("jobs", {
    durable: true,
    autoDelete: false,
    args: { "x-queue-type": "quorum", "x-delivery-limit": 20 },
  });
  const state = await setUpQueue(broker, queueOf({}));
  assert.deepEqual(broker.calls, ["passive jobs"]);
  assert.deepEqual(state, {
    declared: false,
    messageCount: 2,
    consumerCount: 1,
    deliveryLimit: undefined,
    deadLetterQueue: undefined,
    checked: [],
  });
});

Deno.test("an explicit queueType is checked through the queue's other arguments, which it takes on", async () => {
  const broker = new FakeBroker();
  broker.queues.set("jobs", {
    durable: true,
    autoDelete: false,
    args: {
      "x-queue-type": "quorum",
      "x-delivery-limit": 7,
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": "elsewhere",
      "x-max-length": 100,
    },
  });
  broker.queues.set("elsewhere", {
    durable: true,
    autoDelete: false,
    args: {},
  });
  const state = await setUpQueue(broker, queueOf({ queueType: "quorum" }));
  assert.deepEqual(
    [state.declared, state.deliveryLimit, state.deadLetterQueue, state.checked],
    [false, 7, "elsewhere", ["queueType"]],
  );
  // Nothing was changed: the queue has what it had.
  assert.equal(broker.queues.get("jobs")?.args["x-delivery-limit"], 7);
});

Deno.test("an explicit option the queue does not match is refused, naming what it has and what was asked", async () => {
  const broker = new FakeBroker();
  broker.queues.set("jobs", {
    durable: true,
    autoDelete: false,
    args: { "x-queue-type": "quorum" },
  });
  await assert.rejects(
    setUpQueue(broker, queueOf({ queueType: "classic" })),
    (error) => {
      assert.ok(error instanceof QueueError);
      assert.deepEqual(error.mismatch, {
        options: ["queueType"],
        property: "x-queue-type",
        found: "type quorum",
        asked: "type classic",
      });
      return true;
    },
  );
  await assert.rejects(
    setUpQueue(broker, queueOf({ queueType: "quorum", deliveryLimit: 5 })),
    (error) =>
      error instanceof QueueError &&
      error.mismatch?.found === "no x-delivery-limit" &&
      error.mismatch.asked === "x-delivery-limit 5",
  );
  // Today's tutorials' declaration asks for no limit and no dead-lettering.
  const state = await setUpQueue(
    broker,
    queueOf({
      queueType: "quorum",
      deliveryLimit: false,
      deadLetterQueue: false,
    }),
  );
  assert.deepEqual([state.deliveryLimit, state.deadLetterQueue], [
    undefined,
    false,
  ]);
});

Deno.test("a queue declared by another between the look and the declare is looked at again, not refused", async () => {
  const broker = new FakeBroker();
  broker.before = (passive) => {
    if (!passive && !broker.queues.has("jobs")) {
      broker.queues.set("jobs", { durable: true, autoDelete: true, args: {} });
    }
  };
  const state = await setUpQueue(broker, queueOf({}));
  assert.equal(state.declared, false);
  assert.deepEqual(broker.calls, [
    "passive jobs",
    "declare jobs",
    "passive jobs",
  ]);
});

Deno.test("a broker that keeps refusing is given up on within a bound, with a QueueError", async () => {
  const broker = new FakeBroker();
  // Declared and deleted again and again by another program.
  broker.before = (passive) => {
    if (passive) broker.queues.delete("jobs");
    else {broker.queues.set("jobs", {
        durable: true,
        autoDelete: false,
        args: {},
      });}
  };
  await assert.rejects(setUpQueue(broker, queueOf({})), QueueError);
  assert.ok(broker.calls.length <= 10, broker.calls.join(", "));
});

Deno.test("deliveryLimit and deadLetterQueue without a quorum queueType are a TypeError", () => {
  assert.throws(() => queueOf({ deliveryLimit: 3 }), TypeError);
  assert.throws(() => queueOf({ deadLetterQueue: "x" }), TypeError);
  assert.deepEqual(queueOf({ queueType: "quorum", deliveryLimit: 3 }).demands, [
    "queueType",
    "deliveryLimit",
  ]);
  assert.deepEqual(queueOf({}).demands, []);
});

Deno.test("a delivery limit a classic queue takes unchecked is not believed: no retries on a queue that counts nothing", async () => {
  const broker = new FakeBroker();
  broker.queues.set("jobs", { durable: false, autoDelete: false, args: {} });
  const state = await setUpQueue(
    broker,
    queueOf({ queueArguments: { "x-delivery-limit": 3 } }),
  );
  assert.deepEqual([state.declared, state.deliveryLimit], [false, undefined]);
});

Deno.test("a queue found that dead-letters to the worker's own missing dead-letter queue gets it declared; another missing one means dropped", async () => {
  const broker = new FakeBroker();
  const queue = queueOf({ queueType: "quorum", deliveryLimit: 2 });
  await setUpQueue(broker, queue);
  broker.queues.delete("jobs.dead-letter");
  const state = await setUpQueue(broker, queue);
  assert.deepEqual(
    [state.declared, state.deliveryLimit, state.deadLetterQueue],
    [false, 2, "jobs.dead-letter"],
  );
  assert.ok(broker.queues.has("jobs.dead-letter"));
  broker.queues.set("other", {
    durable: true,
    autoDelete: false,
    args: {
      "x-queue-type": "quorum",
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": "nowhere",
    },
  });
  const other = await setUpQueue(
    broker,
    resolveServeOptions({ queue: "other", queueType: "quorum" }, () => "")
      .queue,
  );
  assert.equal(other.deadLetterQueue, false);
  assert.ok(!broker.queues.has("nowhere"));
});
