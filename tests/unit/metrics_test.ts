import assert from "node:assert/strict";
import { Counter } from "../../lib/observability/metrics/counter.ts";
import { Gauge } from "../../lib/observability/metrics/gauge.ts";
import {
  DEFAULT_LATENCY_BUCKETS,
  Histogram,
} from "../../lib/observability/metrics/histogram.ts";
import { quantileOf } from "../../lib/observability/metrics/quantile.ts";
import {
  MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from "../../lib/observability/metrics/registry.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  ...opts,
  name: "MetricsRegistry.render() renders counters, gauges and histograms",
  fn() {
    const registry = new MetricsRegistry();
    const calls = registry.counter("rpc_calls_total", "Calls made.", {
      labels: ["method", "outcome"],
    });
    let pending = 0;
    registry.gauge("rpc_pending", "Calls waiting for a reply.", {
      collect: (gauge) => gauge.set(pending),
    });
    const latency = registry.histogram("rpc_seconds", "Call latency.", {
      labels: ["method"],
      buckets: [0.005, 0.05, 0.5],
    });
    registry.counter("rpc_errors_total", "Errors.", {
      labels: ["code"],
    });
    registry.counter("reconnects_total", "Reconnections.");

    calls.labels("fib", "ok").inc();
    calls.labels("fib", "ok").inc(2);
    calls.labels("fib", "timeout").inc();
    calls.labels("add", "ok").inc();
    pending = 7;
    const fib = latency.labels("fib");
    fib.observe(0.001);
    fib.observe(0.005);
    fib.observe(0.03);
    fib.observe(2);
    latency.labels("add").observe(0.25);

    assert.equal(
      registry.render(),
      `# HELP rpc_calls_total Calls made.
# TYPE rpc_calls_total counter
rpc_calls_total{method="fib",outcome="ok"} 3
rpc_calls_total{method="fib",outcome="timeout"} 1
rpc_calls_total{method="add",outcome="ok"} 1
# HELP rpc_pending Calls waiting for a reply.
# TYPE rpc_pending gauge
rpc_pending 7
# HELP rpc_seconds Call latency.
# TYPE rpc_seconds histogram
rpc_seconds_bucket{method="fib",le="0.005"} 2
rpc_seconds_bucket{method="fib",le="0.05"} 3
rpc_seconds_bucket{method="fib",le="0.5"} 3
rpc_seconds_bucket{method="fib",le="+Inf"} 4
rpc_seconds_sum{method="fib"} 2.036
rpc_seconds_count{method="fib"} 4
rpc_seconds_bucket{method="add",le="0.005"} 0
rpc_seconds_bucket{method="add",le="0.05"} 0
rpc_seconds_bucket{method="add",le="0.5"} 1
rpc_seconds_bucket{method="add",le="+Inf"} 1
rpc_seconds_sum{method="add"} 0.25
rpc_seconds_count{method="add"} 1
# HELP rpc_errors_total Errors.
# TYPE rpc_errors_total counter
# HELP reconnects_total Reconnections.
# TYPE reconnects_total counter
reconnects_total 0
`,
    );
    pending = 2;
    assert.match(registry.render(), /^rpc_pending 2$/m);
  },
});

Deno.test({
  ...opts,
  name: "MetricsRegistry.render() renders an unlabelled histogram from zero",
  fn() {
    const registry = new MetricsRegistry();
    registry.histogram("size_bytes", "Sizes.", { buckets: [10, 1e21] });
    assert.equal(
      registry.render(),
      `# HELP size_bytes Sizes.
# TYPE size_bytes histogram
size_bytes_bucket{le="10"} 0
size_bytes_bucket{le="1e+21"} 0
size_bytes_bucket{le="+Inf"} 0
size_bytes_sum 0
size_bytes_count 0
`,
    );
    assert.equal(new MetricsRegistry().render(), "");
  },
});

Deno.test({
  ...opts,
  name: "MetricsRegistry.render() escapes help text and label values",
  fn() {
    const registry = new MetricsRegistry();
    registry.counter("odd_total", 'Help with \\ and\nnewline and "quotes".', {
      labels: ["value"],
    }).labels('back\\slash "quoted"\nnext line').inc();
    assert.equal(
      registry.render(),
      `# HELP odd_total Help with \\\\ and\\nnewline and "quotes".
# TYPE odd_total counter
odd_total{value="back\\\\slash \\"quoted\\"\\nnext line"} 1
`,
    );
  },
});

