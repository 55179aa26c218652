/**
 * `deno task client` beyond the tutorial: any method with JSON arguments,
 * `--json` output, and `--count` loads; and {@linkcode runLoad} on its own,
 * with fake calls.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fibMethod } from "../../services/fib/method.ts";
import { runLoad } from "../../cli/load.ts";
import { HandlerError, type RpcServer, serve } from "../../mod.ts";
import {
  AMQP_URL,
  assertOneLineError,
  runCli,
  scratchQueue,
  startCli,
  startWorker,
  waitFor,
} from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** The summary line of a load: `N calls in S s: …, F failed`. */
const SUMMARY =
  /^(\d+) calls in [\d.]+ s: \d+ calls\/s, p50 (?:[\d.]+ ms|-), p90 (?:[\d.]+ ms|-), p99 (?:[\d.]+ ms|-), max (?:[\d.]+ ms|-), (\d+) failed$/m;

/** A worker in this process with a few methods, and what it has seen. */
async function calcWorker(
  queue: string,
): Promise<{ server: RpcServer; started: () => number }> {
  let flaky = 0;
  let started = 0;
  const server = await serve({
    url: AMQP_URL,
    queue,
    prefetch: 50,
    methods: {
      add: ({ a, b }: { a: number; b: number }) => a + b,
      fib: fibMethod(),
      pair: (n: number) => ({ n, twice: 2 * n }),
      // Every second call fails, whatever the arguments.
      flaky: () => {
        if (++flaky % 2 === 0) {
          // A HandlerError: its message is for the caller (any other
          // error's message stays in the worker's log).
          throw new HandlerError("OUT_OF_RANGE", `call ${flaky} is even`);
        }
        return flaky;
      },
      slow: async () => {
        started++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        return "done";
      },
    },
    defaultMethod: "fib",
  });
  return { server, started: () => started };
}

Deno.test({
  ...opts,
  name: "--method add --data calls the method with JSON arguments",
  async fn() {
    await using scratch = scratchQueue("client-method");
    const { server } = await calcWorker(scratch.name);
    await using _server = server;
    const client = await runCli("client.ts", [
      "--queue",
      scratch.name,
      "--method",
      "add",
      "--data",
      '{"a":1,"b":2}',
    ]);
    assert.equal(client.code, 0, client.stderr);
    assert.equal(
      client.stdout,
      ' [x] Requesting add({"a":1,"b":2})\n [.] Got 3\n',
    );
    assert.equal(client.stderr, "");

    const pair = await runCli("client.ts", [
      "--queue",
      scratch.name,
      "--method=pair",
      "--data=-4",
    ]);
    assert.equal(pair.code, 0, pair.stderr);
    assert.equal(
      pair.stdout.split("\n")[1],
      ' [.] Got {"n":-4,"twice":-8}',
      "a result that is not a string is printed as JSON",
    );
  },
});

Deno.test({
  ...opts,
  name:
    "--method with N sends N as a JSON number, and --data alone goes to the default method",
  async fn() {
    await using scratch = scratchQueue("client-n");
    await using _worker = await startWorker(scratch.name);
    const byMethod = await runCli("client.ts", [
      "--queue",
      scratch.name,
      "--method",
      "fib",
      "10",
    ]);
    assert.equal(byMethod.code, 0, byMethod.stderr);
    assert.equal(byMethod.stdout, " [x] Requesting fib(10)\n [.] Got 55\n");

    const byDefault = await runCli("client.ts", [
      "--queue",
      scratch.name,
      "--data",
      "12",
    ]);
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.match(byDefault.stdout, /^ \[\.\] Got 144$/m);
  },
});

