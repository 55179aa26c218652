// deno-lint-ignore-file no-console -- a CLI that prints its report.
/**
 * The benchmark: each implementation's client and worker run as separate
 * processes (`run_side.ts`) against the broker at `AMQP_URL`; after a
 * warm-up, rounds measure every implementation at every payload and number
 * of calls in flight, interleaved so that all see the same machine noise.
 * Reports medians and ranges, ratios to the raw ping-pong and the issue's
 * goals; writes JSON, Markdown and an SVG chart to `bench/results/`.
 *
 *     deno task bench [--quick | --smoke] [--rounds N] [--json] [--readme]
 *     deno task bench --soak [soak options]     (same as deno task soak)
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_URL } from "../lib/amqp/url.ts";
import { closeQuietly, connect } from "./impl/common.ts";
import type { Measurement } from "./run_side.ts";
import {
  bytes,
  goals,
  goalsMarkdown,
  LABELS,
  type Machine,
  machineLine,
  markdownReport,
  type Report,
  type Sample,
  summarize,
  summaryMarkdown,
  svgChart,
  terminalReport,
} from "./report.ts";

const USAGE = `Usage: deno task bench [options]

Runs each implementation's client and worker as separate processes against
the broker at $AMQP_URL (else ${DEFAULT_URL}): ours (RpcClient + serve), the
raw ping-pong limit, a plain RPC on amqp-client, rabbitmq-client's RPCClient
and the tutorial's connection-per-call client. Warm-up, then rounds that
interleave the implementations; medians, ranges and ratios to the raw
ping-pong. Writes bench/results/NAME.{json,md,svg}.

Modes (default: full, about 6 to 7 minutes on 2 cores):
  --quick             1 round, fewer cells, 1 s each (about 1 minute)
  --smoke             1 round, 2 cells, 0.2 s each (seconds; for CI)
  --soak [options]    the soak instead: deno task soak --help

Options:
  --rounds N          rounds (full: 5)
  --duration MS       length of each measurement
  --warmup MS         warm-up before each measurement
  --impls LIST        comma-separated subset of: ${
  Object.keys(LABELS).join(",")
}
  --baseline DIR      also measure the library of another checkout (e.g. a
                      git worktree of an earlier commit) as "baseline",
                      interleaved with the others: a before/after in one run
  --name NAME         results file name (default: latest, quick or smoke)
  --json              print the report as JSON on stdout
  --readme            also put the summary into README.md (full runs)
  -h, --help          show this help

Exit status: 0 when every measurement completed without errors (goals are
reported, not asserted), 1 otherwise, 2 bad command line, 130 interrupted.`;

const BENCH = new URL("./", import.meta.url);
const RESULTS = new URL("./results/", import.meta.url);
const README = new URL("../README.md", import.meta.url);
const TUTORIAL_MAX_IN_FLIGHT = 100;
const DRAIN_MS = 15_000;

interface Mode {
  name: string;
  rounds: number;
  measureMs: number;
  warmupMs: number;
  initialWarmupMs: number;
  cells: { payload: number; concurrency: number }[];
}

const KiB = 1024;
const sweep = (payload: number, concurrencies: number[]) =>
  concurrencies.map((concurrency) => ({ payload, concurrency }));

const MODES: Record<string, Mode> = {
  full: {
    name: "latest",
    rounds: 5,
    measureMs: 1_500,
    warmupMs: 300,
    initialWarmupMs: 1_500,
    cells: [
      ...sweep(8, [1, 10, 100, 1000]),
      ...sweep(KiB, [1, 100]),
      ...sweep(64 * KiB, [1, 100]),
    ],
  },
  quick: {
    name: "quick",
    rounds: 1,
    measureMs: 1_000,
    warmupMs: 200,
    initialWarmupMs: 500,
    cells: [...sweep(8, [1, 10, 100, 1000]), ...sweep(64 * KiB, [100])],
  },
  smoke: {
    name: "smoke",
    rounds: 1,
    measureMs: 200,
    warmupMs: 50,
    initialWarmupMs: 0,
    cells: [...sweep(8, [1]), ...sweep(64 * KiB, [10])],
  },
};

/** A side process, spoken to one JSON line at a time. */
class Side {
  #stderr = "";
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<string>;
  #exited: Promise<Deno.CommandStatus>;

