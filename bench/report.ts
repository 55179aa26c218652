/**
 * The benchmark's arithmetic and its reports: medians and ranges over rounds,
 * ratios to the raw ping-pong, the goals, and the terminal table, the
 * Markdown and the SVG chart made from them.
 *
 * @module
 */

import type { Measurement } from "./run_side.ts";

/** One implementation's measurement of one cell in one round. */
export interface Sample {
  round: number;
  impl: string;
  payload: number;
  concurrency: number;
  client: Measurement;
  /** Worker CPU time (user + system) during the measurement, in µs. */
  workerCpu: number;
  /** Requests the worker answered during the measurement. */
  workerHandled: number;
  /**
   * The broker's CPU time during the measurement, in µs, if it runs on this
   * machine and its process could be read.
   */
  brokerCpu?: number | null;
  workerRss: number;
}

/** A median and the range over rounds. */
export interface Stat {
  median: number;
  min: number;
  max: number;
}

/** One implementation in one cell, over all rounds. */
export interface Summary {
  impl: string;
  payload: number;
  concurrency: number;
  rounds: number;
  callsPerSecond: Stat;
  p50: Stat;
  p90: Stat;
  p99: Stat;
  max: Stat;
  /** Client and worker CPU time per call, in µs. */
  clientCpuPerCall: Stat;
  workerCpuPerCall: Stat;
  /** The broker's CPU time per call, if measured. */
  brokerCpuPerCall: Stat | null;
  clientRssMiB: Stat;
  workerRssMiB: Stat;
  /** Per-round throughput and p50 latency over raw's in the same round. */
  throughputVsRaw: Stat | null;
  p50VsRaw: Stat | null;
  calls: number;
  errors: number;
  wrong: number;
  stuck: number;
  firstError: string | null;
}

/** A goal of the issue and whether this run meets it. */
export interface Goal {
  goal: string;
  ratio: Stat | null;
  met: boolean | null;
}

/** The machine and the broker the figures come from. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number | null;
  os: string;
  deno: string;
  v8: string;
  rabbitmq: string;
  loadBefore: number[] | null;
  loadAfter: number[] | null;
}

/** The whole result, as `--json` prints it and `latest.json` holds it. */
export interface Report {
  date: string;
  mode: string;
  command: string;
  seconds: number;
  settings: {
    rounds: number;
    measureMs: number;
    warmupMs: number;
    tutorialMaxInFlight: number;
    implementations: string[];
    cells: { payload: number; concurrency: number }[];
  };
  machine: Machine;
  goals: Goal[];
  results: Summary[];
  samples: Sample[];
}

/** Display names, in display order. */
export const LABELS: Record<string, string> = {
  ours: "rabbit-rpc (ours)",
  baseline: "rabbit-rpc (baseline, --baseline)",
  raw: "raw ping-pong (limit)",
  direct: "plain RPC on amqp-client",
  rmqc: "rabbitmq-client RPCClient",
  tutorial: "tutorial: connection per call",
};

const COLORS: Record<string, string> = {
  ours: "#d62728",
  baseline: "#ff7f0e",
  raw: "#222222",
  direct: "#1f77b4",
  rmqc: "#2ca02c",
  tutorial: "#9467bd",
};

export function stat(values: number[]): Stat {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1] };
}

const MiB = 1024 * 1024;

