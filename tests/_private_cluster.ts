/**
 * A private RabbitMQ cluster for tests: several private nodes (see
 * `_private_broker.ts`) on this machine, each with its own node name, ports
 * and data folder, sharing one Erlang cookie and joined with
 * `rabbitmqctl join_cluster`. Disposing of it stops and removes every node,
 * even if starting or joining failed half-way.
 *
 * @example
 * ```ts ignore
 * import { startPrivateCluster } from "./_private_cluster.ts";
 *
 * await using cluster = await startPrivateCluster({ name: "failover" });
 * console.log(cluster.urls.join(",")); // three amqp:// URLs
 * ```
 *
 * @module
 */

import {
  type PrivateBroker,
  randomCookie,
  startPrivateBroker,
} from "./_private_broker.ts";

/** A running private cluster. */
export interface PrivateCluster extends AsyncDisposable {
  /** Its nodes; the first is the one the others joined. */
  readonly nodes: PrivateBroker[];
  /** The AMQP URL of each node, in the order of `nodes`. */
  readonly urls: string[];
  /**
   * The node on which the quorum queue `queue` has its leader, found with
   * `rabbitmqctl list_queues` on a node that is running.
   */
  leaderOf(queue: string): Promise<PrivateBroker>;
  /**
   * Waits until every member of the quorum queue `queue` is online (after a
   * node came back, say), for at most `timeoutMs`.
   */
  waitForMembers(queue: string, timeoutMs?: number): Promise<void>;
  /** Stops and removes every node. Safe to call more than once. */
  stop(): Promise<void>;
}

/** How to start a private cluster. */
export interface PrivateClusterOptions {
  /** A label for the node names. */
  name?: string;
  /** How many nodes (default 3). */
  size?: number;
}

/**
 * Starts `size` private nodes and joins them into one cluster; resolves
 * once every node runs as a member of it.
 */
export async function startPrivateCluster(
  options: PrivateClusterOptions = {},
): Promise<PrivateCluster> {
  const size = options.size ?? 3;
  const cookie = randomCookie();
  const label = options.name ?? "cluster";
  const nodes: PrivateBroker[] = [];
  const cluster = new Cluster(nodes);
  try {
    // One at a time: each start is CPU-heavy, and a failed start must not
    // leave siblings half-started behind the error.
    for (let i = 0; i < size; i++) {
      nodes.push(
        await startPrivateBroker({ name: `${label}${i + 1}`, cookie }),
      );
    }
    for (const node of nodes.slice(1)) {
      await node.stopApp();
      await node.ctl("join_cluster", nodes[0].nodeName);
      await node.startApp();
    }
    const status = await nodes[0].ctl("cluster_status", "--formatter", "json");
    const running = JSON.parse(status).running_nodes as string[];
    if (running.length !== size) {
      throw new Error(
        `Only ${running.length} of ${size} nodes run in the cluster: ${running}`,
      );
    }
    return cluster;
  } catch (error) {
    await cluster.stop().catch(() => {});
    throw error;
  }
}

class Cluster implements PrivateCluster {
  readonly nodes: PrivateBroker[];
  #stopping?: Promise<void>;

  constructor(nodes: PrivateBroker[]) {
    this.nodes = nodes;
  }

  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  async leaderOf(queue: string): Promise<PrivateBroker> {
    const row = await this.#queueRow(queue, "leader");
    const node = this.nodes.find((n) => n.nodeName === row.leader);
    if (!node) throw new Error(`No leader known for "${queue}": ${row.leader}`);
    return node;
  }

  async waitForMembers(queue: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const row = await this.#queueRow(queue, "members", "online");
        const members = row.members as string[];
        const online = row.online as string[];
        if (
          members.length === this.nodes.length &&
          members.every((m) => online.includes(m))
        ) return;
      } catch {
        // A node is still starting; ask again.
      }
      if (Date.now() > deadline) {
        throw new Error(`Not every member of "${queue}" came back online`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** One queue's columns, asked of the first node that answers. */
  async #queueRow(
    queue: string,
    ...columns: string[]
  ): Promise<Record<string, unknown>> {
    let lastError: unknown;
    for (const node of this.nodes) {
      try {
        const out = await node.ctl(
          "list_queues",
          "--formatter",
          "json",
          "name",
          ...columns,
        );
        const rows = JSON.parse(out) as Record<string, unknown>[];
        const row = rows.find((r) => r.name === queue);
        if (row) return row;
        lastError = new Error(`No queue "${queue}" on ${node.nodeName}`);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  stop(): Promise<void> {
    this.#stopping ??= Promise.allSettled(this.nodes.map((n) => n.stop()))
      .then((results) => {
        const failed = results.find((r) => r.status === "rejected");
        if (failed) throw (failed as PromiseRejectedResult).reason;
      });
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
