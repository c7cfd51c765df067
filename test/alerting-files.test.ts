// The alert rules and the Grafana dashboard name only metrics the gateway exposes, and the business counters they
// (and an operator) rely on exist from start-up and move on real traffic. promtool, when
// installed (Debian's `prometheus` package), checks the rules and the scrape.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { loadConfig } from '../src/config.js';
import { ADMIN, addCard, buy, staffToken } from './support/billing.js';
import { openSocket, wsUrl } from './support/ws-client.js';

const ALERTS = new URL('../deploy/prometheus/alerts.yml', import.meta.url);
const PROMTOOL = spawnSync('promtool', ['--version']).status === 0;

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw.stop());

async function scrape(): Promise<string> {
  const res = await fetch(`${gw.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** Sample name + labels → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*(?:\{.*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** The metric families a scrape declares (# TYPE lines). */
function families(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Every metric name an expression mentions: identifiers followed by `{`, `[`, `)`, a space or an operator,
 *  minus PromQL's own words (functions, aggregations, keywords, label names inside braces). */
function metricNames(expr: string): string[] {
  const noLabels = expr.replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]');
  const noGrouping = noLabels.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const words = noGrouping.match(/[a-zA-Z_:][\w:]*/g) ?? [];
  const promql = new Set(['sum', 'max', 'min', 'avg', 'count', 'rate', 'irate', 'increase', 'histogram_quantile', 'and', 'or', 'unless', 'abs', 'clamp_min', 'delta', 'deriv', 'time', 'absent', 'le', 'bool', 'offset']);
  return [...new Set(words.filter((w) => !promql.has(w)))];
}

/** A histogram's or summary's series name → its family. */
function family(name: string, declared: Map<string, string>): string {
  if (declared.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return declared.get(base) === 'histogram' || declared.get(base) === 'summary' ? base : name;
}

const rules = (parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert: string; expr: string; annotations: Record<string, string> }[] }[] }).groups.flatMap((g) => g.rules);

describe('deploy/prometheus/alerts.yml', () => {
  it('has at least six alerts, each with a summary and what to do', () => {
    expect(rules.length).toBeGreaterThanOrEqual(6);
    for (const r of rules) {
      expect(r.annotations.summary, r.alert).toBeTruthy();
      expect(r.annotations.description, r.alert).toBeTruthy();
      expect(r.annotations.runbook, r.alert).toBeTruthy();
    }
    const exprs = rules.map((r) => r.expr).join('\n');
    for (const needed of ['minutegate_redis_errors_total', 'minutegate_http_requests_total', 'minutegate_reconcile_backlog', 'minutegate_unsettled_calls', 'minutegate_archive_lag_seconds', 'minutegate_audit_calls_total', 'nodejs_eventloop_lag_p99_seconds']) {
      expect(exprs, needed).toContain(needed);
    }
  });

  it('names only metrics the gateway exposes', async () => {
    const declared = families(await scrape());
    for (const r of rules) {
      const names = metricNames(r.expr);
      expect(names.length, r.alert).toBeGreaterThan(0);
      for (const n of names) expect(declared.has(family(n, declared)), `${r.alert}: ${n} is not on /metrics`).toBe(true);
    }
  });

  it.skipIf(!PROMTOOL)('passes promtool check rules (skipped: promtool is not on PATH)', () => {
    const out = execFileSync('promtool', ['check', 'rules', ALERTS.pathname], { encoding: 'utf8' });
    expect(out).toContain('SUCCESS');
  });
});

const DASHBOARD = new URL('../deploy/grafana/minutegate.json', import.meta.url);
const panels = (JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] }).panels;

describe('deploy/grafana/minutegate.json', () => {
  it('queries only metrics the gateway exposes', async () => {
    const declared = families(await scrape());
    expect(panels.length).toBeGreaterThan(0);
    for (const p of panels) {
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) {
        const names = metricNames(t.expr);
        expect(names.length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
        for (const n of names) expect(declared.has(family(n, declared)), `${p.title}: ${n} is not on /metrics`).toBe(true);
      }
    }
  });
});

describe('the business counters', () => {
  it('exist at 0 from start-up for every known label, and build_info says what runs', async () => {
    const s = samples(await scrape());
    const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(s.get(`minutegate_build_info{version="${version}",commit="unknown"}`)).toBe(1);
    for (const series of [
      'minutegate_minutes_debited_total',
      'minutegate_purchases_total{kind="addon"}',
      'minutegate_purchases_total{kind="one_time"}',
      'minutegate_socket_authorizations_total{result="authorized"}',
      'minutegate_socket_authorizations_total{result="no_minutes"}',
      'minutegate_socket_authorizations_total{result="destination_not_allowed"}',
      'minutegate_socket_authorizations_total{result="too_many_open_authorizations"}',
      'minutegate_redis_errors_total{route="voice"}',
      'minutegate_redis_errors_total{route="status"}',
      'minutegate_redis_errors_total{route="video/status"}',
      'minutegate_redis_errors_total{route="api"}',
      'minutegate_redis_errors_total{route="ws"}',
      'minutegate_call_authorizations_total{decision="allowed"}',
      'minutegate_call_authorizations_total{decision="unavailable"}',
      'minutegate_call_authorizations_total{decision="no_minutes"}',
      'minutegate_call_signals_total{outcome="finalized"}',
      'minutegate_call_signals_total{outcome="video_settled"}',
      'minutegate_audit_calls_total{result="mismatched"}',
    ]) {
      expect(s.has(series), series).toBe(true);
    }
    expect(s.get('minutegate_redis_errors_total{route="voice"}')).toBe(0);
  });

  it('takes build_info\'s commit from GIT_COMMIT, refusing one that is not a commit id', async () => {
    const other = await startTestGateway({ env: { GIT_COMMIT: '5c893bb0a1' } });
    try {
      const text = await (await fetch(`${other.url}/metrics`)).text();
      expect(text).toMatch(/^minutegate_build_info\{version="[^"]+",commit="5c893bb0a1"\} 1$/m);
    } finally {
      await other.stop();
    }
    expect(() => loadConfig({ GIT_COMMIT: 'not a commit; rm -rf' })).toThrow(/GIT_COMMIT: must be a commit id/);
  });

  it('says in the help of deployment-wide gauges that they are per instance (aggregate with max)', async () => {
    const text = await scrape();
    for (const g of ['minutegate_archive_lag_seconds', 'minutegate_archive_pending', 'minutegate_reconcile_backlog', 'minutegate_unsettled_calls']) {
      const help = new RegExp(`^# HELP ${g} (.*)$`, 'm').exec(text)?.[1] ?? '';
      expect(help, g).toMatch(/per instance.*max/i);
    }
  });

  it('move on a settled call, a purchase and a socket authorization', async () => {
    const before = samples(await scrape());
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    expect(call.allowed).toBe(true);
    await postAll(gw, answeredCallSignals(call.callSid, 90)); // 2 minutes
    const card = await addCard(gw, ADMIN, a.id);
    await buy(gw, ADMIN, a.id, card.id, 1, 'one_time');
    const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${await staffToken(gw, a.id)}` });
    s.send({ type: 'authorize', requestId: 'r1', to: '+14155550100' });
    await s.next((m) => m.type === 'authorized');
    s.close();

    const after = samples(await scrape());
    const moved = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    expect(moved('minutegate_minutes_debited_total')).toBe(2);
    expect(moved('minutegate_purchases_total{kind="one_time"}')).toBe(1);
    expect(moved('minutegate_purchases_total{kind="addon"}')).toBe(0);
    expect(moved('minutegate_socket_authorizations_total{result="authorized"}')).toBe(1);
  });

  it.skipIf(!PROMTOOL)('passes promtool check metrics for every minutegate_ metric, but the unit it misreads in the debited minutes (skipped: promtool is not on PATH)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mg-metrics-'));
    const file = join(dir, 'scrape.txt');
    writeFileSync(file, await scrape());
    const r = spawnSync('sh', ['-c', `promtool check metrics < "${file}"`], { encoding: 'utf8' });
    const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('minutegate_'));
    // One known finding, kept on purpose: issue #21 names the counter
    // minutegate_minutes_debited_total, and promtool reads any "minutes" in a name as a time
    // unit ("use base unit seconds"). These are the product's minutes — what a business
    // buys and is debited — not a duration: no number of seconds would mean the same
    // (docs/operating.md, Metrics).
    const KNOWN = 'minutegate_minutes_debited_total use base unit "seconds" instead of "minutes"';
    expect(problems.filter((l) => l.trim() !== KNOWN)).toEqual([]);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/error while linting|parse/i);
  });
});