export function summarize(samples: Sample[]): Summary[] {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${s.payload}/${s.concurrency}/${s.impl}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const rawOf = (s: Sample) =>
    samples.find((r) =>
      r.impl === "raw" && r.round === s.round && r.payload === s.payload &&
      r.concurrency === s.concurrency
    );
  const out: Summary[] = [];
  for (const group of groups.values()) {
    const first = group[0];
    const paired = group.map((s) => [s, rawOf(s)] as const)
      .filter(([, r]) => r !== undefined && r.client.calls > 0);
    out.push({
      impl: first.impl,
      payload: first.payload,
      concurrency: first.concurrency,
      rounds: group.length,
      callsPerSecond: stat(group.map((s) => s.client.callsPerSecond)),
      p50: stat(group.map((s) => s.client.p50)),
      p90: stat(group.map((s) => s.client.p90)),
      p99: stat(group.map((s) => s.client.p99)),
      max: stat(group.map((s) => s.client.max)),
      clientCpuPerCall: stat(
        group.map((s) =>
          (s.client.cpuUser + s.client.cpuSystem) / s.client.calls
        ),
      ),
      workerCpuPerCall: stat(
        group.map((s) => s.workerCpu / Math.max(1, s.workerHandled)),
      ),
      brokerCpuPerCall: group.every((s) => typeof s.brokerCpu === "number")
        ? stat(group.map((s) => s.brokerCpu! / s.client.calls))
        : null,
      clientRssMiB: stat(group.map((s) => s.client.rss / MiB)),
      workerRssMiB: stat(group.map((s) => s.workerRss / MiB)),
      throughputVsRaw: paired.length
        ? stat(
          paired.map(([s, r]) =>
            s.client.callsPerSecond / r!.client.callsPerSecond
          ),
        )
        : null,
      p50VsRaw: paired.length
        ? stat(paired.map(([s, r]) => s.client.p50 / r!.client.p50))
        : null,
      calls: sum(group.map((s) => s.client.calls)),
      errors: sum(group.map((s) => s.client.errors)),
      wrong: sum(group.map((s) => s.client.wrong)),
      stuck: sum(group.map((s) => s.client.stuck)),
      firstError: group.find((s) => s.client.firstError)?.client.firstError ??
        null,
    });
  }
  const order = Object.keys(LABELS);
  return out.sort((a, b) =>
    a.payload - b.payload || a.concurrency - b.concurrency ||
    order.indexOf(a.impl) - order.indexOf(b.impl)
  );
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** The issue's four goals, as ratios of paired (same-round) measurements. */
export function goals(samples: Sample[]): Goal[] {
  const ratio = (
    a: string,
    b: string,
    concurrency: number,
    value: (m: Measurement) => number,
  ): Stat | null => {
    const pairs = samples.filter((s) =>
      s.impl === a && s.payload === 8 && s.concurrency === concurrency
    ).flatMap((s) => {
      const o = samples.find((t) =>
        t.impl === b && t.round === s.round && t.payload === 8 &&
        t.concurrency === concurrency
      );
      return o && value(o.client) > 0
        ? [value(s.client) / value(o.client)]
        : [];
    });
    return pairs.length ? stat(pairs) : null;
  };
  const tp = (m: Measurement) => m.callsPerSecond;
  const p50 = (m: Measurement) => m.p50;
  const list: [string, Stat | null, (r: number) => boolean][] = [
    [
      "ours ≥ 0.90× raw throughput, 100 in flight",
      ratio("ours", "raw", 100, tp),
      (r) => r >= 0.9,
    ],
    [
      "ours ≤ 1.15× raw p50 latency, 1 in flight",
      ratio("ours", "raw", 1, p50),
      (r) => r <= 1.15,
    ],
    [
      "ours ≥ 2× rabbitmq-client throughput, 100 in flight",
      ratio("ours", "rmqc", 100, tp),
      (r) => r >= 2,
    ],
    [
      "ours ≥ 12× tutorial throughput, 1 in flight",
      ratio("ours", "tutorial", 1, tp),
      (r) => r >= 12,
    ],
  ];
  return list.map(([goal, r, ok]) => ({
    goal: `${goal} (8 B)`,
    ratio: r,
    met: r ? ok(r.median) : null,
  }));
}

// ---- formatting ----

export function bytes(n: number): string {
  return n >= 1024 * 1024
    ? `${n / (1024 * 1024)} MiB`
    : n >= 1024
    ? `${n / 1024} KiB`
    : `${n} B`;
}

function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–";
}

function ms(n: number): string {
  if (!Number.isFinite(n)) return "–";
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0);
}

function x(s: Stat | null): string {
  return s && Number.isFinite(s.median)
    ? `${s.median.toFixed(s.median < 10 ? 2 : 1)}×`
    : "–";
}

function range(s: Stat, f: (n: number) => string): string {
  return s.min === s.max ? f(s.median) : `${f(s.min)}–${f(s.max)}`;
}

interface Column {
  head: string;
  cell: (s: Summary) => string;
  left?: boolean;
}

