<?php
// An RPC client in the style of RabbitMQ's RPC tutorial, with php-amqplib.
require_once 'PhpAmqpLib/autoload.php';

use PhpAmqpLib\Connection\AMQPStreamConnection;
use PhpAmqpLib\Message\AMQPMessage;

class FibonacciRpcClient
{
    private $connection;
    private $channel;
    private $queueName;
    private $callbackQueue;
    private $response;
    private $corrId;

    public function __construct($queueName)
    {
        $this->queueName = $queueName;
        $this->connection = new AMQPStreamConnection(
            'localhost', 5672, 'guest', 'guest');
        $this->channel = $this->connection->channel();

        // A server-named, exclusive reply queue of our own.
        [$this->callbackQueue, ,] = $this->channel->queue_declare(
            '', false, false, true, false);
        $this->channel->basic_consume(
            $this->callbackQueue, '', false, true, false, false,
            [$this, 'onResponse']);
    }

    public function onResponse(AMQPMessage $rep)
    {
        if ($rep->get('correlation_id') === $this->corrId) {
            $this->response = $rep->getBody();
        }
    }

    public function call($n)
    {
        $this->response = null;
        $this->corrId = uniqid('', true);

        $msg = new AMQPMessage((string) $n, [
            'correlation_id' => $this->corrId,
            'reply_to' => $this->callbackQueue,
        ]);
        $this->channel->basic_publish($msg, '', $this->queueName);
        // The body "0" is falsy in PHP: wait for any body at all.
        while ($this->response === null) {
            $this->channel->wait();
        }
        return intval($this->response);
    }

    public function close()
    {
        $this->channel->close();
        $this->connection->close();
    }
}

$client = new FibonacciRpcClient(getenv('RPC_QUEUE') ?: 'rpc_queue');

foreach (array_slice($argv, 1) as $n) {
    echo " [x] Requesting fib($n)\n";
    $response = $client->call($n);
    echo " [.] Got $response\n";
}

$client->close();
