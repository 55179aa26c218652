/**
 * Dependencies of the tests only, pinned in full. They live apart from
 * `lib/deps.ts` so that a program importing `mod.ts` by URL never downloads
 * them.
 *
 * @module
 */

export { default as amqplib } from "npm:amqplib@2.3.1";
export { parse as parseYaml } from "npm:yaml@2.9.1";