function columns(withRanges: boolean): Column[] {
  return [
    {
      head: "implementation",
      cell: (s) => LABELS[s.impl] ?? s.impl,
      left: true,
    },
    { head: "calls/s", cell: (s) => int(s.callsPerSecond.median) },
    ...(withRanges
      ? [{ head: "range", cell: (s: Summary) => range(s.callsPerSecond, int) }]
      : []),
    { head: "×raw", cell: (s) => x(s.throughputVsRaw) },
    { head: "p50 ms", cell: (s) => ms(s.p50.median) },
    { head: "p90", cell: (s) => ms(s.p90.median) },
    { head: "p99", cell: (s) => ms(s.p99.median) },
    { head: "max", cell: (s) => ms(s.max.median) },
    ...(withRanges
      ? [{ head: "p50 range", cell: (s: Summary) => range(s.p50, ms) }]
      : []),
    { head: "p50 ×raw", cell: (s) => x(s.p50VsRaw) },
    { head: "CPU µs/call client", cell: (s) => int(s.clientCpuPerCall.median) },
    { head: "worker", cell: (s) => int(s.workerCpuPerCall.median) },
    {
      head: "broker",
      cell: (s) => s.brokerCpuPerCall ? int(s.brokerCpuPerCall.median) : "n/a",
    },
    { head: "RSS MiB client", cell: (s) => int(s.clientRssMiB.median) },
    { head: "worker", cell: (s) => int(s.workerRssMiB.median) },
    {
      head: "errors",
      cell: (s) => String(s.errors + s.wrong + s.stuck),
    },
  ];
}

function cellsOf(results: Summary[]): Summary[][] {
  const out: Summary[][] = [];
  for (const s of results) {
    const last = out.at(-1);
    if (
      last && last[0].payload === s.payload &&
      last[0].concurrency === s.concurrency
    ) last.push(s);
    else out.push([s]);
  }
  return out;
}

function goalLine(g: Goal): string {
  const verdict = g.met === null ? "not measured" : g.met ? "met" : "NOT met";
  const r = g.ratio
    ? `${g.ratio.median.toFixed(2)}× (rounds ${g.ratio.min.toFixed(2)}–${
      g.ratio.max.toFixed(2)
    })`
    : "–";
  return `${g.goal}: ${r} ${verdict}`;
}

/** The terminal report: one table per cell, then the goals. */
export function terminalReport(report: Report): string {
  const withRanges = report.settings.rounds > 1;
  const cols = columns(withRanges);
  const lines: string[] = [];
  for (const group of cellsOf(report.results)) {
    const rows = group.map((s) => cols.map((c) => c.cell(s)));
    const widths = cols.map((c, i) =>
      Math.max(c.head.length, ...rows.map((r) => r[i].length))
    );
    const fmt = (r: string[]) =>
      r.map((v, i) =>
        cols[i].left ? v.padEnd(widths[i]) : v.padStart(widths[i])
      )
        .join("  ");
    lines.push(
      "",
      `${bytes(group[0].payload)}, ${group[0].concurrency} in flight`,
      fmt(cols.map((c) => c.head)),
      ...rows.map(fmt),
    );
  }
  lines.push("", "Goals (median of same-round ratios):");
  for (const g of report.goals) lines.push(`  ${goalLine(g)}`);
  const problems = report.results.filter((s) => s.errors || s.wrong || s.stuck);
  for (const s of problems) {
    lines.push(
      `  ${LABELS[s.impl]} at ${s.concurrency} in flight, ${
        bytes(s.payload)
      }: ${s.errors} errors, ${s.wrong} wrong, ${s.stuck} stuck; first: ${s.firstError}`,
    );
  }
  return lines.join("\n");
}

