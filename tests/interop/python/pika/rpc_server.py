#!/usr/bin/env python3
"""An RPC worker in the style of RabbitMQ's Python tutorial (pika): it answers
fib(n) from the queue named by RPC_QUEUE, declared as RPC_QUEUE_TYPE says
(classic or quorum)."""
import os

import pika

queue = os.environ.get("RPC_QUEUE") or "rpc_queue"
queue_type = os.environ.get("RPC_QUEUE_TYPE") or "classic"

connection = pika.BlockingConnection(
    pika.ConnectionParameters(host="localhost"),
)

channel = connection.channel()

if queue_type == "classic":
    channel.queue_declare(queue=queue)
elif queue_type == "quorum":
    channel.queue_declare(
        queue=queue,
        durable=True,
        arguments={"x-queue-type": "quorum"},
    )
else:
    raise SystemExit(f"Unknown RPC_QUEUE_TYPE: {queue_type}")


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def on_request(ch, method, props, body):
    n = int(body)

    print(f" [.] fib({n})", flush=True)
    response = fib(n)

    ch.basic_publish(
        exchange="",
        routing_key=props.reply_to,
        properties=pika.BasicProperties(correlation_id=props.correlation_id),
        body=str(response),
    )
    ch.basic_ack(delivery_tag=method.delivery_tag)


channel.basic_qos(prefetch_count=1)
channel.basic_consume(queue=queue, on_message_callback=on_request)

print(" [x] Awaiting RPC requests", flush=True)
channel.start_consuming()
