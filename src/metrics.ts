// Prometheus metrics through prom-client: the default process metrics (CPU, memory, heap,
// event-loop lag, GC), the gateway's counters (`_total`), histograms in base units
// (seconds), and gauges read at scrape time. One registry per gateway instance, so
// several instances in one test process never share figures.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

type Labels = Record<string, string>;

/** Latency buckets (seconds) around the gateway's targets: p99 ≤ 10 ms for webhooks. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const SCRIPT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1];

export class Metrics {
  readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }

  counter(name: string, help: string, labelNames: string[] = []) {
    const c = new Counter({ name, help, labelNames, registers: [this.registry] });
    return { inc: (labels: Labels = {}, by = 1) => c.inc(labels, by) };
  }

  /** A gauge whose value is read when scraped. */
  gauge(name: string, help: string, collect: (set: (labels: Labels, v: number) => void) => void, labelNames: string[] = []) {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        collect((l, v) => this.set(l, v));
      },
    });
  }

  /** A counter whose running total is kept elsewhere and read when scraped. */
  counterFrom(name: string, help: string, collect: (set: (labels: Labels, v: number) => void) => void, labelNames: string[] = []) {
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        collect((l, v) => this.inc(l, v));
      },
    });
  }

  histogram(name: string, help: string, labelNames: string[], buckets = LATENCY_BUCKETS) {
    const h = new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
    return { observe: (labels: Labels, seconds: number) => h.observe(labels, seconds) };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

export function gatewayMetrics(m: Metrics) {
  return {
    http: m.counter('minutegate_http_requests_total', 'HTTP requests by route, method and status', ['route', 'method', 'status']),
    httpDuration: m.histogram('minutegate_http_request_duration_seconds', 'HTTP request latency by route, method and status', [
      'route',
      'method',
      'status',
    ]),
    scriptDuration: m.histogram('minutegate_redis_script_duration_seconds', 'Redis Lua script latency as the gateway sees it', ['script'], SCRIPT_BUCKETS),
    authorizations: m.counter('minutegate_call_authorizations_total', 'Call placements by decision', ['decision']),
    signals: m.counter('minutegate_call_signals_total', 'Twilio call signals by outcome', ['outcome']),
    redisErrors: m.counter('minutegate_redis_errors_total', 'Requests that failed closed because Redis failed', ['route']),
    signatureFailures: m.counter('minutegate_twilio_signature_failures_total', 'Twilio requests refused for their signature'),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
