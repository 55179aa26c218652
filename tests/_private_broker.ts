/**
 * A private RabbitMQ node for fault-injection tests: its own node name,
 * ports, Erlang cookie and data folder under `/tmp`, so that a test may stop,
 * pause or restart it without touching the machine's shared broker.
 *
 * It runs Debian's RabbitMQ scripts from `/usr/lib/rabbitmq/bin` directly:
 * the wrappers in `/usr/sbin` switch to the `rabbitmq` user with `su`, which
 * drops every `RABBITMQ_*` variable (and would use the shared node's cookie).
 * The node therefore runs as the user of the test (root on the CI machine).
 *
 * @example
 * ```ts ignore
 * import { startPrivateBroker } from "./_private_broker.ts";
 *
 * await using broker = await startPrivateBroker({ name: "restart" });
 * await broker.stopApp();
 * await broker.startApp();
 * ```
 *
 * @module
 */

/** Where Debian keeps RabbitMQ's own scripts (not the `su` wrappers). */
const RABBITMQ_BIN = "/usr/lib/rabbitmq/bin";
/** The host part of every private node name; resolves to 127.0.0.1. */
const NODE_HOST = "localhost";
/** Folders of private nodes are `/tmp/<prefix><pid>-<n>-<random>`. */
const DIR_PREFIX = "rabbit-rpc-broker-";
/**
 * An Erlang user flag put on the node's command line, followed by its data
 * folder, to find the node's OS processes without mistaking any other.
 */
const MARKER_FLAG = "-rabbit_rpc_private_broker";
/** How long a node may take to start (it takes 4.5 to 7 s). */
const START_TIMEOUT_MS = 60_000;
/** How long `rabbitmqctl stop` may take before the node is killed. */
const STOP_TIMEOUT_MS = 15_000;
/** How long any other `rabbitmqctl` command may take. */
const CTL_TIMEOUT_MS = 120_000;
/**
 * Ports a picked port must not be: epmd, the shared node's AMQP and
 * distribution ports, and the range the Erlang CLI tools listen on.
 */
const RESERVED_PORTS = new Set([4369, 5671, 5672, 15672, 15692, 25672]);
const CLI_PORT_MIN = 35672;
const CLI_PORT_MAX = 35682;

/** How to start a private node. */
export interface PrivateBrokerOptions {
  /**
   * Also listen for AMQP over TLS, with a server certificate for
   * `localhost` and `127.0.0.1` signed by a CA made for this node.
   */
  tls?: boolean;
  /**
   * A label for the node name, so that logs and `ps` tell nodes apart
   * (letters, digits, `_` and `-`; anything else becomes `_`).
   */
  name?: string;
  /**
   * The Erlang cookie (default: a random one). Nodes that are to form a
   * cluster must share it.
   */
  cookie?: string;
}

/** A running private RabbitMQ node; disposing of it stops and removes it. */
export interface PrivateBroker extends AsyncDisposable {
  /** The Erlang node name, e.g. `rpctest-restart-1234-1@localhost`. */
  readonly nodeName: string;
  /** The AMQP port, on 127.0.0.1. */
  readonly port: number;
  /** `amqp://guest:guest@127.0.0.1:<port>`. */
  readonly url: string;
  /** The AMQPS port, when started with `tls: true`. */
  readonly tlsPort?: number;
  /**
   * `amqps://guest:guest@localhost:<tlsPort>`, when started with
   * `tls: true`: `localhost` matches the server certificate.
   */
  readonly tlsUrl?: string;
  /** The PEM file of the CA that signed the server certificate. */
  readonly caFile?: string;
  /** The node's folder: configuration, database, logs, certificates. */
  readonly dataDir: string;
  /**
   * Runs `rabbitmqctl -n <nodeName> ...args` and returns its stdout.
   *
   * @throws {Error} with the command's stderr if it exits non-zero or takes
   * longer than two minutes.
   */
  ctl(...args: string[]): Promise<string>;
  /** Stops the RabbitMQ application (`rabbitmqctl stop_app`); the node stays up. */
  stopApp(): Promise<void>;
  /**
   * Starts the RabbitMQ application (`rabbitmqctl start_app`) and waits
   * until its AMQP port(s) accept connections.
   */
  startApp(): Promise<void>;
  /** Closes every client connection (`rabbitmqctl close_all_connections`). */
  closeAllConnections(): Promise<void>;
  /**
   * Freezes the node's Erlang VM with SIGSTOP: connections stay open but
   * nothing answers, as with a dead peer.
   */
  pause(): Promise<void>;
  /** Lets a paused node run again (SIGCONT). */
  resume(): Promise<void>;
  /**
   * Stops the node (killing it if `rabbitmqctl stop` does not do it in
   * time) and removes its data folder. Safe to call more than once.
   */
  stop(): Promise<void>;
}

