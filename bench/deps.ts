/**
 * The benchmark's own third-party dependencies, pinned: rabbitmq-client for
 * its built-in RPC, one of the baselines. The library's dependencies stay in
 * `lib/deps.ts`.
 *
 * @module
 */

export {
  AMQPChannel,
  AMQPClient,
  AMQPMessage,
} from "npm:@cloudamqp/amqp-client@4.1.1";
export { Connection as RabbitConnection } from "npm:rabbitmq-client@5.0.8";
