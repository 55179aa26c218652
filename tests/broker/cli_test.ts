/**
 * The two programs as a user runs them: output, exit codes, and one-line
 * errors without stack traces or passwords.
 */

import assert from "node:assert/strict";
import {
  assertOneLineError,
  runCli,
  scratchQueue,
  startCli,
  waitFor,
} from "../_helpers.ts";
import { rawPeer } from "../_amqp_peer.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  ...opts,
  name: "deno task client prints fib(30) from deno task server",
  async fn() {
    await using scratch = scratchQueue("cli");
    const queue = scratch.name;
    await using server = startCli("server.ts", ["--queue", queue]);
    await server.waitForLine(" [*] Awaiting RPC requests");
    const client = await runCli("client.ts", ["--queue", queue, "30"]);
    assert.equal(client.code, 0, client.stderr);
    assert.equal(
      client.stdout,
      " [x] Requesting fib(30)\n [.] Got 832040\n",
    );
    await server.waitForLine(" [.] fib(30)");

    const big = await runCli("client.ts", ["--queue", queue, "10000"]);
    assert.equal(big.code, 0, big.stderr);
    const digits = big.stdout.split("\n")[1].replace(" [.] Got ", "");
    assert.match(digits, /^3364476487643178326662161200510754331030\d+$/);
    assert.equal(digits.length, 2090);

    const remote = await runCli("client.ts", ["--queue", queue, "200000"]);
    assert.equal(remote.code, 1);
    assertOneLineError(remote.stderr, /OUT_OF_RANGE.*100000/);

    server.child.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  },
});

Deno.test({
  ...opts,
  name: "deno task server --quiet prints no line per request",
  async fn() {
    await using scratch = scratchQueue("cli-quiet");
    const queue = scratch.name;
    await using server = startCli("server.ts", ["--queue", queue, "--quiet"]);
    await server.waitForLine("Awaiting RPC requests");
    const client = await runCli("client.ts", ["--queue", queue, "5"]);
    assert.equal(client.code, 0, client.stderr);
    server.child.kill("SIGTERM");
    await server.status();
    assert.doesNotMatch(server.stdout(), /fib\(5\)/);
  },
});

Deno.test({
  ...opts,
  name:
    "deno task client fails at once with a no-route message when no queue exists",
  async fn() {
    await using scratch = scratchQueue("cli-noroute");
    const queue = scratch.name;
    const client = await runCli("client.ts", [
      "--queue",
      queue,
      "--timeout",
      "60000",
      "30",
    ]);
    assert.equal(client.code, 1);
    assertOneLineError(
      client.stderr,
      new RegExp(`Cannot call "${queue}": no queue is bound to that name`),
    );
  },
});

Deno.test({
  ...opts,
  name:
    "deno task client fails at its timeout on an idle queue and leaves it empty",
  async fn() {
    await using scratch = scratchQueue("cli-idle");
    const queue = scratch.name;
    await using peer = await rawPeer();
    await peer.channel.assertQueue(queue);
    const client = await runCli("client.ts", [
      "--queue",
      queue,
      "--timeout",
      "500",
      "30",
    ]);
    assert.equal(client.code, 1);
    assertOneLineError(client.stderr, /timed out after 500 ms/);
    // Expired with the caller's timeout: nothing waits in the queue.
    for (let i = 0; (await peer.messageCount(queue)) > 0; i++) {
      assert.ok(i < 400, "the request stayed in the queue");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  },
});

Deno.test({
  ...opts,
  name: "the programs reject bad command lines with exit code 2",
  async fn() {
    for (
      const args of [
        ["abc"],
        ["-5"],
        ["1", "2"],
        ["--timeout", "soon", "30"],
        ["--timeout", "0", "30"],
        ["--timeout", "99999999999", "30"],
        ["--bogus", "30"],
      ]
    ) {
      const client = await runCli("client.ts", args);
      assert.equal(client.code, 2, `${args}: ${client.stderr}`);
      assert.match(client.stderr, /^Error: /, `${args}`);
      assert.doesNotMatch(client.stderr, /\n\s+at /);
    }
    for (
      const args of [
        ["--prefetch", "many"],
        ["--prefetch", "0"],
        ["extra"],
        ["--max-n", "-1"],
      ]
    ) {
      const server = await runCli("server.ts", args);
      assert.equal(server.code, 2, `${args}: ${server.stderr}`);
      assert.match(server.stderr, /^Error: /);
    }
  },
});

Deno.test({
  ...opts,
  name: "the programs print their usage with --help",
  async fn() {
    for (const script of ["client.ts", "server.ts"] as const) {
      const help = await runCli(script, ["--help"]);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^Usage: deno task (client|server)/);
      assert.match(help.stdout, /--url URL/);
    }
  },
});

Deno.test({
  ...opts,
  name: "an unreachable broker gives one line and exit code 1",
  async fn() {
    // No password in it (guest is the default): no warning about ps.
    const url = "amqp://127.0.0.1:1";
    const client = await runCli("client.ts", ["--url", url, "30"]);
    assert.equal(client.code, 1);
    assertOneLineError(client.stderr, /127\.0\.0\.1:1.*connection refused/);
    const server = await runCli("server.ts", [], { env: { AMQP_URL: url } });
    assert.equal(server.code, 1);
    assert.match(server.stderr, /^Error: .*connection refused/m);
    assert.doesNotMatch(server.stderr, /\n\s+at /);
  },
});

