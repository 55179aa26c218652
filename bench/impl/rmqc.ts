/**
 * rabbitmq-client's built-in RPC: `createRPCClient` (direct reply-to, no
 * publisher confirms) and a `createConsumer` worker that answers with its
 * `reply()` at prefetch 100. Both connections get `noDelay` (TCP_NODELAY) and
 * a 128 KiB `frameMax`, which rabbitmq-client leaves off and at 8 KiB by
 * default.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { RabbitConnection } from "../deps.ts";
import {
  type ClientSide,
  FRAME_MAX,
  type Implementation,
  type WorkerSide,
} from "./common.ts";

function open(url: string, name: string) {
  return new RabbitConnection({
    url,
    connectionName: name,
    noDelay: true,
    frameMax: FRAME_MAX,
  });
}

export const rmqc: Implementation = {
  async client({ url, queue, name }): Promise<ClientSide> {
    const rabbit = open(url, name);
    await rabbit.onConnect(10_000);
    const rpc = rabbit.createRPCClient({ confirm: false, timeout: 60_000 });
    return {
      call: async (body) => {
        const reply = await rpc.send(
          queue,
          Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        );
        return reply.body as Uint8Array;
      },
      close: async () => {
        await rpc.close();
        await rabbit.close();
      },
    };
  },
  async worker({ url, queue, name }): Promise<WorkerSide> {
    const rabbit = open(url, name);
    await rabbit.onConnect(10_000);
    let handled = 0;
    const consumer = rabbit.createConsumer(
      { queue, queueOptions: {}, qos: { prefetchCount: 100 } },
      async (request, reply) => {
        handled++;
        await reply(request.body);
      },
    );
    await new Promise<void>((resolve, reject) => {
      consumer.once("ready", resolve);
      consumer.once("error", reject);
    });
    return {
      handled: () => handled,
      close: async () => {
        await consumer.close();
        await rabbit.close();
      },
    };
  },
};
