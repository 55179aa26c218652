/**
 * Every peer of the interoperability matrix, in the order of the README's
 * table: one entry per language and AMQP library.
 *
 * @module
 */

import type { Peer } from "./_peer.ts";
import { PEERS as GO } from "./go/peer.ts";
import { PEERS as JAVA } from "./java/peer.ts";
import { PEERS as NODE } from "./node/peer.ts";
import { PEERS as PHP } from "./php/peer.ts";
import { PEERS as PYTHON } from "./python/peer.ts";
import { PEERS as RUBY } from "./ruby/peer.ts";

/** The peers of every language, in the matrix's order. */
export const ALL_PEERS: readonly Peer[] = Object.freeze([
  ...RUBY,
  ...PHP,
  ...JAVA,
  ...NODE,
  ...GO,
  ...PYTHON,
]);
