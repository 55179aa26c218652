<?php
// An RPC worker in the style of RabbitMQ's RPC tutorial, with php-amqplib.
require_once 'PhpAmqpLib/autoload.php';

use PhpAmqpLib\Connection\AMQPStreamConnection;
use PhpAmqpLib\Message\AMQPMessage;
use PhpAmqpLib\Wire\AMQPTable;

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

$connection = new AMQPStreamConnection('localhost', 5672, 'guest', 'guest');
$channel = $connection->channel();

if ($queueType === 'quorum') {
    // queue, passive, durable, exclusive, auto_delete, nowait, arguments
    $channel->queue_declare($queueName, false, true, false, false, false,
        new AMQPTable(['x-queue-type' => 'quorum']));
} else {
    $channel->queue_declare($queueName, false, false, false, false);
}

$onRequest = function (AMQPMessage $req) {
    $n = intval($req->getBody());
    echo " [.] fib($n)\n";

    $reply = new AMQPMessage(
        (string) fib($n),
        ['correlation_id' => $req->get('correlation_id')]
    );
    $req->getChannel()->basic_publish($reply, '', $req->get('reply_to'));
    $req->ack();
};

$channel->basic_qos(null, 1, null);
// queue, consumer_tag, no_local, no_ack, exclusive, nowait, callback
$channel->basic_consume($queueName, '', false, false, false, false, $onRequest);

echo " [x] Awaiting RPC requests\n";
while ($channel->is_consuming()) {
    $channel->wait();
}

$channel->close();
$connection->close();
