// "Usage": minutes used over the current cycle, from the ledger's call debits, drawn as a
// small SVG area (no chart library: one path and two labels do not need 40 KB). Reloaded
// when the live balance says the cycle's usage changed — never on a timer.
import { useEffect, useState } from 'preact/hooks';
import { ok, type Api } from './api.js';
import { day, minutes as fmt, shortDay } from './format.js';
import type { Balance } from './live.js';

interface Entry {
  kind: string;
  at: string;
  billedMinutes?: number;
}

/** Cumulative minutes used at each debit of the cycle, oldest first. */
export function usagePoints(entries: Entry[], cycleStart: string): { t: number; used: number }[] {
  const from = Date.parse(cycleStart);
  const debits = entries
    .filter((e) => e.kind === 'call_debit' && Date.parse(e.at) >= from && (e.billedMinutes ?? 0) > 0)
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  let used = 0;
  return debits.map((e) => ({ t: Date.parse(e.at), used: (used += e.billedMinutes ?? 0) }));
}

const MAX_PAGES = 10;

async function cycleEntries(api: Api, accountId: string, cycleStart: string): Promise<Entry[]> {
  const from = Date.parse(cycleStart);
  const out: Entry[] = [];
  let cursor: string | null = null;
  // Newest first, until the cycle's start (or 5,000 entries: enough for a phone's chart).
  for (let page = 0; page < MAX_PAGES; page++) {
    const r: { entries: Entry[]; nextCursor: string | null } = await ok(
      api.GET('/v1/accounts/{id}/ledger', { params: { path: { id: accountId }, query: { order: 'desc', limit: 500, ...(cursor ? { cursor } : {}) } } }),
    );
    out.push(...r.entries);
    const last = r.entries[r.entries.length - 1];
    if (!r.nextCursor || !last || Date.parse(last.at) < from) break;
    cursor = r.nextCursor;
  }
  return out;
}

export function Usage({ api, accountId, balance }: { api: Api; accountId: string; balance: Balance | null }) {
  const [points, setPoints] = useState<{ t: number; used: number }[] | null>(null);
  const cycleStart = balance?.cycleStart;
  const used = balance ? balance.usedThisCycle + balance.overageThisCycle : null;
  useEffect(() => {
    if (!cycleStart) return;
    let gone = false;
    const t = setTimeout(() => {
      cycleEntries(api, accountId, cycleStart)
        .then((e) => !gone && setPoints(usagePoints(e, cycleStart)))
        .catch(() => undefined);
    }, 300);
    return () => {
      gone = true;
      clearTimeout(t);
    };
  }, [api, accountId, cycleStart, used]);

  if (!balance) return null;
  const start = Date.parse(balance.cycleStart);
  const end = Date.parse(balance.cycleEnd);
  const total = points && points.length ? points[points.length - 1]!.used : 0;
  const allowance = balance.monthlyMinutes;
  const top = Math.max(total, 1) * 1.15;
  const W = 320;
  const H = 110;
  const x = (t: number) => ((Math.min(Math.max(t, start), end) - start) / (end - start)) * W;
  const y = (v: number) => H - (v / top) * H;
  const now = Math.min(Date.now(), end);
  let d = `M0,${H}`;
  for (const p of points ?? []) d += ` H${x(p.t).toFixed(1)} V${y(p.used).toFixed(1)}`;
  d += ` H${x(now).toFixed(1)}`;
  const area = `${d} V${H} Z`;
  const caption = `${fmt(total)} minutes used since ${shortDay(balance.cycleStart)}`;

  return (
    <section class="card usage" aria-labelledby="usage-h">
      <h2 id="usage-h">Usage</h2>
      <figure>
        <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`Minutes used this cycle: ${caption}, ${day(balance.cycleStart)} to ${day(balance.cycleEnd)}`}>
          <path d={area} class="usage-area" />
          <path d={d} class="usage-line" fill="none" />
          {allowance > 0 && allowance <= top && <line x1="0" x2={W} y1={y(allowance)} y2={y(allowance)} class="usage-allowance" />}
        </svg>
        <figcaption>
          <span>{caption}</span>
          <span class="usage-end">Resets {shortDay(balance.cycleEnd)}</span>
        </figcaption>
      </figure>
    </section>
  );
}
