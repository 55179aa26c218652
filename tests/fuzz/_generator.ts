/**
 * The generator of fuzz requests: {@linkcode generate} makes request
 * `index` from a seeded {@linkcode Rng}, with random field values, header
 * tables, deadlines, bodies and `reply_to` addresses, and says what the
 * fib service should answer it ({@linkcode fibOutcome}). A few requests
 * amqplib cannot encode are made of raw bytes instead, to be sent with
 * `sendRaw` (`_wire.ts`).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { fib } from "../../services/fib/fib.ts";
import type { PublishOptions } from "./_amqplib.ts";
import type { Rng } from "./_rng.ts";
import { rawNestedArray, type RawProperties, rawTable, Wire } from "./_wire.ts";

/** The worker's request size limit in this test: small, so "huge" is cheap. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** The fib service's default largest n. */
const MAX_N = 100_000;

/**
 * Categories of generated input that can be left out with `FUZZ_EXCLUDE`.
 *
 * - `deep-headers`: header tables and arrays nested thousands of levels deep.
 *   Left out by default ({@linkcode DEFAULT_EXCLUDE}): the AMQP library the
 *   worker uses parses tables recursively, and overflows the stack on the
 *   deepest, so the worker drops such a request and reconnects on purpose.
 *   A reconnect is what the fuzz counts as a failure, so these requests have
 *   a test of their own, which checks that reconnect instead.
 * - `bad-direct-reply-to`: a `reply_to` of the form
 *   `amq.rabbitmq.reply-to.<a>.<b>` whose `<a>` is not an encoded Erlang
 *   pid, or is the pid of a node the broker does not know. The worker must
 *   drop these requests unanswered.
 * - `reencoded-direct-reply-to`: the direct reply-to address of a channel
 *   of the fuzzer, its pid re-encoded: `PID_EXT` or `NEW_PID_EXT`, any of
 *   the four atom encodings for the node name, base64 with or without its
 *   padding, and a wrong key (so that no reply reaches the fuzzer). All name
 *   the broker's own node, but the broker decodes only UTF-8 atoms
 *   (`ATOM_UTF8_EXT`, `SMALL_ATOM_UTF8_EXT`) and padded base64: for the
 *   others it closes the publisher's connection (541). The worker must drop
 *   those unanswered, and must not let them spoil its answers to the good
 *   addresses of the same node.
 * - `invalid-utf8`: a `correlation_id` or `reply_to` that is not valid UTF-8
 *   (AMQP short strings are bytes).
 */
export const CATEGORIES = [
  "deep-headers",
  "bad-direct-reply-to",
  "reencoded-direct-reply-to",
  "invalid-utf8",
] as const;

/** The categories left out when `FUZZ_EXCLUDE` is not set. */
export const DEFAULT_EXCLUDE = "deep-headers";

const NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_.:";
const BASE64 =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

const encoder = new TextEncoder();

/** `text` cut to at most `max` UTF-8 bytes, at a code point boundary. */
function cutUtf8(text: string, max: number): string {
  let bytes = 0;
  let out = "";
  for (const ch of text) {
    const size = encoder.encode(ch).length;
    if (bytes + size > max) break;
    bytes += size;
    out += ch;
  }
  return out;
}

// ---------------------------------------------------------------------------
// What a request should get back

/** An outcome: `ok:<body>` or `err:<CODE>`. */
export type Outcome = string;

const fibCache = new Map<number, string>();

/**
 * What the fib service answers for a body, from its contract (ASCII
 * whitespace around decimal digits, 0 ≤ n ≤ 100 000), written apart from
 * `parseFibRequest` so that the two can disagree.
 */
export function fibOutcome(body: Uint8Array): Outcome {
  // windows-1252 maps no byte above 0x7f to an ASCII character.
  const text = new TextDecoder("windows-1252").decode(body);
  const trimmed = text.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "");
  if (/^-[0-9]+$/.test(trimmed)) return "err:OUT_OF_RANGE";
  if (!/^[0-9]+$/.test(trimmed)) return "err:INVALID_ARGUMENT";
  const digits = trimmed.replace(/^0+(?=.)/, "");
  if (digits.length > String(MAX_N).length || Number(digits) > MAX_N) {
    return "err:OUT_OF_RANGE";
  }
  const n = Number(digits);
  let value = fibCache.get(n);
  if (value === undefined) {
    value = fib(n).toString();
    fibCache.set(n, value);
  }
  return `ok:${value}`;
}

