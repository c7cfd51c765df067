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

  /** `series`: every label set known in advance, exported at 0 from start-up so a
   *  `rate()` over them works before the first event. */
  counter(name: string, help: string, labelNames: string[] = [], series: Labels[] = labelNames.length ? [] : [{}]) {
    const c = new Counter({ name, help, labelNames, registers: [this.registry] });
    for (const labels of series) c.inc(labels, 0);
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

/** Each label's known values: their series exist (at 0) from start-up. */
const REDIS_ERROR_ROUTES = ['voice', 'status', 'video/status', 'api', 'ws'] as const;
const CALL_DECISIONS = ['allowed', 'unavailable', 'no_minutes', 'destination_not_allowed', 'unknown_caller', 'unknown_number', 'no_destination', 'no_staff'] as const;
const SIGNAL_OUTCOMES = [
  'finalized', 'pending', 'unexpected_status', 'recorded', 'duplicate', 'late', 'denied_call', 'unknown_call',
  ...(['opened', 'settled', 'pending', 'duplicate', 'ignored', 'unknown_account'] as const).map((o) => `video_${o}`),
];
const PURCHASE_KINDS = ['addon', 'one_time'] as const;
const SOCKET_AUTHORIZATION_RESULTS = ['authorized', 'no_minutes', 'too_many_open_authorizations', 'destination_not_allowed'] as const;
const each = (label: string, values: readonly string[]): Labels[] => values.map((v) => ({ [label]: v }));

/** What runs: `minutegate_build_info{version,commit} 1` (commit: GIT_COMMIT, "unknown" unset). */
export function buildInfo(m: Metrics, info: { version: string; commit: string | null }): void {
  const g = new Gauge({ name: 'minutegate_build_info', help: 'The running build: version (package.json) and commit (GIT_COMMIT); always 1', labelNames: ['version', 'commit'], registers: [m.registry] });
  g.set({ version: info.version, commit: info.commit ?? 'unknown' }, 1);
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
    authorizations: m.counter('minutegate_call_authorizations_total', 'Call placements by decision', ['decision'], each('decision', CALL_DECISIONS)),
    signals: m.counter('minutegate_call_signals_total', 'Twilio call signals by outcome', ['outcome'], each('outcome', SIGNAL_OUTCOMES)),
    redisErrors: m.counter('minutegate_redis_errors_total', 'Requests that failed closed because Redis failed', ['route'], each('route', REDIS_ERROR_ROUTES)),
    minutesDebited: m.counter('minutegate_minutes_debited_total', 'Minutes debited from pools by calls and video participants settled on this instance (webhooks or reconciliation)'),
    purchases: m.counter('minutegate_purchases_total', 'Purchases made (not idempotent replays), by kind', ['kind'], each('kind', PURCHASE_KINDS)),
    socketAuthorizations: m.counter(
      'minutegate_socket_authorizations_total',
      'Softphone authorizations asked over the client socket, by result: authorized or the reason denied',
      ['result'],
      each('result', SOCKET_AUTHORIZATION_RESULTS),
    ),
    signatureFailures: m.counter('minutegate_twilio_signature_failures_total', 'Twilio requests refused for their signature'),
    archiveLag: m.histogram(
      'minutegate_archive_entry_lag_seconds',
      'Seconds from a ledger entry being written in Redis to its commit in PostgreSQL (R19), per entry archived here',
      [],
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    ),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;

/** The figures an instance keeps anyway, read at scrape time. */
export function instanceMetrics(
  m: Metrics,
  s: {
    reconciler: { unsettledCalls: number; backlog: number; unindexed: number };
    clients: { clients: { size: number } };
    media: { openSockets: number; stats: { mediaFrames: number; malformedFrames: number; streams: number; refusedStreams: number; unknownCalls: number } };
    bus: { dropped: number };
    alerts: { delivered: { email: number; webhook: number; failed: number } };
    archiver: { lagSeconds: number; pendingAccounts: number; archived: { entries: number; calls: number } };
    /** The periodic audit (R20), when the Twilio REST settings exist. */
    audit?: { totals: { matched: number; settled: number; mismatched: number; unmapped: number }; runs: { ok: number; failed: number } } | null;
  },
): void {
  // Registered (at 0) without the audit too, so rules and dashboards naming them always resolve.
  const audit = s.audit ?? { totals: { matched: 0, settled: 0, mismatched: 0, unmapped: 0 }, runs: { ok: 0, failed: 0 } };
  m.counterFrom('minutegate_audit_calls_total', "Calls of Twilio's list the periodic audits of this instance found matched, settled (never settled before: settled now), mismatched (settled for another figure: not changed), or unmapped (no account) (R20); 0 when the audit is not configured", (set) => {
    for (const result of ['matched', 'settled', 'mismatched', 'unmapped'] as const) set({ result }, audit.totals[result]);
  }, ['result']);
  m.counterFrom('minutegate_audit_runs_total', 'Periodic audits this instance ran, by outcome (failed: Twilio or PostgreSQL could not be read)', (set) => {
    set({ outcome: 'ok' }, audit.runs.ok);
    set({ outcome: 'failed' }, audit.runs.failed);
  }, ['outcome']);
  m.gauge('minutegate_unsettled_calls', 'Calls whose hold was released before Twilio told how they ended (R15), as of the last reconciliation poll. Per instance view of a deployment-wide figure: aggregate with max, not sum.', (set) =>
    set({}, s.reconciler.unsettledCalls),
  );
  m.gauge('minutegate_reconcile_backlog', 'Reconciliation entries due and not yet checked (R15), as of the last poll. Per instance view of a deployment-wide figure: aggregate with max, not sum.', (set) => set({}, s.reconciler.backlog));
  m.gauge('minutegate_reconcile_unindexed', 'Accounts whose reconciliation index write failed on this instance and waits for its retry (R15)', (set) =>
    set({}, s.reconciler.unindexed),
  );
  m.gauge('minutegate_archive_lag_seconds', 'Age of the oldest ledger entry waiting to be archived to PostgreSQL (R19), as of the last archive pass. Per instance view of a deployment-wide figure: aggregate with max, not sum.', (set) =>
    set({}, s.archiver.lagSeconds),
  );
  m.gauge('minutegate_archive_pending', 'Accounts with ledger entries not yet archived to PostgreSQL (R19), as of the last archive pass. Per instance view of a deployment-wide figure: aggregate with max, not sum.', (set) =>
    set({}, s.archiver.pendingAccounts),
  );
  m.counterFrom('minutegate_archived_total', 'Rows this instance archived to PostgreSQL, by kind', (set) => {
    set({ kind: 'entry' }, s.archiver.archived.entries);
    set({ kind: 'call' }, s.archiver.archived.calls);
  }, ['kind']);
  m.gauge('minutegate_ws_clients', 'Open client sockets on this instance', (set) => set({}, s.clients.clients.size));
  m.gauge('minutegate_media_streams_open', 'Media Streams sockets open on this instance (calls live here)', (set) => set({}, s.media.openSockets));
  m.counterFrom('minutegate_media_frames_total', 'Media Streams frames by kind (counted, not parsed)', (set) => {
    set({ kind: 'media' }, s.media.stats.mediaFrames);
    set({ kind: 'malformed' }, s.media.stats.malformedFrames);
  }, ['kind']);
  m.counterFrom('minutegate_media_streams_total', 'Media Streams by outcome', (set) => {
    set({ outcome: 'started' }, s.media.stats.streams);
    set({ outcome: 'refused' }, s.media.stats.refusedStreams);
    set({ outcome: 'unknown_call' }, s.media.stats.unknownCalls);
  }, ['outcome']);
  m.counterFrom('minutegate_bus_messages_dropped_total', 'Pub/sub messages dropped as malformed', (set) => set({}, s.bus.dropped));
  m.counterFrom('minutegate_alerts_delivered_total', 'Low-balance alert deliveries by way', (set) => {
    set({ way: 'email' }, s.alerts.delivered.email);
    set({ way: 'webhook' }, s.alerts.delivered.webhook);
    set({ way: 'failed' }, s.alerts.delivered.failed);
  }, ['way']);
}
