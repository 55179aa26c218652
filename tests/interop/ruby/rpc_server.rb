#!/usr/bin/env ruby
# An RPC worker in the style of RabbitMQ's RPC tutorial, with Bunny.
require 'bunny'

$stdout.sync = true

queue_name = ENV.fetch('RPC_QUEUE', 'rpc_queue')
queue_type = ENV.fetch('RPC_QUEUE_TYPE', 'classic')

def fib(n)
  a = 0
  b = 1
  n.times { a, b = b, a + b }
  a
end

connection = Bunny.new('amqp://guest:guest@localhost:5672')
connection.start
channel = connection.create_channel

queue =
  if queue_type == 'quorum'
    # Bunny 2.19 has no quorum_queue: the arguments it would send.
    channel.queue(queue_name, durable: true,
                              arguments: { 'x-queue-type' => 'quorum' })
  else
    channel.queue(queue_name)
  end
exchange = channel.default_exchange

channel.prefetch(1)

begin
  puts ' [x] Awaiting RPC requests'
  queue.subscribe(manual_ack: true, block: true) do |delivery_info, properties, payload|
    n = payload.to_i
    puts " [.] fib(#{n})"

    exchange.publish(fib(n).to_s,
                     routing_key: properties.reply_to,
                     correlation_id: properties.correlation_id)
    channel.ack(delivery_info.delivery_tag)
  end
rescue Interrupt
  connection.close
end
