// The Calls screen: "Active calls" (who, to, a duration that ticks — and freezes while the
// app is offline, since it could no longer know when a call ends) and "Recent calls", the
// whole history paged in ("Load more"): duration and billed minutes; nothing billed (30 s
// or less) is marked free, a call nobody answered reads "No answer", and an inbound call
// says who answered it.
import { useEffect, useState } from 'preact/hooks';
import { friendly } from './api.js';
import { duration, shortDay } from './format.js';
import { outcome } from './call-outcome.js';
import type { Call } from './live.js';

const who = (c: Call) => c.staffId ?? c.from ?? 'unknown';

export function ActiveCalls({ calls, frozenAt }: { calls: Call[]; frozenAt: number | null }) {
  const [tick, setNow] = useState(Date.now());
  useEffect(() => {
    if (calls.length === 0 || frozenAt !== null) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [calls.length, frozenAt]);
  const now = frozenAt ?? tick;
  return (
    <section class="card" aria-labelledby="active-h">
      <h2 id="active-h">Active calls</h2>
      {calls.length === 0 ? (
        <p class="empty">No calls right now.</p>
      ) : (
        <ul class="calls">
          {calls.map((c) => (
            <li key={c.callSid}>
              <span class={'live-dot' + (frozenAt !== null ? ' frozen' : '')} aria-hidden="true" />
              <span class="who">{who(c)}</span>
              <span class="to">{c.direction === 'inbound' ? `from ${c.from ?? '?'}` : `to ${c.to ?? '?'}`}</span>
              <span class="dur" aria-label="duration">
                {c.startedAt ? duration((now - Date.parse(c.startedAt)) / 1000) : '—'}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function RecentCalls({ calls, hasMore, more }: { calls: Call[]; hasMore: boolean; more(): Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    setBusy(true);
    setError(null);
    try {
      await more();
    } catch (err) {
      setError(friendly(err, 'Loading older calls'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="recent-h">
      <h2 id="recent-h">Recent calls</h2>
      {calls.length === 0 ? (
        <p class="empty">No calls yet.</p>
      ) : (
        <ul class="calls">
          {calls.map((c) => {
            const o = outcome(c);
            const inbound = c.direction === 'inbound';
            return (
              <li key={c.callSid}>
                <span class="who">{inbound ? (c.staffId ? `${c.staffId} answered` : 'Inbound') : who(c)}</span>
                <span class="to">{inbound ? `from ${c.from ?? '?'}` : `to ${c.to ?? '?'}`}</span>
                <span class="dur">{o.text === 'No answer' ? (c.startedAt ? shortDay(c.startedAt) : '') : duration(c.billableSeconds ?? 0)}</span>
                <span class={'billed ' + o.cls}>{o.text}</span>
              </li>
            );
          })}
        </ul>
      )}
      {error && (
        <div class="problem-box" role="alert">
          <p class="problem">{error}</p>
        </div>
      )}
      {hasMore && (
        <button type="button" class="more" disabled={busy} onClick={() => void load()}>
          {busy ? 'Loading…' : error ? 'Try again' : 'Load more'}
        </button>
      )}
    </section>
  );
}