Deno.test({
  ...opts,
  name: "--json prints one JSON object with the request and its result",
  async fn() {
    await using scratch = scratchQueue("client-json");
    const { server } = await calcWorker(scratch.name);
    await using _server = server;
    const client = await runCli("client.ts", [
      "--queue",
      scratch.name,
      "--method",
      "add",
      "--data",
      '{"a":40,"b":2}',
      "--json",
    ]);
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stderr, "");
    assert.equal(client.stdout.trim().split("\n").length, 1);
    const output = JSON.parse(client.stdout);
    assert.equal(typeof output.ms, "number");
    delete output.ms;
    assert.deepEqual(output, {
      queue: scratch.name,
      method: "add",
      request: { a: 40, b: 2 },
      result: 42,
    });

    const tutorial = await runCli("client.ts", [
      "--queue",
      scratch.name,
      "--json",
      "10",
    ]);
    assert.equal(tutorial.code, 0, tutorial.stderr);
    const plain = JSON.parse(tutorial.stdout);
    assert.equal(plain.method, null);
    assert.equal(plain.request, "10");
    assert.equal(plain.result, "55");
  },
});

Deno.test({
  ...opts,
  name:
    "an unknown --method exits 1 with one line naming the method and METHOD_NOT_FOUND",
  async fn() {
    await using scratch = scratchQueue("client-unknown");
    const { server } = await calcWorker(scratch.name);
    await using _server = server;
    const args = ["--queue", scratch.name, "--method", "nope", "--data", "1"];
    const client = await runCli("client.ts", args);
    assert.equal(client.code, 1);
    assertOneLineError(
      client.stderr,
      /no method "nope" \(METHOD_NOT_FOUND\).*Check --method/,
    );

    const json = await runCli("client.ts", [...args, "--json"]);
    assert.equal(json.code, 1);
    assert.equal(json.stderr, "", "with --json, the error goes to stdout");
    const { error } = JSON.parse(json.stdout);
    assert.equal(error.name, "MethodNotFoundError");
    assert.equal(error.code, "METHOD_NOT_FOUND");
    assert.match(error.message, /nope/);
  },
});