export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores${
    m.memoryGiB ? `, ${m.memoryGiB.toFixed(0)} GiB` : ""
  }, ${m.os}; Deno ${m.deno} (V8 ${m.v8}); RabbitMQ ${m.rabbitmq} on the same host`;
}

function settingsLine(r: Report): string {
  const s = r.settings;
  return `${r.mode} run of ${r.date.slice(0, 10)}: ${s.rounds} round${
    s.rounds === 1 ? "" : "s"
  }, ${s.measureMs} ms per measurement after ${s.warmupMs} ms of warm-up, implementations interleaved; ${
    Math.round(r.seconds)
  } s in all; load average before ${
    r.machine.loadBefore?.map((l) => l.toFixed(2)).join(" ") ?? "?"
  }, after ${r.machine.loadAfter?.map((l) => l.toFixed(2)).join(" ") ?? "?"}`;
}

function markdownTable(head: string[], rows: string[][], right: boolean[]) {
  const w = head.map((h, i) =>
    Math.max(3, h.length, ...rows.map((r) => r[i].length))
  );
  const line = (r: string[]) =>
    `| ${
      r.map((v, i) => right[i] ? v.padStart(w[i]) : v.padEnd(w[i])).join(" | ")
    } |`;
  return [
    line(head),
    `| ${
      w.map((n, i) => right[i] ? "-".repeat(n - 1) + ":" : "-".repeat(n)).join(
        " | ",
      )
    } |`,
    ...rows.map(line),
  ].join("\n");
}

/** The goals as a Markdown table. */
export function goalsMarkdown(report: Report): string {
  return markdownTable(
    ["Goal", "Ratio (median)", "Range over rounds", "Verdict"],
    report.goals.map((g) => [
      g.goal,
      g.ratio ? `${g.ratio.median.toFixed(2)}×` : "–",
      g.ratio ? `${g.ratio.min.toFixed(2)}–${g.ratio.max.toFixed(2)}×` : "–",
      g.met === null ? "not measured" : g.met ? "met" : "**not met**",
    ]),
    [false, true, true, false],
  );
}

/** A compact throughput table for the README: calls/s (×raw) per cell. */
export function summaryMarkdown(report: Report): string {
  const groups = cellsOf(report.results);
  const impls = report.settings.implementations;
  const head = [
    "Implementation",
    ...groups.map((g) => `${bytes(g[0].payload)} × ${g[0].concurrency}`),
  ];
  const rows = impls.map((impl) => [
    LABELS[impl] ?? impl,
    ...groups.map((g) => {
      const s = g.find((t) => t.impl === impl);
      if (!s) return "–";
      const r = impl === "raw" ? "" : ` (${x(s.throughputVsRaw)})`;
      return `${int(s.callsPerSecond.median)}${r}`;
    }),
  ]);
  const p50 = impls.map((impl) => [
    LABELS[impl] ?? impl,
    ...groups.map((g) => {
      const s = g.find((t) => t.impl === impl);
      return s ? `${ms(s.p50.median)} / ${ms(s.p99.median)}` : "–";
    }),
  ]);
  const right = head.map((_, i) => i > 0);
  return [
    "Calls per second (× the raw ping-pong), payload × calls in flight:",
    "",
    markdownTable(head, rows, right),
    "",
    "Latency p50 / p99 in ms:",
    "",
    markdownTable(head, p50, right),
  ].join("\n");
}

/** The whole Markdown report (`latest.md`). */
export function markdownReport(report: Report, svgName: string): string {
  const cols = columns(report.settings.rounds > 1);
  const parts = [
    "# rabbit-rpc benchmark",
    "",
    `Machine: ${machineLine(report.machine)}.`,
    "",
    `${settingsLine(report)}. Command: \`${report.command}\`.`,
    "",
    `Figures are medians over rounds; ranges are min–max over rounds; ratios (×raw) are medians of same-round ratios to the raw ping-pong. CPU is user + system time of each process per call, the broker's included when it runs on this machine (all of its process, so anything else it serves meanwhile counts too); RSS is each process's resident set after the measurement (the processes live through the whole run, so it includes what earlier, larger cells grew). The tutorial's approach is measured up to ${report.settings.tutorialMaxInFlight} calls in flight (beyond that it opens that many connections at once).`,
    "",
    "## Goals",
    "",
    goalsMarkdown(report),
    "",
    `![Latency and throughput against calls in flight](${svgName})`,
    "",
  ];
  for (const group of cellsOf(report.results)) {
    parts.push(
      `## ${bytes(group[0].payload)}, ${group[0].concurrency} in flight`,
      "",
      markdownTable(
        cols.map((c) => c.head),
        group.map((s) => cols.map((c) => c.cell(s))),
        cols.map((c) => !c.left),
      ),
      "",
    );
  }
  return parts.join("\n");
}

/**
 * The chart: p50 (solid) and p99 (dashed) latency, and throughput, against
 * calls in flight (log scales), 8 B payload, one line per implementation.
 */