Deno.test({
  ...opts,
  name: "MetricsRegistry.render() spells infinities and NaN as Prometheus does",
  fn() {
    const registry = new MetricsRegistry();
    const gauge = registry.gauge("g", "G.", { labels: ["k"] });
    gauge.labels("pos").set(Infinity);
    gauge.labels("neg").set(-Infinity);
    gauge.labels("nan").set(NaN);
    gauge.labels("int").set(-42);
    gauge.labels("frac").set(0.125);
    gauge.labels("zero").set(-0);
    assert.equal(
      registry.render(),
      `# HELP g G.
# TYPE g gauge
g{k="pos"} +Inf
g{k="neg"} -Inf
g{k="nan"} NaN
g{k="int"} -42
g{k="frac"} 0.125
g{k="zero"} 0
`,
    );
  },
});

Deno.test({
  ...opts,
  name: "MetricsRegistry.CONTENT_TYPE is the text format 0.0.4",
  fn() {
    assert.equal(
      MetricsRegistry.CONTENT_TYPE,
      "text/plain; version=0.0.4; charset=utf-8",
    );
    assert.equal(PROMETHEUS_CONTENT_TYPE, MetricsRegistry.CONTENT_TYPE);
  },
});

Deno.test({
  ...opts,
  name: "MetricsRegistry returns the same metric when registered again alike",
  fn() {
    const registry = new MetricsRegistry();
    const counter = registry.counter("c_total", "C.", { labels: ["a", "b"] });
    assert.equal(
      registry.counter("c_total", "C.", { labels: ["a", "b"] }),
      counter,
    );
    const gauge = registry.gauge("g", "G.");
    assert.equal(registry.gauge("g", "G.", {}), gauge);
    const histogram = registry.histogram("h", "H.");
    assert.equal(
      registry.histogram("h", "H.", { buckets: [...DEFAULT_LATENCY_BUCKETS] }),
      histogram,
    );
    const custom = registry.histogram("h2", "H.", { buckets: [1, 2] });
    assert.equal(registry.histogram("h2", "H.", { buckets: [1, 2] }), custom);

    // Two clients sharing the registry share series.
    counter.labels("x", "y").inc();
    registry.counter("c_total", "C.", { labels: ["a", "b"] }).labels("x", "y")
      .inc();
    assert.equal(counter.labels("x", "y").value, 2);
  },
});

Deno.test({
  ...opts,
  name: "MetricsRegistry throws TypeError when a name is registered otherwise",
  fn() {
    const registry = new MetricsRegistry();
    registry.counter("m", "Help.", { labels: ["a"] });
    registry.histogram("h", "H.", { buckets: [1, 2] });
    assert.throws(
      () => registry.gauge("m", "Help.", { labels: ["a"] }),
      { name: "TypeError", message: /already registered as a counter/ },
    );
    assert.throws(
      () => registry.counter("m", "Other help.", { labels: ["a"] }),
      { name: "TypeError", message: /already registered with help/ },
    );
    assert.throws(
      () => registry.counter("m", "Help."),
      { name: "TypeError", message: /already registered with labels \[a\]/ },
    );
    assert.throws(
      () => registry.counter("m", "Help.", { labels: ["b"] }),
      TypeError,
    );
    assert.throws(
      () => registry.histogram("h", "H.", { buckets: [1, 3] }),
      { name: "TypeError", message: /already registered with buckets/ },
    );
    assert.throws(() => registry.histogram("h", "H."), TypeError);
  },
});

Deno.test({
  ...opts,
  name: "MetricsRegistry.gauge() adds the collect of a second registration",
  fn() {
    const registry = new MetricsRegistry();
    const first = (gauge: Gauge) => gauge.labels("one").set(1);
    const second = (gauge: Gauge) => gauge.labels("two").set(2);
    const gauge = registry.gauge("g", "G.", { labels: ["c"], collect: first });
    assert.equal(
      registry.gauge("g", "G.", { labels: ["c"], collect: second }),
      gauge,
    );
    assert.deepEqual(gauge.series(), [
      { labels: { c: "one" }, value: 1 },
      { labels: { c: "two" }, value: 2 },
    ]);
    assert.equal(gauge.removeCollect(first), true);
    assert.equal(gauge.removeCollect(first), false);
    gauge.labels("one").set(0);
    gauge.labels("two").set(0);
    assert.match(registry.render(), /g\{c="one"\} 0\ng\{c="two"\} 2\n$/);
  },
});

Deno.test({
  ...opts,
  name: "Gauge collect may read the gauge's series without recursing",
  fn() {
    let seen = -1;
    const gauge = new Gauge("g", "G.", {
      collect: (g) => {
        seen = g.series().length;
        g.set(5);
      },
    });
    assert.deepEqual(gauge.series(), [{ labels: {}, value: 5 }]);
    assert.equal(seen, 1);
  },
});

