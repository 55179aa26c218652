// An RPC client in the style of RabbitMQ's Go tutorial (streadway/amqp): it
// asks the queue named by RPC_QUEUE for fib(n), for each n of its arguments
// in turn, through an exclusive reply queue of its own.
package main

import (
	"log"
	"math/rand"
	"os"
	"strconv"
	"time"

	"github.com/streadway/amqp"
)

func failOnError(err error, msg string) {
	if err != nil {
		log.Fatalf("%s: %s", msg, err)
	}
}

func randomString(l int) string {
	bytes := make([]byte, l)
	for i := 0; i < l; i++ {
		bytes[i] = byte(65 + rand.Intn(25))
	}
	return string(bytes)
}

func main() {
	rand.Seed(time.Now().UTC().UnixNano())
	queue := os.Getenv("RPC_QUEUE")
	if queue == "" {
		queue = "rpc_queue"
	}
	ns := os.Args[1:]
	if len(ns) == 0 {
		ns = []string{"30"}
	}

	conn, err := amqp.Dial("amqp://guest:guest@localhost:5672/")
	failOnError(err, "Failed to connect to RabbitMQ")
	defer conn.Close()

	ch, err := conn.Channel()
	failOnError(err, "Failed to open a channel")
	defer ch.Close()

	q, err := ch.QueueDeclare(
		"",    // name
		false, // durable
		false, // delete when unused
		true,  // exclusive
		false, // noWait
		nil,   // arguments
	)
	failOnError(err, "Failed to declare a queue")

	msgs, err := ch.Consume(
		q.Name, // queue
		"",     // consumer
		true,   // auto-ack
		false,  // exclusive
		false,  // no-local
		false,  // no-wait
		nil,    // args
	)
	failOnError(err, "Failed to register a consumer")

	for _, arg := range ns {
		n, err := strconv.Atoi(arg)
		failOnError(err, "Failed to convert arg to integer")

		log.Printf(" [x] Requesting fib(%d)", n)
		corrId := randomString(32)

		err = ch.Publish(
			"",    // exchange
			queue, // routing key
			false, // mandatory
			false, // immediate
			amqp.Publishing{
				CorrelationId: corrId,
				ReplyTo:       q.Name,
				Body:          []byte(strconv.Itoa(n)),
			})
		failOnError(err, "Failed to publish a message")

		for d := range msgs {
			if corrId == d.CorrelationId {
				res, err := strconv.Atoi(string(d.Body))
				failOnError(err, "Failed to convert body to integer")
				log.Printf(" [.] Got %d", res)
				break
			}
		}
	}
}
