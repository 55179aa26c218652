/**
 * The Go peers of the interoperability matrix: a worker and a client in the
 * style of RabbitMQ's Go tutorial, once with today's library
 * (github.com/rabbitmq/amqp091-go) and once with the one the tutorial used
 * before it (github.com/streadway/amqp), both as Debian packages them. They
 * are built in GOPATH mode, so no Go module proxy is needed.
 *
 * Their fib is Go's `int` (64 bits here): fib(93) wraps around to a
 * negative number, and their client's `strconv.Atoi` fails on an answer
 * beyond int64, so it exits non-zero.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { Peer, PeerPrograms } from "../_peer.ts";

/** This folder, where the Go sources are. */
const HERE = fileURLToPath(new URL("./", import.meta.url));
/** Where Debian's golang-github-*-dev packages put their sources. */
const GOPATH = "/usr/share/gocode";
/** How long one `go build` may take. */
const BUILD_TIMEOUT_MS = 180_000;

/** What a finished command printed, and how it exited. */
export interface CommandOutput {
  /** Its exit code. */
  readonly code: number;
  /** What it printed on stdout. */
  readonly stdout: string;
  /** What it printed on stderr. */
  readonly stderr: string;
}

/**
 * Runs a command to completion, killed after `timeoutMs`; a program that
 * is not installed is `undefined`.
 */
export async function run(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
  timeoutMs = BUILD_TIMEOUT_MS,
): Promise<CommandOutput | undefined> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const result = await new Deno.Command(command, {
      args: [...args],
      ...options,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
    if (abort.signal.aborted) {
      throw new Error(
        `Timed out after ${timeoutMs} ms: ${command} ${args.join(" ")}`,
      );
    }
    const decoder = new TextDecoder();
    return {
      code: result.code,
      stdout: decoder.decode(result.stdout),
      stderr: decoder.decode(result.stderr),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** A Go library as Debian packages it. */
export interface GoLibrary {
  /** Its import path: "github.com/rabbitmq/amqp091-go". */
  readonly importPath: string;
  /** The Debian package that installs it under {@linkcode GOPATH}. */
  readonly debian: string;
}

/**
 * Builds the Go program in `source` (a folder of one `main` package) into
 * the executable `outDir/name`, in GOPATH mode against Debian's packages,
 * with its build cache inside `outDir`; returns the executable's path.
 * Throws naming the Debian package to install when Go or `library` is
 * missing.
 */
export async function buildGo(
  source: string,
  outDir: string,
  name: string,
  library: GoLibrary,
): Promise<string> {
  const install = `apt-get install golang-go ${library.debian}`;
  const version = await run("go", ["version"]);
  if (version === undefined || version.code !== 0) {
    throw new Error(
      "Go is needed to build the Go peers but `go` was not found: install " +
        `the Debian package golang-go (${install}).`,
    );
  }
  const executable = `${outDir}/${name}`;
  const built = await run("go", ["build", "-o", executable, "."], {
    cwd: source,
    env: {
      GO111MODULE: "off",
      GOPATH,
      GOFLAGS: "",
      GOCACHE: `${outDir}/gocache`,
      GOTMPDIR: outDir,
    },
  });
  if (built === undefined || built.code !== 0) {
    const stderr = built?.stderr ?? "";
    const hint = stderr.includes(library.importPath)
      ? `the Go library ${library.importPath} is missing: install the ` +
        `Debian package ${library.debian}`
      : `see go's output above; it needs the Debian packages golang-go and ${library.debian}`;
    throw new Error(
      `Could not build ${source}:\n${stderr}\n${hint} (${install}).`,
    );
  }
  return executable;
}

/** A Go peer: `go/<folder>/server` and `go/<folder>/client` with `library`. */
function goPeer(
  folder: string,
  libraryName: string,
  library: GoLibrary,
): Peer {
  return {
    language: "Go",
    library: libraryName,
    async prepare(dir: string): Promise<PeerPrograms> {
      const server = await buildGo(
        `${HERE}${folder}/server`,
        dir,
        `${folder}_rpc_server`,
        library,
      );
      const client = await buildGo(
        `${HERE}${folder}/client`,
        dir,
        `${folder}_rpc_client`,
        library,
      );
      return {
        worker: { command: server, args: [] },
        client: (ns) => ({ command: client, args: ns.map(String) }),
      };
    },
    // Measured: the worker's int wraps at fib(93) (-6246583658587674878);
    // the client's strconv.Atoi fails on 12200160415121876738 ("value out of
    // range") and it exits non-zero (2 from amqp091's log.Panicf, 1 from
    // streadway's log.Fatalf).
    limits: {
      worker: { 47: "right", 79: "right", 93: "wrong answer" },
      client: { 47: "right", 79: "right", 93: "error" },
    },
  };
}

/** The Go peers: amqp091-go (today's tutorial) and streadway/amqp (before). */
export const PEERS: readonly Peer[] = [
  goPeer("amqp091", "amqp091-go 1.5.0", {
    importPath: "github.com/rabbitmq/amqp091-go",
    debian: "golang-github-rabbitmq-amqp091-go-dev",
  }),
  goPeer("streadway", "streadway/amqp 0.0~git20200716 (e6b33f4)", {
    importPath: "github.com/streadway/amqp",
    debian: "golang-github-streadway-amqp-dev",
  }),
];
