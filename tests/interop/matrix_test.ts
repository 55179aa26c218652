/**
 * The interoperability matrix: for every peer of `peers.ts` (a worker and a
 * client in the style of RabbitMQ's RPC tutorial, one per language and AMQP
 * library, see `_peer.ts`), its client calls `deno task server`,
 * `deno task client` calls its worker, and its client calls a pool of its
 * worker and ours, started in either order; on a classic queue (the
 * tutorial's seed) and on a quorum queue (today's tutorials). Then the
 * limits: what each side does with a fib(n) beyond its integer type, which
 * must still be what the peer documents.
 *
 * Each cell has a queue of its own, passed to the peer's programs in
 * `RPC_QUEUE` and `RPC_QUEUE_TYPE` and to ours with `--queue`, deleted
 * afterwards. The peers hard-code `amqp://guest:guest@localhost:5672/`, so
 * our programs are pointed there too, whatever `AMQP_URL` says.
 *
 * The last test prints every cell's outcome as a markdown table, and writes
 * it to the file `INTEROP_MATRIX_OUT` names, if set.
 *
 * @module
 */

import { closeConnection, openConnection } from "../../lib/amqp/connection.ts";
import { type CliProcess, scratchQueue, startCli } from "../_helpers.ts";
import {
  LIMIT_NS,
  type LimitOutcome,
  type Peer,
  type PeerCommand,
  type PeerPrograms,
} from "./_peer.ts";
import { type Program, startProgram, within } from "./_programs.ts";
import { ALL_PEERS } from "./peers.ts";

/** The broker the peers connect to, as the tutorials hard-code it. */
const TUTORIAL_URL = "amqp://guest:guest@localhost:5672";
/** The queue types of the matrix: the tutorials' before 2026, and today's. */
const QUEUE_TYPES = ["classic", "quorum"] as const;
type QueueType = typeof QUEUE_TYPES[number];
/** The n of a cell's calls: 20 calls, one at a time. */
const CALLS: readonly number[] = Array.from({ length: 20 }, (_, i) => 11 + i);
/** How long a peer's `prepare` (a compiler's first build) may take. */
const PREPARE_TIMEOUT_MS = 300_000;
/**
 * How long a limits cell's call may take before it counts as an error: a
 * client that cannot parse an answer may hang instead of exiting.
 */
const LIMIT_TIMEOUT_MS = 20_000;

/** One cell of the matrix, as the table shows it. */
interface Cell {
  readonly language: string;
  readonly library: string;
  readonly direction: string;
  readonly queueType: string;
  readonly startOrder: string;
  outcome: string;
}

/** Every cell run so far, in order. */
const MATRIX: Cell[] = [];

/** fib(n) as the tutorial defines it, exact. */
function fib(n: number): bigint {
  let [a, b] = [0n, 1n];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

/** At most 160 characters of one line. */
function short(line: string): string {
  const trimmed = line.trim();
  return trimmed.length > 160 ? `${trimmed.slice(0, 157)}...` : trimmed;
}

/**
 * The line of a program's output that says why it failed: the last one
 * naming an error, else the last one; never a `warn:` line (our CLIs warn
 * about `--url` first).
 */
function telling(output: string): string {
  const lines = output.split("\n").map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("warn:"));
  return lines.findLast((line) =>
    /error|fail|exception|panic|refused|denied|unknown/i.test(line)
  ) ?? lines.at(-1) ?? "";
}

/**
 * An error's message in one line for the table: its first line, and for a
 * program that exited early, the line of its output that says why.
 */
function summary(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const [head, ...rest] = message.trim().split("\n");
  const at = head.search(/; (stdout|stderr): /);
  if (at === -1) return short(head);
  const why = telling([head.slice(at + 10), ...rest].join("\n"));
  return `${short(head.slice(0, at))}: ${short(why)}`;
}

/** "the Ruby (Bunny 2.19) worker". */
function their(peer: Peer, program: "worker" | "client"): string {
  return `the ${peer.language} (${peer.library}) ${program}`;
}

/** A label of a queue name: letters, digits and dashes only. */
function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** Starts one of a peer's programs on `queue`. */
function startPeer(
  label: string,
  command: PeerCommand,
  queue: string,
  type: QueueType,
): Program {
  return startProgram(label, command.command, command.args, {
    ...command.env,
    RPC_QUEUE: queue,
    RPC_QUEUE_TYPE: type,
  });
}

