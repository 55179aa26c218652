/**
 * `lib/text.ts`, the one rule for text from others: which characters are
 * escaped (and that JSON escaped so is the same JSON), and truncation with
 * its marker; and the bounds `decodeErrorReply` puts on what a worker sent.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MethodNotFoundError, RemoteError } from "../../lib/errors.ts";
import {
  decodeErrorReply,
  MAX_REMOTE_CODE,
  MAX_REMOTE_MESSAGE,
} from "../../lib/protocol/error_reply.ts";
import {
  escapeControls,
  hasControls,
  markerLengthAt,
  truncate,
  truncationMarker,
} from "../../lib/text.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** The code units escapeControls must escape, listed by hand. */
function mustEscape(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f) || // C0, DEL, C1
    code === 0x061c || code === 0x200e || code === 0x200f || // ALM, LRM, RLM
    (code >= 0x202a && code <= 0x202e) || // embeddings, overrides
    (code >= 0x2066 && code <= 0x2069) || // isolates
    code === 0x2028 || code === 0x2029; // line and paragraph separators
}

Deno.test({
  ...opts,
  name:
    "escapeControls() escapes C0, DEL, C1, bidi controls and U+2028/9 as \\uXXXX, and nothing else",
  fn() {
    for (let code = 0; code <= 0xffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const c = String.fromCharCode(code);
      const expected = mustEscape(code)
        ? `\\u${code.toString(16).padStart(4, "0")}`
        : c;
      if (
        escapeControls(c) !== expected || hasControls(c) !== mustEscape(code)
      ) {
        assert.equal(escapeControls(c), expected, `U+${code.toString(16)}`);
        assert.equal(
          hasControls(c),
          mustEscape(code),
          `U+${code.toString(16)}`,
        );
      }
    }
    assert.equal(escapeControls("\u{1f600} é"), "\u{1f600} é");
    assert.equal(
      escapeControls("\x1b[31m\x1b]0;t\x07\x9b2J"),
      "\\u001b[31m\\u001b]0;t\\u0007\\u009b2J",
    );
  },
});

Deno.test({
  ...opts,
  name:
    "escapeControls() of JSON text is JSON of the same value, with no control character",
  fn() {
    const values = [
      '\x00\x1b\x7f\x80\x9b\u202e\u2066\u2028 \\\u009b \\u009b "',
      { "key\x9b": ["\u202e", 1, null, { "\x1b": "\u2029" }] },
    ];
    for (const value of values) {
      const json = escapeControls(JSON.stringify(value));
      assert.ok(!hasControls(json));
      assert.deepEqual(JSON.parse(json), value);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "truncate() keeps short text, cuts long text with a marker that counts what is left out",
  fn() {
    assert.equal(truncate("", 0), "");
    assert.equal(truncate("abc", 3), "abc");
    assert.equal(truncate("abcdef", 3), `abc${truncationMarker(3)}`);
    assert.equal(truncate("abcdef", 0), truncationMarker(6));
    assert.equal(truncationMarker(6), "\u2026 (6 more characters)");
    // Never half a surrogate pair.
    assert.equal(truncate("a\u{1f600}b", 2), `a${truncationMarker(3)}`);
    assert.equal(
      truncate("a\u{1f600}b", 3),
      `a\u{1f600}${truncationMarker(1)}`,
    );
    // Its cost is what it keeps: a 100 MB string cut to 10.
    assert.equal(
      truncate("y".repeat(100_000_000), 10),
      `yyyyyyyyyy${truncationMarker(99_999_990)}`,
    );
    for (const bad of [-1, 1.5, NaN, Infinity]) {
      assert.throws(() => truncate("x", bad), RangeError);
    }
    assert.throws(() => truncate("x", "3" as unknown as number), TypeError);
  },
});

Deno.test({
  ...opts,
  name: "markerLengthAt() finds whole markers only",
  fn() {
    const text = `ab${truncationMarker(12)}cd`;
    assert.equal(markerLengthAt(text, 2), truncationMarker(12).length);
    assert.equal(markerLengthAt(text, 0), 0);
    assert.equal(markerLengthAt("\u2026 ( more characters)", 0), 0);
    assert.equal(markerLengthAt("\u2026 (12 more characters", 0), 0);
    assert.equal(markerLengthAt("\u2026 (12", 0), 0);
    // A long run of digits is read once.
    const digits = `\u2026 (${"9".repeat(1_000_000)}`;
    assert.equal(markerLengthAt(digits, 0), 0);
  },
});

Deno.test({
  ...opts,
  name:
    "decodeErrorReply() keeps at most MAX_REMOTE_MESSAGE characters of a message, MAX_REMOTE_CODE of a code or name",
  fn() {
    const enc = (value: unknown) =>
      new TextEncoder().encode(JSON.stringify(value));
    const message = "m".repeat(10_000_000);
    const error = decodeErrorReply(
      "C".repeat(1_000_000),
      enc({
        name: "N".repeat(1_000_000),
        message,
      }),
    );
    assert.ok(error instanceof RemoteError);
    assert.equal(
      error.message,
      truncate(message, MAX_REMOTE_MESSAGE),
    );
    assert.equal(error.code, truncate("C".repeat(1_000_000), MAX_REMOTE_CODE));
    assert.equal(
      error.remoteName,
      truncate("N".repeat(1_000_000), MAX_REMOTE_CODE),
    );
    // What fits is kept as it is.
    const small = decodeErrorReply(
      "METHOD_NOT_FOUND",
      enc({ name: "HandlerError", message: "No method" }),
      { method: "mul" },
    );
    assert.ok(small instanceof MethodNotFoundError);
    assert.deepEqual(
      [small.code, small.remoteName, small.message, small.method],
      ["METHOD_NOT_FOUND", "HandlerError", "No method", "mul"],
    );
    // A code too long to be one is no known code.
    const long = decodeErrorReply(
      `METHOD_NOT_FOUND${"x".repeat(100)}`,
      enc({}),
    );
    assert.ok(long instanceof RemoteError);
    assert.ok(!(long instanceof MethodNotFoundError));
    // The ProtocolError of a body that is not JSON names a bounded code.
    const bad = decodeErrorReply("C".repeat(1_000_000), enc(1).subarray(1));
    assert.ok(bad.message.length < 200);
  },
});
