/**
 * The must-show: the RPC tutorial's own programs, unchanged, talk to
 * ours. The tutorial's Go client gets its answer from `deno task server`,
 * `deno task client` gets its answer from the tutorial's Go server, and the
 * same with the tutorial's Python (pika) programs.
 *
 * The programs live in `tests/interop/`. They hard-code
 * `amqp://guest:guest@localhost:5672/` and the queue `rpc_queue`, so these
 * tests point our CLIs at that broker and queue too, whatever `AMQP_URL`
 * says.
 *
 * They need Go with github.com/streadway/amqp and Python 3 with pika, as
 * Debian packages them (`apt-get install golang-go
 * golang-github-streadway-amqp-dev python3-pika`); without them the tests
 * fail and say what to install.
 *
 * @module
 */

import { openConnection } from "../../lib/amqp/connection.ts";
import { startCli } from "../_helpers.ts";
import { INTEROP, output, startProgram, within } from "./_programs.ts";

/**
 * The broker the tutorial's programs connect to: their
 * `amqp://guest:guest@localhost:5672/`, default vhost.
 */
const TUTORIAL_URL = "amqp://guest:guest@localhost:5672";
/** The queue the tutorial's programs use. */
const TUTORIAL_QUEUE = "rpc_queue";
/** Debian's python3, for which `python3-pika` installs pika. */
const PYTHON = "/usr/bin/python3";
/** Where Debian's `golang-github-streadway-amqp-dev` puts its source. */
const GOPATH = "/usr/share/gocode";
const APT_HINT =
  "apt-get install golang-go golang-github-streadway-amqp-dev python3-pika";

/**
 * Builds the tutorial's Go program `go/<dir>/<file>` into `outDir` and
 * returns the executable's path. Fails saying which Debian package is
 * missing.
 */
async function buildGo(
  dir: "server" | "client",
  file: string,
  outDir: string,
): Promise<string> {
  const version = await output("go", ["version"]);
  if (version === undefined || version.code !== 0) {
    throw new Error(
      "Go is needed to run the tutorial's Go programs but `go` was not " +
        `found: install the Debian package golang-go (${APT_HINT}).`,
    );
  }
  const executable = `${outDir}/${file.replace(/\.go$/, "")}`;
  // GOPATH mode: no module proxy is needed, the library comes from Debian.
  const built = await within(
    output("go", ["build", "-o", executable, file], {
      cwd: `${INTEROP}go/${dir}`,
      env: {
        GO111MODULE: "off",
        GOPATH,
        GOFLAGS: "",
        GOCACHE: `${outDir}/gocache`,
        GOTMPDIR: outDir,
      },
    }),
    `go build ${file}`,
  );
  if (built === undefined || built.code !== 0) {
    const stderr = built?.stderr ?? "";
    const hint = stderr.includes("github.com/streadway/amqp")
      ? "the Go library github.com/streadway/amqp is missing: install the " +
        "Debian package golang-github-streadway-amqp-dev"
      : "see go's output above; the tutorial needs the Debian packages " +
        "golang-go and golang-github-streadway-amqp-dev";
    throw new Error(
      `Could not build the tutorial's ${file}:\n${stderr}\n${hint} ` +
        `(${APT_HINT}).`,
    );
  }
  return executable;
}

/** Fails saying which Debian package is missing unless pika imports. */
async function requirePika(): Promise<void> {
  const result = await output(PYTHON, ["-c", "import pika"]);
  if (result === undefined) {
    throw new Error(
      `${PYTHON} was not found; the tutorial's Python programs need it with ` +
        `pika: install the Debian package python3-pika (${APT_HINT}).`,
    );
  }
  if (result.code !== 0) {
    throw new Error(
      `${PYTHON} cannot import pika, which the tutorial's Python programs ` +
        `need: install the Debian package python3-pika (${APT_HINT}).\n` +
        result.stderr,
    );
  }
}

/**
 * Makes sure no other worker consumes `rpc_queue` (it would take the
 * request meant for the worker under test), and drops requests left there
 * with no worker (a stale non-number would crash the tutorial's Go server).
 * Declares the queue as the tutorial does.
 */
async function claimTutorialQueue(): Promise<void> {
  const connection = await openConnection({ url: TUTORIAL_URL });
  try {
    const channel = await connection.channel();
    const ok = await channel.queueDeclare(TUTORIAL_QUEUE, {
      durable: false,
      exclusive: false,
      autoDelete: false,
    });
    if (ok.consumerCount > 0) {
      throw new Error(
        `${ok.consumerCount} consumer(s) already on ${TUTORIAL_QUEUE}; ` +
          "stop the other worker: it would answer the tutorial's requests.",
      );
    }
    if (ok.messageCount > 0) await channel.queuePurge(TUTORIAL_QUEUE);
  } finally {
    await connection.close();
  }
}