/**
 * Starts the peer's worker, which declares `queue` as `type`, and waits
 * until it consumes.
 */
async function startPeerWorker(
  peer: Peer,
  programs: PeerPrograms,
  queue: string,
  type: QueueType,
): Promise<Program> {
  const label = their(peer, "worker");
  const worker = startPeer(label, programs.worker, queue, type);
  try {
    const line = await within(
      worker.waitForLine("Awaiting RPC requests"),
      `${label} to print " [x] Awaiting RPC requests"`,
    );
    if (!line.includes(" [x] Awaiting RPC requests")) {
      throw new Error(
        `${label} printed "${line}", not " [x] Awaiting RPC requests"`,
      );
    }
  } catch (error) {
    await worker[Symbol.asyncDispose]();
    throw error;
  }
  return worker;
}

/** `deno task server` on `queue` (with more flags), once it listens. */
async function startOurWorker(
  queue: string,
  flags: string[] = [],
): Promise<CliProcess> {
  const server = startCli("server.ts", [
    "--url",
    TUTORIAL_URL,
    "--queue",
    queue,
    ...flags,
  ]);
  try {
    await within(
      server.waitForLine(" [*] Awaiting RPC requests"),
      `deno task server ${[...flags, "--queue", queue].join(" ")} to listen`,
    );
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
  return server;
}

/**
 * Declares `queue` exactly as today's tutorials declare their quorum queue:
 * durable, `x-queue-type: quorum`, nothing else.
 */
async function declareTutorialQuorum(queue: string): Promise<void> {
  const connection = await openConnection({ url: TUTORIAL_URL });
  try {
    const channel = await connection.channel();
    await channel.queueDeclare(
      queue,
      { durable: true, exclusive: false, autoDelete: false },
      { "x-queue-type": "quorum" },
    );
  } finally {
    await closeConnection(connection);
  }
}

/** What a client printed and how it exited. */
interface ClientRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the peer's client for `ns` to completion, within `ms`. */
async function runPeerClient(
  peer: Peer,
  programs: PeerPrograms,
  queue: string,
  type: QueueType,
  ns: readonly number[],
  ms?: number,
): Promise<ClientRun> {
  const label = their(peer, "client");
  await using client = startPeer(label, programs.client(ns), queue, type);
  const status = await within(
    client.status(),
    `${label} to make ${ns.length} call(s) and exit`,
    ms,
  );
  return {
    code: status.code,
    stdout: client.stdout(),
    stderr: client.stderr(),
  };
}

/**
 * The answers a client printed, ` [.] Got <answer>`, in order: on stdout,
 * or on stderr for those that log there (Go's `log.Printf`).
 */
function answers(run: ClientRun): string[] {
  const got = (text: string) =>
    text.split("\n").flatMap((line) => {
      const match = line.match(/ \[\.\] Got (.*)$/);
      return match ? [match[1].trim()] : [];
    });
  const out = got(run.stdout);
  return out.length > 0 ? out : got(run.stderr);
}

/** Both of a client's streams, for a failure's message. */
function printed(run: ClientRun): string {
  return `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
}

/** Throws unless the client exited 0 with the true fib of each n, in order. */
function assertAnswers(
  label: string,
  run: ClientRun,
  ns: readonly number[],
): void {
  const expected = ns.map((n) => fib(n).toString());
  const got = answers(run);
  if (run.code !== 0) {
    throw new Error(
      `${label} exited ${run.code} after ${got.length} answer(s)\n` +
        printed(run),
    );
  }
  const wrong = expected.findIndex((answer, i) => got[i] !== answer);
  if (wrong !== -1 || got.length !== expected.length) {
    const at = wrong === -1 ? expected.length : wrong;
    throw new Error(
      `${label} got ${JSON.stringify(got[at] ?? null)} for fib(${ns[at]}), ` +
        `not ${expected[at]} (${got.length} answers for ${ns.length} ` +
        `calls)\n${printed(run)}`,
    );
  }
}

/** How many requests a worker reported, one ` [.] fib(n)` line each. */
function requestsServed(output: string): number {
  return output.split("\n").filter((line) => line.includes(" [.] fib("))
    .length;
}

/** Runs one cell as a step of `t` and records its outcome in the matrix. */
async function cell(
  t: Deno.TestContext,
  row: Omit<Cell, "outcome">,
  fn: () => Promise<string | undefined>,
): Promise<void> {
  const recorded: Cell = { ...row, outcome: "not run" };
  MATRIX.push(recorded);
  await t.step(
    `${row.direction}, ${row.queueType} queue, ${row.startOrder}`,
    async () => {
      try {
        const detail = await fn();
        recorded.outcome = detail === undefined ? "pass" : `pass: ${detail}`;
      } catch (error) {
        recorded.outcome = `FAIL: ${summary(error)}`;
        throw error;
      }
    },
  );
}

/** 1. Their client calls `deno task server`. */
async function theirClientOurWorker(
  peer: Peer,
  programs: PeerPrograms,
  type: QueueType,
): Promise<undefined> {
  await using queue = scratchQueue(`interop.${slug(peer.library)}.c2s`);
  // For quorum, the queue today's tutorial declares, which ours adopts.
  if (type === "quorum") await declareTutorialQuorum(queue.name);
  await using server = await startOurWorker(queue.name);
  const run = await runPeerClient(peer, programs, queue.name, type, CALLS);
  assertAnswers(their(peer, "client"), run, CALLS);
  if (requestsServed(server.stdout()) !== CALLS.length) {
    throw new Error(
      `deno task server reported ${requestsServed(server.stdout())} ` +
        `requests, not ${CALLS.length}:\n${server.stdout()}`,
    );
  }
  return undefined;
}

/** Starts `deno task client N` on `queue`. */
function startOurClient(
  queue: string,
  n: number,
  flags: string[] = [],
): CliProcess {
  return startCli("client.ts", [
    "--url",
    TUTORIAL_URL,
    "--queue",
    queue,
    ...flags,
    String(n),
  ]);
}

/** 2. `deno task client` calls their worker. */
async function ourClientTheirWorker(
  peer: Peer,
  programs: PeerPrograms,
  type: QueueType,
): Promise<undefined> {
  await using queue = scratchQueue(`interop.${slug(peer.library)}.s2c`);
  await using worker = await startPeerWorker(peer, programs, queue.name, type);
  await using client = startOurClient(queue.name, 30);
  const status = await within(client.status(), "deno task client to finish");
  const run = {
    code: status.code,
    stdout: client.stdout(),
    stderr: client.stderr(),
  };
  assertAnswers("deno task client", run, [30]);
  await within(
    worker.waitForLine(" [.] fib(30)"),
    `${their(peer, "worker")} to report fib(30)`,
  );
  return undefined;
}

/**
 * 3 and 4. Their client calls a pool of their worker and ours, started in
 * `order`; both must answer some of the calls.
 */
async function mixedPool(
  peer: Peer,
  programs: PeerPrograms,
  type: QueueType,
  order: "theirs first" | "ours first",
): Promise<string> {
  await using queue = scratchQueue(`interop.${slug(peer.library)}.pool`);
  let theirs: Program | undefined;
  let ours: CliProcess | undefined;
  try {
    if (order === "theirs first") {
      theirs = await startPeerWorker(peer, programs, queue.name, type);
      // Adopts the queue their worker declared, whatever its type.
      ours = await startOurWorker(queue.name);
    } else {
      ours = await startOurWorker(
        queue.name,
        type === "quorum" ? ["--declare-as", "tutorial-quorum"] : [],
      );
      // Their worker's declaration must match ours, or it fails.
      const otherwise = peer.declaresOtherwise?.[type];
      if (otherwise !== undefined) {
        return await documentedRefusal(
          peer,
          programs,
          queue.name,
          type,
          otherwise,
        );
      }
      theirs = await startPeerWorker(peer, programs, queue.name, type);
    }
    const run = await runPeerClient(peer, programs, queue.name, type, CALLS);
    assertAnswers(their(peer, "client"), run, CALLS);
    const byOurs = requestsServed(ours.stdout());
    const byTheirs = requestsServed(`${theirs.stdout()}\n${theirs.stderr()}`);
    if (byOurs === 0 || byTheirs === 0) {
      throw new Error(
        `both workers should have answered: deno task server reported ` +
          `${byOurs} request(s), ${their(peer, "worker")} ${byTheirs}`,
      );
    }
    return `deno task server answered ${byOurs}, theirs ${byTheirs}`;
  } finally {
    await theirs?.[Symbol.asyncDispose]();
    await ours?.[Symbol.asyncDispose]();
  }
}

/**
 * A documented limit of theirs: their worker, started after ours declared
 * the queue, stops because the broker refuses its declaration, naming
 * `property`. Throws if it starts instead, or stops for another reason.
 */
async function documentedRefusal(
  peer: Peer,
  programs: PeerPrograms,
  queue: string,
  type: QueueType,
  property: string,
): Promise<string> {
  let refusal: unknown;
  try {
    const theirs = await startPeerWorker(peer, programs, queue, type);
    await theirs[Symbol.asyncDispose]();
  } catch (error) {
    refusal = error;
  }
  const text = refusal instanceof Error ? refusal.message : "";
  if (!text.includes(`inequivalent arg '${property}'`)) {
    throw new Error(
      `${their(peer, "worker")} was documented to be refused on ` +
        `${property}, but ${refusal ? `failed: ${short(text)}` : "started"}`,
    );
  }
  return `documented limit of theirs: their worker declares the queue with ` +
    `another ${property} and the broker refuses it (406); start theirs first`;
}

/** What one side did with fib(n): the outcome and what was seen. */
interface Seen {
  readonly outcome: LimitOutcome;
  readonly detail: string;
}

/** What a finished client's answer to fib(n) was. */
function judge(run: ClientRun, n: number): Seen {
  const got = answers(run);
  if (run.code !== 0) {
    const why = telling(run.stderr) || telling(run.stdout);
    return { outcome: "error", detail: `exit ${run.code}: ${short(why)}` };
  }
  if (got.length !== 1) {
    return {
      outcome: "error",
      detail: `exit 0 with ${got.length} answers: ${
        short(telling(printed(run)))
      }`,
    };
  }
  return got[0] === fib(n).toString()
    ? { outcome: "right", detail: `got ${got[0]}` }
    : { outcome: "wrong answer", detail: `got ${got[0]}, not ${fib(n)}` };
}

/** Throws unless `seen` is what the peer documents. */
function assertLimit(
  peer: Peer,
  side: "worker" | "client",
  n: number,
  seen: Seen,
): string {
  const documented = peer.limits[side][n];
  const text = `${seen.outcome} (${seen.detail})`;
  if (documented !== seen.outcome) {
    throw new Error(
      `${their(peer, side)} with fib(${n}): documented ` +
        `${documented ?? "nothing"}, seen ${text}`,
    );
  }
  return text;
}

/** Limits: `deno task client N` calls their worker. */
async function workerLimit(
  peer: Peer,
  programs: PeerPrograms,
  n: number,
): Promise<string> {
  await using queue = scratchQueue(`interop.${slug(peer.library)}.limit`);
  await using worker = await startPeerWorker(
    peer,
    programs,
    queue.name,
    "classic",
  );
  await using client = startOurClient(queue.name, n, [
    "--timeout",
    String(LIMIT_TIMEOUT_MS),
  ]);
  // A worker that dies on fib(n) has answered with an error: no need to
  // wait for the client's timeout.
  const ended = await within(
    Promise.race([
      client.status().then(() => "client" as const),
      worker.status().then(() => "worker" as const),
    ]),
    `deno task client ${n} to finish`,
    LIMIT_TIMEOUT_MS * 2,
  );
  if (ended === "worker" && answers(clientRun(client)).length === 0) {
    const status = await worker.status();
    const why = telling(worker.stderr()) || telling(worker.stdout());
    return assertLimit(peer, "worker", n, {
      outcome: "error",
      detail: `worker exited ${status.code}: ${short(why)}`,
    });
  }
  const status = await client.status();
  return assertLimit(
    peer,
    "worker",
    n,
    judge({ ...clientRun(client), code: status.code }, n),
  );
}

/** What a CLI process printed so far (its code is filled in by callers). */
function clientRun(client: CliProcess): ClientRun {
  return { code: 0, stdout: client.stdout(), stderr: client.stderr() };
}

/** Limits: their client calls `deno task server` for fib(n). */
async function clientLimit(
  peer: Peer,
  programs: PeerPrograms,
  n: number,
): Promise<string> {
  await using queue = scratchQueue(`interop.${slug(peer.library)}.limit`);
  await using _server = await startOurWorker(queue.name);
  let run: ClientRun;
  try {
    run = await runPeerClient(
      peer,
      programs,
      queue.name,
      "classic",
      [n],
      LIMIT_TIMEOUT_MS,
    );
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith("Timed out"))) {
      throw error;
    }
    return assertLimit(peer, "client", n, {
      outcome: "error",
      detail: `no exit within ${LIMIT_TIMEOUT_MS} ms`,
    });
  }
  return assertLimit(peer, "client", n, judge(run, n));
}

for (const peer of ALL_PEERS) {
  Deno.test({
    name: `${peer.language} (${peer.library}) interoperates with ` +
      "deno task server and deno task client",
    sanitizeOps: true,
    sanitizeResources: true,
    async fn(t) {
      const row = { language: peer.language, library: peer.library };
      const dir = await Deno.makeTempDir({
        prefix: `rabbit-rpc-interop-${slug(peer.library)}-`,
      });
      try {
        let programs: PeerPrograms;
        try {
          programs = await within(
            peer.prepare(dir),
            `preparing ${peer.language} (${peer.library})`,
            PREPARE_TIMEOUT_MS,
          );
        } catch (error) {
          MATRIX.push({
            ...row,
            direction: "prepare",
            queueType: "-",
            startOrder: "-",
            outcome: `FAIL: ${summary(error)}`,
          });
          throw error;
        }
        for (const type of QUEUE_TYPES) {
          const queueType = type;
          await cell(t, {
            ...row,
            direction: "their client → deno task server",
            queueType,
            startOrder: type === "quorum"
              ? "queue declared as the tutorial does, ours adopts it"
              : "ours declares",
          }, () => theirClientOurWorker(peer, programs, type));
          await cell(t, {
            ...row,
            direction: "deno task client → their worker",
            queueType,
            startOrder: "theirs declares",
          }, () => ourClientTheirWorker(peer, programs, type));
          await cell(t, {
            ...row,
            direction: "their client → their worker + deno task server",
            queueType,
            startOrder: "theirs first, ours adopts",
          }, () => mixedPool(peer, programs, type, "theirs first"));
          await cell(t, {
            ...row,
            direction: "their client → their worker + deno task server",
            queueType,
            startOrder: type === "quorum"
              ? "ours first (--declare-as tutorial-quorum)"
              : "ours first",
          }, () => mixedPool(peer, programs, type, "ours first"));
        }
        for (const n of LIMIT_NS) {
          await cell(t, {
            ...row,
            direction: `deno task client → their worker, fib(${n})`,
            queueType: "classic",
            startOrder: "theirs declares",
          }, () => workerLimit(peer, programs, n));
        }
        for (const n of LIMIT_NS) {
          await cell(t, {
            ...row,
            direction: `their client → deno task server, fib(${n})`,
            queueType: "classic",
            startOrder: "ours declares",
          }, () => clientLimit(peer, programs, n));
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

/** The matrix as a markdown table. */
function table(cells: readonly Cell[]): string {
  const escape = (text: string) => text.replaceAll("|", "\\|");
  const lines = [
    "| language | library | direction | queue type | start order | outcome |",
    "| --- | --- | --- | --- | --- | --- |",
    ...cells.map((c) =>
      `| ${
        [
          c.language,
          c.library,
          c.direction,
          c.queueType,
          c.startOrder,
          c.outcome,
        ].map(escape).join(" | ")
      } |`
    ),
  ];
  return `${lines.join("\n")}\n`;
}

Deno.test({
  name: "the interoperability matrix, printed (and written to " +
    "$INTEROP_MATRIX_OUT if set)",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const markdown = table(MATRIX);
    // deno-lint-ignore no-console -- the matrix is this test's report
    console.log(`\n${markdown}`);
    const out = Deno.env.get("INTEROP_MATRIX_OUT");
    if (out) await Deno.writeTextFile(out, markdown);
  },
});
