/**
 * The JavaScript peer of the interoperability matrix: a worker and a client
 * in the style of RabbitMQ's JavaScript tutorial, with amqplib's callback
 * API on Node.js. amqplib comes from npm, pinned in `package.json` and
 * `package-lock.json` here: `npm ci --prefix tests/interop/node` installs it.
 *
 * The worker's fib is a JS number, as in the tutorial: exact up to fib(78),
 * rounded from fib(79) on. The client prints the answer as the text it got,
 * as the tutorial's does (it never parses it), so every answer it gets is
 * right.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { Peer, PeerPrograms } from "../_peer.ts";

/** This folder, where the programs and their node_modules are. */
const HERE = fileURLToPath(new URL("./", import.meta.url));
/** The amqplib that package.json pins, with which the limits were measured. */
const AMQPLIB_VERSION = "2.3.1";
/** The oldest Node.js that amqplib supports. */
const NODE_MAJOR = 18;
const NPM_CI = "npm ci --prefix tests/interop/node";

/** Throws saying what to install unless Node.js and amqplib are there. */
async function requireNode(): Promise<void> {
  let version: string;
  try {
    const result = await new Deno.Command("node", {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    version = new TextDecoder().decode(result.stdout).trim();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(
      `\`node\` was not found; the JavaScript peer needs Node.js ` +
        `${NODE_MAJOR} or later with npm (apt-get install nodejs npm), ` +
        `then amqplib (${NPM_CI}).`,
    );
  }
  const major = Number(/^v(\d+)\./.exec(version)?.[1]);
  if (!(major >= NODE_MAJOR)) {
    throw new Error(
      `Node.js ${version} is too old for amqplib ${AMQPLIB_VERSION}: ` +
        `the JavaScript peer needs Node.js ${NODE_MAJOR} or later.`,
    );
  }
  let installed: string | undefined;
  try {
    const text = await Deno.readTextFile(
      `${HERE}node_modules/amqplib/package.json`,
    );
    installed = JSON.parse(text).version;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (installed !== AMQPLIB_VERSION) {
    throw new Error(
      `${HERE}node_modules/amqplib ` +
        (installed === undefined ? "was not found" : `is ${installed}`) +
        `; the JavaScript peer needs amqplib ${AMQPLIB_VERSION} from npm, ` +
        `as package-lock.json pins it: run \`${NPM_CI}\`.`,
    );
  }
}

/** Runs a program of this folder with Node.js. */
function node(file: string, args: readonly string[] = []) {
  return { command: "node", args: [`${HERE}${file}`, ...args] };
}

/** The JavaScript peers: amqplib. */
export const PEERS: readonly Peer[] = [
  {
    language: "JavaScript",
    library: `amqplib ${AMQPLIB_VERSION}`,
    async prepare(_dir: string): Promise<PeerPrograms> {
      await requireNode();
      return {
        worker: node("rpc_server.js"),
        client: (ns) => node("rpc_client.js", ns.map(String)),
      };
    },
    // Measured: the worker's number gives fib(47) = 2971215073 exactly but
    // fib(79) = 14472334024676220 and fib(93) = 12200160415121877000; the
    // client prints 2971215073, 14472334024676221 and 12200160415121876738
    // as it got them.
    limits: {
      worker: { 47: "right", 79: "wrong answer", 93: "wrong answer" },
      client: { 47: "right", 79: "right", 93: "right" },
    },
  },
];