/**
 * Starts a private RabbitMQ node on free ports and resolves once it accepts
 * AMQP connections. If it does not start, whatever was started is removed
 * and the error carries the end of the node's log.
 *
 * @example
 * ```ts ignore
 * import { startPrivateBroker } from "./_private_broker.ts";
 *
 * await using broker = await startPrivateBroker({ tls: true });
 * console.log(broker.url, broker.tlsUrl, broker.caFile);
 * ```
 *
 * @throws {Error} if the node does not start within 60 seconds.
 */
export async function startPrivateBroker(
  options: PrivateBrokerOptions = {},
): Promise<PrivateBroker> {
  await reapStaleNodes();
  const n = ++started;
  const label = (options.name ?? "node").replace(/[^A-Za-z0-9_-]/g, "_");
  const nodeName = `rpctest-${label}-${Deno.pid}-${n}@${NODE_HOST}`;
  const dataDir = await Deno.makeTempDir({
    dir: "/tmp",
    prefix: `${DIR_PREFIX}${Deno.pid}-${n}-`,
  });
  const node = new Node(nodeName, dataDir);
  try {
    const [port, distPort, tlsPort] = await freePorts(options.tls ? 3 : 2);
    let tls: TlsFiles | undefined;
    if (options.tls) tls = await makeCertificates(`${dataDir}/tls`, nodeName);
    await writeFiles(
      dataDir,
      port,
      tls && { ...tls, port: tlsPort },
      options.cookie ?? randomCookie(),
    );
    node.configure({
      port,
      distPort,
      tlsPort: tls && tlsPort,
      caFile: tls?.caFile,
    });
    await node.launch();
    return node;
  } catch (error) {
    try {
      await node.stop();
    } catch (cleanup) {
      throw new Error(
        `${error instanceof Error ? error.message : error}\n` +
          `(and removing the half-started node failed: ${cleanup})`,
        { cause: error },
      );
    }
    throw error;
  }
}

let started = 0;

interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

class Node implements PrivateBroker {
  readonly nodeName: string;
  readonly dataDir: string;
  port = 0;
  url = "";
  tlsPort?: number;
  tlsUrl?: string;
  caFile?: string;
  #env: Record<string, string>;
  #stopping?: Promise<void>;

  constructor(nodeName: string, dataDir: string) {
    this.nodeName = nodeName;
    this.dataDir = dataDir;
    this.#env = nodeEnv(nodeName, dataDir, 0);
  }

  configure(
    ports: {
      port: number;
      distPort: number;
      tlsPort?: number;
      caFile?: string;
    },
  ): void {
    this.port = ports.port;
    this.url = `amqp://guest:guest@127.0.0.1:${ports.port}`;
    if (ports.tlsPort !== undefined) {
      this.tlsPort = ports.tlsPort;
      this.tlsUrl = `amqps://guest:guest@localhost:${ports.tlsPort}`;
      this.caFile = ports.caFile;
    }
    this.#env = nodeEnv(this.nodeName, this.dataDir, ports.distPort);
  }