/**
 * Asserts that a client exited 0 with the tutorial's answer to fib(30) in
 * `printed`, the stream it prints its results on; `other` is its other
 * stream, shown on failure.
 */
function assertGotFib30(
  client: string,
  status: Deno.CommandStatus,
  printed: string,
  other: string,
): void {
  if (status.code !== 0 || !printed.includes(" [.] Got 832040")) {
    throw new Error(
      `${client} did not get fib(30) = 832040 (exit ${status.code}).\n` +
        `printed: ${printed}\nother output: ${other}`,
    );
  }
}

/** Runs one of the tutorial's clients against a worker that is listening. */
async function runTutorialClient(
  label: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: Deno.CommandStatus; stdout: string; stderr: string }> {
  await using client = startProgram(label, command, args, env);
  const status = await within(client.status(), `${label} to finish`);
  return { status, stdout: client.stdout(), stderr: client.stderr() };
}

/** `deno task server` on the tutorial's broker and queue, once it listens. */
async function startDenoServer() {
  await claimTutorialQueue();
  const server = startCli("server.ts", ["--url", TUTORIAL_URL]);
  try {
    await within(
      server.waitForLine(" [*] Awaiting RPC requests"),
      "deno task server to listen",
    );
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
  return server;
}

/** Runs `deno task client 30` against the tutorial's broker and queue. */
async function runDenoClient(): Promise<void> {
  await using client = startCli("client.ts", ["--url", TUTORIAL_URL, "30"]);
  const status = await within(client.status(), "deno task client to finish");
  if (!client.stdout().includes(" [x] Requesting fib(30)")) {
    throw new Error(`deno task client printed: ${client.stdout()}`);
  }
  assertGotFib30(
    "deno task client",
    status,
    client.stdout(),
    client.stderr(),
  );
}

Deno.test({
  name: "the tutorial's Go client gets fib(30) from deno task server",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rabbit-rpc-go-" });
    try {
      const goClient = await buildGo("client", "rpc_client.go", dir);
      await using server = await startDenoServer();
      const client = await runTutorialClient("the Go rpc_client", goClient, [
        "30",
      ]);
      // The Go client logs to stderr, as the tutorial's `log.Printf` does.
      assertGotFib30(
        "the tutorial's Go client",
        client.status,
        client.stderr,
        client.stdout,
      );
      await within(
        server.waitForLine(" [.] fib(30)"),
        "deno task server to report fib(30)",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "deno task client gets fib(30) from the tutorial's Go server",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rabbit-rpc-go-" });
    try {
      const goServer = await buildGo("server", "rpc_server.go", dir);
      await claimTutorialQueue();
      await using server = startProgram("the Go rpc_server", goServer, []);
      // log.Printf writes to stderr; waitForLine reads both streams.
      await within(
        server.waitForLine(" [*] Awaiting RPC requests"),
        "the tutorial's Go server to listen",
      );
      await runDenoClient();
      await within(
        server.waitForLine(" [.] fib(30)"),
        "the tutorial's Go server to report fib(30)",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "the tutorial's Python (pika) client gets fib(30) from deno task server",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await requirePika();
    await using server = await startDenoServer();
    const client = await runTutorialClient(
      "the Python rpc_client.py",
      PYTHON,
      [`${INTEROP}python/rpc_client.py`],
      { PYTHONUNBUFFERED: "1" },
    );
    assertGotFib30(
      "the tutorial's Python client",
      client.status,
      client.stdout,
      client.stderr,
    );
    await within(
      server.waitForLine(" [.] fib(30)"),
      "deno task server to report fib(30)",
    );
  },
});

Deno.test({
  name:
    "deno task client gets fib(30) from the tutorial's Python (pika) server",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await requirePika();
    await claimTutorialQueue();
    // Unbuffered, so that its prints reach the pipe as they happen.
    await using server = startProgram(
      "the Python rpc_server.py",
      PYTHON,
      [`${INTEROP}python/rpc_server.py`],
      { PYTHONUNBUFFERED: "1" },
    );
    await within(
      server.waitForLine(" [x] Awaiting RPC requests"),
      "the tutorial's Python server to listen",
    );
    await runDenoClient();
    await within(
      server.waitForLine(" [.] fib(30)"),
      "the tutorial's Python server to report fib(30)",
    );
  },
});
