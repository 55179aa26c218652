/**
 * The broker's password and the two programs' command lines, through the
 * programs as users run them (the permissions of their tasks) and the
 * shared broker: a password given with `--url` is warned about, masked;
 * `--url-file` and `AMQP_URL_FILE` give the URL from a file (a container
 * secret), so that `ps` shows no password; and which source wins, and what
 * a file that cannot be used says, without echoing what it holds.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AMQP_URL,
  assertOneLineError,
  runCli,
  scratchQueue,
  startCli,
  startWorker,
} from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** The shared broker's URL, with a password for these tests to look for. */
const { username, password } = new URL(AMQP_URL);
/** What a URL with the password looks like on a command line. */
const CREDENTIALS = `${username}:${password}@`;

/** A broker that refuses connections: a source that must not be used. */
const NOWHERE = "amqp://guest:guest@127.0.0.1:1";

/** A file under /tmp holding `text`, removed on disposal. */
async function urlFile(
  text: string,
): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempFile({ prefix: "rabbit-rpc-url-" });
  await Deno.writeTextFile(path, text);
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path),
  };
}

/** The command line of a process, as `ps` shows it to every user. */
async function psArgs(pid: number): Promise<string> {
  const { stdout, success } = await new Deno.Command("ps", {
    args: ["-o", "args=", "-p", String(pid)],
  }).output();
  assert.ok(success, `ps found no process ${pid}`);
  return new TextDecoder().decode(stdout).trim();
}

Deno.test({
  ...opts,
  name:
    "deno task server warns on one line, password masked, when --url puts a password on its command line",
  ignore: password === "",
  async fn() {
    await using scratch = scratchQueue("url-warning");
    await using worker = await startWorker(scratch.name, { url: AMQP_URL });
    const warnings = worker.stderr().split("\n").filter((line) =>
      /password/i.test(line)
    );
    assert.equal(
      warnings.length,
      1,
      `expected one warning about the password on the command line; stderr:\n${worker.stderr()}`,
    );
    assert.match(warnings[0], /^warn: --url .*command line.*\(ps\)/);
    assert.match(warnings[0], /--url-file or AMQP_URL/);
    assert.ok(warnings[0].includes(`${username}:***@`), warnings[0]);
    assert.ok(!worker.stderr().includes(CREDENTIALS), worker.stderr());
    // What it warns about: any user of the machine reads it there.
    assert.ok((await psArgs(worker.child.pid)).includes(CREDENTIALS));
    assert.ok(!worker.stdout().includes(CREDENTIALS), worker.stdout());
  },
});

Deno.test({
  ...opts,
  name:
    "--url-file: the worker and the client read the broker URL from a file, over AMQP_URL, and ps shows no password",
  async fn() {
    await using scratch = scratchQueue("url-file");
    const queue = scratch.name;
    // A secret as a container mounts it: the URL and a newline.
    await using file = await urlFile(`${AMQP_URL}\n`);
    // Reading a file outside /run/secrets takes its own permission.
    const read = { extraFlags: [`--allow-read=${file.path}`] };
    // AMQP_URL names a broker that is not there: the flag must win.
    const env = { AMQP_URL: NOWHERE };
    await using worker = startCli("server.ts", [
      "--url-file",
      file.path,
      "--queue",
      queue,
      "--quiet",
    ], { ...read, env });
    await worker.waitForLine("Awaiting RPC requests");
    const args = await psArgs(worker.child.pid);
    assert.ok(args.includes(file.path), args);
    assert.ok(!args.includes(CREDENTIALS), `ps shows the password: ${args}`);
    assert.ok(!/password/i.test(worker.stderr()), worker.stderr());

    const client = await runCli("client.ts", [
      "--url-file",
      file.path,
      "--queue",
      queue,
      "10",
    ], { ...read, env });
    assert.equal(client.code, 0, client.stderr);
    assert.match(client.stdout, /Got 55/);
    assert.equal(client.stderr, "");
  },
});