  /** Runs `rabbitmq-server -detached` and waits until the node is ready. */
  async launch(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    // The detached node would keep every descriptor the test inherited
    // without close-on-exec (a CI runner's pipe, say) open as long as it
    // runs: close them first.
    const launched = await run("bash", [
      "-c",
      'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null; exec "$@"',
      "rabbitmq-server",
      `${RABBITMQ_BIN}/rabbitmq-server`,
      "-detached",
    ], { env: this.#env, cwd: this.dataDir, timeoutMs: 30_000 });
    if (launched.code !== 0) {
      throw await this.#startError(
        `rabbitmq-server -detached exited with ${launched.code}: ${launched.stderr.trim()}`,
      );
    }
    // The node writes its pid file once its distribution is up; before
    // that `rabbitmqctl await_startup` fails at once ("not running").
    let seenProcess = false;
    const launchedAt = Date.now();
    for (;;) {
      if (Date.now() > deadline) {
        throw await this.#startError(
          `not ready after ${START_TIMEOUT_MS / 1000} s`,
        );
      }
      const pids = await markedPids(this.dataDir);
      if (pids.length > 0) seenProcess = true;
      else if (seenProcess || Date.now() - launchedAt > 5_000) {
        throw await this.#startError("the node's Erlang VM exited");
      }
      if (await this.#pidFromFile() !== undefined) {
        const seconds = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
        const result = await this.#rabbitmqctl(
          ["await_startup", "--timeout", String(seconds)],
          (seconds + 5) * 1000,
        );
        if (result.code === 0) break;
      }
      await delay(200);
    }
    await this.#waitForPorts(deadline);
  }

  async ctl(...args: string[]): Promise<string> {
    if (this.#stopping) {
      throw new Error(`Private node ${this.nodeName} has been stopped`);
    }
    const result = await this.#rabbitmqctl(args, CTL_TIMEOUT_MS);
    if (result.code !== 0) {
      throw new Error(
        `rabbitmqctl -n ${this.nodeName} ${args.join(" ")} ${
          result.timedOut ? "timed out" : `exited with ${result.code}`
        }: ${(result.stderr || result.stdout).trim()}`,
      );
    }
    return result.stdout;
  }

  async stopApp(): Promise<void> {
    await this.ctl("stop_app");
  }

  async startApp(): Promise<void> {
    await this.ctl("start_app");
    await this.#waitForPorts(Date.now() + START_TIMEOUT_MS);
  }

  async closeAllConnections(): Promise<void> {
    await this.ctl("close_all_connections", "test");
  }

  async pause(): Promise<void> {
    Deno.kill(await this.#beamPid(), "SIGSTOP");
  }

  async resume(): Promise<void> {
    Deno.kill(await this.#beamPid(), "SIGCONT");
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #stop(): Promise<void> {
    let pids: number[] | undefined;
    try {
      pids = await markedPids(this.dataDir);
    } catch {
      // Cannot list processes: ask the node to stop all the same.
    }
    if (pids === undefined || pids.length > 0) {
      // A paused node cannot stop itself.
      for (const pid of pids ?? []) signal(pid, "SIGCONT");
      await this.#rabbitmqctl(["stop"], STOP_TIMEOUT_MS).catch(() => {});
      pids = await waitForExit(this.dataDir, 10_000);
      for (const pid of pids) signal(pid, "SIGKILL");
      pids = await waitForExit(this.dataDir, 5_000);
    }
    await Deno.remove(this.dataDir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    if (pids.length > 0) {
      throw new Error(
        `Private node ${this.nodeName} still runs as pid ${pids.join(", ")}`,
      );
    }
  }

  /** The pid of the node's Erlang VM. */
  async #beamPid(): Promise<number> {
    if (this.#stopping) {
      throw new Error(`Private node ${this.nodeName} has been stopped`);
    }
    const pid = await this.#pidFromFile();
    if (pid === undefined || !(await markedPids(this.dataDir)).includes(pid)) {
      throw new Error(`Private node ${this.nodeName} is not running`);
    }
    return pid;
  }

  async #pidFromFile(): Promise<number | undefined> {
    try {
      const text = await Deno.readTextFile(`${this.dataDir}/node.pid`);
      const pid = Number(text.trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  #rabbitmqctl(args: string[], timeoutMs: number): Promise<RunResult> {
    return run(`${RABBITMQ_BIN}/rabbitmqctl`, ["-n", this.nodeName, ...args], {
      env: this.#env,
      cwd: this.dataDir,
      timeoutMs,
    });
  }

  async #waitForPorts(deadline: number): Promise<void> {
    for (const port of [this.port, this.tlsPort]) {
      if (port === undefined) continue;
      while (!(await accepts(port))) {
        if (Date.now() > deadline) {
          throw await this.#startError(
            `port ${port} does not accept connections`,
          );
        }
        await delay(100);
      }
    }
  }

  async #startError(reason: string): Promise<Error> {
    const log = `${this.dataDir}/log/${this.nodeName}.log`;
    let details = "";
    try {
      const lines = (await Deno.readTextFile(log)).trimEnd().split("\n");
      details += `\n--- last lines of ${log} ---\n${
        lines.slice(-30).join("\n")
      }`;
    } catch {
      details += `\n(no log at ${log})`;
    }
    try {
      const dump = await Deno.readTextFile(`${this.dataDir}/erl_crash.dump`);
      const slogan = dump.split("\n").find((l) => l.startsWith("Slogan:"));
      if (slogan) details += `\n--- erl_crash.dump ---\n${slogan}`;
    } catch {
      // No crash dump: the VM did not crash, or has not yet.
    }
    return new Error(
      `Private RabbitMQ node ${this.nodeName} did not start: ${reason}${details}`,
    );
  }
}