Deno.test({
  ...opts,
  name: "bad --data, --count or --concurrency exits 2 with one line",
  async fn() {
    const badData = await runCli("client.ts", ["--data", "{a:1}"]);
    assert.equal(badData.code, 2);
    assertOneLineError(
      badData.stderr,
      /^Error: --data must be JSON, e\.g\. '\{"a":1\}' or '"text"'.*Run with --help for usage\.$/,
    );
    for (
      const args of [
        ["--count", "0"],
        ["--count", "1.5"],
        ["--count", "-3"],
        ["--concurrency", "0"],
        ["--concurrency", "10001"],
        ["--concurrency", "many"],
        ["--data", "1", "30"],
        ["--method", ""],
      ]
    ) {
      const client = await runCli("client.ts", args);
      assert.equal(client.code, 2, `${args}: ${client.stderr}`);
      assertOneLineError(client.stderr, /Run with --help for usage\.$/);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "--count 200 --concurrency 20 prints a summary of 200 calls and exits 0",
  async fn() {
    await using scratch = scratchQueue("client-load");
    await using _worker = await startWorker(scratch.name, { prefetch: 20 });
    const client = await runCli("client.ts", [
      "--queue",
      scratch.name,
      "--count",
      "200",
      "--concurrency",
      "20",
      "25",
    ]);
    assert.equal(client.code, 0, client.stderr);
    const summary = client.stdout.match(SUMMARY);
    assert.ok(summary, client.stdout);
    assert.equal(summary[1], "200");
    assert.equal(summary[2], "0");
    assert.doesNotMatch(client.stdout, /p50 -/);
    assert.equal(client.stderr, "", "no progress bar when stderr is a pipe");
  },
});

Deno.test({
  ...opts,
  name: "a load with failing calls exits 1 and counts the failures by kind",
  async fn() {
    await using scratch = scratchQueue("client-flaky");
    const { server } = await calcWorker(scratch.name);
    await using _server = server;
    const client = await runCli("client.ts", [
      "--queue",
      scratch.name,
      "--method",
      "flaky",
      "--data",
      "null",
      "--count",
      "20",
      "--concurrency",
      "4",
    ]);
    assert.equal(client.code, 1, client.stderr);
    const summary = client.stdout.match(SUMMARY);
    assert.ok(summary, client.stdout);
    assert.equal(summary[1], "20");
    assert.equal(summary[2], "10");
    assert.match(
      client.stdout,
      /^ {2}10 failed with RemoteError\(OUT_OF_RANGE\): call \d+ is even$/m,
    );

    const invalid = await runCli("client.ts", [
      "--queue",
      scratch.name,
      "--count",
      "5",
      "200000",
    ]);
    assert.equal(invalid.code, 1);
    assert.match(
      invalid.stdout,
      /^5 calls in .*p50 -, p90 -, p99 -, max -, 5 failed$/m,
    );
  },
});

Deno.test({
  ...opts,
  name: "--json --count prints the load's summary as one JSON object",
  async fn() {
    await using scratch = scratchQueue("client-load-json");
    const { server } = await calcWorker(scratch.name);
    await using _server = server;
    const client = await runCli("client.ts", [
      "--queue",
      scratch.name,
      "--method",
      "add",
      "--data",
      '{"a":1,"b":2}',
      "--count",
      "200",
      "--concurrency",
      "20",
      "--json",
    ]);
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stderr, "");
    const summary = JSON.parse(client.stdout);
    assert.equal(summary.queue, scratch.name);
    assert.equal(summary.method, "add");
    assert.deepEqual(summary.request, { a: 1, b: 2 });
    assert.equal(summary.calls, 200);
    assert.equal(summary.ok, 200);
    assert.equal(summary.failed, 0);
    assert.deepEqual(summary.errors, {});
    assert.equal(summary.aborted, false);
    for (const key of ["seconds", "callsPerSecond", "p50", "p90", "p99"]) {
      assert.equal(typeof summary[key], "number", key);
    }
    assert.ok(summary.p50 <= summary.p99 && summary.p99 <= summary.max);
  },
});

Deno.test({
  ...opts,
  name:
    "Ctrl-C stops a load, prints the summary of the calls done, and exits 130",
  async fn() {
    await using scratch = scratchQueue("client-sigint");
    const { server, started } = await calcWorker(scratch.name);
    await using _server = server;
    await using client = startCli("client.ts", [
      "--queue",
      scratch.name,
      "--method",
      "slow",
      "--count",
      "1000000",
      "--concurrency",
      "10",
    ]);
    await waitFor(() => started() >= 30, "the load to start");
    client.child.kill("SIGINT");
    const { code } = await client.status();
    assert.equal(code, 130, client.stderr());
    const summary = client.stdout().match(SUMMARY);
    assert.ok(summary, client.stdout());
    assert.ok(Number(summary[1]) < 1_000_000);
    assert.match(client.stdout(), /^Stopped by Ctrl-C after \d+ of 1000000/m);
  },
});

/** A fake call that takes a timer turn, or stops when its signal aborts. */
function tick(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, 1);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

Deno.test({
  ...opts,
  name: "runLoad keeps exactly `concurrency` calls in flight, never more",
  async fn() {
    let inFlight = 0;
    let most = 0;
    let calls = 0;
    const summary = await runLoad(async (signal) => {
      calls++;
      most = Math.max(most, ++inFlight);
      try {
        await tick(signal);
      } finally {
        inFlight--;
      }
    }, { count: 200, concurrency: 7 });
    assert.equal(most, 7);
    assert.equal(calls, 200);
    assert.equal(summary.calls, 200);
    assert.equal(summary.ok, 200);
    assert.equal(summary.failed, 0);
    assert.equal(summary.aborted, false);
    assert.ok(summary.p50 <= summary.p90 && summary.p90 <= summary.p99);
    assert.ok(summary.p99 <= summary.max);
  },
});

Deno.test({
  ...opts,
  name: "runLoad makes no more calls than `count`, even with more workers",
  async fn() {
    let calls = 0;
    const summary = await runLoad(() => {
      calls++;
      return Promise.resolve();
    }, { count: 3, concurrency: 100 });
    assert.equal(calls, 3);
    assert.equal(summary.calls, 3);
  },
});

Deno.test({
  ...opts,
  name: "runLoad counts failures by error name, with the first message of each",
  async fn() {
    class TimeoutError extends Error {
      override name = "TimeoutError";
    }
    let i = 0;
    const progress: [number, number][] = [];
    const summary = await runLoad(() => {
      i++;
      if (i % 5 === 0) throw new TimeoutError(`call ${i} timed out`);
      if (i % 7 === 0) return Promise.reject(new RangeError(`call ${i}`));
      return Promise.resolve(i);
    }, {
      count: 35,
      concurrency: 3,
      progressEvery: 10,
      onProgress: (done, failed) => progress.push([done, failed]),
    });
    assert.equal(summary.calls, 35);
    assert.equal(summary.failed, 11);
    assert.equal(summary.ok, 24);
    assert.deepEqual(summary.errors, { TimeoutError: 7, RangeError: 4 });
    assert.deepEqual(summary.errorMessages, {
      TimeoutError: "call 5 timed out",
      RangeError: "call 7",
    });
    assert.deepEqual(progress.map(([done]) => done), [10, 20, 30, 35]);
    assert.deepEqual(progress.at(-1), [35, 11]);
  },
});

Deno.test({
  ...opts,
  name: "runLoad sorts failures into the kinds `classify` gives",
  async fn() {
    const summary = await runLoad(() => Promise.reject({ code: "BUSY" }), {
      count: 4,
      concurrency: 2,
      classify: (error) => (error as { code: string }).code,
    });
    assert.deepEqual(summary.errors, { BUSY: 4 });
    assert.ok(Number.isNaN(summary.p50), "no latency without a success");
    assert.ok(Number.isNaN(summary.max));
  },
});

Deno.test({
  ...opts,
  name:
    "runLoad stops early when its signal aborts, and calls in flight get the signal",
  async fn() {
    const controller = new AbortController();
    let started = 0;
    let cancelled = 0;
    const summary = await runLoad(async (signal) => {
      if (++started === 50) controller.abort();
      try {
        await tick(signal);
      } catch (error) {
        cancelled++;
        throw error;
      }
    }, { count: 10_000, concurrency: 5, signal: controller.signal });
    assert.equal(summary.aborted, true);
    assert.ok(summary.calls < 50, `${summary.calls} calls`);
    assert.equal(summary.failed, 0, "cancelled calls are not failures");
    assert.equal(started, 50, "no call starts after the abort");
    await waitFor(() => cancelled === 5, "the calls in flight to stop");
  },
});

Deno.test({
  ...opts,
  name: "runLoad makes no call when its signal has already aborted",
  async fn() {
    let calls = 0;
    const summary = await runLoad(() => Promise.resolve(calls++), {
      count: 10,
      concurrency: 2,
      signal: AbortSignal.abort(),
    });
    assert.equal(calls, 0);
    assert.equal(summary.calls, 0);
    assert.equal(summary.aborted, true);
  },
});

Deno.test({
  ...opts,
  name: "runLoad rejects a count or concurrency that is not a whole number",
  async fn() {
    const call = () => Promise.resolve();
    for (
      const options of [
        { count: 0, concurrency: 1 },
        { count: 1.5, concurrency: 1 },
        { count: 10, concurrency: 0 },
        { count: 10, concurrency: NaN },
        { count: 10, concurrency: 1, progressEvery: 0 },
      ]
    ) {
      await assert.rejects(runLoad(call, options), RangeError);
    }
    await assert.rejects(
      runLoad(undefined as unknown as () => Promise<void>, {
        count: 1,
        concurrency: 1,
      }),
      TypeError,
    );
  },
});
