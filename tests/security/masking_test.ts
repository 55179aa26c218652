/**
 * A hostile caller cannot freeze a worker through its log: a handler whose
 * error echoes a 400 000-character argument made the worker mask its
 * `Handler failed` line for minutes (masking was quadratic), during which
 * it answered nobody and missed heartbeats. Black-box: the worker program
 * (`server.ts --handler`), the public client and the shared broker only,
 * so that this also runs on a commit before the fix.
 *
 * - An honest call made right after the hostile one is answered, within a
 *   client timeout (10 s) that a frozen worker would blow: a timeout for
 *   liveness, no measurement of speed.
 * - The worker's log line is bounded, and a password the bound cuts in
 *   half shows none of its characters.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RemoteError, RpcClient } from "../../mod.ts";
import {
  AMQP_URL,
  type CliProcess,
  scratchQueue,
  startCli,
  waitFor,
} from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** The handler module: `echo` fails echoing its argument, `ping` answers. */
const HANDLER = `
export function echo(text) {
  throw new Error("cannot parse " + text);
}
export function ping() {
  return "pong";
}
export const defaultMethod = "ping";
`;

/** Stops a worker: SIGTERM, and SIGKILL if it is frozen and ignores it. */
async function stop(worker: CliProcess): Promise<void> {
  try {
    worker.child.kill("SIGTERM");
  } catch {
    // Already exited.
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const frozen = new Promise<"frozen">((resolve) => {
    timer = setTimeout(() => resolve("frozen"), 5_000);
  });
  if (await Promise.race([worker.status(), frozen]) === "frozen") {
    worker.child.kill("SIGKILL");
  }
  clearTimeout(timer);
  await worker.status();
}

Deno.test({
  ...opts,
  name:
    "a handler error echoing a 400 000-character argument neither freezes the worker nor floods its log",
  async fn() {
    await using queue = scratchQueue("masking");
    const dir = await Deno.makeTempDir({ prefix: "rabbit-rpc-masking-" });
    try {
      const module = `${dir}/echo_service.js`;
      await Deno.writeTextFile(module, HANDLER);
      const worker = startCli(
        "server.ts",
        ["--handler", module, "--queue", queue.name, "--quiet"],
        { extraFlags: [`--allow-read=${dir}`] },
      );
      try {
        await worker.waitForLine("Awaiting RPC requests");
        await using client = await RpcClient.connect({
          url: AMQP_URL,
          timeout: 10_000,
        });
        // 400 000 characters: a password the log's bound will cut in
        // half, then a long run of letters (the quadratic case).
        const secret = "S".repeat(200_000);
        const argument = `amqp://app:${secret}@broker:5672 ${
          "x".repeat(200_000)
        }`;
        const hostile = client.method<string, string>(queue.name, "echo")(
          argument,
        );
        const honest = client.method<void, string>(queue.name, "ping")();
        const [hostileOutcome, honestOutcome] = await Promise.allSettled([
          hostile,
          honest,
        ]);
        // The worker went on answering: the honest caller got its answer.
        assert.deepEqual(
          honestOutcome.status === "fulfilled"
            ? honestOutcome
            : String(honestOutcome.reason),
          { status: "fulfilled", value: "pong" },
          "the honest call right after the hostile one",
        );
        // And the hostile caller its error reply.
        assert.ok(
          hostileOutcome.status === "rejected" &&
            hostileOutcome.reason instanceof RemoteError,
          String((hostileOutcome as PromiseRejectedResult).reason),
        );

        // Its log says what failed, in one bounded line, password masked.
        await waitFor(
          () => worker.stderr().includes("Handler failed"),
          "the worker's Handler failed line",
          10_000,
        );
        const lines = worker.stderr().split("\n");
        const failed = lines.find((line) => line.includes("Handler failed"));
        assert.ok(failed !== undefined);
        assert.match(failed, /cannot parse amqp:\/\/app:\*\*\*/);
        for (const line of lines) {
          assert.ok(
            line.length < 20_000,
            `a log line of ${line.length} characters`,
          );
          assert.doesNotMatch(line, /SSSS/, "the password shows");
        }
      } finally {
        await stop(worker);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
