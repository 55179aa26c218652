// deno-lint-ignore-file no-console -- tests print the figures the README quotes.
/**
 * The cluster issue's scenario on a private three-node cluster: a quorum
 * `rpc_queue`, two clients and two workers spread over the nodes, a steady
 * stream of idempotent calls; the node that leads the queue is stopped,
 * started again and waited for, then the node a client is connected to is
 * stopped. Two of the three nodes are up at every moment, so the quorum
 * holds. Every call must be answered, once, with the right answer.
 *
 * Run with `deno task test:cluster` (it takes about a minute).
 */

import assert from "node:assert/strict";
import { RpcClient, type RpcServer, serve } from "../../mod.ts";
import type { PrivateBroker } from "../_private_broker.ts";
import { startPrivateCluster } from "../_private_cluster.ts";
import { waitFor } from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const QUEUE = "rpc_queue";
/** Concurrent callers per client. */
const CALLERS = 8;

/**
 * The node that the connection named `name` is connected to, told by the
 * AMQP port it came in on (every private node has its own).
 */
async function nodeWithConnection(
  nodes: PrivateBroker[],
  name: string,
): Promise<PrivateBroker> {
  for (const node of nodes) {
    try {
      const rows = JSON.parse(
        await node.ctl(
          "list_connections",
          "--formatter",
          "json",
          "port",
          "client_properties",
        ),
      ) as { port: number; client_properties: unknown }[];
      const row = rows.find((r) =>
        JSON.stringify(r.client_properties).includes(`"${name}"`)
      );
      const owner = nodes.find((n) => n.port === row?.port);
      if (owner) return owner;
    } catch {
      // A stopped node: ask another.
    }
  }
  throw new Error(`No node has a connection named "${name}"`);
}

/** Pauses, e.g. "120 ms and 35 ms". */
function ms(pauses: number[]): string {
  return pauses.map((p) => `${p.toFixed(0)} ms`).join(" and ");
}

Deno.test({
  ...opts,
  name:
    "on a three-node cluster, calls to a quorum queue are each answered once while the leader's node and then a client's node stop",
  async fn() {
    await using cluster = await startPrivateCluster({ name: "failover" });
    const [a, b, c] = cluster.urls;
    const workers: RpcServer[] = [];
    const clients: RpcClient[] = [];
    const handled = new Map<string, number>();
    let stop = false;
    // When each call was answered, all clients together and per client.
    const completions: number[] = [];
    const perClient: number[][] = [[], []];
    const failures: unknown[] = [];
    const callers: Promise<void>[] = [];
    try {
      for (const urls of [[a, b, c], [b, c, a]]) {
        workers.push(
          await serve({
            url: urls,
            queue: QUEUE,
            queueType: "quorum",
            prefetch: 20,
            connectionName: `worker-${workers.length + 1}`,
          }, (request) => {
            const id = request.properties.messageId ?? "";
            handled.set(id, (handled.get(id) ?? 0) + 1);
            return String(Number(request.text()) * 2);
          }),
        );
      }
      for (const urls of [[a, b, c], [c, a, b]]) {
        clients.push(
          await RpcClient.connect({
            url: urls,
            connectionName: `client-${clients.length + 1}`,
            reconnect: { initialDelay: 50, maxDelay: 500 },
          }),
        );
      }
      let sequence = 0;
      for (const [k, client] of clients.entries()) {
        for (let i = 0; i < CALLERS; i++) {
          callers.push((async () => {
            while (!stop) {
              const n = sequence++;
              try {
                const reply = await client.call(QUEUE, String(n), {
                  idempotent: true,
                  timeout: 30_000,
                });
                assert.equal(reply.text(), String(n * 2));
                const now = performance.now();
                completions.push(now);
                perClient[k].push(now);
              } catch (error) {
                failures.push(error);
              }
            }
          })());
        }
      }
      const flowing = async (more: number, what: string) => {
        const target = completions.length + more;
        await waitFor(() => completions.length >= target, what, 60_000);
      };
      /** The longest time without a call answered since `from`. */
      const longestPause = (from: number, times: number[]) => {
        let last = from;
        let longest = 0;
        for (const t of times) {
          if (t < from) continue;
          longest = Math.max(longest, t - last);
          last = t;
        }
        return longest;
      };

      await flowing(500, "calls before any fault");

      // 1. The node that leads the queue stops; the others elect a leader.
      const leader = await cluster.leaderOf(QUEUE);
      let t = performance.now();
      await leader.stopApp();
      await flowing(1000, "calls after the leader's node stopped");
      const pauseLeader = perClient.map((times) => longestPause(t, times));

      // It comes back and catches up before anything else stops.
      await leader.startApp();
      await cluster.waitForMembers(QUEUE);
      await flowing(500, "calls after the leader's node came back");

      // 2. The node the first client is connected to stops.
      const clientNode = await nodeWithConnection(cluster.nodes, "client-1");
      t = performance.now();
      await clientNode.stopApp();
      await flowing(1000, "calls after a client's node stopped");
      const pauseClient = perClient.map((times) => longestPause(t, times));

      stop = true;
      await Promise.all(callers);
      console.log(
        `calls answered: ${completions.length}, failed: ${failures.length}; ` +
          `longest pause of client-1 and client-2: ${
            ms(pauseLeader)
          } after the leader's node (${leader.nodeName}) stopped, ${
            ms(pauseClient)
          } after client-1's node (${clientNode.nodeName}) stopped; ` +
          `requests handled twice: ${
            [...handled.values()].filter((n) => n > 1).length
          }; duplicate replies dropped: ${
            clients.reduce((sum, cl) => sum + cl.droppedReplies, 0)
          }`,
      );
      assert.deepEqual(failures, []);
      assert.equal(completions.length, sequence);
      // Every call was handled at least once (a request in hand at a loss
      // may be handled again; its second reply is dropped by the client).
      assert.equal(handled.size, sequence);
      assert.ok(completions.length >= 3000);
    } finally {
      stop = true;
      await Promise.allSettled(callers);
      await Promise.allSettled(clients.map((client) => client.close()));
      await Promise.allSettled(workers.map((worker) => worker.close()));
    }
  },
});
