// An RPC client in the style of RabbitMQ's Java tutorial (Debian's RabbitMQ
// Java client): it asks the queue named by RPC_QUEUE for fib(n), for each n
// of its arguments in turn, each call with a reply queue of its own (exclusive
// and named by the server) and a new UUID as its correlation id.

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

public class RPCClient implements AutoCloseable {

    private final Connection connection;
    private final Channel channel;
    private final String requestQueueName;

    public RPCClient(String requestQueueName) throws Exception {
        this.requestQueueName = requestQueueName;
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost("localhost");
        connection = factory.newConnection();
        channel = connection.createChannel();
    }

    public static void main(String[] argv) throws Exception {
        String queue = System.getenv("RPC_QUEUE");
        if (queue == null || queue.isEmpty()) {
            queue = "rpc_queue";
        }
        try (RPCClient fibonacciRpc = new RPCClient(queue)) {
            for (String arg : argv) {
                String n = Integer.toString(Integer.parseInt(arg));
                System.out.println(" [x] Requesting fib(" + n + ")");
                String response = fibonacciRpc.call(n);
                System.out.println(" [.] Got " + response);
            }
        }
    }

    public String call(String message) throws Exception {
        final String corrId = UUID.randomUUID().toString();

        String replyQueueName = channel.queueDeclare().getQueue();
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                .correlationId(corrId)
                .replyTo(replyQueueName)
                .build();

        channel.basicPublish("", requestQueueName, props, message.getBytes(StandardCharsets.UTF_8));

        final CompletableFuture<String> response = new CompletableFuture<>();
        String ctag = channel.basicConsume(replyQueueName, true, (consumerTag, delivery) -> {
            if (corrId.equals(delivery.getProperties().getCorrelationId())) {
                response.complete(new String(delivery.getBody(), StandardCharsets.UTF_8));
            }
        }, consumerTag -> { });

        String result = response.get();
        channel.basicCancel(ctag);
        return result;
    }

    public void close() throws IOException {
        connection.close();
    }
}