/**
 * The environment of the node and of `rabbitmqctl` for it: every path in
 * its data folder, and nothing from the shared node's
 * `/etc/rabbitmq/rabbitmq-env.conf` (which sets `NODENAME`).
 */
function nodeEnv(
  nodeName: string,
  dataDir: string,
  distPort: number,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ??
      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    // The Erlang cookie is $HOME/.erlang.cookie, for the node and the CLI.
    HOME: dataDir,
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    RABBITMQ_CONF_ENV_FILE: `${dataDir}/rabbitmq-env.conf`,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_USE_LONGNAME: "false",
    RABBITMQ_CONFIG_FILE: `${dataDir}/rabbitmq.conf`,
    RABBITMQ_CONFIG_FILES: `${dataDir}/conf.d/*.conf`,
    RABBITMQ_ADVANCED_CONFIG_FILE: `${dataDir}/advanced.config`,
    RABBITMQ_ENABLED_PLUGINS_FILE: `${dataDir}/enabled_plugins`,
    RABBITMQ_MNESIA_BASE: `${dataDir}/mnesia`,
    RABBITMQ_LOG_BASE: `${dataDir}/log`,
    RABBITMQ_PID_FILE: `${dataDir}/node.pid`,
    ERL_CRASH_DUMP: `${dataDir}/erl_crash.dump`,
    ERL_EPMD_ADDRESS: "127.0.0.1",
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:
      `-kernel inet_dist_use_interface {127,0,0,1} ${MARKER_FLAG} ${dataDir}`,
  };
  if (distPort > 0) env.RABBITMQ_DIST_PORT = String(distPort);
  return env;
}