Deno.test({
  ...opts,
  name:
    "AMQP_URL_FILE: the programs read the broker URL(s) from the file it names, one per line, tried in order",
  async fn() {
    await using scratch = scratchQueue("url-file-env");
    const queue = scratch.name;
    // Two nodes, one per line (CRLF too): the first is down.
    await using file = await urlFile(`${NOWHERE}\r\n${AMQP_URL}\r\n`);
    const options = {
      extraFlags: [`--allow-read=${file.path}`],
      env: { AMQP_URL: "", AMQP_URL_FILE: file.path },
    };
    await using worker = startCli(
      "server.ts",
      ["--queue", queue, "--quiet"],
      options,
    );
    await worker.waitForLine("Awaiting RPC requests");
    assert.ok(!(await psArgs(worker.child.pid)).includes(CREDENTIALS));
    const client = await runCli("client.ts", ["--queue", queue, "10"], options);
    assert.equal(client.code, 0, client.stderr);
    assert.match(client.stdout, /Got 55/);
    // The command line still wins over the environment.
    const flag = await runCli(
      "client.ts",
      ["--url", AMQP_URL, "--queue", queue, "10"],
      { env: { AMQP_URL: "", AMQP_URL_FILE: "/nonexistent/url" } },
    );
    assert.equal(flag.code, 0, flag.stderr);
  },
});

Deno.test({
  ...opts,
  name:
    "both forms of the URL at once, or a URL file that cannot be used, give one line, and never what the file holds",
  async fn() {
    const secret = "s3cret-Passw0rd";
    await using garbage = await urlFile(`not a URL but ${secret}\n`);
    await using hidden = await urlFile(`${secret}:tail\n`);
    await using empty = await urlFile("\n\n");
    const read = (...paths: string[]) => ({
      extraFlags: paths.map((path) => `--allow-read=${path}`),
    });
    const cases: {
      args: string[];
      options?: Parameters<typeof runCli>[2];
      code: number;
      line: RegExp;
    }[] = [
      {
        args: ["--url", AMQP_URL, "--url-file", garbage.path],
        options: read(garbage.path),
        code: 2,
        line: /--url and --url-file both give the broker/,
      },
      {
        args: [],
        options: { env: { AMQP_URL, AMQP_URL_FILE: garbage.path } },
        code: 2,
        line: /AMQP_URL and AMQP_URL_FILE are both set/,
      },
      {
        args: ["--url-file", "/tmp/rabbit-rpc-no-such-file"],
        options: read("/tmp/rabbit-rpc-no-such-file"),
        code: 1,
        line:
          /^Error: Cannot read --url-file \/tmp\/rabbit-rpc-no-such-file: no such file$/,
      },
      {
        // Not granted: the task may read /run/secrets only.
        args: ["--url-file", garbage.path],
        code: 1,
        line: new RegExp(`--allow-read=${garbage.path}`),
      },
      {
        args: ["--url-file", garbage.path],
        options: read(garbage.path),
        code: 2,
        line: /should hold broker URLs/,
      },
      {
        args: ["--url-file", hidden.path],
        options: read(hidden.path),
        code: 2,
        line: /should hold broker URLs/,
      },
      {
        args: [],
        options: {
          ...read(empty.path),
          env: { AMQP_URL: "", AMQP_URL_FILE: empty.path },
        },
        code: 2,
        line: /AMQP_URL_FILE \S+ is empty/,
      },
    ];
    for (const { args, options, code, line } of cases) {
      for (const script of ["client.ts", "server.ts"] as const) {
        const run = await runCli(script, [...args, "--queue", "x"], options);
        const what = `${script} ${args.join(" ")} ${JSON.stringify(options)}`;
        assert.equal(run.code, code, `${what}: ${run.stderr}`);
        assertOneLineError(run.stderr, line);
        assert.ok(!run.stderr.includes(secret), run.stderr);
        assert.ok(!run.stdout.includes(secret), run.stdout);
      }
    }
  },
});
