/**
 * What the client program prints of what a worker sent: no control
 * character reaches the terminal, in lines (escaped visibly) or in JSON
 * (as JSON escapes, the same value for a parser); error lines are bounded
 * and masked, a password cut by the bound included.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  errorJson,
  errorLine,
  jsonLine,
  roundSummary,
  summaryLines,
  textOf,
} from "../../cli/client_output.ts";
import { maskedLine, oneLine } from "../../cli/flags.ts";
import type { LoadSummary } from "../../cli/load.ts";
import { MethodNotFoundError, RemoteError } from "../../lib/errors.ts";
import { MAX_LOG_LINE } from "../../lib/observability/logger.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

const EVIL = "\x1b[31mred\x1b]0;title\x07 \x9b2J \u202egnp.exe\r\n\x7f";
const RAW_CONTROL = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]/u;

Deno.test({
  ...opts,
  name:
    "oneLine() is one bounded line: masked, newlines as spaces, controls escaped",
  fn() {
    assert.equal(
      oneLine(`a\nb\r\nc ${EVIL}`),
      "a b c \\u001b[31mred\\u001b]0;title\\u0007 \\u009b2J \\u202egnp.exe \\u007f",
    );
    const huge = `failed: amqp://app:${"S".repeat(20_000)}@h ${
      "x".repeat(1e6)
    }`;
    for (const line of [oneLine(huge), maskedLine(huge)]) {
      assert.ok(line.length <= MAX_LOG_LINE + 40);
      assert.doesNotMatch(line, /SS/);
      assert.match(
        line,
        /^failed: amqp:\/\/app:\*\*\*… \(\d+ more characters\)$/,
      );
    }
    // JSON's own escapes do the rest for maskedLine.
    assert.equal(maskedLine("x\ny\x1b"), "x y\x1b");
  },
});

Deno.test({
  ...opts,
  name: "textOf() and jsonLine() print no control character a worker sent",
  fn() {
    assert.equal(
      textOf(EVIL),
      "\\u001b[31mred\\u001b]0;title\\u0007 \\u009b2J \\u202egnp.exe\\u000d\\u000a\\u007f",
    );
    assert.doesNotMatch(textOf(EVIL), RAW_CONTROL);
    assert.doesNotMatch(textOf({ evil: EVIL }), RAW_CONTROL);
    assert.equal(textOf("plain 42"), "plain 42");
    const line = jsonLine({ result: EVIL, nested: [{ [EVIL]: EVIL }] });
    assert.doesNotMatch(line, RAW_CONTROL);
    assert.deepEqual(JSON.parse(line), {
      result: EVIL,
      nested: [{ [EVIL]: EVIL }],
    });
  },
});

Deno.test({
  ...opts,
  name:
    "errorLine() and errorJson() show a worker's error code and message escaped",
  fn() {
    const remote = new RemoteError({
      code: `BAD${EVIL}`,
      name: "E",
      message: EVIL,
    });
    const line = errorLine(remote);
    assert.doesNotMatch(line, RAW_CONTROL);
    assert.match(
      line,
      /^Error: The worker answered with an error \(BAD\\u001b\[31m/,
    );
    const json = jsonLine({ error: errorJson(remote) });
    assert.doesNotMatch(json, RAW_CONTROL);
    const { error } = JSON.parse(json);
    assert.equal(error.code, `BAD${EVIL}`);
    // One line: newlines as spaces, the rest as it was.
    assert.equal(error.message, EVIL.replace("\r\n", " "));
    const missing = new MethodNotFoundError({
      code: "METHOD_NOT_FOUND",
      name: "HandlerError",
      message: `No method "x"; methods: add, ${EVIL}`,
    }, { method: "x" });
    assert.doesNotMatch(errorLine(missing), RAW_CONTROL);
  },
});

Deno.test({
  ...opts,
  name: "a load's summary shows error kinds and messages escaped",
  fn() {
    const kind = `RemoteError(${EVIL})`;
    const summary: LoadSummary = {
      calls: 2,
      ok: 0,
      failed: 2,
      errors: { [kind]: 2 },
      errorMessages: { [kind]: EVIL },
      aborted: false,
      seconds: 0.5,
      callsPerSecond: 4,
      p50: NaN,
      p90: NaN,
      p99: NaN,
      max: NaN,
    };
    for (const line of summaryLines(summary)) {
      assert.doesNotMatch(line, RAW_CONTROL);
    }
    const json = jsonLine(roundSummary(summary));
    assert.doesNotMatch(json, RAW_CONTROL);
    assert.equal(JSON.parse(json).errors[kind], 2);
  },
});
