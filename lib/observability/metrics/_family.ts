/**
 * The internals shared by the metrics of this folder, not exported from the
 * package: {@linkcode Family}, the series of one metric by label values;
 * the checks of metric names, label names and bucket bounds; and the text
 * exposition helpers ({@linkcode formatValue}, {@linkcode header} and the
 * escaping they use).
 *
 * Only the files of `lib/observability/metrics/` may import it.
 *
 * @module
 */

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Throws unless `name` is a valid Prometheus metric name. */
export function checkName(name: string): void {
  if (typeof name !== "string" || !METRIC_NAME.test(name)) {
    throw new TypeError(
      `Invalid metric name ${
        JSON.stringify(name)
      }: it must match ${METRIC_NAME.source}`,
    );
  }
}

/**
 * Checks the label names of metric `name` (and that none is `reserved`),
 * returning them frozen.
 */
export function checkLabelNames(
  name: string,
  labels: { names: readonly string[]; reserved?: string },
): readonly string[] {
  const { names: labelNames, reserved } = labels;
  const seen = new Set<string>();
  for (const label of labelNames) {
    if (typeof label !== "string" || !LABEL_NAME.test(label)) {
      throw new TypeError(
        `Invalid label name ${JSON.stringify(label)} of metric ${name}: ` +
          `it must match ${LABEL_NAME.source}`,
      );
    }
    if (label.startsWith("__")) {
      throw new TypeError(
        `Invalid label name ${label} of metric ${name}: names starting with __ are reserved`,
      );
    }
    if (label === reserved) {
      throw new TypeError(
        `Invalid label name ${label} of metric ${name}: it is reserved for histogram buckets`,
      );
    }
    if (seen.has(label)) {
      throw new TypeError(`Label ${label} of metric ${name} is given twice`);
    }
    seen.add(label);
  }
  return Object.freeze([...labelNames]);
}

/**
 * Checks the bucket bounds of histogram `name`: finite and strictly
 * increasing. Returns them as a new array.
 */
export function checkBuckets(
  name: string,
  buckets: readonly number[],
): number[] {
  const checked: number[] = [];
  for (const bound of buckets) {
    if (typeof bound !== "number" || !Number.isFinite(bound)) {
      throw new RangeError(
        `Bucket bounds of histogram ${name} must be finite numbers, got ${bound}`,
      );
    }
    if (checked.length > 0 && !(bound > checked[checked.length - 1])) {
      throw new RangeError(
        `Bucket bounds of histogram ${name} must be strictly increasing, got ${bound} after ${
          checked[checked.length - 1]
        }`,
      );
    }
    checked.push(bound);
  }
  return checked;
}

/** Formats a sample value (or a bucket bound) as Prometheus spells it. */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value); // "NaN" for NaN, "0" for -0, "1e+21" for large
}

function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

function escapeLabelValue(value: string): string {
  return value.replace(
    /[\\"\n]/g,
    (c) => c === "\n" ? "\\n" : c === '"' ? '\\"' : "\\\\",
  );
}

/** The `# HELP` and `# TYPE` lines of a metric. */
export function header(metric: {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
}): string {
  const { name, help, type } = metric;
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}

/** Whether two lists hold the same items in the same order. */
export function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

/** One series of a metric, with what rendering and reading it need. */
export interface Entry<C> {
  readonly child: C;
  readonly labels: Readonly<Record<string, string>>;
  /** `l1="v1",l2="v2"`, escaped: empty for the unlabelled series. */
  readonly pairs: string;
}

/** The series of one metric, by their label values, in first-use order. */
export class Family<C> {
  readonly #name: string;
  readonly #labelNames: readonly string[];
  readonly entries = new Map<string, Entry<C>>();

  constructor(name: string, labelNames: readonly string[]) {
    this.#name = name;
    this.#labelNames = labelNames;
  }

  /** The child for `values`, made by `make` the first time. */
  get(values: string[], make: (values: readonly string[]) => C): C {
    const names = this.#labelNames;
    if (values.length !== names.length) {
      throw new TypeError(
        `Metric ${this.#name} has ${names.length} label(s) (${
          names.join(", ")
        }), got ${values.length} value(s)`,
      );
    }
    // No value holds a NUL once stored (checked below), so a hit by this key
    // is always the series of exactly these values.
    const key = values.join("\u0000");
    const entry = this.entries.get(key);
    if (entry !== undefined) return entry.child;
    const labels: Record<string, string> = {};
    const pairs: string[] = [];
    for (let i = 0; i < names.length; i++) {
      const value = values[i];
      if (typeof value !== "string" || value.includes("\u0000")) {
        throw new TypeError(
          `Label ${
            names[i]
          } of metric ${this.#name} must be a string without NUL, got ${
            typeof value === "string" ? JSON.stringify(value) : typeof value
          }`,
        );
      }
      labels[names[i]] = value;
      pairs.push(`${names[i]}="${escapeLabelValue(value)}"`);
    }
    const frozen = Object.freeze([...values]);
    const child = make(frozen);
    this.entries.set(key, {
      child,
      labels: Object.freeze(labels),
      pairs: pairs.join(","),
    });
    return child;
  }

  /** The unlabelled series, if the metric has no labels. */
  unlabelled(): C | undefined {
    return this.#labelNames.length === 0
      ? this.entries.get("")?.child
      : undefined;
  }

  unlabelledError(what: string): TypeError {
    return new TypeError(
      `Metric ${this.#name} has labels (${
        this.#labelNames.join(", ")
      }): ${what} a child from labels()`,
    );
  }
}
