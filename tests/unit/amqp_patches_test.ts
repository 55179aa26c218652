/**
 * The patches of amqp-client's internals (`lib/amqp/patches.ts`) were
 * written for one version: an upgrade of the dependency must come with a
 * new reading of them (and `tests/broker/amqp_patches_test.ts` checks the
 * internals they rely on against a real connection).
 */

import assert from "node:assert/strict";
import { AMQPClient } from "../../lib/deps.ts";
import { PATCHED_VERSION } from "../../lib/amqp/patches.ts";

Deno.test("the patches of amqp-client were written for the version lib/deps.ts pins", () => {
  const deps = Deno.readTextFileSync(
    new URL("../../lib/deps.ts", import.meta.url),
  );
  const pinned = [...deps.matchAll(/npm:@cloudamqp\/amqp-client@([\d.]+)/g)]
    .map((match) => match[1]);
  assert.ok(pinned.length > 0);
  for (const version of pinned) {
    assert.equal(
      version,
      PATCHED_VERSION,
      `lib/deps.ts pins amqp-client ${version}, but lib/amqp/patches.ts was written for ${PATCHED_VERSION}: read the patches again, check them against the new version, then update PATCHED_VERSION`,
    );
  }
});

Deno.test("amqp-client writes through a send() method and keeps its channels in an array", () => {
  const client = new AMQPClient("amqp://127.0.0.1:1");
  assert.equal(
    typeof client.send,
    "function",
    "the write coalescer wraps AMQPClient.send()",
  );
  assert.ok(
    Array.isArray(client.channels),
    "the parser guard reads AMQPClient.channels",
  );
});
