/**
 * Checks the structure of `compose.yaml`. No Docker engine runs the tests, so
 * the file is only parsed, never started.
 *
 * @module
 */

import assert from "node:assert/strict";
import process from "node:process";
import { parseYaml } from "../deps.ts";

const COMPOSE_FILE = new URL("../../compose.yaml", import.meta.url);
const CI_RUN_FILE = new URL("../../.ci/run", import.meta.url);

type Mapping = Record<string, unknown>;

function mapping(value: unknown, what: string): Mapping {
  assert.ok(
    typeof value === "object" && value !== null && !Array.isArray(value),
    `${what} should be a mapping, got ${JSON.stringify(value)}`,
  );
  return value as Mapping;
}

/** `compose.yaml`, parsed. */
async function loadCompose(): Promise<Mapping> {
  const text = await Deno.readTextFile(COMPOSE_FILE);
  // The parser reads `process.env.LOG_TOKENS` and `LOG_STREAM` (debug
  // switches), which needs env permission; hide the environment from it so
  // that `--allow-read` is enough. The parse is synchronous, so nothing else
  // runs while `process.env` is swapped.
  const env = process.env;
  process.env = {};
  try {
    // `merge`: Compose reads `<<: *anchor` merge keys, as YAML 1.1 did.
    return mapping(parseYaml(text, { merge: true }), "compose.yaml");
  } finally {
    process.env = env;
  }
}

/** One service of `compose.yaml`. */
async function service(name: string): Promise<Mapping> {
  const services = mapping((await loadCompose()).services, "services");
  return mapping(services[name], `service ${name}`);
}

/** A command or entrypoint in either form (a list, or a string to split). */
function words(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === "string") return value.trim().split(/\s+/);
  assert.ok(
    Array.isArray(value) && value.every((word) => typeof word === "string"),
    `${what} should be a string or a list of strings`,
  );
  return value;
}

/** The published (host) and target (container) ports of a service. */
function ports(svc: Mapping): { published?: string; target: string }[] {
  const list = svc.ports ?? [];
  assert.ok(Array.isArray(list), "ports should be a list");
  return list.map((entry: unknown) => {
    if (typeof entry === "object" && entry !== null) {
      // Long syntax: { target, published, host_ip, protocol }.
      const long = entry as Mapping;
      return {
        target: String(long.target),
        published: long.published === undefined
          ? undefined
          : String(long.published),
      };
    }
    // Short syntax: [HOST_IP:][HOST:]CONTAINER[/PROTOCOL].
    const parts = String(entry).replace(/\/\w+$/, "").split(":");
    const target = parts[parts.length - 1];
    return parts.length === 1
      ? { target }
      : { published: parts[parts.length - 2], target };
  });
}

/** The environment of a service, in either form (a mapping, or KEY=VALUE). */
function environment(svc: Mapping): Record<string, string> {
  if (Array.isArray(svc.environment)) {
    return Object.fromEntries(
      svc.environment.map((entry: string) => {
        const at = entry.indexOf("=");
        return at < 0 ? [entry, ""] : [entry.slice(0, at), entry.slice(at + 1)];
      }),
    );
  }
  const env = mapping(svc.environment ?? {}, "environment");
  return Object.fromEntries(
    Object.entries(env).map(([key, value]) => [key, String(value ?? "")]),
  );
}

/** The volumes of a service, as source and target, in either syntax. */
function volumes(
  svc: Mapping,
): { source: string; target: string; ro: boolean }[] {
  const list = svc.volumes ?? [];
  assert.ok(Array.isArray(list), "volumes should be a list");
  return list.map((entry: unknown) => {
    if (typeof entry === "object" && entry !== null) {
      const long = entry as Mapping;
      return {
        source: String(long.source),
        target: String(long.target),
        ro: long.read_only === true,
      };
    }
    const [source, target, options = ""] = String(entry).split(":");
    return { source, target, ro: options.split(",").includes("ro") };
  });
}

