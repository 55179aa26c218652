/**
 * Every third-party dependency, with its full, pinned specifier.
 *
 * `mod.ts` is imported by URL, where the importer's import map does not apply,
 * so specifiers are written out in full here and nowhere else.
 *
 * @module
 */

export {
  AMQPChannel,
  AMQPClient,
  AMQPConsumer,
  AMQPError,
  AMQPMessage,
} from "npm:@cloudamqp/amqp-client@4.1.1";
export type {
  AMQPProperties,
  AMQPTlsOptions,
  Field,
} from "npm:@cloudamqp/amqp-client@4.1.1";
