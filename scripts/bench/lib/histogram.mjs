// The one latency histogram of the benches: every phase of webhooks/ and ws/ records into
// it, and so do the fan-out client processes (ws/fanout-clients.mjs), whose bucket counts
// merge with the parent's by adding them. Plain JS (types in histogram.d.mts) so that
// those client processes load it without a TypeScript loader.
//
// Values in µs: 1 µs buckets below 1,024 µs, then 512 sub-buckets per power of two
// (≤ 0.2% error); a percentile is its bucket's midpoint, the max is exact when recorded here.

export function bucketOf(us) {
  const v = Math.max(0, Math.min(2 ** 31 - 1, Math.round(us)));
  if (v < 1024) return v;
  const e = 31 - Math.clz32(v) - 9;
  return 1024 + (e - 1) * 512 + ((v >> e) - 512);
}

export function bucketValueUs(b) {
  if (b < 1024) return b;
  const j = b - 1024;
  const e = Math.floor(j / 512) + 1;
  const sub = (j % 512) + 512;
  return sub * 2 ** e + 2 ** (e - 1); // the bucket's midpoint
}

const r2 = (x) => Math.round(x * 100) / 100;

export class Hist {
  counts = new Map();
  n = 0;
  maxMs = 0;

  recordMs(ms) {
    const b = bucketOf(ms * 1000);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.n++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** Adds another histogram's buckets (its toJSON()), e.g. from a client process. */
  addSerialized(entries, maxMs = 0) {
    for (const [b, c] of entries) {
      this.counts.set(b, (this.counts.get(b) ?? 0) + c);
      this.n += c;
    }
    if (maxMs > this.maxMs) this.maxMs = maxMs;
  }

  /** The buckets as [bucket, count] pairs: what crosses the IPC channel. */
  toJSON() {
    return [...this.counts.entries()];
  }

  /** Percentile in ms (the bucket's midpoint), 0 when empty. */
  pct(p) {
    if (this.n === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((a, z) => a - z)) {
      seen += this.counts.get(b);
      if (seen >= rank) return bucketValueUs(b) / 1000;
    }
    return this.maxMs;
  }

  /** Max in ms: the exact value when recorded here, else the top bucket. */
  max() {
    if (this.maxMs > 0) return this.maxMs;
    return this.n === 0 ? 0 : bucketValueUs(Math.max(...this.counts.keys())) / 1000;
  }

  summary() {
    return { n: this.n, p50: r2(this.pct(50)), p90: r2(this.pct(90)), p99: r2(this.pct(99)), max: r2(this.max()) };
  }
}
