/**
 * The PHP peers: a worker and a client with php-amqplib, and a worker and a
 * client with the PECL amqp extension (php-amqp), as Debian packages them
 * (`apt-get install php-cli php-amqplib php-amqp`).
 *
 * The versions in {@linkcode PEERS} are the ones the limits were measured
 * with; each {@linkcode Peer.prepare} checks that the installed library is
 * that version, since the README's table names it.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { Peer, PeerPrograms } from "../_peer.ts";
import { checkMeasuredVersion, printedBy } from "../_programs.ts";

/** The php-amqplib the limits below were measured with. */
const AMQPLIB_VERSION = "3.5";
/** The PECL amqp extension the limits below were measured with. */
const AMQP_EXT_VERSION = "1.11";

/** A program of this folder, as an absolute path. */
function program(path: string): string {
  return fileURLToPath(new URL(path, import.meta.url));
}

/** What `php -r script` prints; `hint` names the Debian package it needs. */
function phpPrint(script: string, hint: string): Promise<string> {
  return printedBy("php", ["-r", script], {
    missing: `The PHP peers need php: apt-get install php-cli ${hint}`,
    failed: `This PHP peer needs ${hint} (apt-get install ${hint})`,
  });
}

/** Fails unless `found` is the `expected` version of `library`. */
function checkVersion(library: string, expected: string, found: string) {
  checkMeasuredVersion(library, expected, found, "tests/interop/php/peer.ts");
}

/** The programs of one PHP peer. */
function programs(folder: string): PeerPrograms {
  const server = program(`./${folder}/rpc_server.php`);
  const client = program(`./${folder}/rpc_client.php`);
  return {
    worker: { command: "php", args: [server] },
    client: (ns) => ({ command: "php", args: [client, ...ns.map(String)] }),
  };
}

/** php-amqplib's peer: it publishes with no content type. */
const AMQPLIB: Peer = {
  language: "PHP",
  library: `php-amqplib ${AMQPLIB_VERSION}`,
  async prepare(_dir: string): Promise<PeerPrograms> {
    const version = await phpPrint(
      "require 'PhpAmqpLib/autoload.php'; echo PhpAmqpLib\\Package::VERSION;",
      "php-amqplib",
    );
    checkVersion("php-amqplib", AMQPLIB_VERSION, version);
    return programs("amqplib");
  },
  // PHP's int is 64-bit and overflows to float: the worker answers fib(93)
  // as "1.2200160415122E+19"; the client's intval saturates fib(93) to
  // 9223372036854775807.
  limits: {
    worker: { 47: "right", 79: "right", 93: "wrong answer" },
    client: { 47: "right", 79: "right", 93: "wrong answer" },
  },
};

/**
 * The PECL amqp extension's peer: it publishes `text/plain`, and its classic
 * queue is auto-delete (the extension's default flags).
 */
const AMQP_EXT: Peer = {
  language: "PHP",
  library: `php-amqp ${AMQP_EXT_VERSION}`,
  async prepare(_dir: string): Promise<PeerPrograms> {
    const version = await phpPrint(
      "echo phpversion('amqp');",
      "php-amqp",
    );
    checkVersion("php-amqp", AMQP_EXT_VERSION, version);
    return programs("amqp");
  },
  // php-amqp declares its queues auto-delete by default: a worker that
  // declared the classic queue first (not auto-delete) is refused.
  declaresOtherwise: { classic: "auto_delete" },
  // The worker's int overflows to float as php-amqplib's does; the client
  // prints the body as received, as its tutorial does, so it is exact.
  limits: {
    worker: { 47: "right", 79: "right", 93: "wrong answer" },
    client: { 47: "right", 79: "right", 93: "right" },
  },
};

/** The PHP peers of the interoperability matrix. */
export const PEERS: readonly Peer[] = [AMQPLIB, AMQP_EXT];
