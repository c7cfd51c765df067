// A minimal Prometheus registry: labelled counters and gauges, rendered as text. Enough
// for /metrics without a dependency on the hot path (an increment is a Map update).
type Labels = Record<string, string>;

class Series {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}
  key(labels: Labels): string {
    return Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
      .join(',');
  }
  add(labels: Labels, by: number): void {
    const k = this.key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  set(labels: Labels, v: number): void {
    this.values.set(this.key(labels), v);
  }
}

export class Metrics {
  private readonly series: Series[] = [];
  private readonly gauges: (() => void)[] = [];

  counter(name: string, help: string) {
    const s = new Series(name, help, 'counter');
    this.series.push(s);
    return { inc: (labels: Labels = {}, by = 1) => s.add(labels, by) };
  }

  gauge(name: string, help: string, collect: (set: (labels: Labels, v: number) => void) => void) {
    const s = new Series(name, help, 'gauge');
    this.series.push(s);
    this.gauges.push(() => collect((l, v) => s.set(l, v)));
  }

  render(): string {
    for (const g of this.gauges) g();
    const out: string[] = [];
    for (const s of this.series) {
      out.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`);
      for (const [k, v] of s.values) out.push(k ? `${s.name}{${k}} ${v}` : `${s.name} ${v}`);
    }
    return `${out.join('\n')}\n`;
  }
}

export function gatewayMetrics(m: Metrics) {
  return {
    http: m.counter('minutegate_http_requests_total', 'HTTP requests by route and status'),
    authorizations: m.counter('minutegate_call_authorizations_total', 'Call placements by decision'),
    signals: m.counter('minutegate_call_signals_total', 'Twilio call signals by outcome'),
    redisErrors: m.counter('minutegate_redis_errors_total', 'Requests that failed closed because Redis failed'),
    signatureFailures: m.counter('minutegate_twilio_signature_failures_total', 'Twilio requests refused for their signature'),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