/** Writes the node's configuration, empty plugin list and cookie. */
async function writeFiles(
  dataDir: string,
  port: number,
  tls: (TlsFiles & { port: number }) | undefined,
  cookie: string,
): Promise<void> {
  const conf = [
    `listeners.tcp.default = 127.0.0.1:${port}`,
    "loopback_users.guest = true",
    "log.file.level = info",
    "log.console = false",
  ];
  if (tls) {
    conf.push(
      `listeners.ssl.default = ${tls.port}`,
      `ssl_options.cacertfile = ${tls.caFile}`,
      `ssl_options.certfile = ${tls.certFile}`,
      `ssl_options.keyfile = ${tls.keyFile}`,
      "ssl_options.verify = verify_none",
      "ssl_options.fail_if_no_peer_cert = false",
    );
  }
  await Deno.writeTextFile(`${dataDir}/rabbitmq.conf`, conf.join("\n") + "\n");
  await Deno.writeTextFile(`${dataDir}/rabbitmq-env.conf`, "");
  await Deno.writeTextFile(`${dataDir}/enabled_plugins`, "[].\n");
  await Deno.mkdir(`${dataDir}/conf.d`);
  await Deno.mkdir(`${dataDir}/mnesia`);
  await Deno.mkdir(`${dataDir}/log`);
  await Deno.writeTextFile(`${dataDir}/.erlang.cookie`, cookie, {
    mode: 0o400,
  });
}

/** A random Erlang cookie: 32 capital letters. */
export function randomCookie(): string {
  const letters = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(letters, (b) => String.fromCharCode(65 + b % 26)).join("");
}

