// An RPC worker in the style of RabbitMQ's Java tutorial (Debian's RabbitMQ
// Java client): it answers fib(n) on the queue named by RPC_QUEUE, declared
// as RPC_QUEUE_TYPE says (classic or quorum). Its fib is a Java int.

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DeliverCallback;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Map;

public class RPCServer {

    private static int fib(int n) {
        int a = 0;
        int b = 1;
        for (int i = 0; i < n; i++) {
            int next = a + b;
            a = b;
            b = next;
        }
        return a;
    }

    private static String getenv(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    public static void main(String[] argv) throws Exception {
        String queueName = getenv("RPC_QUEUE", "rpc_queue");
        String queueType = getenv("RPC_QUEUE_TYPE", "classic");
        boolean durable;
        Map<String, Object> arguments;
        if (queueType.equals("classic")) {
            durable = false;
            arguments = null;
        } else if (queueType.equals("quorum")) {
            durable = true;
            arguments = Collections.singletonMap("x-queue-type", "quorum");
        } else {
            throw new IllegalArgumentException("Unknown RPC_QUEUE_TYPE: " + queueType);
        }

        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost("localhost");
        Connection connection = factory.newConnection();
        try {
            serve(connection.createChannel(), queueName, durable, arguments);
        } catch (Exception e) {
            connection.abort(); // so that the worker exits instead of hanging
            throw e;
        }
        System.out.println(" [x] Awaiting RPC requests");
        // The connection's threads keep the worker running until it is killed.
    }

    private static void serve(Channel channel, String queueName, boolean durable,
            Map<String, Object> arguments) throws Exception {
        channel.queueDeclare(queueName, durable, false, false, arguments);
        channel.basicQos(1);

        DeliverCallback deliverCallback = (consumerTag, delivery) -> {
            AMQP.BasicProperties replyProps = new AMQP.BasicProperties.Builder()
                    .correlationId(delivery.getProperties().getCorrelationId())
                    .build();

            String response = "";
            try {
                String message = new String(delivery.getBody(), StandardCharsets.UTF_8);
                int n = Integer.parseInt(message);

                System.out.println(" [.] fib(" + n + ")");
                response += fib(n);
            } catch (RuntimeException e) {
                System.out.println(" [.] " + e);
            } finally {
                channel.basicPublish("", delivery.getProperties().getReplyTo(), replyProps,
                        response.getBytes(StandardCharsets.UTF_8));
                channel.basicAck(delivery.getEnvelope().getDeliveryTag(), false);
            }
        };

        channel.basicConsume(queueName, false, deliverCallback, consumerTag -> { });
    }
}
