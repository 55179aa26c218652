/**
 * The amqplib types the fuzz tests use: its connection, channel, publish
 * options and deliveries, which amqplib does not export by name.
 *
 * @module
 */

import type { amqplib } from "../deps.ts";

/** An amqplib connection. */
export type Connection = Awaited<ReturnType<typeof amqplib.connect>>;
/** An amqplib channel. */
export type Channel = Awaited<ReturnType<Connection["createChannel"]>>;
/** The options of an amqplib publish. */
export type PublishOptions = NonNullable<Parameters<Channel["sendToQueue"]>[2]>;
/** A message an amqplib consumer receives. */
export type Delivery = NonNullable<
  Parameters<Parameters<Channel["consume"]>[1]>[0]
>;