export function svgChart(report: Report): string {
  const payload = report.results.some((s) => s.payload === 8)
    ? 8
    : report.results[0]?.payload ?? 8;
  const data = report.results.filter((s) => s.payload === payload);
  const impls = report.settings.implementations;
  const xs = [...new Set(data.map((s) => s.concurrency))].sort((a, b) => a - b);
  const W = 1000, H = 460;
  const panel = { w: 400, h: 300, top: 100 };
  const lefts = [80, 580];
  const xmin = Math.log10(Math.min(...xs, 1)),
    xmax = Math.log10(Math.max(...xs, 10));
  const xOf = (left: number, c: number) =>
    left + ((Math.log10(c) - xmin) / Math.max(1e-9, xmax - xmin)) * panel.w;
  const decades = (values: number[]) => {
    const v = values.filter((n) => Number.isFinite(n) && n > 0);
    const lo = Math.floor(Math.log10(v.length ? Math.min(...v) : 1));
    const hi = Math.ceil(Math.log10(v.length ? Math.max(...v) : 10));
    return [lo, hi === lo ? lo + 1 : hi];
  };
  const latency = decades(data.flatMap((s) => [s.p50.median, s.p99.median]));
  const through = decades(data.map((s) => s.callsPerSecond.median));
  const yOf = (range: number[], v: number) =>
    panel.top + panel.h -
    ((Math.log10(v) - range[0]) / (range[1] - range[0])) * panel.h;
  const esc = (s: string) =>
    s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${
      W / 2
    }" y="22" text-anchor="middle" font-size="15" font-weight="bold">rabbit-rpc benchmark: ${
      bytes(payload)
    } echo, medians of ${report.settings.rounds} round${
      report.settings.rounds === 1 ? "" : "s"
    }</text>`,
    `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${
      esc(machineLine(report.machine))
    }</text>`,
  ];
  const axes = (left: number, range: number[], title: string, unit: string) => {
    out.push(
      `<text x="${left + panel.w / 2}" y="${
        panel.top - 12
      }" text-anchor="middle" font-weight="bold">${title}</text>`,
      `<rect x="${left}" y="${panel.top}" width="${panel.w}" height="${panel.h}" fill="none" stroke="#888"/>`,
    );
    for (let d = range[0]; d <= range[1]; d++) {
      const y = yOf(range, 10 ** d);
      const label = 10 ** d >= 1000
        ? `${10 ** d / 1000}k`
        : `${+(10 ** d).toPrecision(1)}`;
      out.push(
        `<line x1="${left}" x2="${
          left + panel.w
        }" y1="${y}" y2="${y}" stroke="#ddd"/>`,
        `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${label}</text>`,
      );
    }
    for (const c of xs) {
      const xx = xOf(left, c);
      out.push(
        `<line x1="${xx}" x2="${xx}" y1="${panel.top}" y2="${
          panel.top + panel.h
        }" stroke="#eee"/>`,
        `<text x="${xx}" y="${
          panel.top + panel.h + 16
        }" text-anchor="middle">${c}</text>`,
      );
    }
    out.push(
      `<text x="${left + panel.w / 2}" y="${
        panel.top + panel.h + 34
      }" text-anchor="middle">calls in flight (log)</text>`,
      `<text transform="translate(${left - 48} ${
        panel.top + panel.h / 2
      }) rotate(-90)" text-anchor="middle">${unit}</text>`,
    );
  };
  axes(lefts[0], latency, "Latency: p50 (solid), p99 (dashed)", "ms (log)");
  axes(lefts[1], through, "Throughput", "calls/s (log)");
  const line = (
    impl: string,
    left: number,
    range: number[],
    value: (s: Summary) => number,
    dash: boolean,
  ) => {
    const points = data.filter((s) => s.impl === impl)
      .sort((a, b) => a.concurrency - b.concurrency)
      .filter((s) => Number.isFinite(value(s)) && value(s) > 0)
      .map((s) =>
        `${xOf(left, s.concurrency).toFixed(1)},${
          yOf(range, value(s)).toFixed(1)
        }`
      );
    if (!points.length) return;
    const width = impl === "ours" ? 3 : 1.6;
    out.push(
      `<polyline fill="none" stroke="${
        COLORS[impl] ?? "#777"
      }" stroke-width="${width}"${
        dash ? ' stroke-dasharray="5 4"' : ""
      } points="${points.join(" ")}"/>`,
      ...points.map((p) => {
        const [px, py] = p.split(",");
        return `<circle cx="${px}" cy="${py}" r="${dash ? 2 : 3}" fill="${
          COLORS[impl] ?? "#777"
        }"/>`;
      }),
    );
  };
  for (const impl of impls) {
    line(impl, lefts[0], latency, (s) => s.p50.median, false);
    line(impl, lefts[0], latency, (s) => s.p99.median, true);
    line(impl, lefts[1], through, (s) => s.callsPerSecond.median, false);
  }
  impls.forEach((impl, i) => {
    const lx = 15 + i * 190, ly = 62;
    out.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${
        COLORS[impl] ?? "#777"
      }" stroke-width="${impl === "ours" ? 3 : 2}"/>`,
      `<text x="${lx + 28}" y="${ly + 4}">${esc(LABELS[impl] ?? impl)}</text>`,
    );
  });
  out.push(
    `<text x="${W / 2}" y="${
      H - 8
    }" text-anchor="middle" fill="#555" font-size="11">${
      esc(settingsLine(report).replace(/; load average.*/, ""))
    }</text>`,
    "</svg>",
  );
  return out.join("\n") + "\n";
}
