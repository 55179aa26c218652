/**
 * The version of the wire protocol (`PROTOCOL.md`) this library speaks.
 *
 * @module
 */

/**
 * The version of `PROTOCOL.md` this library implements.
 *
 * @example
 * ```ts
 * import { PROTOCOL_VERSION } from "./version.ts";
 *
 * console.log(`rabbit-rpc protocol ${PROTOCOL_VERSION}`); // rabbit-rpc protocol 1.6
 * ```
 */
export const PROTOCOL_VERSION = "1.6";