/**
 * When the deadline header means the deadline has passed: `none` (no usable
 * deadline, or one far in the future), `past` (it had passed when sent),
 * `either` (close to now, or a type the protocol leaves open, such as an
 * integral float).
 */
export type DeadlineClass = "none" | "past" | "either";

// ---------------------------------------------------------------------------
// Generated requests

/** Where the reply of a request goes. */
export type Target =
  | "queue" // the fuzzer's exclusive reply queue
  | "direct" // direct reply-to on the publisher channel
  | "live-direct" // the publisher channel's rewritten direct reply-to name
  | "none" // no reply_to, or an empty one: dropped
  | "elsewhere"; // a name no reply of ours comes back from

export interface FuzzRequest {
  index: number;
  body: Uint8Array;
  options: PublishOptions;
  /** Properties sent as raw bytes, bypassing amqplib's encoder. */
  raw?: RawProperties;
  target: Target;
  /** The correlation id, if it is one a reply can be matched by. */
  cid?: string;
  /** It has an `expiration`: the broker may drop it unanswered. */
  expiring: boolean;
  deadline: DeadlineClass;
  /** What the reply may be, if one comes to us. */
  expected: Set<Outcome>;
  /**
   * Why the worker must drop it without a reply, if it must: its `reply_to`
   * or correlation id can carry no reply back to the caller.
   */
  unanswerable?: string;
  /** What it is made of, for reports. */
  labels: string[];
}

export interface Names {
  queue: string;
  replyQueue: string;
  /** The publisher channel's own direct reply-to address. */
  liveDirect: string;
  /** The direct reply-to address of a channel that has closed. */
  staleDirect: string;
  userId: string;
}

/** A random AMQP field value; `depth` limits nesting. */
function fieldValue(rng: Rng, depth: number): unknown {
  // No NaN or infinite floats: the broker cannot parse them, and closes the
  // publisher's connection (541 INTERNAL_ERROR).
  const now = Date.now();
  const kind = rng.weighted<string>([
    [6, "string"],
    [2, "long-string"],
    [1, "int8"],
    [1, "uint8"],
    [1, "int16"],
    [1, "uint16"],
    [1, "int32"],
    [1, "uint32"],
    [2, "int64"],
    [2, "number"],
    [2, "double"],
    [1, "float"],
    [1, "decimal"],
    [1, "timestamp"],
    [2, "boolean"],
    [2, "null"],
    [2, "bytes"],
    [depth > 0 ? 2 : 0, "table"],
    [depth > 0 ? 2 : 0, "array"],
  ]);
  switch (kind) {
    case "string":
      return rng.chance(0.5) ? rng.ascii(rng.int(0, 20)) : rng.unicode(
        rng.int(0, 20),
      );
    case "long-string":
      return rng.unicode(rng.int(100, 2000));
    case "int8":
      return { "!": "int8", value: rng.int(-128, 127) };
    case "uint8":
      return { "!": "uint8", value: rng.int(0, 255) };
    case "int16":
      return { "!": "int16", value: rng.int(-32768, 32767) };
    case "uint16":
      return { "!": "uint16", value: rng.int(0, 65535) };
    case "int32":
      return { "!": "int32", value: rng.int(-(2 ** 31), 2 ** 31 - 1) };
    case "uint32":
      return { "!": "uint32", value: rng.int(0, 2 ** 32 - 1) };
    case "int64":
      return {
        "!": "int64",
        value: rng.pick([
          0,
          -1,
          now,
          Number.MAX_SAFE_INTEGER,
          -Number.MAX_SAFE_INTEGER,
          2 ** 62,
          -(2 ** 63),
          rng.int(-(2 ** 40), 2 ** 40),
        ]),
      };
    case "number":
      return rng.pick([
        rng.int(-1000, 1000),
        rng.int(-(2 ** 50), 2 ** 50),
        rng.float() * 1e6 - 5e5,
        -0,
        2 ** 63,
        1.5,
      ]);
    case "double":
      return {
        "!": "double",
        value: rng.pick([-0, 1e308, -1e308, 5e-324, 0.1, now]),
      };
    case "float":
      return {
        "!": "float",
        value: rng.pick([-0, 3.4e38, -3.4e38, 1e-45, 0.1, now]),
      };
    case "decimal":
      return {
        "!": "decimal",
        value: { places: rng.int(0, 255), digits: rng.int(0, 2 ** 32 - 1) },
      };
    case "timestamp":
      return {
        "!": "timestamp",
        value: rng.pick([0, Math.floor(now / 1000), 2 ** 53 - 1, 2 ** 63]),
      };
    case "boolean":
      return rng.chance(0.5);
    case "null":
      return null;
    case "bytes":
      return Buffer.from(rng.bytes(rng.int(0, 512)));
    case "table":
      return table(rng, depth - 1, rng.int(0, 5));
    default: // array
      return Array.from(
        { length: rng.int(0, 5) },
        () => fieldValue(rng, depth - 1),
      );
  }
}

