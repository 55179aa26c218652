<?php
// An RPC worker in the style of RabbitMQ's RPC tutorial, with the PECL amqp
// extension (php-amqp).

$queueName = getenv('RPC_QUEUE') ?: 'rpc_queue';
$queueType = getenv('RPC_QUEUE_TYPE') ?: 'classic';

function fib($n)
{
    $a = 0;
    $b = 1;
    for ($i = 0; $i < $n; $i++) {
        [$a, $b] = [$b, $a + $b];
    }
    return $a;
}

$connection = new AMQPConnection([
    'host' => 'localhost',
    'port' => 5672,
    'login' => 'guest',
    'password' => 'guest',
]);
$connection->connect();

$channel = new AMQPChannel($connection);
$channel->setPrefetchCount(1);
$exchange = new AMQPExchange($channel);

$queue = new AMQPQueue($channel);
$queue->setName($queueName);
if ($queueType === 'quorum') {
    // A quorum queue is durable and may not be auto-delete, the extension's
    // default flag (AMQP_AUTODELETE): replace it.
    $queue->setFlags(AMQP_DURABLE);
    $queue->setArguments(['x-queue-type' => 'quorum']);
}
$queue->declareQueue();

echo " [x] Awaiting RPC requests\n";
$queue->consume(function (AMQPEnvelope $req, AMQPQueue $q) use ($exchange) {
    $n = intval($req->getBody());
    echo " [.] fib($n)\n";

    $exchange->publish(
        (string) fib($n),
        $req->getReplyTo(),
        AMQP_NOPARAM,
        ['correlation_id' => $req->getCorrelationId()]
    );
    $q->ack($req->getDeliveryTag());
});
