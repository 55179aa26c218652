<?php
// An RPC client in the style of RabbitMQ's RPC tutorial, with the PECL amqp
// extension (php-amqp).

class FibonacciRpcClient
{
    private $connection;
    private $channel;
    private $exchange;
    private $callbackQueue;
    private $queueName;
    private $response;
    private $corrId;

    public function __construct($queueName)
    {
        $this->queueName = $queueName;
        $this->connection = new AMQPConnection([
            'host' => 'localhost',
            'port' => 5672,
            'login' => 'guest',
            'password' => 'guest',
        ]);
        $this->connection->connect();
        $this->channel = new AMQPChannel($this->connection);
        $this->exchange = new AMQPExchange($this->channel);

        // A server-named, exclusive reply queue of our own.
        $this->callbackQueue = new AMQPQueue($this->channel);
        $this->callbackQueue->setFlags(AMQP_EXCLUSIVE);
        $this->callbackQueue->declareQueue();
        // Subscribe once; each call then waits on this consumer.
        $this->callbackQueue->consume(null, AMQP_AUTOACK);
    }

    public function onResponse(AMQPEnvelope $rep)
    {
        if ($rep->getCorrelationId() === $this->corrId) {
            $this->response = $rep->getBody();
            return false; // stop waiting
        }
    }

    public function call($n)
    {
        $this->response = null;
        $this->corrId = uniqid('', true);

        $this->exchange->publish(
            (string) $n,
            $this->queueName,
            AMQP_NOPARAM,
            [
                'correlation_id' => $this->corrId,
                'reply_to' => $this->callbackQueue->getName(),
            ]
        );
        $this->callbackQueue->consume(
            [$this, 'onResponse'],
            AMQP_JUST_CONSUME
        );
        return $this->response;
    }

    public function close()
    {
        $this->connection->disconnect();
    }
}

$client = new FibonacciRpcClient(getenv('RPC_QUEUE') ?: 'rpc_queue');

foreach (array_slice($argv, 1) as $n) {
    echo " [x] Requesting fib($n)\n";
    $response = $client->call($n);
    echo " [.] Got $response\n";
}

$client->close();