/** Header names the broker reads itself, or that the fuzzer sets apart. */
const RESERVED_KEYS = new Set(["CC", "BCC", "x-deadline", "x-idempotent"]);

function headerKey(rng: Rng): string {
  for (;;) {
    const key = rng.weighted<() => string>([
      [6, () => rng.ascii(rng.int(1, 20), NAME_CHARS)],
      [2, () => cutUtf8(rng.unicode(rng.int(1, 30)), 255)],
      [1, () => ""],
      [1, () => "x-" + rng.ascii(rng.int(1, 10), NAME_CHARS)],
      [1, () => "x-rpc-error"],
    ])();
    if (!RESERVED_KEYS.has(key)) return key;
  }
}

function table(rng: Rng, depth: number, size: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < size; i++) out[headerKey(rng)] = fieldValue(rng, depth);
  return out;
}

/** A value nested `depth` levels deep in alternating tables and arrays. */
function deeplyNested(rng: Rng, depth: number): unknown {
  let value: unknown = rng.int(0, 9);
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { k: value };
  return value;
}

/** An `x-deadline` value and what it means. */
function deadlineHeader(rng: Rng): [unknown, DeadlineClass, string] {
  const now = Date.now();
  const ago = rng.int(1, 3_600_000);
  const soon = rng.int(0, 5_000);
  const later = rng.int(3_600_000, 86_400_000);
  return rng.weighted<() => [unknown, DeadlineClass, string]>([
    [4, () => [{ "!": "int64", value: now - ago }, "past", "deadline:past"]],
    [3, () => [{ "!": "int64", value: now + soon }, "either", "deadline:soon"]],
    [4, () => [{ "!": "int64", value: now + later }, "none", "deadline:later"]],
    [2, () => [now - ago, "past", "deadline:past-untyped"]],
    [2, () => [now + later, "none", "deadline:later-untyped"]],
    [1, () => [0, "past", "deadline:zero"]],
    [1, () => [rng.int(1, 127), "past", "deadline:int8"]],
    [1, () => [{ "!": "uint8", value: 200 }, "past", "deadline:uint8"]],
    [1, () => [{ "!": "int16", value: 12345 }, "past", "deadline:int16"]],
    [1, () => [{ "!": "uint16", value: 65535 }, "past", "deadline:uint16"]],
    [1, () => [{ "!": "int32", value: 2 ** 31 - 1 }, "past", "deadline:int32"]],
    [1, () => [{ "!": "uint32", value: 2 ** 32 - 1 }, "past", "deadline:u32"]],
    [1, () => [-rng.int(1, 2 ** 40), "none", "deadline:negative"]],
    [1, () => [{ "!": "int64", value: -(2 ** 63) }, "none", "deadline:min"]],
    [1, () => [{ "!": "int64", value: 2 ** 62 }, "none", "deadline:huge"]],
    [2, () => [String(now - ago), "past", "deadline:string-past"]],
    [2, () => [String(now + later), "none", "deadline:string-later"]],
    [1, () => [String(now + soon), "either", "deadline:string-soon"]],
    [1, () => ["0000000000000001", "past", "deadline:string-16"]],
    [1, () => [String(now - ago).padStart(16, "0"), "past", "deadline:padded"]],
    [
      1,
      () => [String(now - ago).padStart(17, "0"), "none", "deadline:string-17"],
    ],
    [
      1,
      () => [
        rng.pick([
          "",
          " " + (now - ago),
          "-5",
          "1e3",
          "12.5",
          "abc",
          "\u0661\u0662",
        ]),
        "none",
        "deadline:string-bad",
      ],
    ],
    [
      2,
      () => [
        { "!": "double", value: rng.pick([now - ago, now + later]) },
        "either",
        "deadline:double",
      ],
    ],
    [
      1,
      () => [
        { "!": "double", value: rng.pick([0.5, 1.5, -1.5, 1e308]) },
        "none",
        "deadline:double-bad",
      ],
    ],
    [
      1,
      () => [{ "!": "float", value: now - ago }, "either", "deadline:float"],
    ],
    [
      1,
      () => [
        { "!": "decimal", value: { places: 0, digits: rng.int(0, 99) } },
        "either",
        "deadline:decimal",
      ],
    ],
    [
      1,
      () => [
        { "!": "timestamp", value: Math.floor((now - ago) / 1000) },
        "either",
        "deadline:timestamp",
      ],
    ],
    [
      1,
      () => [
        rng.pick<unknown>([
          true,
          false,
          null,
          [now - ago],
          { at: now - ago },
          Buffer.from(String(now - ago)),
        ]),
        "none",
        "deadline:other-type",
      ],
    ],
  ])();
}

