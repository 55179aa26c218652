/**
 * `formatLogger`'s lines are bounded: at most `MAX_LOG_LINE` characters of
 * message and fields, cut with a marker before escaping and masking, short
 * fields kept whole, a password cut short still masked; control characters
 * (C1 and bidi included) escaped in text and JSON; JSON lines stay JSON.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  formatLogger,
  type LogFormat,
  MAX_LOG_LINE,
} from "../../lib/observability/logger.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** What a line adds to its message and values: level, keys, markers. */
const OVERHEAD = 400;

function linesOf(
  format: LogFormat,
): { lines: string[]; logger: ReturnType<typeof formatLogger> } {
  const lines: string[] = [];
  const logger = formatLogger({
    format,
    level: "debug",
    write: (line) => lines.push(line),
    now: () => new Date(0),
  });
  return { lines, logger };
}

/** No C0, DEL, C1 or bidi control, no line or paragraph separator. */
const RAW_CONTROL = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]/u;

Deno.test({
  ...opts,
  name:
    "formatLogger() cuts a huge message to MAX_LOG_LINE with a marker, and keeps short fields whole",
  fn() {
    const huge = `Handler failed: Error: cannot parse ${"x".repeat(2_000_000)}`;
    const fields = { error_id: "5f2c9e0a41d7b3e8", method: "echo", n: 42 };
    const text = linesOf("text");
    text.logger.error(huge, fields);
    const [line] = text.lines;
    assert.ok(line.length <= MAX_LOG_LINE + OVERHEAD, `${line.length}`);
    assert.ok(line.length >= MAX_LOG_LINE - OVERHEAD, `${line.length}`);
    assert.match(line, /^error: Handler failed: Error: cannot parse x+/);
    assert.match(
      line,
      /x… \(\d+ more characters\) error_id=5f2c9e0a41d7b3e8 method=echo n=42$/,
    );

    const json = linesOf("json");
    json.logger.error(huge, fields);
    const object = JSON.parse(json.lines[0]);
    assert.ok(json.lines[0].length <= MAX_LOG_LINE + OVERHEAD);
    assert.match(object.msg, /^Handler failed: Error: cannot parse x+… \(/);
    const left = Number(/\((\d+) more characters\)$/.exec(object.msg)?.[1]);
    // What is shown and what is left out add up to the message.
    assert.equal(object.msg.indexOf("…") + left, huge.length);
    assert.deepEqual(
      [object.error_id, object.method, object.n],
      ["5f2c9e0a41d7b3e8", "echo", 42],
    );
  },
});

Deno.test({
  ...opts,
  name:
    "formatLogger() keeps a line within MAX_LOG_LINE however many long fields it has",
  fn() {
    const fields: Record<string, unknown> = {};
    for (let i = 0; i < 20; i++) fields[`f${i}`] = `${i}`.repeat(100_000);
    fields.error = new RangeError("e".repeat(1_000_000));
    fields.object = { list: Array.from({ length: 50_000 }, (_, i) => i) };
    fields.short = "kept";
    for (const format of ["text", "json"] as const) {
      const { lines, logger } = linesOf(format);
      logger.warn("m".repeat(500_000), fields);
      const [line] = lines;
      assert.ok(line.length <= MAX_LOG_LINE + 40 * 30 + OVERHEAD, format);
      assert.match(line, /short[=":]+kept/, format);
      if (format === "json") {
        const object = JSON.parse(line);
        assert.match(object.f3, /^3+… \(\d+ more characters\)$/);
        assert.match(object.error, /^RangeError: e+… \(/);
        // An object cut short shows the start of its JSON.
        assert.match(object.object, /^\{"list":\[0,1,2,/);
      }
    }
  },
});

Deno.test({
  ...opts,
  name:
    "formatLogger() masks a password that the bound cuts in half, in text and JSON",
  fn() {
    const secret = "S".repeat(50_000);
    for (const format of ["text", "json"] as const) {
      const { lines, logger } = linesOf(format);
      logger.error(`Cannot connect to amqp://app:${secret}@broker:5672`, {
        url: `amqp://app:${secret}@broker`,
        short: "amqp://app:pw@broker",
      });
      const [line] = lines;
      assert.doesNotMatch(line, /SS/, format);
      assert.match(line, /amqp:\/\/app:\*\*\*… \(\d+ more characters\)/);
      assert.match(line, /amqp:\/\/app:\*\*\*@broker/);
      if (format === "json") JSON.parse(line);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "formatLogger() escapes C0, C1 (CSI) and bidi controls in messages and fields, and JSON keeps the values",
  fn() {
    const evil = "\x1b[31mred\x1b]0;title\x07 \x9b2J \u202egnp.exe\u2066 \r\n";
    const text = linesOf("text");
    text.logger.warn(evil, { correlation_id: evil, error: new Error(evil) });
    assert.doesNotMatch(text.lines[0], RAW_CONTROL);
    assert.match(text.lines[0], /\\u001b\[31mred\\u001b\]0;title\\u0007 /);
    assert.match(text.lines[0], /\\u009b2J \\u202egnp\.exe\\u2066 /);
    assert.match(text.lines[0], / correlation_id="\\u001b/);

    const json = linesOf("json");
    json.logger.warn(evil, { correlation_id: evil, nested: { evil } });
    assert.doesNotMatch(json.lines[0], RAW_CONTROL);
    const object = JSON.parse(json.lines[0]);
    assert.equal(object.msg, evil);
    assert.equal(object.correlation_id, evil);
    assert.deepEqual(object.nested, { evil });
  },
});

Deno.test({
  ...opts,
  name:
    "formatLogger() JSON lines stay JSON when a password would run from one value into the next",
  fn() {
    const { lines, logger } = linesOf("json");
    logger.info("Connecting to amqp://app:", { next: "pw@broker", n: 1 });
    const object = JSON.parse(lines[0]);
    assert.equal(object.msg, "Connecting to amqp://app:");
    assert.equal(object.next, "pw@broker");
    // Within one value, as ever.
    logger.info("x", { url: "amqp://app:pw@broker", nested: ["amqp://a:b@c"] });
    assert.deepEqual(
      [JSON.parse(lines[1]).url, JSON.parse(lines[1]).nested],
      ["amqp://app:***@broker", ["amqp://a:***@c"]],
    );
  },
});

Deno.test({
  ...opts,
  name:
    "formatLogger() builds a line from 2 MB of adversarial text, field values included",
  fn() {
    // Values that are not strings are written as JSON whole, then masked
    // and cut: this must complete too.
    const adversarial = [
      "x".repeat(2_000_000),
      "amqp://u:".repeat(250_000),
      "a:".repeat(1_000_000),
      "@".repeat(2_000_000),
    ];
    for (const format of ["text", "json"] as const) {
      const { lines, logger } = linesOf(format);
      for (const text of adversarial) {
        logger.error(text, { value: { text }, list: [text] });
      }
      assert.equal(lines.length, adversarial.length);
      for (const line of lines) {
        assert.ok(line.length <= MAX_LOG_LINE + OVERHEAD, format);
      }
    }
  },
});
