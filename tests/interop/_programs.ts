/**
 * Running the interoperability tests' peer programs (the tutorial's, and
 * the matrix's peers in every language): a subprocess with its output
 * collected, a time limit for any one step, and running a command to
 * completion.
 *
 * @module
 */

import { ROOT } from "../_helpers.ts";

/** The folder of the interoperability tests, where programs run. */
export const INTEROP = `${ROOT}tests/interop/`;
/** How long any one step (a build, a start, a call) may take. */
export const STEP_TIMEOUT_MS = 60_000;
/**
 * How long a program has to exit after SIGTERM before it is sent SIGKILL
 * (a JVM or a worker stuck in a call must not hold the test forever).
 */
const KILL_AFTER_MS = 10_000;

/** A subprocess whose stdout and stderr are collected. */
export interface Program extends AsyncDisposable {
  /** Resolves with the first line, on stdout or stderr, holding `text`. */
  waitForLine(text: string): Promise<string>;
  /** Everything printed on stdout so far. */
  stdout(): string;
  /** Everything printed on stderr so far. */
  stderr(): string;
  /** Waits for the process to exit and its output to be read. */
  status(): Promise<Deno.CommandStatus>;
}

/**
 * Starts `command` with its output collected, in `cwd` (by default the
 * interoperability tests' folder). Disposing of it sends SIGTERM, then
 * SIGKILL if it has not exited after a while, and waits for its output.
 */
export function startProgram(
  label: string,
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  cwd: string = INTEROP,
): Program {
  const child = new Deno.Command(command, {
    args: [...args],
    env: { ...env },
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const text = { out: "", err: "" };
  const waiters: { text: string; resolve: (line: string) => void }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const line = `${text.out}\n${text.err}`.split("\n")
        .find((l) => l.includes(waiter.text));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  const collect = async (
    stream: ReadableStream<Uint8Array>,
    key: "out" | "err",
  ) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text[key] += chunk;
      check();
    }
  };
  const reading = Promise.all([
    collect(child.stdout, "out"),
    collect(child.stderr, "err"),
  ]);
  let exited = false;
  const exit = child.status.then((s) => {
    exited = true;
    return s;
  });
  const status = async () => {
    const result = await exit;
    await reading;
    return result;
  };
  return {
    stdout: () => text.out,
    stderr: () => text.err,
    status,
    waitForLine(wanted) {
      return new Promise((resolve, reject) => {
        waiters.push({ text: wanted, resolve });
        check();
        status().then((s) => {
          check();
          reject(
            new Error(
              `${label} exited (${s.code}) before printing "${wanted}"; ` +
                `stdout: ${text.out}\nstderr: ${text.err}`,
            ),
          );
        });
      });
    },
    async [Symbol.asyncDispose]() {
      const kill = (signal: Deno.Signal) => {
        try {
          child.kill(signal);
        } catch {
          // Already exited.
        }
      };
      if (!exited) kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        exit,
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            kill("SIGKILL");
            resolve();
          }, KILL_AFTER_MS);
        }),
      ]);
      clearTimeout(timer);
      await status();
    },
  };
}

/** `promise`, or an error naming `what` once `ms` have passed. */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  ms: number = STEP_TIMEOUT_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms: ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command to completion; a missing program is `undefined`. */
export async function output(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string } | undefined> {
  let result;
  try {
    result = await new Deno.Command(command, {
      args: [...args],
      ...options,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const decoder = new TextDecoder();
  return {
    code: result.code,
    stdout: decoder.decode(result.stdout),
    stderr: decoder.decode(result.stderr),
  };
}

/**
 * What `command args` prints on stdout, trimmed: a peer's toolchain asked
 * for a version. Fails with `missing` if the command is not installed, or
 * with `failed` and its stderr if it fails or prints nothing.
 */
export async function printedBy(
  command: string,
  args: readonly string[],
  hints: { missing: string; failed: string },
): Promise<string> {
  const result = await output(command, args);
  if (result === undefined) throw new Error(hints.missing);
  const stdout = result.stdout.trim();
  if (result.code !== 0 || stdout === "") {
    const detail = result.stderr.trim() || stdout;
    throw new Error(hints.failed + (detail === "" ? "" : `: ${detail}`));
  }
  return stdout;
}

/**
 * Fails unless `found` is the `expected` major.minor version of `library`,
 * the one a peer's documented limits were measured with (in `peerFile`).
 */
export function checkMeasuredVersion(
  library: string,
  expected: string,
  found: string,
  peerFile: string,
): void {
  if (!`${found}.`.startsWith(`${expected}.`)) {
    throw new Error(
      `The limits were measured with ${library} ${expected}, this is ` +
        `${library} ${found}: measure them again and update ${peerFile}`,
    );
  }
}