/** A body and what the fib service should answer for it. */
function body(rng: Rng): [Uint8Array, string] {
  const text = (s: string): Uint8Array => encoder.encode(s);
  const space = () => rng.ascii(rng.int(0, 3), " \t\n\r\f");
  return rng.weighted<() => [Uint8Array, string]>([
    [3, () => [new Uint8Array(0), "body:empty"]],
    [14, () => [text(String(rng.int(0, 100))), "body:small-n"]],
    [2, () => [text(String(rng.int(101, MAX_N))), "body:large-n"]],
    [1, () => [text(String(MAX_N)), "body:max-n"]],
    [
      4,
      () => [
        text(space() + "0".repeat(rng.int(0, 5)) + rng.int(0, 300) + space()),
        "body:padded-n",
      ],
    ],
    [2, () => [text(String(rng.int(MAX_N + 1, 2 ** 40))), "body:above-max"]],
    [2, () => [text(rng.digits(rng.int(7, 5000))), "body:many-digits"]],
    [2, () => [text("-" + rng.digits(rng.int(1, 30))), "body:negative"]],
    [
      4,
      () => [
        text(
          rng.pick([
            "-",
            "-0",
            "+5",
            "1e3",
            "0x10",
            "3.5",
            "1,000",
            "1_000",
            "NaN",
            "Infinity",
            " ",
            "\t\n\r\f ",
            "\v5",
            "\u00a05",
            "5\u00a0",
            "\u0665",
            "\uff15",
            "\u0000",
            "5\u0000",
            "1 2",
            "--5",
            "null",
            "true",
            "[5]",
            '"5"',
            '{"n":5}',
            "\ufeff5",
          ]),
        ),
        "body:tricky",
      ],
    ],
    [6, () => [text(rng.unicode(rng.int(1, 200))), "body:unicode"]],
    [6, () => [rng.bytes(rng.int(1, 2000)), "body:binary"]],
    [1, () => [rng.bytes(rng.int(2000, MAX_REQUEST_BYTES)), "body:big-binary"]],
    [
      1,
      () => [
        text("0".repeat(MAX_REQUEST_BYTES - 2) + rng.int(10, 99)),
        "body:at-limit",
      ],
    ],
    [
      1,
      () => [
        text("0".repeat(MAX_REQUEST_BYTES - 1) + rng.int(10, 99)),
        "body:limit+1",
      ],
    ],
    [
      2,
      () => [
        rng.chance(0.5)
          ? rng.bytes(rng.int(MAX_REQUEST_BYTES + 1, 300 * 1024))
          : text("7".padStart(rng.int(MAX_REQUEST_BYTES + 1, 300 * 1024))),
        "body:huge",
      ],
    ],
  ])();
}

