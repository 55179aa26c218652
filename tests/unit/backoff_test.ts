import assert from "node:assert/strict";
import {
  backoffDelay,
  DEFAULT_RECONNECT,
  reconnectOptions,
} from "../../lib/amqp/backoff.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  ...opts,
  name: "backoffDelay() doubles from initialDelay up to maxDelay, with jitter",
  fn() {
    const options = reconnectOptions();
    const highest = (attempt: number) =>
      backoffDelay(attempt, options, () => 1);
    const lowest = (attempt: number) => backoffDelay(attempt, options, () => 0);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 20].map(highest),
      [100, 200, 400, 800, 1000, 1000, 1000],
    );
    assert.deepEqual([0, 4, 20].map(lowest), [50, 500, 500]);
    for (let attempt = 0; attempt < 50; attempt++) {
      const delay = backoffDelay(attempt, options);
      assert.ok(delay >= 50 && delay <= 1000, `${delay}`);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "the default backoff retries at least once a second, so recovery follows the broker within about a second",
  fn() {
    assert.equal(DEFAULT_RECONNECT.maxDelay, 1_000);
    assert.equal(DEFAULT_RECONNECT.maxAttempts, Infinity);
  },
});

Deno.test({
  ...opts,
  name: "reconnectOptions() throws RangeError for values out of range",
  fn() {
    assert.throws(() => reconnectOptions({ initialDelay: -1 }), RangeError);
    assert.throws(() => reconnectOptions({ initialDelay: 0 }), RangeError);
    assert.throws(
      () => reconnectOptions({ initialDelay: 500, maxDelay: 100 }),
      RangeError,
    );
    assert.throws(() => reconnectOptions({ factor: 0.5 }), RangeError);
    assert.throws(() => reconnectOptions({ maxAttempts: 0 }), RangeError);
    assert.throws(() => reconnectOptions({ maxAttempts: 1.5 }), RangeError);
    assert.equal(reconnectOptions({ maxAttempts: 3 }).maxAttempts, 3);
  },
});
