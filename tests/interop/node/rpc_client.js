#!/usr/bin/env node
// deno-lint-ignore-file no-console
// An RPC client in the style of RabbitMQ's JavaScript tutorial (amqplib's
// callback API): it asks the queue named by RPC_QUEUE for fib(n), for each n
// of its arguments in turn, through an exclusive reply queue of its own, with
// a new correlation id per call. Like the tutorial, it prints the answer as
// the text it got.

const amqp = require("amqplib/callback_api");

const queue = process.env.RPC_QUEUE || "rpc_queue";
const args = process.argv.slice(2);

if (args.length === 0) {
  console.log("Usage: rpc_client.js num...");
  process.exit(1);
}

amqp.connect("amqp://localhost", (error0, connection) => {
  if (error0) throw error0;
  connection.createChannel((error1, channel) => {
    if (error1) throw error1;
    channel.assertQueue("", { exclusive: true }, (error2, q) => {
      if (error2) throw error2;
      let correlationId;
      let next = 0;

      const call = () => {
        if (next === args.length) {
          connection.close(() => process.exit(0));
          return;
        }
        const num = parseInt(args[next++]);
        correlationId = generateUuid();

        console.log(" [x] Requesting fib(%d)", num);

        channel.sendToQueue(queue, Buffer.from(num.toString()), {
          correlationId: correlationId,
          replyTo: q.queue,
        });
      };

      channel.consume(
        q.queue,
        (msg) => {
          if (msg.properties.correlationId === correlationId) {
            console.log(" [.] Got %s", msg.content.toString());
            call();
          }
        },
        { noAck: true },
        (error3) => {
          if (error3) throw error3;
          call();
        },
      );
    });
  });
});

function generateUuid() {
  return [Math.random(), Math.random(), Math.random()].join("");
}