function replyTo(
  rng: Rng,
  names: Names,
  excluded: ReadonlySet<string>,
): [string | undefined, Target, string] {
  const bad = excluded.has("bad-direct-reply-to") ? 0 : 2;
  const reencoded = excluded.has("reencoded-direct-reply-to") ? 0 : 1;
  return rng.weighted<() => [string | undefined, Target, string]>([
    [40, () => [names.replyQueue, "queue", "reply-to:queue"]],
    [14, () => ["amq.rabbitmq.reply-to", "direct", "reply-to:direct"]],
    [3, () => [names.liveDirect, "live-direct", "reply-to:live-direct"]],
    [6, () => [undefined, "none", "reply-to:missing"]],
    [3, () => ["", "none", "reply-to:empty"]],
    [
      6,
      () => [
        "fuzz.nowhere." + rng.ascii(rng.int(1, 40), NAME_CHARS),
        "elsewhere",
        "reply-to:unknown",
      ],
    ],
    [
      3,
      () => [
        cutUtf8(rng.unicode(rng.int(1, 120)), 255),
        "elsewhere",
        "reply-to:unicode",
      ],
    ],
    [
      1,
      () => [
        "amq.gen-" + rng.ascii(22, BASE64),
        "elsewhere",
        "reply-to:amq.gen",
      ],
    ],
    [
      2,
      () => [names.queue, "elsewhere", "reply-to:worker-queue"],
    ],
    [
      2,
      () => [names.staleDirect, "elsewhere", "reply-to:stale-direct"],
    ],
    [
      1,
      () => [
        names.liveDirect.replace(/\.[^.]*$/, ".") + rng.ascii(24, BASE64),
        "elsewhere",
        "reply-to:live-pid-wrong-key",
      ],
    ],
    [
      3,
      () => [
        // Not two dot-separated parts: the broker treats it as no address.
        "amq.rabbitmq.reply-to" + rng.pick([
          "." + rng.ascii(rng.int(0, 40), BASE64),
          ".",
          "..",
          "." + rng.ascii(5, BASE64) + "." + rng.ascii(5, BASE64) + ".x",
          rng.ascii(rng.int(1, 10), NAME_CHARS),
        ]),
        "elsewhere",
        "reply-to:bogus-direct",
      ],
    ],
    [
      bad,
      () => [
        "amq.rabbitmq.reply-to." +
        rng.pick([
          rng.ascii(rng.int(1, 40), BASE64),
          rng.ascii(rng.int(1, 20), NAME_CHARS.replace(".", "")),
          cutUtf8(rng.unicode(rng.int(1, 10)).replaceAll(".", ""), 40) || "x",
          names.liveDirect.split(".")[3].slice(0, rng.int(1, 30)),
        ]) +
        "." + rng.ascii(rng.int(1, 24), BASE64),
        "elsewhere",
        "reply-to:bad-direct",
      ],
    ],
    [
      bad / 2,
      () => [
        "amq.rabbitmq.reply-to." + unknownNodePid(rng) + "." +
        rng.ascii(24, BASE64),
        "elsewhere",
        "reply-to:unknown-node",
      ],
    ],
    [
      reencoded,
      () => {
        const [address, label] = reencodedDirect(rng, names.liveDirect);
        return [address, "elsewhere", label];
      },
    ],
  ])();
}

/** The atom encodings of a node name the broker decodes in a pid. */
const BROKER_ATOMS = new Set([118, 119]);

/**
 * `liveDirect` with its pid re-encoded (the same node, process id, serial
 * and creation) with a random pid tag, atom encoding for the node name and
 * base64 padding, and a random key: [the address, its label]. The label is
 * `reply-to:reencoded(<tag>,<atom>[,unpadded])`, and ends in `!` when the
 * broker cannot decode the address.
 */
function reencodedDirect(rng: Rng, liveDirect: string): [string, string] {
  const pid = Uint8Array.from(
    atob(liveDirect.split(".")[3]),
    (c) => c.charCodeAt(0),
  );
  // The live pid is NEW_PID_EXT with a UTF-8 atom; read it apart.
  let offset = 3;
  let length: number;
  if (pid[2] === 118) {
    length = (pid[3] << 8) | pid[4];
    offset = 5;
  } else {
    length = pid[3];
    offset = 4;
  }
  const node = pid.subarray(offset, offset + length);
  const numbers = pid.subarray(offset + length); // id, serial, creation
  const tag = rng.pick([88, 103]);
  const atom = rng.pick([100, 118, 115, 119]);
  const term = new Wire().u8(131).u8(tag).u8(atom);
  if (atom === 100 || atom === 118) term.u16(node.length);
  else term.u8(node.length);
  term.bytes(node).bytes(numbers.subarray(0, 8));
  if (tag === 88) term.bytes(numbers.subarray(8, 12));
  else term.u8(numbers[11] & 3);
  let encoded = btoa(String.fromCharCode(...term.done()));
  const unpadded = encoded.endsWith("=") && rng.chance(0.5);
  if (unpadded) encoded = encoded.replace(/=+$/, "");
  const bad = unpadded || !BROKER_ATOMS.has(atom);
  return [
    `amq.rabbitmq.reply-to.${encoded}.${rng.ascii(24, BASE64)}`,
    `reply-to:reencoded(${tag},${atom}${unpadded ? ",unpadded" : ""})${
      bad ? "!" : ""
    }`,
  ];
}