Deno.test({
  ...opts,
  name: "MetricsRegistry rejects invalid metric and label names with TypeError",
  fn() {
    const registry = new MetricsRegistry();
    for (const name of ["", "1abc", "a-b", "a b", "é"]) {
      assert.throws(() => registry.counter(name, "H."), TypeError, name);
    }
    for (const name of ["a", "_a", "a:b", ":a", "A_1"]) {
      registry.counter(name, "H.");
    }
    for (const label of ["", "1a", "a:b", "__a", "a-b"]) {
      assert.throws(
        () => registry.gauge("g", "H.", { labels: [label] }),
        TypeError,
        label,
      );
    }
    assert.throws(
      () => registry.gauge("g", "H.", { labels: ["a", "a"] }),
      TypeError,
    );
    assert.throws(
      () => registry.histogram("h", "H.", { labels: ["le"] }),
      { name: "TypeError", message: /reserved for histogram buckets/ },
    );
    registry.counter("c_total", "H.", { labels: ["le", "_a"] });
  },
});

Deno.test({
  ...opts,
  name: "MetricsRegistry.histogram() rejects bad buckets with RangeError",
  fn() {
    const registry = new MetricsRegistry();
    for (
      const buckets of [[1, 1], [2, 1], [1, Infinity], [NaN], [-Infinity, 0]]
    ) {
      assert.throws(
        () => registry.histogram("h", "H.", { buckets }),
        RangeError,
        `${buckets}`,
      );
    }
    assert.deepEqual(
      registry.histogram("h", "H.", { buckets: [-1, 0, 0.5] }).buckets,
      [-1, 0, 0.5],
    );
  },
});

Deno.test({
  ...opts,
  name: "Counter.labels() returns the same child for the same values",
  fn() {
    const counter = new Counter("c_total", "C.", { labels: ["a", "b"] });
    const child = counter.labels("x", "y");
    assert.equal(counter.labels("x", "y"), child);
    assert.notEqual(counter.labels("x", "z"), child);
    assert.deepEqual(child.labelValues, ["x", "y"]);
    // Values holding the key separator can't make two series collide.
    assert.throws(() => counter.labels("x\u0000", "y"), TypeError);
    assert.throws(() => counter.labels("x", "y\u0000"), TypeError);
    assert.equal(counter.labels("x", "y"), child);
  },
});

Deno.test({
  ...opts,
  name: "Counter.labels() throws TypeError for the wrong number of values",
  fn() {
    const counter = new Counter("c_total", "C.", { labels: ["a", "b"] });
    assert.throws(() => counter.labels("x"), {
      name: "TypeError",
      message: /has 2 label\(s\) \(a, b\), got 1 value/,
    });
    assert.throws(() => counter.labels("x", "y", "z"), TypeError);
    assert.throws(() => counter.labels(), TypeError);
    const unlabelled = new Counter("u_total", "U.");
    unlabelled.labels().inc(3);
    assert.equal(unlabelled.value, 3);
    assert.throws(() => unlabelled.labels("x"), TypeError);
  },
});

Deno.test({
  ...opts,
  name: "Counter refuses to go down and to be used unlabelled with labels",
  fn() {
    const counter = new Counter("c_total", "C.");
    counter.inc();
    counter.inc(0.5);
    counter.inc(0);
    assert.equal(counter.value, 1.5);
    assert.throws(() => counter.inc(-1), RangeError);
    assert.throws(() => counter.inc(NaN), RangeError);
    assert.equal(counter.value, 1.5);

    const labelled = new Counter("l_total", "L.", { labels: ["a"] });
    assert.throws(() => labelled.inc(), {
      name: "TypeError",
      message: /has labels \(a\)/,
    });
    assert.throws(() => labelled.value, TypeError);
    assert.throws(() => labelled.labels("x").inc(-0.1), RangeError);
  },
});

Deno.test({
  ...opts,
  name: "Counter.series() and Gauge.series() list values in first-use order",
  fn() {
    const counter = new Counter("c_total", "C.", { labels: ["m"] });
    counter.labels("b").inc(2);
    counter.labels("a").inc();
    counter.labels("b").inc();
    const series = counter.series();
    assert.deepEqual(series, [
      { labels: { m: "b" }, value: 3 },
      { labels: { m: "a" }, value: 1 },
    ]);
    series[0].labels.m = "changed";
    assert.deepEqual(counter.series()[0].labels, { m: "b" });

    const gauge = new Gauge("g", "G.");
    gauge.set(10);
    gauge.inc();
    gauge.dec(4);
    assert.deepEqual(gauge.series(), [{ labels: {}, value: 7 }]);
    const child = new Gauge("l", "L.", { labels: ["q"] }).labels("x");
    child.set(2);
    child.inc(3);
    child.dec();
    assert.equal(child.value, 4);
    assert.throws(
      () => new Gauge("l", "L.", { labels: ["q"] }).set(1),
      TypeError,
    );
  },
});

