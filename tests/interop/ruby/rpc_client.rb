#!/usr/bin/env ruby
# An RPC client in the style of RabbitMQ's RPC tutorial, with Bunny.
require 'bunny'
require 'securerandom'

$stdout.sync = true

class FibonacciClient
  attr_accessor :call_id, :response

  def initialize(server_queue_name)
    @connection = Bunny.new('amqp://guest:guest@localhost:5672',
                            automatically_recover: false)
    @connection.start
    @channel = @connection.create_channel
    @exchange = @channel.default_exchange
    @server_queue_name = server_queue_name
    @lock = Mutex.new
    @condition = ConditionVariable.new

    @reply_queue = @channel.queue('', exclusive: true)
    @reply_queue.subscribe do |_delivery_info, properties, payload|
      next unless properties[:correlation_id] == call_id

      @lock.synchronize do
        self.response = payload.to_i
        @condition.signal
      end
    end
  end

  def call(n)
    @lock.synchronize do
      self.response = nil
      self.call_id = SecureRandom.uuid
      @exchange.publish(n.to_s,
                        routing_key: @server_queue_name,
                        correlation_id: call_id,
                        reply_to: @reply_queue.name)
      @condition.wait(@lock) while response.nil?
      response
    end
  end

  def stop
    @channel.close
    @connection.close
  end
end

client = FibonacciClient.new(ENV.fetch('RPC_QUEUE', 'rpc_queue'))

ARGV.each do |arg|
  puts " [x] Requesting fib(#{arg})"
  puts " [.] Got #{client.call(arg.to_i)}"
end

client.stop
