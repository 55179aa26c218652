/**
 * The Ruby peer: a worker and a client with Bunny, as Debian packages it
 * (`apt-get install ruby-bunny`).
 *
 * The version in {@linkcode PEERS} is the one the limits were measured
 * with; {@linkcode Peer.prepare} checks that the installed Bunny is that
 * version, since the README's table names it.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { Peer, PeerPrograms } from "../_peer.ts";
import { checkMeasuredVersion, printedBy } from "../_programs.ts";

/** The Bunny the limits below were measured with. */
const BUNNY_VERSION = "2.19";
const SERVER = fileURLToPath(new URL("./rpc_server.rb", import.meta.url));
const CLIENT = fileURLToPath(new URL("./rpc_client.rb", import.meta.url));

/** Bunny's peer, with its defaults (it publishes application/octet-stream). */
const BUNNY: Peer = {
  language: "Ruby",
  library: `Bunny ${BUNNY_VERSION}`,
  async prepare(_dir: string): Promise<PeerPrograms> {
    const version = await printedBy(
      "ruby",
      ["-e", 'require "bunny"; print Bunny::VERSION'],
      {
        missing:
          "The Ruby peer needs ruby and Bunny: apt-get install ruby-bunny",
        failed: "The Ruby peer needs Bunny (apt-get install ruby-bunny)",
      },
    );
    checkMeasuredVersion(
      "Bunny",
      BUNNY_VERSION,
      version,
      "tests/interop/ruby/peer.ts",
    );
    return {
      worker: { command: "ruby", args: [SERVER] },
      client: (ns) => ({ command: "ruby", args: [CLIENT, ...ns.map(String)] }),
    };
  },
  // Ruby's Integer is a bignum: the worker's loop and the client's `to_i`
  // are exact.
  limits: {
    worker: { 47: "right", 79: "right", 93: "right" },
    client: { 47: "right", 79: "right", 93: "right" },
  },
};

/** The Ruby peers of the interoperability matrix. */
export const PEERS: readonly Peer[] = [BUNNY];
