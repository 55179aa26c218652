import assert from "node:assert/strict";
import { Deadlines } from "../../lib/client/_deadlines.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** Deadlines over a set of live ids, recording what expired. */
function tracked() {
  const live = new Set<string>();
  const expired: string[] = [];
  let onExpire = () => {};
  const deadlines: Deadlines = new Deadlines({
    isLive: (id) => live.has(id),
    expire: (id) => {
      live.delete(id);
      deadlines.settled();
      expired.push(id);
      onExpire();
    },
  });
  const add = (id: string, inMs: number) => {
    live.add(id);
    deadlines.add(id, performance.now() + inMs);
  };
  const settle = (id: string) => {
    if (live.delete(id)) deadlines.settled();
  };
  /** Resolves once `n` ids have expired in all. */
  const expiredCount = (n: number) =>
    new Promise<void>((resolve) => {
      onExpire = () => expired.length >= n && resolve();
      onExpire();
    });
  return { deadlines, live, expired, add, settle, expiredCount };
}

Deno.test({
  ...opts,
  name: "Deadlines expires live ids in the order they fall due",
  async fn() {
    const t = tracked();
    try {
      t.add("late", 40);
      t.add("early", 5); // earlier than the armed timer: re-armed for it
      t.add("middle", 20);
      await t.expiredCount(3);
      assert.deepEqual(t.expired, ["early", "middle", "late"]);
      assert.equal(t.deadlines.size, 0);
    } finally {
      t.deadlines.clear();
    }
  },
});

Deno.test({
  ...opts,
  name: "Deadlines never expires an id that settled first",
  async fn() {
    const t = tracked();
    try {
      t.add("settled", 5);
      t.add("kept", 30);
      t.settle("settled");
      await t.expiredCount(1);
      assert.deepEqual(t.expired, ["kept"]);
    } finally {
      t.deadlines.clear();
    }
  },
});

Deno.test({
  ...opts,
  name: "Deadlines sweeps out settled entries so memory follows the live ones",
  fn() {
    const t = tracked();
    try {
      for (let i = 0; i < 100_000; i++) {
        t.add(`id${i}`, 60_000);
        if (i >= 10) t.settle(`id${i - 10}`); // 10 in flight at a time
      }
      // At most twice the live entries plus the sweep's slack.
      assert.ok(t.deadlines.size <= 2 * 10 + 1024, `${t.deadlines.size}`);
      assert.equal(t.live.size, 10);
      assert.deepEqual(t.expired, []);
    } finally {
      t.deadlines.clear();
    }
  },
});

Deno.test({
  ...opts,
  name: "Deadlines.clear() stops the timer and forgets every id",
  async fn() {
    const t = tracked();
    t.add("a", 5);
    t.deadlines.clear();
    assert.equal(t.deadlines.size, 0);
    // Had the timer survived, the op sanitizer would fail this test.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(t.expired, []);
  },
});
