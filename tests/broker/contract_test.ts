/**
 * A service with runtime contracts (zod schemas) served by
 * `deno task server --handler`, called by `deno task client` and by a typed
 * client, on the shared broker.
 */

import assert from "node:assert/strict";
import { RemoteError, RpcClient } from "../../mod.ts";
import {
  AMQP_URL,
  assertOneLineError,
  ROOT,
  runCli,
  scratchQueue,
  startCli,
} from "../_helpers.ts";
import * as calc from "../fixtures/checked_calc_service.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  ...opts,
  name:
    "a zod-checked service: typed calls work, and a bad argument from the client program is INVALID_ARGUMENT naming each problem's path (exit 1)",
  async fn() {
    await using queue = scratchQueue("contract-cli");
    await using worker = startCli("server.ts", [
      "--queue",
      queue.name,
      "--handler",
      `${ROOT}tests/fixtures/checked_calc_service.ts`,
      "--quiet",
    ]);
    await worker.waitForLine("Awaiting RPC requests");

    await using client = await RpcClient.connect({ url: AMQP_URL });
    const typed = client.service(queue.name, { contracts: calc });
    assert.equal(await typed.add({ a: 1, b: 2 }), 3);
    assert.equal(await typed.sum([1, 2, 3]), 6);

    const good = await runCli("client.ts", [
      "--queue",
      queue.name,
      "--method",
      "add",
      "--data",
      '{"a":40,"b":2}',
    ]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /42/);

    const wrongType = await runCli("client.ts", [
      "--queue",
      queue.name,
      "--method",
      "add",
      "--data",
      '{"a":"x","b":2}',
    ]);
    assert.equal(wrongType.code, 1);
    assertOneLineError(wrongType.stderr, /INVALID_ARGUMENT.*\ba: /);

    const array = await runCli("client.ts", [
      "--queue",
      queue.name,
      "--method",
      "add",
      "--data",
      "[1,2]",
    ]);
    assert.equal(array.code, 1);
    assertOneLineError(array.stderr, /INVALID_ARGUMENT.*\(root\): /);

    // Past the client's own check (a caller without the contracts): the
    // worker's reply carries the issues.
    await assert.rejects(
      client.service<typeof calc>(queue.name).add(
        // deno-lint-ignore no-explicit-any -- what an untyped caller sends
        { a: "x" } as any,
      ),
      (error) => {
        assert.ok(error instanceof RemoteError);
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.deepEqual(error.issues.map((i) => i.path).sort(), [["a"], [
          "b",
        ]]);
        return true;
      },
    );
    // The method's own bug is not the caller's to see.
    await assert.rejects(
      client.service<typeof calc>(queue.name).broken(1),
      (error) => error instanceof RemoteError && error.code === "INTERNAL",
    );
  },
});