/** Whether `.ci/run` exists (it pins the Deno version of the CI). */
function ciRunExists(): boolean {
  try {
    Deno.statSync(CI_RUN_FILE);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test({
  name:
    "compose.yaml runs RabbitMQ with the management plugin, publishing ports 5672 and 15672",
  async fn() {
    const rabbitmq = await service("rabbitmq");
    assert.match(
      String(rabbitmq.image),
      /^(docker\.io\/)?rabbitmq:\S*management/,
    );
    const published = ports(rabbitmq);
    assert.deepEqual(
      published.filter((port) => port.target === "5672"),
      [{ published: "5672", target: "5672" }],
    );
    assert.deepEqual(
      published.filter((port) => port.target === "15672"),
      [{ published: "15672", target: "15672" }],
    );
  },
});

Deno.test({
  name:
    "compose.yaml checks the broker's health with rabbitmq-diagnostics ping",
  async fn() {
    const rabbitmq = await service("rabbitmq");
    const healthcheck = mapping(rabbitmq.healthcheck, "rabbitmq's healthcheck");
    assert.notEqual(healthcheck.disable, true);
    const test = words(healthcheck.test, "healthcheck test");
    assert.ok(
      test[0] === "CMD" || test[0] === "CMD-SHELL",
      `healthcheck test should start with CMD or CMD-SHELL, got ${test[0]}`,
    );
    const command = test.slice(1).join(" ");
    assert.match(command, /^rabbitmq-diagnostics\b.*\bping\b/);
  },
});

Deno.test({
  name: "compose.yaml runs `deno task server` in the official Deno image",
  async fn() {
    const server = await service("server");
    assert.match(String(server.image), /^(docker\.io\/)?denoland\/deno:/);
    // With `entrypoint` set, the command is its arguments. Without it, the
    // image's entrypoint runs the command as given when it starts with
    // `deno` (it prepends `deno` only for the subcommands it knows of, a
    // list that older images lack `task` in).
    const argv = [
      ...words(server.entrypoint, "entrypoint"),
      ...words(server.command, "command"),
    ];
    assert.deepEqual(argv.slice(0, 3), ["deno", "task", "server"]);
  },
});

Deno.test({
  name:
    "compose.yaml's worker serves metrics, and its health check asks the worker's /healthz",
  async fn() {
    const server = await service("server");
    const argv = words(server.command, "command");
    const port = argv[argv.indexOf("--metrics-port") + 1];
    assert.match(port ?? "", /^\d+$/, "server should pass --metrics-port");
    const healthcheck = mapping(server.healthcheck, "server's healthcheck");
    const test = words(healthcheck.test, "healthcheck.test");
    assert.equal(test[0], "CMD");
    assert.ok(
      test.some((word) => word.includes(`127.0.0.1:${port}/healthz`)),
      `the health check should fetch /healthz on port ${port}: ${test}`,
    );
    // The check is a Deno program: it must at least parse.
    const program = test.at(-1)!;
    assert.equal(test.at(-2), "eval");
    new Function(`return async () => { ${program} }`);
    // Not published on the host: scaled workers would clash.
    assert.deepEqual(ports(server), []);
  },
});

Deno.test({
  name:
    "compose.yaml's workers serve metrics on every address of their container (--metrics-host 0.0.0.0), for scrapers in the network",
  async fn() {
    for (const name of ["server", "cluster-server"]) {
      const argv = words((await service(name)).command, `${name} command`);
      assert.ok(argv.includes("--metrics-port"), `${name}: --metrics-port`);
      // The worker's default is loopback: the container itself only.
      const host = argv.indexOf("--metrics-host");
      assert.ok(host > 0, `${name} should pass --metrics-host`);
      assert.equal(argv[host + 1], "0.0.0.0", `${name} --metrics-host`);
    }
  },
});

Deno.test({
  name: "compose.yaml starts the worker only once the broker is healthy",
  async fn() {
    const server = await service("server");
    const dependsOn = mapping(server.depends_on, "server's depends_on");
    const rabbitmq = mapping(dependsOn.rabbitmq, "depends_on.rabbitmq");
    assert.equal(rabbitmq.condition, "service_healthy");
  },
});

Deno.test({
  name: "compose.yaml points the worker's AMQP_URL at the rabbitmq service",
  async fn() {
    const env = environment(await service("server"));
    assert.ok(env.AMQP_URL, "server should set AMQP_URL");
    const url = new URL(env.AMQP_URL);
    assert.equal(url.protocol, "amqp:");
    assert.equal(url.hostname, "rabbitmq");
    assert.ok(url.port === "" || url.port === "5672", `port ${url.port}`);
  },
});

Deno.test({
  name:
    "compose.yaml lets the worker scale: it has no container_name and no host ports",
  async fn() {
    const server = await service("server");
    assert.equal(server.container_name, undefined);
    assert.deepEqual(ports(server), []);
  },
});

Deno.test({
  name:
    "compose.yaml mounts the project read-only as the worker's working directory",
  async fn() {
    const server = await service("server");
    assert.equal(server.working_dir, "/app");
    const app = volumes(server).filter((volume) => volume.target === "/app");
    assert.deepEqual(app, [{ source: ".", target: "/app", ro: true }]);
  },
});

Deno.test({
  name: "compose.yaml keeps the worker's DENO_DIR in a named volume",
  async fn() {
    const server = await service("server");
    const denoDir = environment(server).DENO_DIR;
    assert.ok(denoDir, "server should set DENO_DIR");
    const compose = await loadCompose();
    const named = Object.keys(mapping(compose.volumes, "top-level volumes"));
    const cache = volumes(server).find((volume) =>
      named.includes(volume.source) &&
      (denoDir.replace(/\/+$/, "") + "/").startsWith(
        volume.target.replace(/\/+$/, "") + "/",
      )
    );
    assert.ok(cache, `DENO_DIR ${denoDir} should be inside a named volume`);
    assert.equal(cache.ro, false);
  },
});

Deno.test({
  name: "compose.yaml's Deno image is the Deno version .ci/run pins",
  ignore: !ciRunExists(),
  async fn() {
    const match = (await Deno.readTextFile(CI_RUN_FILE)).match(
      /^\s*(?:export\s+)?DENO_VERSION=["']?v?([0-9][^"'\s]*)/m,
    );
    assert.ok(match, ".ci/run should set DENO_VERSION=...");
    const server = await service("server");
    const tag = String(server.image).split(":").at(-1);
    assert.equal(tag, match[1]);
  },
});

/** The services of the `cluster` profile's RabbitMQ nodes. */
const NODES = ["rabbit1", "rabbit2", "rabbit3"];

Deno.test({
  name:
    "compose.yaml's cluster profile has three RabbitMQ nodes that share an Erlang cookie and find each other by classic config",
  async fn() {
    const compose = await loadCompose();
    const configs = mapping(compose.configs, "configs");
    const cookies = new Set<string>();
    const hostnames = new Set<string>();
    const published = new Set<string>();
    for (const name of NODES) {
      const svc = await service(name);
      assert.deepEqual(svc.profiles, ["cluster"], `${name} profiles`);
      assert.match(String(svc.image), /^rabbitmq:3\.\d+/);
      hostnames.add(String(svc.hostname));
      const env = environment(svc);
      const cookie = /-setcookie (\S+)/.exec(
        env.RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS ?? "",
      )?.[1];
      assert.ok(cookie, `${name} sets no Erlang cookie`);
      // The CLI tools (rabbitmqctl, the health check) need it too.
      assert.match(
        env.RABBITMQ_CTL_ERL_ARGS ?? "",
        new RegExp(`-setcookie ${cookie}\\b`),
      );
      cookies.add(cookie);
      const mounted = (svc.configs as Mapping[]).map((c) =>
        mapping(c, "config")
      );
      const formation = mounted.find((c) => c.source === "cluster-formation");
      assert.ok(formation, `${name} does not mount the cluster formation`);
      assert.match(
        String(formation.target),
        /^\/etc\/rabbitmq\/conf\.d\/.+\.conf$/,
      );
      assert.ok(mapping(svc.healthcheck, "healthcheck").test);
      for (const port of ports(svc)) {
        if (port.published) published.add(port.published);
      }
      // Each node keeps its own data.
      const volumes = (svc.volumes as string[]).map(String);
      assert.ok(volumes.some((v) => v.endsWith(":/var/lib/rabbitmq")));
    }
    assert.equal(cookies.size, 1, "the nodes' cookies differ");
    assert.equal(hostnames.size, 3, "the nodes' hostnames are not distinct");
    assert.equal(published.size, 3, "the nodes' host ports are not distinct");
    const conf = String(
      mapping(configs["cluster-formation"], "config").content,
    );
    assert.match(
      conf,
      /^cluster_formation\.peer_discovery_backend\s*=\s*classic_config$/m,
    );
    const listed = [
      ...conf.matchAll(
        /^cluster_formation\.classic_config\.nodes\.\d+\s*=\s*(\S+)$/gm,
      ),
    ]
      .map((m) => m[1]).sort();
    assert.deepEqual(listed, [...hostnames].map((h) => `rabbit@${h}`).sort());
  },
});

Deno.test({
  name:
    "compose.yaml's cluster workers use a quorum queue, know every node, and wait for all three",
  async fn() {
    const svc = await service("cluster-server");
    assert.deepEqual(svc.profiles, ["cluster"]);
    const command = words(svc.command, "command");
    assert.deepEqual(command.slice(0, 3), ["deno", "task", "server"]);
    const type = command.indexOf("--queue-type");
    assert.equal(command[type + 1], "quorum");
    const urls = environment(svc).AMQP_URL.split(",").map((u) => new URL(u));
    assert.deepEqual(urls.map((u) => u.hostname).sort(), NODES);
    const dependsOn = mapping(svc.depends_on, "depends_on");
    for (const node of NODES) {
      assert.equal(
        mapping(dependsOn[node], node).condition,
        "service_healthy",
      );
    }
    // Scaled out, so no fixed name and no published port.
    assert.ok(Number(mapping(svc.deploy, "deploy").replicas) >= 2);
    assert.equal(svc.container_name, undefined);
    assert.equal(svc.ports, undefined);
  },
});
