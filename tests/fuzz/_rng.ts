/**
 * A seeded random source: {@linkcode Rng}, over the mulberry32 PRNG, and
 * the characters it draws text from. The same seed yields the same
 * sequence, which is what makes a fuzz run replayable.
 *
 * @module
 */

/** mulberry32: a small, fast PRNG with a 32-bit state. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded random source. */
export class Rng {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** A float in [0, 1). */
  float(): number {
    return this.#next();
  }
  /** An integer from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)];
  }
  /** Picks one of `options` with probability proportional to its weight. */
  weighted<T>(options: readonly (readonly [number, T])[]): T {
    const total = options.reduce((sum, [w]) => sum + w, 0);
    let r = this.#next() * total;
    for (const [w, value] of options) {
      if (r < w) return value;
      r -= w;
    }
    return options[options.length - 1][1];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const word = (this.#next() * 4294967296) >>> 0;
      out[i] = word;
      if (i + 1 < n) out[i + 1] = word >>> 8;
      if (i + 2 < n) out[i + 2] = word >>> 16;
      if (i + 3 < n) out[i + 3] = word >>> 24;
    }
    return out;
  }
  digits(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(0x30 + this.int(0, 9));
    return s;
  }
  ascii(n: number, alphabet = ASCII): string {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }
  /** `n` code points from all over Unicode, never a lone surrogate. */
  unicode(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) {
      const [lo, hi] = this.pick(CODE_POINT_RANGES);
      s += String.fromCodePoint(this.int(lo, hi));
    }
    return s;
  }
}

const ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))
  .join("");

const CODE_POINT_RANGES: readonly (readonly [number, number])[] = [
  [0x00, 0x1f], // controls, NUL
  [0x20, 0x7e], // ASCII
  [0x20, 0x7e],
  [0x80, 0xff], // Latin-1
  [0x300, 0x36f], // combining marks
  [0x391, 0x3c9], // Greek
  [0x410, 0x44f], // Cyrillic
  [0x5d0, 0x5ea], // Hebrew (RTL)
  [0x660, 0x669], // Arabic-Indic digits
  [0x200b, 0x200f], // zero-width and direction marks
  [0x2028, 0x202e], // separators, bidi overrides
  [0x4e00, 0x9fff], // CJK
  [0xfeff, 0xfeff], // BOM
  [0xff10, 0xff19], // fullwidth digits
  [0xfff0, 0xfffd], // specials, replacement character
  [0x1f300, 0x1f6ff], // emoji (astral)
  [0x10fff0, 0x10ffff], // the last plane
];