Deno.test({
  ...opts,
  name: "a wrong password gives one line without the password and exit code 1",
  async fn() {
    const url = "amqp://guest:Sup3rSecret@127.0.0.1:5672";
    const client = await runCli("client.ts", ["30"], {
      env: { AMQP_URL: url },
    });
    assert.equal(client.code, 1);
    assertOneLineError(client.stderr, /refused the login of user "guest"/);
    // Given with --url, the password is also in ps: a warning comes first.
    const flagged = await runCli("client.ts", ["--url", url, "30"]);
    assert.equal(flagged.code, 1);
    const [warning, ...rest] = flagged.stderr.trimEnd().split("\n");
    assert.match(
      warning,
      /^warn: --url puts the broker's password on the command line/,
    );
    assertOneLineError(rest.join("\n"), /refused the login of user "guest"/);
    const server = await runCli("server.ts", ["--url", url]);
    assert.equal(server.code, 1);
    for (
      const output of [
        client.stdout,
        client.stderr,
        flagged.stderr,
        server.stdout,
        server.stderr,
      ]
    ) {
      assert.ok(!output.includes("Sup3rSecret"), output);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "the worker's connection is named with its role, host and pid, for operators",
  async fn() {
    await using scratch = scratchQueue("named");
    await using server = startCli("server.ts", ["--queue", scratch.name]);
    await server.waitForLine("Awaiting RPC requests");
    const host = new TextDecoder().decode(
      (await new Deno.Command("hostname", { stdout: "piped" }).output())
        .stdout,
    ).trim();
    const listed = await new Deno.Command("rabbitmqctl", {
      args: ["-q", "list_connections", "client_properties"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(listed.stdout);
    assert.ok(
      text.includes(
        `rabbit-rpc worker ${scratch.name} on ${host} (pid ${server.child.pid})`,
      ),
      text.slice(0, 2000),
    );
  },
});

Deno.test({
  ...opts,
  name:
    "deno task server answers a raw tutorial request (body 30) with 832040 whatever its content type",
  async fn() {
    await using scratch = scratchQueue("cli-content-types");
    const queue = scratch.name;
    await using server = startCli("server.ts", ["--queue", queue, "--quiet"]);
    await server.waitForLine("Awaiting RPC requests");
    await using peer = await rawPeer();
    const types = [
      undefined,
      "text/plain",
      "text/plain; charset=utf-8",
      "application/octet-stream",
    ];
    types.forEach((contentType, i) =>
      peer.send(queue, "30", {
        ...(contentType ? { contentType } : {}),
        replyTo: peer.replyQueue,
        correlationId: `type-${i}`,
      })
    );
    let replies: Awaited<ReturnType<typeof peer.nextReplies>> = [];
    peer.nextReplies(types.length).then((all) => replies = all);
    await waitFor(
      () => replies.length === types.length,
      "an answer to every request",
      15_000,
    );
    for (const reply of replies) {
      assert.equal(reply.body, "832040", reply.correlationId);
      assert.equal(reply.headers["x-rpc-error"], undefined);
    }
    server.child.kill("SIGTERM");
    await server.status();
  },
});

/** Declares `queue` as today's RabbitMQ tutorials declare `rpc_queue`. */
async function declareAsTodaysTutorial(queue: string): Promise<void> {
  await using peer = await rawPeer();
  await peer.channel.assertQueue(queue, {
    durable: true,
    arguments: { "x-queue-type": "quorum" },
  });
}

Deno.test({
  ...opts,
  name:
    "deno task server with no flags serves a queue declared as today's tutorials declare it, and says it uses it as it is",
  async fn() {
    await using scratch = scratchQueue("cli-adopt");
    const queue = scratch.name;
    await declareAsTodaysTutorial(queue);
    await using server = startCli("server.ts", ["--queue", queue]);
    await server.waitForLine(" [*] Awaiting RPC requests");
    assert.match(
      server.stderr(),
      new RegExp(`Using the existing queue "${queue}" as it is`),
    );
    const client = await runCli("client.ts", ["--queue", queue, "30"]);
    assert.equal(client.code, 0, client.stderr);
    assert.match(client.stdout, / \[\.\] Got 832040\n/);
    server.child.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  },
});

Deno.test({
  ...opts,
  name:
    "deno task server --declare-as tutorial-quorum declares the queue so that a tutorial worker's declaration is taken after it",
  async fn() {
    await using scratch = scratchQueue("cli-declare-as");
    const queue = scratch.name;
    await using server = startCli("server.ts", [
      "--queue",
      queue,
      "--declare-as",
      "tutorial-quorum",
    ]);
    await server.waitForLine(" [*] Awaiting RPC requests");
    // Throws (406) unless the queue is exactly the tutorials' declaration.
    await declareAsTodaysTutorial(queue);
    server.child.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  },
});

Deno.test({
  ...opts,
  name:
    "deno task server --queue-type quorum on a classic queue stops with one line naming the flag and the way out",
  async fn() {
    await using scratch = scratchQueue("cli-demand");
    const queue = scratch.name;
    await using peer = await rawPeer();
    await peer.channel.assertQueue(queue, { durable: false });
    const server = await runCli("server.ts", [
      "--queue",
      queue,
      "--queue-type",
      "quorum",
    ]);
    assert.equal(server.code, 1);
    const lines = server.stderr.trim().split("\n").filter((line) =>
      line.startsWith("Error: ")
    );
    assert.deepEqual(lines, [
      `Error: Queue "${queue}" exists with type classic, but --queue-type asks for type quorum. Start without --queue-type to use the queue as it is, or delete it first (rabbitmqctl delete_queue ${queue}) to have it declared as asked.`,
    ]);
    assert.doesNotMatch(server.stderr, /\n\s+at /);
  },
});
