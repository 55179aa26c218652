// deno-lint-ignore-file no-console -- the tests print the figures of the closing note.
/**
 * The worker's metrics port against hostile callers, through the program
 * as users run it (`deno task server --metrics-port`), the shared broker
 * and plain TCP: idle connections held open must neither end the worker
 * (file descriptors run out under a low `ulimit -n`) nor keep its health
 * probe away for good, and by default the port answers on loopback only.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RpcClient } from "../../mod.ts";
import {
  AMQP_URL,
  ROOT,
  scratchQueue,
  startWorker,
  taskPermissions,
  waitFor,
} from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** Whether `prlimit` (util-linux) is there to lower a child's `nofile`. */
const HAS_PRLIMIT = (() => {
  try {
    return new Deno.Command("prlimit", { args: ["--version"] }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

/** A worker started under `prlimit`, with its output collected. */
interface LimitedWorker extends AsyncDisposable {
  /** Resolves with the first stdout line that contains `text`. */
  waitForLine(text: string): Promise<string>;
  /** Everything printed so far (stderr, then stdout: its JSON log). */
  output(): string;
  /** The exit status, once it has exited. */
  exited(): Deno.CommandStatus | undefined;
}

/**
 * `deno task server` (its task's permissions, JSON logs on stdout) with at
 * most `nofile` open file descriptors, as `ulimit -n` or a container's
 * limit sets them.
 */
function startLimitedWorker(nofile: number, args: string[]): LimitedWorker {
  const child = new Deno.Command("prlimit", {
    args: [
      `--nofile=${nofile}:${nofile}`,
      Deno.execPath(),
      "run",
      "--quiet",
      "--no-prompt",
      ...taskPermissions("server.ts"),
      `${ROOT}server.ts`,
      "--log-format",
      "json",
      "--quiet",
      ...args,
    ],
    env: { AMQP_URL, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  let status: Deno.CommandStatus | undefined;
  const reading = Promise.all([
    (async () => {
      for await (
        const text of child.stdout.pipeThrough(new TextDecoderStream())
      ) out += text;
    })(),
    (async () => {
      for await (
        const text of child.stderr.pipeThrough(new TextDecoderStream())
      ) err += text;
    })(),
  ]);
  const done = child.status.then(async (s) => {
    await reading;
    status = s;
  });
  return {
    async waitForLine(text) {
      await waitFor(
        () => out.includes(text) || status !== undefined,
        `the worker to print "${text}"`,
      );
      const line = out.split("\n").find((l) => l.includes(text));
      if (line === undefined) {
        throw new Error(`the worker exited (${status?.code}): ${err}${out}`);
      }
      return line;
    },
    output: () => err + out,
    exited: () => status,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited already.
      }
      await done;
    },
  };
}

/** The port in the worker's "Serving metrics on http://H:P/metrics" line. */
function metricsAddress(line: string): { hostname: string; port: number } {
  const match = /Serving metrics on http:\/\/(.+):(\d+)\/metrics/.exec(line);
  if (!match) throw new Error(`no metrics address in ${line}`);
  return { hostname: match[1], port: Number(match[2]) };
}

/**
 * GET `path` over a connection of its own (no pool of kept-alive
 * connections), `Connection: close`; rejects if the connection is refused
 * or closed before an answer.
 */
async function get(
  port: number,
  path: string,
  hostname = "127.0.0.1",
): Promise<{ status: number; text: string }> {
  const conn = await Deno.connect({ hostname, port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`,
      ),
    );
    let text = "";
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16_384);
    for (let n; (n = await conn.read(buffer)) !== null;) {
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
    if (!status) throw new Error(`no HTTP answer: ${JSON.stringify(text)}`);
    return { status: Number(status[1]), text: text.split("\r\n\r\n")[1] };
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
}

/** Whether GET /healthz answers 200 now. */
async function healthy(port: number): Promise<boolean> {
  try {
    return (await get(port, "/healthz")).status === 200;
  } catch {
    return false;
  }
}

/** The value of an unlabelled sample in Prometheus text, 0 if absent. */
function sample(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

/**
 * Opens `count` TCP connections to `port` and sends nothing on them.
 * `closedByPeer()` counts those the other end has closed (or reset).
 */
async function holdIdle(port: number, count: number): Promise<
  AsyncDisposable & {
    opened: number;
    failed: number;
    closedByPeer(): number;
  }
> {
  const conns: Deno.Conn[] = [];
  let failed = 0;
  for (let i = 0; i < count; i++) {
    try {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    } catch {
      failed++;
    }
  }
  let closing = false;
  let closedByPeer = 0;
  const watching = conns.map((conn) =>
    conn.read(new Uint8Array(1)).then(
      () => void (closing || closedByPeer++),
      () => void (closing || closedByPeer++),
    )
  );
  return {
    opened: conns.length,
    failed,
    closedByPeer: () => closedByPeer,
    async [Symbol.asyncDispose]() {
      closing = true;
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
      await Promise.all(watching);
    },
  };
}

/**
 * Fails, with the worker's exit status and last line, if some of the idle
 * connections were refused: the port is no longer listened on.
 */
async function assertStillListening(
  worker: LimitedWorker,
  idle: { opened: number; failed: number },
): Promise<void> {
  if (idle.failed === 0) return;
  await waitFor(
    () => worker.exited() !== undefined,
    "the worker to exit",
    10_000,
  )
    .catch(() => {});
  const status = worker.exited();
  const lines = worker.output().trim().split("\n");
  const last = lines.find((line) => line.startsWith("error: ")) ??
    lines.at(-1);
  assert.fail(
    `${idle.failed} of ${idle.opened + idle.failed} connections refused: ` +
      (status
        ? `the worker exited with status ${status.code} after ${idle.opened}: ${last}`
        : `the worker stopped listening after ${idle.opened}`),
  );
}

/** fib(10) from the worker on `queue`, through the shared broker. */
/** The metrics port of a worker started with `--metrics-port 0`, once it serves. */
async function metricsPortOf(worker: LimitedWorker): Promise<number> {
  const { port } = metricsAddress(
    await worker.waitForLine("Serving metrics on"),
  );
  await worker.waitForLine("Awaiting RPC requests");
  return port;
}

async function fib10(queue: string): Promise<string> {
  await using client = await RpcClient.connect({ url: AMQP_URL });
  return (await client.call(queue, "10", { timeout: 30_000 })).text();
}

Deno.test({
  ...opts,
  name:
    "400 idle connections to the metrics port of a worker limited to 256 open files: it keeps answering, and /healthz answers again once the idle ones time out",
  ignore: !HAS_PRLIMIT,
  async fn() {
    await using scratch = scratchQueue("metrics-flood");
    const queue = scratch.name;
    await using worker = startLimitedWorker(256, [
      "--queue",
      queue,
      "--metrics-port",
      "0",
    ]);
    const port = await metricsPortOf(worker);
    assert.ok(await healthy(port), "/healthz before the flood");

    await using idle = await holdIdle(port, 400);
    await assertStillListening(worker, idle);
    // It still serves requests while they are held.
    assert.equal(await fib10(queue), "55");
    // The worker closes those it could not take at once, and the others
    // when their request head is overdue: /healthz answers again even
    // though the caller never closes them.
    await waitFor(() => healthy(port), "/healthz to answer 200 again");
    await waitFor(
      () => idle.closedByPeer() === idle.opened,
      "the worker to close every idle connection",
    );
    assert.equal(worker.exited(), undefined, worker.output());
    const metrics = (await get(port, "/metrics")).text;
    const refused = sample(metrics, "rabbit_rpc_http_refused_total");
    const timedOut = sample(metrics, "rabbit_rpc_http_timeouts_total");
    assert.ok(refused > 0, metrics);
    assert.ok(timedOut > 0, metrics);
    console.log(
      `    ${idle.opened} idle connections under nofile=256: worker alive; ${timedOut} held until their head was overdue, ${refused} closed to stay within the cap (probes included)`,
    );
  },
});

Deno.test({
  ...opts,
  name:
    "a worker whose file descriptors run out (nofile=64) under idle metrics connections carries on: it answers, and accepts again once they are gone",
  ignore: !HAS_PRLIMIT,
  async fn() {
    await using scratch = scratchQueue("metrics-emfile");
    const queue = scratch.name;
    await using worker = startLimitedWorker(64, [
      "--queue",
      queue,
      "--metrics-port",
      "0",
    ]);
    const port = await metricsPortOf(worker);
    {
      await using idle = await holdIdle(port, 100);
      await assertStillListening(worker, idle);
      assert.equal(await fib10(queue), "55");
      assert.equal(worker.exited(), undefined, worker.output());
    }
    await waitFor(() => healthy(port), "/healthz to answer 200 again");
    assert.equal(await fib10(queue), "55");
    const metrics = (await get(port, "/metrics")).text;
    const errors = sample(metrics, "rabbit_rpc_http_accept_errors_total");
    assert.ok(errors > 0, `no accept error counted: ${metrics}`);
    const warnings = worker.output().split("\n").filter((line) =>
      line.includes("cannot accept connections")
    );
    assert.ok(warnings.length > 0, worker.output());
    assert.ok(warnings.length <= errors);
    console.log(
      `    100 idle connections under nofile=64: worker alive; ${errors} failed accepts, ${warnings.length} warning line(s)`,
    );
  },
});

/** An IPv4 address of this machine that is not loopback, if it has one. */
async function nonLoopbackAddress(): Promise<string | undefined> {
  const permitted = Deno.permissions.querySync({
    name: "sys",
    kind: "networkInterfaces",
  }).state === "granted";
  if (permitted) {
    return Deno.networkInterfaces().find((i) =>
      i.family === "IPv4" && !i.address.startsWith("127.")
    )?.address;
  }
  try {
    const { stdout } = await new Deno.Command("hostname", { args: ["-I"] })
      .output();
    return new TextDecoder().decode(stdout).split(/\s+/).find((a) =>
      /^\d+\.\d+\.\d+\.\d+$/.test(a) && !a.startsWith("127.")
    );
  } catch {
    return undefined;
  }
}

/** Whether a TCP connection to `hostname:port` is accepted. */
async function reachable(hostname: string, port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  ...opts,
  name:
    "the metrics port listens on loopback by default, and on every address with --metrics-host 0.0.0.0",
  async fn(t) {
    await using scratch = scratchQueue("metrics-host");
    const queue = scratch.name;
    const address = await nonLoopbackAddress();
    await using worker = await startWorker(queue, {
      args: ["--metrics-port", "0", "--log-format", "json"],
    });
    const listening = metricsAddress(
      await worker.waitForLine("Serving metrics on"),
    );
    assert.ok(await healthy(listening.port));
    if (address === undefined) {
      await t.step({
        name: "not reachable on a non-loopback address (none on this machine)",
        ignore: true,
        fn() {},
      });
    } else {
      assert.equal(
        await reachable(address, listening.port),
        false,
        `the metrics port answers on ${address}, not only on loopback (${listening.hostname})`,
      );
    }
    assert.equal(listening.hostname, "127.0.0.1");
    if (address === undefined) return;

    // The same check sees a port that listens everywhere.
    await using open = await startWorker(queue, {
      args: [
        "--metrics-port",
        "0",
        "--metrics-host",
        "0.0.0.0",
        "--log-format",
        "json",
      ],
    });
    const everywhere = metricsAddress(
      await open.waitForLine("Serving metrics on"),
    );
    assert.equal(await reachable(address, everywhere.port), true);
    assert.equal(
      (await get(everywhere.port, "/healthz", address)).status,
      200,
    );
  },
});
