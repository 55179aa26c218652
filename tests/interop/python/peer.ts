/**
 * The Python peer of the interoperability matrix: a worker and a client in
 * the style of RabbitMQ's Python tutorial, with pika's BlockingConnection
 * as Debian packages it (python3-pika, for Debian's /usr/bin/python3).
 *
 * Their fib is a Python int, which has no limit: every answer is right.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { Peer, PeerPrograms } from "../_peer.ts";

/** This folder, where the Python programs are. */
const HERE = fileURLToPath(new URL("./", import.meta.url));
/** Debian's python3, for which `python3-pika` installs pika. */
const PYTHON = "/usr/bin/python3";
const INSTALL = "apt-get install python3 python3-pika";

/** Throws naming the Debian package to install unless pika imports. */
async function requirePika(): Promise<void> {
  let result;
  try {
    result = await new Deno.Command(PYTHON, {
      args: ["-c", "import pika"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(
      `${PYTHON} was not found; the Python peer needs it with pika: install ` +
        `the Debian packages python3 and python3-pika (${INSTALL}).`,
    );
  }
  if (result.code !== 0) {
    throw new Error(
      `${PYTHON} cannot import pika, which the Python peer needs: install ` +
        `the Debian package python3-pika (${INSTALL}).\n` +
        new TextDecoder().decode(result.stderr),
    );
  }
}

/** Runs a program of this folder with Debian's python3, unbuffered. */
function python(file: string, args: readonly string[] = []) {
  return {
    command: PYTHON,
    args: [`${HERE}pika/${file}`, ...args],
    env: { PYTHONUNBUFFERED: "1" },
  };
}

/** The Python peers: pika. */
export const PEERS: readonly Peer[] = [
  {
    language: "Python",
    library: "pika 1.2.0",
    async prepare(_dir: string): Promise<PeerPrograms> {
      await requirePika();
      return {
        worker: python("rpc_server.py"),
        client: (ns) => python("rpc_client.py", ns.map(String)),
      };
    },
    // Measured: Python's int is unbounded, so fib(n) is exact both ways.
    limits: {
      worker: { 47: "right", 79: "right", 93: "right" },
      client: { 47: "right", 79: "right", 93: "right" },
    },
  },
];
