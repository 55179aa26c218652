/**
 * The Java peer of the interoperability matrix: a worker and a client in the
 * style of RabbitMQ's Java tutorial, with the RabbitMQ Java client as Debian
 * packages it (librabbitmq-client-java, with libslf4j-java), compiled by
 * javac.
 *
 * The worker's fib is a Java `int`, as in the tutorial: it wraps around from
 * fib(47) on. The client prints the answer as the text it got, as the
 * tutorial's does (it never parses it), so every answer it gets is right.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { Peer, PeerPrograms } from "../_peer.ts";
import { exists } from "../../_helpers.ts";

/** This folder, where the Java sources are. */
const HERE = fileURLToPath(new URL("./", import.meta.url));
/** Where Debian puts its jars. */
const JARS = "/usr/share/java";
/** The version of the RabbitMQ Java client the limits were measured with. */
const CLIENT_VERSION = "5.0.0";
/** The jars the programs run with: the client, its slf4j API, and no log. */
const CLASSPATH = [
  `${JARS}/amqp-client.jar`,
  `${JARS}/slf4j-api.jar`,
  `${JARS}/slf4j-nop.jar`,
];
const INSTALL =
  "apt-get install default-jdk-headless librabbitmq-client-java libslf4j-java";
/** How long javac may take. */
const BUILD_TIMEOUT_MS = 180_000;

/** Runs a command to completion; `undefined` when it is not installed. */
async function run(
  command: string,
  args: readonly string[],
): Promise<Deno.CommandOutput | undefined> {
  try {
    return await new Deno.Command(command, {
      args: [...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(BUILD_TIMEOUT_MS),
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Throws naming the Debian package to install unless Java and the jars are there. */
async function requireJava(): Promise<void> {
  for (const tool of ["javac", "java"]) {
    const result = await run(tool, ["-version"]);
    if (result === undefined || !result.success) {
      throw new Error(
        `\`${tool}\` was not found; the Java peer needs a JDK: install the ` +
          `Debian package default-jdk-headless (${INSTALL}).`,
      );
    }
  }
  for (const jar of CLASSPATH) {
    if (!await exists(jar)) {
      throw new Error(
        `${jar} was not found; the Java peer needs the RabbitMQ Java client ` +
          `and slf4j as Debian packages them: install librabbitmq-client-java ` +
          `and libslf4j-java (${INSTALL}).`,
      );
    }
  }
  if (!await exists(`${JARS}/amqp-client-${CLIENT_VERSION}.jar`)) {
    throw new Error(
      `${JARS}/amqp-client.jar is not the RabbitMQ Java client ` +
        `${CLIENT_VERSION} that the Java peer's limits were measured with: ` +
        "measure them again and update tests/interop/java/peer.ts.",
    );
  }
}

/** Runs a class of `dir` with the client's jars. */
function java(dir: string, main: string, args: readonly string[] = []) {
  return {
    command: "java",
    args: ["-cp", [dir, ...CLASSPATH].join(":"), main, ...args],
  };
}

/** The Java peers: the RabbitMQ Java client. */
export const PEERS: readonly Peer[] = [
  {
    language: "Java",
    library: `RabbitMQ Java client ${CLIENT_VERSION}`,
    async prepare(dir: string): Promise<PeerPrograms> {
      await requireJava();
      const built = await run("javac", [
        "-cp",
        CLASSPATH.join(":"),
        "-d",
        dir,
        `${HERE}RPCServer.java`,
        `${HERE}RPCClient.java`,
      ]);
      if (built === undefined || !built.success) {
        throw new Error(
          `Could not compile the Java peer:\n` +
            new TextDecoder().decode(built?.stderr) +
            `\nIt needs the Debian packages of ${INSTALL}.`,
        );
      }
      return {
        worker: java(dir, "RPCServer"),
        client: (ns) => java(dir, "RPCClient", ns.map(String)),
      };
    },
    // Measured: the worker's int gives fib(47) = -1323752223,
    // fib(79) = -660827267 and fib(93) = 572466946; the client prints
    // 2971215073, 14472334024676221 and 12200160415121876738 as it got them.
    limits: {
      worker: { 47: "wrong answer", 79: "wrong answer", 93: "wrong answer" },
      client: { 47: "right", 79: "right", 93: "right" },
    },
  },
];