/** Makes a CA and a server certificate for localhost/127.0.0.1 in `dir`. */
async function makeCertificates(
  dir: string,
  nodeName: string,
): Promise<TlsFiles> {
  await Deno.mkdir(dir, { recursive: true });
  const cnf = `${dir}/openssl.cnf`;
  await Deno.writeTextFile(
    cnf,
    [
      "[req]",
      "distinguished_name = dn",
      "prompt = no",
      "[dn]",
      "CN = localhost",
      "[v3_ca]",
      "basicConstraints = critical, CA:TRUE",
      "keyUsage = critical, keyCertSign, cRLSign",
      "subjectKeyIdentifier = hash",
      "[v3_server]",
      "basicConstraints = critical, CA:FALSE",
      "keyUsage = critical, digitalSignature, keyEncipherment",
      "extendedKeyUsage = serverAuth",
      "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:0:0:0:0:0:0:0:1",
      "subjectKeyIdentifier = hash",
      "authorityKeyIdentifier = keyid",
      "",
    ].join("\n"),
  );
  const files = {
    caFile: `${dir}/ca.pem`,
    certFile: `${dir}/server.pem`,
    keyFile: `${dir}/server.key`,
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  const serial = Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  await openssl(dir, [
    "req",
    "-x509",
    "-config",
    cnf,
    "-extensions",
    "v3_ca",
    ...ec,
    "-nodes",
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    files.caFile,
    "-days",
    "7",
    "-subj",
    `/CN=rabbit-rpc test CA for ${nodeName}`,
  ]);
  await openssl(dir, [
    "req",
    "-new",
    "-config",
    cnf,
    ...ec,
    "-nodes",
    "-keyout",
    files.keyFile,
    "-out",
    `${dir}/server.csr`,
    "-subj",
    "/CN=localhost",
  ]);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${dir}/server.csr`,
    "-CA",
    files.caFile,
    "-CAkey",
    `${dir}/ca.key`,
    "-set_serial",
    `0x${serial}`,
    "-days",
    "7",
    "-extfile",
    cnf,
    "-extensions",
    "v3_server",
    "-out",
    files.certFile,
  ]);
  return files;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  const result = await run("openssl", args, { cwd, timeoutMs: 30_000 });
  if (result.code !== 0) {
    throw new Error(
      `openssl ${args.slice(0, 2).join(" ")} failed: ${result.stderr.trim()}`,
    );
  }
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command to its end, killing it after `timeoutMs`. */
async function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs: number },
): Promise<RunResult> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), options.timeoutMs);
  try {
    const output = await new Deno.Command(command, {
      args,
      cwd: options.cwd,
      env: options.env,
      clearEnv: options.env !== undefined,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output().catch((error) => {
      if (!abort.signal.aborted) throw error;
      return { code: -1, stdout: new Uint8Array(), stderr: new Uint8Array() };
    });
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
      timedOut: abort.signal.aborted,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Distinct free ports on 127.0.0.1, none that RabbitMQ tools use. */
async function freePorts(count: number): Promise<number[]> {
  const listeners: Deno.Listener[] = [];
  try {
    const ports: number[] = [];
    while (ports.length < count) {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      listeners.push(listener);
      const { port } = listener.addr as Deno.NetAddr;
      const reserved = RESERVED_PORTS.has(port) ||
        (port >= CLI_PORT_MIN && port <= CLI_PORT_MAX);
      if (!reserved) ports.push(port);
      if (listeners.length > count + 20) throw new Error("no free ports");
    }
    return ports;
  } finally {
    for (const listener of listeners) listener.close();
    await delay(0);
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** A process as `ps` shows it. */
interface ProcessInfo {
  pid: number;
  /** `ps`'s STAT: `Z` for a zombie, which nothing may reap here. */
  state: string;
  /** The command line, its arguments joined with spaces. */
  args: string;
}

/**
 * Every process of the machine. Deno refuses to read `/proc` without
 * `--allow-all`, so this asks `ps`.
 */
async function processes(): Promise<ProcessInfo[]> {
  const result = await run("ps", ["-ww", "-eo", "pid=,stat=,args="], {
    timeoutMs: 10_000,
  });
  if (result.code !== 0) throw new Error(`ps failed: ${result.stderr.trim()}`);
  return result.stdout.split("\n").flatMap((line) => {
    const match = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!match || match[2].startsWith("Z")) return [];
    return [{ pid: Number(match[1]), state: match[2], args: match[3] }];
  });
}

/** The running processes whose command line carries `dataDir`'s marker. */
async function markedPids(dataDir: string): Promise<number[]> {
  const marker = ` ${MARKER_FLAG} ${dataDir} `;
  return (await processes())
    .filter((p) => ` ${p.args} `.includes(marker))
    .map((p) => p.pid);
}

/**
 * Waits up to `timeoutMs` for the processes of `dataDir`'s node to exit;
 * returns those still running.
 */
async function waitForExit(
  dataDir: string,
  timeoutMs: number,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await markedPids(dataDir);
    if (pids.length === 0 || Date.now() > deadline) return pids;
    await delay(100);
  }
}

function signal(pid: number, name: Deno.Signal): void {
  try {
    Deno.kill(pid, name);
  } catch {
    // Already gone.
  }
}

let reaping: Promise<void> | undefined;

/**
 * Kills and removes the private nodes of test runs that died without
 * stopping them (a Ctrl-C, a crash): detached nodes outlive their test.
 * Only folders named after a process that no longer runs are touched.
 */
function reapStaleNodes(): Promise<void> {
  reaping ??= (async () => {
    const pattern = new RegExp(`^${DIR_PREFIX}(\\d+)-`);
    const entries = await Array.fromAsync(Deno.readDir("/tmp"));
    // Listed after the folders: a folder made meanwhile by another test run
    // is not in `entries`, and the owner of one that is shows up here.
    const running = new Set((await processes()).map((p) => p.pid));
    for (const entry of entries) {
      const owner = Number(pattern.exec(entry.name)?.[1]);
      if (!entry.isDirectory || !owner || running.has(owner)) continue;
      const dataDir = `/tmp/${entry.name}`;
      const pids = await markedPids(dataDir);
      for (const pid of pids) signal(pid, "SIGCONT");
      for (const pid of pids) signal(pid, "SIGKILL");
      if ((await waitForExit(dataDir, 5_000)).length === 0) {
        await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      }
    }
  })().catch(() => {});
  return reaping;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
