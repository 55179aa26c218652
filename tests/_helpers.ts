/**
 * What the tests share: the broker URL, unique queue names, and starting
 * the CLI programs as subprocesses.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { closeConnection, openConnection } from "../lib/amqp/connection.ts";

/** The shared broker of the machine (or `AMQP_URL`). */
export const AMQP_URL = Deno.env.get("AMQP_URL") ??
  "amqp://guest:guest@127.0.0.1:5672";

/** The project's root folder. */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));

let counter = 0;

/** A queue name no other test (or test run) uses. */
export function uniqueQueue(label: string): string {
  return `test.${label}.${Deno.pid}.${Date.now().toString(36)}.${counter++}`;
}

/**
 * Polls `condition` every 10 ms until it holds. The limit only turns a hang
 * into a failure that says what never happened: tests assert outcomes, and
 * times are never asserted.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what = "the condition",
  limit = 60_000,
): Promise<void> {
  const end = performance.now() + limit;
  while (!(await condition())) {
    if (performance.now() > end) {
      throw new Error(`Gave up waiting for ${what} after ${limit} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A Deno subprocess running one of the CLIs, with its output collected. */
export interface CliProcess extends AsyncDisposable {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** Resolves with the first stdout line that contains `text`. */
  waitForLine(text: string): Promise<string>;
  /** Everything printed on stdout so far. */
  stdout(): string;
  /** Everything printed on stderr so far. */
  stderr(): string;
  /** Waits for the process to exit. */
  status(): Promise<Deno.CommandStatus>;
}

/**
 * The permission flags of the `deno task` that runs `script`, read from
 * `deno.json`, so that tests run the CLIs exactly as users do.
 */
export function taskPermissions(script: "server.ts" | "client.ts"): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  const task: string = config.tasks[script.replace(".ts", "")];
  const words = task.split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== script) {
    throw new Error(`unexpected task for ${script}: ${task}`);
  }
  return words.slice(2, -1);
}

/** Options of {@linkcode startCli}. */
export interface CliOptions {
  /** More environment variables (`AMQP_URL` is set to the shared broker). */
  env?: Record<string, string>;
  /** Permission flags added to the task's own (e.g. `--allow-read=ca.pem`). */
  extraFlags?: string[];
}

/**
 * Starts `deno run` on one of the entry scripts with exactly the
 * permissions its task uses.
 */
export function startCli(
  script: "server.ts" | "client.ts",
  args: string[],
  options: CliOptions = {},
): CliProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...taskPermissions(script),
      ...(options.extraFlags ?? []),
      `${ROOT}${script}`,
      ...args,
    ],
    env: { AMQP_URL, NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const waiters: { text: string; resolve: (line: string) => void }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const line = out.split("\n").find((l) => l.includes(waiter.text));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  const decoder = () => new TextDecoderStream();
  const reading = Promise.all([
    (async () => {
      for await (const chunk of child.stdout.pipeThrough(decoder())) {
        out += chunk;
        check();
      }
    })(),
    (async () => {
      for await (const chunk of child.stderr.pipeThrough(decoder())) {
        err += chunk;
      }
    })(),
  ]);
  const status = async () => {
    const result = await child.status;
    await reading;
    return result;
  };
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    status,
    waitForLine(text) {
      return new Promise((resolve, reject) => {
        waiters.push({ text, resolve });
        check();
        child.status.then((s) => {
          // Output may still be arriving; settle after it is read.
          reading.then(() => {
            check();
            reject(
              new Error(
                `${script} exited (${s.code}) before printing "${text}"; stderr: ${err}`,
              ),
            );
          });
        });
      });
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      await status();
    },
  };
}

/** Options of {@linkcode startWorker}. */
export interface WorkerOptions {
  /** The broker (default: the shared one, through `AMQP_URL`). */
  url?: string;
  /** `--prefetch` (default 10). */
  prefetch?: number;
  /** More flags, e.g. `["--grace-period", "5000"]`. */
  args?: string[];
  /** `--quiet` (default true); false prints a line per request. */
  quiet?: boolean;
}

/**
 * Starts `deno task server` on `queue`, quiet, and waits until it
 * consumes; the process is stopped (SIGTERM) when disposed of.
 */
export async function startWorker(
  queue: string,
  options: WorkerOptions = {},
): Promise<CliProcess> {
  const worker = startCli("server.ts", [
    ...(options.url ? ["--url", options.url] : []),
    "--queue",
    queue,
    "--prefetch",
    String(options.prefetch ?? 10),
    ...(options.quiet === false ? [] : ["--quiet"]),
    ...(options.args ?? []),
  ]);
  try {
    await worker.waitForLine("Awaiting RPC requests");
  } catch (error) {
    await worker[Symbol.asyncDispose]();
    throw error;
  }
  return worker;
}

/** Runs one of the CLIs to completion. */
export async function runCli(
  script: "server.ts" | "client.ts",
  args: string[],
  options: CliOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const process = startCli(script, args, options);
  const { code } = await process.status();
  return { code, stdout: process.stdout(), stderr: process.stderr() };
}

/** A unique queue name that is deleted from the broker on disposal. */
export interface ScratchQueue extends AsyncDisposable {
  /** The queue's name. */
  readonly name: string;
}

/**
 * A unique queue name for one test; disposing of it deletes the queue (and
 * the queues of `also`, where `{}` stands for the name), so tests leave
 * nothing behind on the shared broker. Declare it first in a
 * test, so that it is disposed of last, after the workers that use it.
 */
export function scratchQueue(
  label: string,
  options: { url?: string; also?: string[] } = {},
): ScratchQueue {
  const name = uniqueQueue(label);
  return {
    name,
    async [Symbol.asyncDispose]() {
      const connection = await openConnection({ url: options.url ?? AMQP_URL });
      try {
        const channel = await connection.channel();
        await channel.queueDelete(name);
        for (const other of options.also ?? []) {
          await channel.queueDelete(other.replace("{}", name));
        }
      } finally {
        await closeConnection(connection);
      }
    },
  };
}

/**
 * `rabbitmqctl list_queues` columns of one queue on the shared broker: its
 * name, type, durability, auto-delete and arguments, as the broker keeps
 * them.
 */
export async function queueInfo(
  queue: string,
): Promise<Record<string, unknown>> {
  const out = await new Deno.Command("rabbitmqctl", {
    args: [
      "-q",
      "list_queues",
      "--formatter",
      "json",
      "name",
      "type",
      "durable",
      "auto_delete",
      "arguments",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const rows = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<
    string,
    unknown
  >[];
  const row = rows.find((r) => r.name === queue);
  assert.ok(row, `queue ${queue} is not on the broker`);
  return row;
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Asserts a failure printed exactly one line and no stack trace. */
export function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0], /^Error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(stderr, /\n\s+at /);
}
