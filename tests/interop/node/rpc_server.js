#!/usr/bin/env node
// deno-lint-ignore-file no-console
// An RPC worker in the style of RabbitMQ's JavaScript tutorial (amqplib's
// callback API): it answers fib(n) on the queue named by RPC_QUEUE, declared
// as RPC_QUEUE_TYPE says (classic or quorum). Its fib is a JS number.

const amqp = require("amqplib/callback_api");

const queue = process.env.RPC_QUEUE || "rpc_queue";
const queueType = process.env.RPC_QUEUE_TYPE || "classic";
const queueOptions = {
  classic: { durable: false },
  quorum: { durable: true, arguments: { "x-queue-type": "quorum" } },
}[queueType];
if (queueOptions === undefined) {
  throw new Error(`Unknown RPC_QUEUE_TYPE: ${queueType}`);
}

amqp.connect("amqp://localhost", (error0, connection) => {
  if (error0) throw error0;
  connection.createChannel((error1, channel) => {
    if (error1) throw error1;
    channel.assertQueue(queue, queueOptions, (error2) => {
      if (error2) throw error2;
      channel.prefetch(1);
      channel.consume(
        queue,
        (msg) => {
          const n = parseInt(msg.content.toString());

          console.log(" [.] fib(%d)", n);

          const r = fibonacci(n);

          channel.sendToQueue(
            msg.properties.replyTo,
            Buffer.from(r.toString()),
            {
              correlationId: msg.properties.correlationId,
            },
          );
          channel.ack(msg);
        },
        { noAck: false },
        (error3) => {
          if (error3) throw error3;
          console.log(" [x] Awaiting RPC requests");
        },
      );
    });
  });
});

function fibonacci(n) {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) {
    [a, b] = [b, a + b];
  }
  return a;
}
