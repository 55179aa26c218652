/**
 * A project with no configuration imports `mod.ts` over HTTP, as users
 * import it by URL, and calls a worker. No import map can help it: every
 * dependency must be a full specifier.
 */

import assert from "node:assert/strict";
import { serve } from "../../mod.ts";
import { AMQP_URL, ROOT, scratchQueue } from "../_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  ...opts,
  name: "a project with no config imports mod.ts by URL and calls a worker",
  async fn() {
    await using scratch = scratchQueue("by-url");
    const queue = scratch.name;
    await using _worker = await serve(
      { url: AMQP_URL, queue },
      (request) => `hello ${request.text()}`,
    );
    const root = await Deno.realPath(ROOT);
    await using http = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (request) => {
        const path = decodeURIComponent(new URL(request.url).pathname);
        if (!/^\/[\w/.-]+\.ts$/.test(path) || path.includes("..")) {
          return new Response("not found", { status: 404 });
        }
        try {
          const body = await Deno.readFile(`${root}${path}`);
          return new Response(body, {
            headers: { "content-type": "application/typescript" },
          });
        } catch {
          return new Response("not found", { status: 404 });
        }
      },
    );
    const origin = `127.0.0.1:${http.addr.port}`;
    const project = await Deno.makeTempDir({ prefix: "rabbit-rpc-by-url-" });
    try {
      await Deno.writeTextFile(
        `${project}/main.ts`,
        `import { RpcClient } from "http://${origin}/mod.ts";
await using client = await RpcClient.connect({ url: Deno.args[0] });
const reply = await client.call(Deno.args[1], "by URL", { timeout: 10_000 });
console.log(reply.text());
`,
      );
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          `--reload=http://${origin}/`,
          `--allow-import=${origin}`,
          "--allow-net=127.0.0.1",
          "main.ts",
          AMQP_URL,
          queue,
        ],
        cwd: project,
        env: { NO_COLOR: "1" },
        stdin: "null",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, stderr);
      assert.equal(new TextDecoder().decode(output.stdout), "hello by URL\n");
    } finally {
      await Deno.remove(project, { recursive: true });
    }
  },
});