/** Node names no broker of the test has; most requests reuse one. */
const UNKNOWN_NODES = ["reply@1", "reply@4242424242", "rabbit@nowhere"];

/**
 * A well-formed Erlang pid (external term format, base64) of a node the
 * broker does not know: publishing to it makes the broker close the
 * connection (541 INTERNAL_ERROR), so the worker must find that out on a
 * connection of its own and drop the reply.
 */
function unknownNodePid(rng: Rng): string {
  const node = encoder.encode(
    rng.chance(0.8)
      ? rng.pick(UNKNOWN_NODES)
      : `reply@${rng.int(1, 2 ** 32 - 1)}`,
  );
  // NEW_PID_EXT or PID_EXT; then ATOM_EXT, ATOM_UTF8_EXT, SMALL_ATOM_EXT
  // or SMALL_ATOM_UTF8_EXT for the node.
  const tag = rng.pick([88, 103]);
  const atom = rng.pick([100, 118, 115, 119]);
  const term = new Wire().u8(131).u8(tag).u8(atom);
  if (atom === 100 || atom === 118) term.u16(node.length);
  else term.u8(node.length);
  term.bytes(node).u32(rng.int(0, 2 ** 32 - 1)).u32(rng.int(0, 8191));
  if (tag === 88) term.u32(rng.int(0, 2 ** 32 - 1));
  else term.u8(rng.int(0, 3));
  return btoa(String.fromCharCode(...term.done()));
}

function shortString(rng: Rng): string {
  return rng.weighted<() => string>([
    [4, () => rng.ascii(rng.int(0, 30))],
    [2, () => cutUtf8(rng.unicode(rng.int(1, 100)), 255)],
    [1, () => rng.ascii(255)],
  ])();
}

/** Generates request `index`. */

/** Message ids that several requests share. */
const MESSAGE_ID_POOL = [
  "",
  "m1",
  "m2",
  "m3",
  "\u00e9t\u00e9",
  "m".repeat(255),
];