Deno.test({
  ...opts,
  name: "Histogram counts are cumulative, with +Inf equal to the count",
  fn() {
    const histogram = new Histogram("h", "H.", { buckets: [1, 2, 5] });
    for (const value of [0, 1, 1.5, 2, 3, 5, 6, 100, -3]) {
      histogram.observe(value);
    }
    const snapshot = histogram.snapshot();
    assert.deepEqual(snapshot, {
      buckets: [1, 2, 5],
      counts: [3, 5, 7, 9],
      sum: 115.5,
      count: 9,
    });
    histogram.observe(NaN);
    assert.deepEqual(histogram.snapshot().counts, [3, 5, 7, 10]);
    assert.ok(Number.isNaN(histogram.snapshot().sum));
    assert.equal(histogram.snapshot().count, 10);
  },
});

Deno.test({
  ...opts,
  name: "Histogram.series() snapshots every labelled series",
  fn() {
    const histogram = new Histogram("h", "H.", {
      labels: ["m"],
      buckets: [1],
    });
    const fib = histogram.labels("fib");
    assert.equal(histogram.labels("fib"), fib);
    fib.observe(0.5);
    fib.observe(4);
    histogram.labels("add").observe(1);
    assert.deepEqual(histogram.series(), [
      {
        labels: { m: "fib" },
        snapshot: { buckets: [1], counts: [1, 2], sum: 4.5, count: 2 },
      },
      {
        labels: { m: "add" },
        snapshot: { buckets: [1], counts: [1, 1], sum: 1, count: 1 },
      },
    ]);
    assert.throws(() => histogram.observe(1), TypeError);
    assert.throws(() => histogram.snapshot(), TypeError);
    assert.equal(new Histogram("d", "D.").buckets, DEFAULT_LATENCY_BUCKETS);
  },
});

Deno.test({
  ...opts,
  name: "quantileOf() interpolates linearly inside the bucket",
  fn() {
    // 100 values spread evenly: 10 per bucket of width 1.
    const histogram = new Histogram("h", "H.", {
      buckets: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    });
    for (let i = 0; i < 100; i++) histogram.observe(i / 10 + 0.05);
    const snapshot = histogram.snapshot();
    assert.equal(quantileOf(snapshot, 0.5), 5);
    assert.equal(quantileOf(snapshot, 0.25), 2.5);
    assert.equal(quantileOf(snapshot, 0.05), 0.5);
    assert.equal(quantileOf(snapshot, 1), 10);
    assert.equal(quantileOf(snapshot, 0), 0);
    assert.equal(quantileOf(snapshot, -0.1), -Infinity);
    assert.equal(quantileOf(snapshot, 1.1), Infinity);
    assert.ok(Number.isNaN(quantileOf(snapshot, NaN)));
  },
});

Deno.test({
  ...opts,
  name: "quantileOf() gives the highest bound in +Inf and NaN when empty",
  fn() {
    const histogram = new Histogram("h", "H.", { buckets: [1, 10] });
    assert.ok(Number.isNaN(quantileOf(histogram.snapshot(), 0.5)));
    histogram.observe(0.5);
    histogram.observe(50);
    histogram.observe(60);
    histogram.observe(70);
    const snapshot = histogram.snapshot();
    assert.equal(quantileOf(snapshot, 0.9), 10);
    assert.equal(quantileOf(snapshot, 0.1), 0.4);
    // Empty buckets before the first observation: q = 0 is its lower bound.
    const late = new Histogram("l", "L.", { buckets: [1, 2, 4] });
    late.observe(3);
    assert.equal(quantileOf(late.snapshot(), 0), 2);
    assert.equal(quantileOf(late.snapshot(), 0.5), 3);
    // A first bucket at or under zero is returned as is.
    const negative = new Histogram("n", "N.", { buckets: [-1, 1] });
    negative.observe(-5);
    assert.equal(quantileOf(negative.snapshot(), 0.5), -1);
    // No finite bucket: nothing to interpolate.
    const none = new Histogram("x", "X.", { buckets: [] });
    none.observe(1);
    assert.ok(Number.isNaN(quantileOf(none.snapshot(), 0.5)));
  },
});
