/**
 * What the interoperability matrix needs to know of a peer: a worker and a
 * client written here in the style of RabbitMQ's RPC tutorial, with one AMQP
 * library's defaults (test peers of our own; no tutorial code is copied).
 *
 * Every peer program follows one contract, whatever its language:
 *
 * - It connects to `amqp://guest:guest@localhost:5672/`, as the tutorials
 *   do, and uses the queue named by the environment variable `RPC_QUEUE`
 *   (default `rpc_queue`), so that each test cell has a queue of its own.
 * - The worker declares that queue as `RPC_QUEUE_TYPE` says: `classic` as
 *   the tutorials did before 2026 (the seed: not durable, no arguments, the
 *   library's other defaults), `quorum` as today's tutorials do
 *   (`durable=true`, arguments `{x-queue-type: quorum}` and nothing else).
 *   Where a library is older than today's tutorials need (Bunny 2.19 has no
 *   `quorum_queue`), it declares the queue with those arguments. It sets a
 *   prefetch of 1, consumes with manual acks, prints
 *   ` [x] Awaiting RPC requests` once it consumes, and for each request
 *   prints ` [.] fib(<n>)`, publishes fib(n) as decimal text to `reply_to`
 *   with the request's `correlation_id`, then acks. Its fib is a loop in the
 *   integer type the tutorial of its language uses, so a large n finishes
 *   and overflows as that type does.
 * - The client takes the n of each call as arguments (`rpc_client 30 31`),
 *   makes the calls one at a time as the tutorial does (a reply queue of its
 *   own or direct reply-to, as its tutorial does; a new correlation id per
 *   call), prints ` [x] Requesting fib(<n>)` and ` [.] Got <answer>` for
 *   each (the answer parsed as its tutorial parses it), and exits 0 after
 *   the last; on an answer it cannot parse it fails as its tutorial would.
 *   It publishes with the library's default properties: no content type
 *   unless the library sets one (Bunny sets `application/octet-stream`).
 *
 * How the matrix (`matrix_test.ts`) runs them: from `tests/interop/` (so
 * paths in a {@linkcode PeerCommand} are best absolute), with the
 * environment of the test plus the command's `env`, `RPC_QUEUE` and
 * `RPC_QUEUE_TYPE`; it reads the lines above on stdout or stderr, whichever
 * the program prints them on, and stops a worker with SIGTERM (SIGKILL ten
 * seconds later), so the command should be the program itself, not a shell
 * that would leave it running.
 *
 * @module
 */

/** The two declarations of the request queue the matrix runs. */
export type QueueKind = "classic" | "quorum";

/** A program to run: its executable, arguments and environment. */
export interface PeerCommand {
  /** The executable. */
  readonly command: string;
  /** Its arguments. */
  readonly args: readonly string[];
  /** Environment variables of its own (the matrix adds `RPC_QUEUE`…). */
  readonly env?: Readonly<Record<string, string>>;
}

/** A peer made ready to run: how to start its worker and its client. */
export interface PeerPrograms {
  /** Starts the worker (the matrix sets `RPC_QUEUE` and `RPC_QUEUE_TYPE`). */
  readonly worker: PeerCommand;
  /** Runs the client for these n, one call each, in order. */
  client(ns: readonly number[]): PeerCommand;
}

/**
 * What a peer does with an n whose fib does not fit its integer type:
 * `right` (it has big integers), or how it goes wrong, for the README's table.
 */
export type LimitOutcome =
  | "right"
  | "wrong answer"
  | "error";

/** One AMQP library of one language, as the matrix runs it. */
export interface Peer {
  /** The language, as the README's table names it: "Ruby". */
  readonly language: string;
  /** The library and its version, as installed here: "Bunny 2.19". */
  readonly library: string;
  /**
   * Checks the toolchain and builds what needs building into `dir` (a
   * temporary folder the matrix removes); throws saying which Debian or npm
   * package to install when something is missing.
   */
  prepare(dir: string): Promise<PeerPrograms>;
  /**
   * Where its worker, started after a worker of ours declared the queue,
   * stops because it declares the queue otherwise by its library's
   * defaults (the broker refuses a declaration that differs): by queue
   * type, the property the broker names (`auto_delete` for php-amqp's
   * classic queue). A documented limit of theirs: the matrix checks that
   * it still holds, and the other start order serves.
   */
  readonly declaresOtherwise?: Readonly<Partial<Record<QueueKind, string>>>;
  /**
   * What its worker and its client do with fib(n) for the n of
   * {@linkcode LIMIT_NS}, as documented in the README: the matrix checks
   * that each still holds.
   */
  readonly limits: {
    readonly worker: Readonly<Record<number, LimitOutcome>>;
    readonly client: Readonly<Record<number, LimitOutcome>>;
  };
}

/**
 * The n whose fib outgrows a common integer type: fib(47) a signed 32-bit
 * integer, fib(79) the integers a double holds exactly (2^53), fib(93) a
 * signed 64-bit integer.
 */
export const LIMIT_NS: readonly number[] = Object.freeze([47, 79, 93]);