export function generate(
  rng: Rng,
  index: number,
  names: Names,
  excluded: ReadonlySet<string>,
): FuzzRequest {
  if (rng.chance(0.04)) return generateRaw(rng, index, names, excluded);
  const labels: string[] = [];
  const options: PublishOptions = {};

  const [bytes, bodyLabel] = body(rng);
  labels.push(bodyLabel);

  const [to, target, toLabel] = replyTo(rng, names, excluded);
  labels.push(toLabel);
  if (to !== undefined) options.replyTo = to;
  const unanswerable =
    toLabel === "reply-to:bad-direct" || toLabel === "reply-to:unknown-node" ||
      (toLabel.startsWith("reply-to:reencoded") && toLabel.endsWith("!"))
      ? "a direct reply-to address the broker cannot decode"
      : undefined;

  // Correlation ids start with the index, so that each is unique.
  let cid: string | undefined;
  const cidKind = rng.weighted<string>([
    [10, "ascii"],
    [4, "unicode"],
    [1, "long"],
    [3, "missing"],
    [1, "empty"],
  ]);
  labels.push(`cid:${cidKind}`);
  if (cidKind === "missing") {
    // none
  } else if (cidKind === "empty") {
    options.correlationId = "";
  } else {
    const prefix = `${index}:`;
    const rest = cidKind === "ascii"
      ? rng.ascii(rng.int(0, 36))
      : cidKind === "unicode"
      ? rng.unicode(rng.int(1, 60))
      : rng.unicode(300);
    cid = cutUtf8(prefix + rest, 255);
    options.correlationId = cid;
  }

  if (rng.chance(0.5)) {
    options.contentType = rng.pick([
      "text/plain",
      "application/json",
      "application/octet-stream",
      "text/plain; charset=utf-8",
      "",
      shortString(rng),
    ]);
    labels.push("content-type");
  }
  if (rng.chance(0.15)) {
    options.contentEncoding = rng.pick(["gzip", "utf-8", "", shortString(rng)]);
  }

  // The broker closes the publisher's channel for an expiration that is not
  // a non-negative integer of at most 315 360 000 000 (ten years), so only
  // valid ones are sent.
  let expiring = false;
  if (rng.chance(0.2)) {
    expiring = true;
    options.expiration = rng.weighted<() => string>([
      [2, () => "0"],
      [4, () => String(rng.int(1, 50))],
      [2, () => String(rng.int(51, 5000))],
      [1, () => "+" + rng.int(1, 50)],
      [1, () => "000" + rng.int(1, 50)],
      [3, () => String(rng.int(60_000, 86_400_000))],
      [1, () => rng.pick(["4294967296", "99999999999", "315360000000"])],
    ])();
    labels.push("expiration");
  }
  if (rng.chance(0.2)) options.priority = rng.int(0, 255);
  // Other delivery modes than 1 and 2 make the broker close the channel.
  if (rng.chance(0.2)) options.deliveryMode = rng.pick([1, 2]);
  // Message ids repeat, and some requests are marked idempotent: the worker
  // answers a repeated idempotent message id from its reply cache.
  if (rng.chance(0.3)) {
    options.messageId = rng.chance(0.5)
      ? rng.pick(MESSAGE_ID_POOL)
      : shortString(rng);
  }
  if (rng.chance(0.2)) {
    options.timestamp = rng.pick([
      0,
      Math.floor(Date.now() / 1000),
      2 ** 32,
      2 ** 53 - 1,
      2 ** 63,
    ]);
  }
  if (rng.chance(0.15)) options.type = shortString(rng);
  if (rng.chance(0.15)) options.appId = shortString(rng);
  // Any other user id than the connection's makes the broker close the channel.
  if (rng.chance(0.1)) options.userId = names.userId;

  const headers: Record<string, unknown> = {};
  const headerKind = rng.weighted<string>([
    [5, "none"],
    [8, "random"],
    [1, "big"],
    [excluded.has("deep-headers") ? 0 : 1, "deep"],
  ]);
  if (headerKind === "random") {
    Object.assign(headers, table(rng, 3, rng.int(1, 8)));
    labels.push("headers:random");
  } else if (headerKind === "big") {
    headers[headerKey(rng)] = rng.ascii(rng.int(8_000, 40_000));
    labels.push("headers:big");
  } else if (headerKind === "deep") {
    // Deeper than about 3 300 levels, amqplib itself cannot encode it.
    const depth = rng.int(1000, 3200);
    headers.deep = deeplyNested(rng, depth);
    labels.push(`headers:deep(${depth})`);
  }
  let deadline: DeadlineClass = "none";
  if (rng.chance(0.3)) {
    const [value, cls, label] = deadlineHeader(rng);
    headers["x-deadline"] = value;
    deadline = cls;
    labels.push(label);
  }
  if (rng.chance(0.15)) {
    headers["x-idempotent"] = rng.weighted<unknown>([
      [6, true],
      [1, false],
      [1, "true"],
      [1, 1],
      [1, null],
    ]);
    labels.push(`idempotent:${JSON.stringify(headers["x-idempotent"])}`);
  }
  if (Object.keys(headers).length > 0) options.headers = headers;

  const expected = new Set<Outcome>();
  if (deadline !== "none") expected.add("err:DEADLINE_EXCEEDED");
  if (deadline !== "past") {
    expected.add(
      bytes.length > MAX_REQUEST_BYTES ? "err:TOO_LARGE" : fibOutcome(bytes),
    );
  }
  return {
    index,
    body: bytes,
    options,
    target,
    cid,
    expiring,
    deadline,
    expected,
    unanswerable,
    labels,
  };
}

// ---------------------------------------------------------------------------
// Requests amqplib cannot encode (see `_wire.ts`): invalid UTF-8 in short
// strings, table keys and long strings, and headers nested deeper than its
// recursive encoder goes.

