/**
 * `maskUrl`: the same masks as the regular expressions it replaced, on
 * random text and on every UTF-16 code unit; linear time on the inputs that
 * made those quadratic (2 MB of each completes and masks as it should);
 * and a password cut short by a truncation marker masked up to it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { mulberry32 } from "../fuzz/_rng.ts";
import { maskUrl } from "../../lib/amqp/url.ts";
import { truncate, truncationMarker } from "../../lib/text.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/**
 * The `maskUrl` of commit 906ede2, verbatim: the specification the scanner
 * must keep, quadratic on long runs of letters.
 */
function regexMaskUrl(url: string): string {
  const scheme = /[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:/gi;
  let out = "";
  let from = 0;
  for (let match; (match = scheme.exec(url)) !== null;) {
    const start = match.index + match[0].length;
    if (start < from) continue;
    const next = url.slice(start).search(/\s|[a-z][a-z0-9+.-]*:\/\//i);
    const end = next === -1 ? url.length : start + next;
    const at = url.lastIndexOf("@", end - 1);
    if (at < start) continue;
    out += url.slice(from, start) + "***";
    from = at;
    scheme.lastIndex = at;
  }
  return out + url.slice(from);
}

/** Pieces of URLs and of what surrounds them in messages. */
const PIECES = [
  "a",
  "Z",
  "x",
  "1",
  "+",
  ".",
  "-",
  ":",
  "/",
  "//",
  "@",
  " ",
  "\n",
  "\t",
  ",",
  "amqp://",
  "amqps://",
  "u:",
  "pw@",
  "host",
  "\u00a0",
  "\u2028",
  "\u017f", // ſ: upper-cases to S, but is no [a-z] for /i without /u
  "\u212a", // the Kelvin sign: lower-cases to k
  "é",
  "\u{1f600}",
];

Deno.test({
  ...opts,
  name: "maskUrl() masks random text exactly as the regular expressions did",
  fn() {
    const next = mulberry32(20260601);
    for (let i = 0; i < 60_000; i++) {
      let text = "";
      const pieces = Math.floor(next() * 24);
      for (let p = 0; p < pieces; p++) {
        text += PIECES[Math.floor(next() * PIECES.length)];
      }
      assert.equal(maskUrl(text), regexMaskUrl(text), JSON.stringify(text));
    }
  },
});

Deno.test({
  ...opts,
  name:
    "maskUrl() treats every UTF-16 code unit as the regular expressions did (\\s, [a-z] under /i, the user part)",
  fn() {
    const templates = [
      (c: string) => `amqp://u:p${c}q@h`, // white space ends a password
      (c: string) => `${c}://u:p@h`, // a scheme starts with a letter
      (c: string) => `a${c}://u:p@h`, // and goes on with [a-z0-9+.-]
      (c: string) => `amqp://u${c}:p@h`, // the user part: [^\s:/@]
      (c: string) => `amqp://u:p@h,${c}b://v:q@k`, // the next URL ends one
      (c: string) => `amqp://u:p@h${c}@k`,
    ];
    for (let code = 0; code <= 0xffff; code++) {
      const c = String.fromCharCode(code);
      for (const template of templates) {
        const text = template(c);
        if (maskUrl(text) !== regexMaskUrl(text)) {
          assert.equal(maskUrl(text), regexMaskUrl(text), `U+${code}`);
        }
      }
    }
  },
});

Deno.test({
  ...opts,
  name: "maskUrl() keeps its examples: passwords hidden, the rest as it was",
  fn() {
    const cases: [string, string][] = [
      ["amqp://guest:guest@localhost:5672", "amqp://guest:***@localhost:5672"],
      ["amqp://app:secret@broker:5672/prod", "amqp://app:***@broker:5672/prod"],
      ["amqp://u:p@ss/w,rd@h", "amqp://u:***@h"],
      [
        "failed amqps://a:p1@x,amqp://b:p2@y",
        "failed amqps://a:***@x,amqp://b:***@y",
      ],
      ["amqp://h:5672", "amqp://h:5672"],
      ["amqp://u:@h", "amqp://u:***@h"],
      ["no URL at all: a@b c:d", "no URL at all: a@b c:d"],
      ["", ""],
    ];
    for (const [text, masked] of cases) assert.equal(maskUrl(text), masked);
  },
});

/** Inputs that made the regular expressions quadratic, and their masks. */
function pathological(size: number): [string, string, string][] {
  const repeat = (piece: string) =>
    piece.repeat(Math.ceil(size / piece.length));
  const secret = " amqp://app:secret@broker";
  const masked = " amqp://app:***@broker";
  return [
    ["letters", repeat("x") + secret, repeat("x") + masked],
    ["a:", repeat("a:") + secret, repeat("a:") + masked],
    ["@", repeat("@") + secret, repeat("@") + masked],
    ["amqp://", repeat("amqp://") + secret, repeat("amqp://") + masked],
    [":", repeat(":") + secret, repeat(":") + masked],
    ["//", repeat("//") + secret, repeat("//") + masked],
    ["amqp://u:", repeat("amqp://u:"), repeat("amqp://u:")],
    [
      "amqp://u:p@",
      repeat("amqp://u:p@"),
      "amqp://u:***@".repeat(repeat("amqp://u:p@").length / 11),
    ],
    // One password of a million characters: masked whole.
    [
      "long password",
      `amqp://app:${repeat("S")}@broker`,
      "amqp://app:***@broker",
    ],
    // A URL whose password runs on to the end with no "@": no password.
    [
      "letters after a user",
      `amqp://host:${repeat("x")}`,
      `amqp://host:${repeat("x")}`,
    ],
  ];
}

Deno.test({
  ...opts,
  name:
    "maskUrl() masks 2 MB of each input that made the regular expressions quadratic, correctly",
  fn() {
    // At 2 MB the regular expressions took hours on some of these; no time
    // is asserted: that each completes is the check (the suite would hang).
    for (const [label, text, masked] of pathological(2_000_000)) {
      assert.ok(text.length >= 2_000_000, label);
      assert.ok(maskUrl(text) === masked, label);
    }
    // And on small ones, the regular expressions agree on those masks.
    for (const [label, text, masked] of pathological(2_000)) {
      assert.equal(regexMaskUrl(text), masked, label);
      assert.equal(maskUrl(text), masked, label);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "maskUrl() masks a password cut short by a truncation marker, up to the marker, '@' or not",
  fn() {
    const text = `failed: amqp://app:${"S".repeat(100)}@broker:5672 and more`;
    for (let max = 0; max <= text.length; max++) {
      const masked = maskUrl(truncate(text, max));
      // No two characters of the password, wherever the cut falls.
      assert.doesNotMatch(masked, /SS/, `cut at ${max}`);
    }
    assert.equal(
      maskUrl(truncate(text, 30)),
      `failed: amqp://app:***${truncationMarker(text.length - 30)}`,
    );
    // Cut before the password: nothing of it, and the user shown.
    assert.equal(
      maskUrl(truncate(text, 19)),
      `failed: amqp://app:***${truncationMarker(text.length - 19)}`,
    );
    // A host and port cut short is masked too: it might have been a password.
    assert.equal(
      maskUrl(truncate("amqp://host:5672/vhost", 14)),
      `amqp://host:***${truncationMarker(8)}`,
    );
    // Whole, the same text is masked as ever.
    assert.equal(
      maskUrl(truncate(text, text.length)),
      "failed: amqp://app:***@broker:5672 and more",
    );
    // A marker written by someone else only masks more.
    assert.equal(
      maskUrl(`amqp://u:pw${truncationMarker(5)} rest@x`),
      `amqp://u:***${truncationMarker(5)} rest@x`,
    );
    // Only a whole marker counts.
    assert.equal(
      maskUrl("amqp://u:pw\u2026 (5 more) rest"),
      "amqp://u:pw\u2026 (5 more) rest",
    );
  },
});