  private constructor(
    readonly label: string,
    readonly child: Deno.ChildProcess,
  ) {
    this.#writer = child.stdin.getWriter();
    this.#reader = child.stdout.pipeThrough(new TextDecoderStream())
      .pipeThrough(lines()).getReader();
    (async () => {
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) this.#stderr = (this.#stderr + chunk).slice(-4096);
    })().catch(() => {});
    this.#exited = child.status;
  }

  static async start(
    impl: string,
    role: "client" | "worker",
    queues: { queue: string; replyQueue: string; baseline?: string },
  ): Promise<Side> {
    const { queue, replyQueue, baseline } = queues;
    const child = new Deno.Command(denoPath(), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        "--allow-net",
        "--allow-env=AMQP_URL",
        ...(baseline ? [`--allow-read=${baseline}`] : []),
        new URL("run_side.ts", BENCH).pathname,
        ...["--impl", impl, "--role", role],
        ...["--queue", queue, "--reply-queue", replyQueue],
        ...(baseline ? ["--baseline", baseline] : []),
      ],
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const side = new Side(`${impl} ${role}`, child);
    await side.#read(30_000);
    return side;
  }

  async #read(timeout: number): Promise<Record<string, unknown>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const result = await Promise.race([
        this.#reader.read(),
        this.#exited.then((s) => ({ exited: s.code })),
        new Promise<{ timeout: true }>((resolve) =>
          timer = setTimeout(() => resolve({ timeout: true }), timeout)
        ),
      ]);
      if ("value" in result && result.value !== undefined) {
        const message = JSON.parse(result.value);
        if (message.error) {
          throw new Error(`${this.label}: ${message.error}`);
        }
        return message;
      }
      const why = "timeout" in result
        ? `did not answer in ${timeout} ms`
        : "exited" in result
        ? `exited with status ${result.exited}`
        : "closed its output";
      throw new Error(`${this.label} ${why}; its stderr:\n${this.#stderr}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async request<T>(command: object, timeout: number): Promise<T> {
    await this.#writer.write(
      new TextEncoder().encode(JSON.stringify(command) + "\n"),
    );
    return await this.#read(timeout) as T;
  }

  async stop(): Promise<void> {
    try {
      await this.#writer.write(new TextEncoder().encode('{"cmd":"exit"}\n'));
      await this.#writer.close();
    } catch {
      // Already gone.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#exited.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), 5_000)),
    ]);
    clearTimeout(timer);
    if (!exited) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
      await this.#exited;
    }
    await this.#reader.cancel().catch(() => {});
  }
}

/** The running Deno if --allow-run names it, else the PATH's `deno`. */
function denoPath(): string {
  return Deno.permissions.querySync({ name: "run", command: Deno.execPath() })
      .state === "granted"
    ? Deno.execPath()
    : "deno";
}

interface WorkerStats {
  handled: number;
  cpuUser: number;
  cpuSystem: number;
  rss: number;
}

function lines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) if (line.trim()) controller.enqueue(line);
    },
  });
}

async function run(command: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(command, {
      args,
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/**
 * Reads the CPU time of the broker's process, if the broker runs on this
 * machine (its URL names a loopback host and `rabbitmqctl` reaches it):
 * a function that returns user + system time in µs, or null if it cannot.
 */
async function brokerCpuReader(
  url: string,
): Promise<() => Promise<number | null>> {
  const none = () => Promise.resolve(null);
  const host = new URL(url.split(",")[0]).hostname;
  if (!["localhost", "127.0.0.1", "[::1]", "::1"].includes(host)) return none;
  const pid = (await run("rabbitmqctl", ["-q", "eval", "os:getpid()."]))
    ?.match(/"(\d+)"/)?.[1];
  if (pid === undefined) return none;
  // Deno grants reads of /proc/PID only with --allow-all: cat reads it.
  // Linux reports times in clock ticks of 1/100 s (USER_HZ).
  const read = async (): Promise<number | null> => {
    const stat = await run("cat", [`/proc/${pid}/stat`]);
    if (stat === null) return null;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * 10_000 : null;
  };
  return (await read()) === null ? none : read;
}

function loadavg(): number[] | null {
  try {
    return Deno.loadavg();
  } catch {
    return null;
  }
}

async function machine(): Promise<Machine> {
  const [lscpu, rabbitmq] = await Promise.all([
    run("lscpu", []),
    run("rabbitmqctl", ["-q", "version"]),
  ]);
  let memoryGiB: number | null = null;
  let os = `${Deno.build.os} ${Deno.build.arch}`;
  try {
    memoryGiB = Deno.systemMemoryInfo().total / 1024 ** 3;
  } catch {
    // --allow-sys=systemMemoryInfo not granted.
  }
  try {
    os = `Linux ${Deno.osRelease()} ${Deno.build.arch}`;
  } catch {
    // --allow-sys=osRelease not granted.
  }
  return {
    cpu: lscpu?.match(/^Model name:\s*(.+)$/m)?.[1]?.trim() ?? "unknown CPU",
    cores: navigator.hardwareConcurrency,
    memoryGiB,
    os,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    rabbitmq: rabbitmq?.split("\n").at(-1) ?? "(version unknown)",
    loadBefore: loadavg(),
    loadAfter: null,
  };
}

/** A single updating line on a terminal; nothing otherwise. */
class Progress {
  #start = performance.now();
  readonly on: boolean;
  constructor(readonly out: typeof Deno.stdout | typeof Deno.stderr) {
    this.on = out.isTerminal();
  }
  show(text: string, done: number, total: number) {
    if (!this.on) return;
    const elapsed = (performance.now() - this.#start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
    const line = `[${done}/${total}] ${text}  ${clock(elapsed)} elapsed${
      Number.isFinite(eta) ? `, ~${clock(eta)} left` : ""
    }`;
    const width = Deno.consoleSize?.().columns ?? 100;
    this.out.writeSync(
      new TextEncoder().encode(`\r\x1b[2K${line.slice(0, width - 1)}`),
    );
  }
  clear() {
    if (this.on) this.out.writeSync(new TextEncoder().encode("\r\x1b[2K"));
  }
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

async function main(args: string[]): Promise<number> {
  if (args.includes("--soak")) {
    const { main: soak } = await import("./soak.ts");
    return await soak(args.filter((a) => a !== "--soak"));
  }
  let flags;
  try {
    flags = parseArgs({
      args,
      options: {
        quick: { type: "boolean", default: false },
        smoke: { type: "boolean", default: false },
        rounds: { type: "string" },
        duration: { type: "string" },
        warmup: { type: "string" },
        impls: { type: "string" },
        baseline: { type: "string" },
        name: { type: "string" },
        json: { type: "boolean", default: false },
        readme: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`Error: ${(error as Error).message}. Run with --help.`);
    return 2;
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const modeName = flags.smoke ? "smoke" : flags.quick ? "quick" : "full";
  const mode = { ...MODES[modeName] };
  const number = (flag: string, value: string | undefined, min: number) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new RangeError(
        `${flag} must be a whole number ≥ ${min}, got "${value}"`,
      );
    }
    return n;
  };
  let impls = Object.keys(LABELS).filter((impl) => impl !== "baseline");
  try {
    mode.rounds = number("--rounds", flags.rounds, 1) ?? mode.rounds;
    mode.measureMs = number("--duration", flags.duration, 10) ?? mode.measureMs;
    mode.warmupMs = number("--warmup", flags.warmup, 0) ?? mode.warmupMs;
    if (flags.impls) {
      impls = flags.impls.split(",").map((s) => s.trim());
      const unknown = impls.filter((i) => !(i in LABELS));
      if (unknown.length) throw new RangeError(`unknown --impls: ${unknown}`);
    }
    if (flags.baseline !== undefined && !impls.includes("baseline")) {
      impls.splice(1, 0, "baseline");
    }
    if (impls.includes("baseline") && flags.baseline === undefined) {
      throw new RangeError("--impls baseline needs --baseline DIR");
    }
  } catch (error) {
    console.error(`Error: ${(error as Error).message}. Run with --help.`);
    return 2;
  }
  const name = flags.name ?? mode.name;
  const json = flags.json;
  const log = json ? console.error : console.log;
  const progress = new Progress(json ? Deno.stderr : Deno.stdout);
  const url = Deno.env.get("AMQP_URL") ?? DEFAULT_URL;
  const brokerCpu = await brokerCpuReader(url);
  const queueOf = (impl: string) => `bench.${impl}.${Deno.pid}`;
  const replyQueue = `bench.raw.${Deno.pid}.reply`;
  const started = performance.now();

  let interrupted = false;
  let interruptedAt = 0;
  const onInterrupt = () => {
    if (interrupted) {
      if (performance.now() - interruptedAt > 1_000) Deno.exit(130);
      return;
    }
    interrupted = true;
    interruptedAt = performance.now();
    progress.clear();
    console.error("Interrupted: stopping the sides and deleting the queues");
  };
  Deno.addSignalListener("SIGINT", onInterrupt);

  const workers = new Map<string, Side>();
  const clients = new Map<string, Side>();
  const samples: Sample[] = [];
  const machineInfo = machine();
  try {
    log(
      `Benchmark (${modeName}): ${
        impls.join(", ")
      }; ${mode.rounds} round(s) × ${mode.cells.length} cells × ${mode.measureMs} ms; broker ${
        url.replace(/\/\/[^@/]*@/, "//***@")
      }`,
    );
    // Workers first (they declare the request queues), then clients.
    await Promise.all(impls.map(async (impl) => {
      workers.set(
        impl,
        await Side.start(impl, "worker", {
          queue: queueOf(impl),
          replyQueue,
          baseline: flags.baseline,
        }),
      );
    }));
    await Promise.all(impls.map(async (impl) => {
      clients.set(
        impl,
        await Side.start(impl, "client", {
          queue: queueOf(impl),
          replyQueue,
          baseline: flags.baseline,
        }),
      );
    }));
    const runFor = (
      impl: string,
      concurrency: number,
      payload: number,
      ms: number,
    ) =>
      clients.get(impl)!.request<Measurement>(
        { cmd: "run", concurrency, payload, ms, drainMs: DRAIN_MS },
        ms + DRAIN_MS + 30_000,
      );
    const allowed = (impl: string, concurrency: number) =>
      impl !== "tutorial" || concurrency <= TUTORIAL_MAX_IN_FLIGHT;

    // Warm-up: every implementation at every payload, 10 in flight.
    if (mode.initialWarmupMs > 0) {
      const payloads = [...new Set(mode.cells.map((c) => c.payload))];
      let i = 0;
      for (const impl of impls) {
        for (const payload of payloads) {
          if (interrupted) return 130;
          progress.show(`warm-up: ${impl}, ${bytes(payload)}`, 0, 1);
          await runFor(
            impl,
            10,
            payload,
            mode.initialWarmupMs / payloads.length,
          );
          i++;
        }
      }
    }

    const plan: {
      round: number;
      impl: string;
      payload: number;
      concurrency: number;
    }[] = [];
    for (let round = 1; round <= mode.rounds; round++) {
      mode.cells.forEach((cell, c) => {
        const shift = (round - 1 + c) % impls.length;
        const order = [...impls.slice(shift), ...impls.slice(0, shift)];
        for (const impl of order) {
          if (allowed(impl, cell.concurrency)) {
            plan.push({ round, impl, ...cell });
          }
        }
      });
    }
    let done = 0;
    for (const step of plan) {
      if (interrupted) return 130;
      progress.show(
        `round ${step.round}/${mode.rounds}: ${LABELS[step.impl]}, ${
          bytes(step.payload)
        }, ${step.concurrency} in flight`,
        done,
        plan.length,
      );
      const worker = workers.get(step.impl)!;
      if (mode.warmupMs > 0) {
        await runFor(step.impl, step.concurrency, step.payload, mode.warmupMs);
      }
      const before = await worker.request<WorkerStats>(
        { cmd: "stats" },
        10_000,
      );
      const brokerBefore = await brokerCpu();
      const client = await runFor(
        step.impl,
        step.concurrency,
        step.payload,
        mode.measureMs,
      );
      const after = await worker.request<WorkerStats>({ cmd: "stats" }, 10_000);
      const brokerAfter = await brokerCpu();
      samples.push({
        ...step,
        client,
        workerCpu: after.cpuUser + after.cpuSystem - before.cpuUser -
          before.cpuSystem,
        workerHandled: after.handled - before.handled,
        brokerCpu: brokerBefore === null || brokerAfter === null
          ? null
          : brokerAfter - brokerBefore,
        workerRss: after.rss,
      });
      done++;
      if (
        !progress.on && step === plan.findLast((s) => s.round === step.round)
      ) {
        log(
          `round ${step.round}/${mode.rounds} done (${
            clock((performance.now() - started) / 1000)
          })`,
        );
      }
    }
    progress.clear();

    const info = await machineInfo;
    info.loadAfter = loadavg();
    const results = summarize(samples);
    const report: Report = {
      date: new Date().toISOString(),
      mode: modeName,
      command: ["deno task bench", ...args].join(" "),
      seconds: (performance.now() - started) / 1000,
      settings: {
        rounds: mode.rounds,
        measureMs: mode.measureMs,
        warmupMs: mode.warmupMs,
        tutorialMaxInFlight: TUTORIAL_MAX_IN_FLIGHT,
        implementations: impls,
        cells: mode.cells,
      },
      machine: info,
      goals: goals(samples),
      results,
      samples,
    };
    await Deno.mkdir(RESULTS, { recursive: true });
    const files = ["json", "md", "svg"].map((ext) =>
      new URL(`${name}.${ext}`, RESULTS)
    );
    await Deno.writeTextFile(files[0], JSON.stringify(report, null, 2) + "\n");
    await Deno.writeTextFile(files[1], markdownReport(report, `${name}.svg`));
    await Deno.writeTextFile(files[2], svgChart(report));
    if (flags.readme) await updateReadme(report, name);
    // The repository's `deno fmt --check` covers these files too.
    await run(denoPath(), [
      "fmt",
      "--quiet",
      ...files.map((f) => f.pathname),
      ...(flags.readme ? [README.pathname] : []),
    ]);
    if (json) {
      console.log(JSON.stringify(report));
    } else {
      console.log(`Machine: ${machineLine(info)}`);
      console.log(terminalReport(report));
    }
    log(
      `\n${Math.round(report.seconds)} s; wrote ${
        files.map((f) => f.pathname.replace(/^.*\/bench\//, "bench/")).join(
          ", ",
        )
      }${flags.readme ? ", README.md" : ""}`,
    );
    const clean = results.every((s) => !s.errors && !s.wrong && !s.stuck);
    return clean ? 0 : 1;
  } catch (error) {
    progress.clear();
    if (interrupted) return 130;
    throw error;
  } finally {
    await Promise.all(
      [...clients.values(), ...workers.values()].map((s) => s.stop()),
    );
    await deleteQueues(url, [...impls.map(queueOf), replyQueue]);
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

async function deleteQueues(url: string, queues: string[]): Promise<void> {
  try {
    const connection = await connect(
      url,
      `rabbit-rpc bench clean-up (pid ${Deno.pid})`,
    );
    try {
      const channel = await connection.channel();
      for (const queue of queues) await channel.queueDelete(queue);
    } finally {
      await closeQuietly(connection);
    }
  } catch (error) {
    console.error(`Warning: could not delete the queues ${queues}: ${error}`);
  }
}

const BEGIN = "<!-- bench:begin -->";
const END = "<!-- bench:end -->";

/** Replaces the README's section between the bench markers. */
async function updateReadme(report: Report, name: string): Promise<void> {
  const text = await Deno.readTextFile(README);
  const a = text.indexOf(BEGIN), b = text.indexOf(END);
  if (a < 0 || b < a) {
    console.error(`Warning: README.md has no ${BEGIN} … ${END} section`);
    return;
  }
  const block = [
    BEGIN,
    "",
    `Last run: ${
      report.date.slice(0, 10)
    }, \`${report.command}\`, ${report.settings.rounds} rounds interleaved, ${
      Math.round(report.seconds / 60)
    } minutes; medians. Machine: ${
      machineLine(report.machine)
    }. Full tables (p90, max, CPU per call, RSS, ranges): [bench/results/${name}.md](bench/results/${name}.md).`,
    "",
    goalsMarkdown(report),
    "",
    summaryMarkdown(report),
    "",
    `![Latency percentiles and throughput against calls in flight](bench/results/${name}.svg)`,
    "",
    END,
  ].join("\n");
  await Deno.writeTextFile(
    README,
    text.slice(0, a) + block + text.slice(b + END.length),
  );
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (error) {
    console.error(`Error: ${error instanceof Error ? error.message : error}`);
    Deno.exitCode = 1;
  }
}