/** Random bytes that are seldom valid UTF-8, unless `valid`. */
function rawText(rng: Rng, max: number, valid = false): Uint8Array {
  if (valid) return encoder.encode(cutUtf8(rng.unicode(rng.int(0, max)), max));
  const bytes = rng.bytes(rng.int(0, max));
  // Now and then a stray continuation byte or a truncated sequence.
  if (bytes.length > 0 && rng.chance(0.5)) {
    bytes[0] = rng.pick([0x80, 0xc3, 0xff]);
  }
  return bytes;
}

function generateRaw(
  rng: Rng,
  index: number,
  names: Names,
  excluded: ReadonlySet<string>,
): FuzzRequest {
  const labels = ["raw"];
  const raw: RawProperties = {};
  const valid = excluded.has("invalid-utf8");
  const [bytes, bodyLabel] = body(rng);
  labels.push(bodyLabel);
  const [target, toLabel] = rng.weighted<() => [Target, string]>([
    [7, () => {
      raw.replyTo = encoder.encode(names.replyQueue);
      return ["queue", "reply-to:queue"];
    }],
    [2, () => {
      raw.replyTo = rawText(rng, 255, valid);
      if (raw.replyTo.length === 0) return ["none", "reply-to:empty"];
      return decodesTooLong(raw.replyTo)
        ? ["elsewhere", "reply-to:raw(>255 decoded)"]
        : ["elsewhere", "reply-to:raw"];
    }],
    [1, () => ["none", "reply-to:missing"]],
  ])();
  labels.push(toLabel);
  let unanswerable: string | undefined;
  if (toLabel === "reply-to:raw(>255 decoded)") {
    unanswerable = "a reply_to that decodes to more than 255 bytes";
  }
  let cid: string | undefined;
  if (rng.chance(0.85)) {
    const prefix = encoder.encode(`${index}:`);
    const rest = rawText(rng, 255 - prefix.length, valid);
    raw.correlationId = new Wire().bytes(prefix).bytes(rest).done();
    // What the worker and amqplib both decode it to.
    cid = Buffer.from(raw.correlationId).toString("utf8");
    if (decodesTooLong(raw.correlationId)) {
      labels.push("cid:raw(>255 decoded)");
      unanswerable ??= "a correlation id that decodes to more than 255 bytes";
    } else labels.push("cid:raw");
  } else labels.push("cid:missing");
  if (rng.chance(0.3)) raw.contentType = rawText(rng, 255);
  if (rng.chance(0.3)) raw.messageId = rawText(rng, 255);
  if (rng.chance(0.3)) raw.type = rawText(rng, 255);
  if (rng.chance(0.3)) raw.appId = rawText(rng, 255);
  const entries: [Uint8Array, Uint8Array][] = [];
  for (let i = rng.int(0, 4); i > 0; i--) {
    const key = rawText(rng, 60);
    const value = rng.chance(0.7)
      ? new Wire().u8(0x53).longstr(rawText(rng, 2000)).done() // 'S'
      : new Wire().u8(0x78).longstr(rng.bytes(rng.int(0, 500))).done(); // 'x'
    entries.push([key, value]);
  }
  if (!excluded.has("deep-headers") && rng.chance(0.3)) {
    // Deeper than amqplib can encode; the frame stays under 131 072 bytes.
    const depth = rng.int(4000, 20000);
    entries.push([encoder.encode("deep"), rawNestedArray(depth)]);
    labels.push(`headers:deep(${depth})`);
  }
  if (entries.length > 0) {
    raw.headers = rawTable(entries);
    labels.push("headers:raw");
  }
  return {
    index,
    body: bytes,
    options: {},
    raw,
    target,
    cid,
    expiring: false,
    deadline: "none",
    expected: new Set([
      bytes.length > MAX_REQUEST_BYTES ? "err:TOO_LARGE" : fibOutcome(bytes),
    ]),
    unanswerable,
    labels,
  };
}

/**
 * Whether a short string's bytes, decoded as UTF-8 with U+FFFD for what is
 * not (as amqp-client decodes them), take more than 255 bytes: no AMQP
 * short string can carry them back.
 */
function decodesTooLong(bytes: Uint8Array): boolean {
  return encoder.encode(Buffer.from(bytes).toString("utf8")).length > 255;
}
