// The Calls screen: "Active calls" (who, to, a duration that ticks — and freezes while the
// app is offline, since it could no longer know when a call ends) and "Recent calls", the
// whole history paged in ("Load more"): duration and billed minutes; nothing billed (30 s
// or less) is marked free, a call nobody answered reads "No answer", and an inbound call
// says who answered it. "Not connected" lists the calls refused when they were placed, and
// why (out of minutes, a number not allowed).
import { useEffect, useState } from 'preact/hooks';
import { friendly, type AccountApi, type CallRow } from './api.js';
import { duration, shortDay } from './format.js';
import { outcome } from './call-outcome.js';
import type { Call } from './live.js';

const who = (c: Call) => c.staffId ?? c.from ?? 'unknown';

/** Who a call was (an inbound one: who answered it) and the other party. */
function Parties({ c }: { c: Call | CallRow }) {
  const inbound = c.direction === 'inbound';
  return (
    <>
      <span class="who">{inbound ? (c.staffId ? `${c.staffId} answered` : 'Inbound') : who(c as Call)}</span>
      <span class="to">{inbound ? `from ${c.from ?? '?'}` : `to ${c.to ?? '?'}`}</span>
    </>
  );
}

/** A list's error, said as a sentence (the list's own button offers to try again). */
const Problem = ({ error }: { error: string | null }) =>
  error ? (
    <div class="problem-box" role="alert">
      <p class="problem">{error}</p>
    </div>
  ) : null;

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
            return (
              <li key={c.callSid}>
                <Parties c={c} />
                <span class="dur">{o.text === 'No answer' ? (c.startedAt ? shortDay(c.startedAt) : '') : duration(c.billableSeconds ?? 0)}</span>
                <span class={'billed ' + o.cls}>{o.text}</span>
              </li>
            );
          })}
        </ul>
      )}
      <Problem error={error} />
      {hasMore && (
        <button type="button" class="more" disabled={busy} onClick={() => void load()}>
          {busy ? 'Loading…' : error ? 'Try again' : 'Load more'}
        </button>
      )}
    </section>
  );
}

/** Why a call was not connected, in words for a business owner. */
const REFUSED: Record<string, string> = {
  no_minutes: 'Out of minutes',
  destination_not_allowed: 'Number not allowed',
};

const PAGE = 10;

/** The calls refused at placement, newest first, 10 at a time (read when the screen opens
 *  and when the app is back online: refusals change no balance, so no frame announces them). */
export function NotConnected({ rest, online }: { rest: AccountApi; online: boolean }) {
  const [calls, setCalls] = useState<CallRow[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = async (from: string | null) => {
    setBusy(true);
    setError(null);
    try {
      const page = await rest.calls('refused', PAGE, from);
      setCalls((prev) => (from ? [...prev, ...page.calls] : page.calls));
      setCursor(page.nextCursor);
    } catch (err) {
      setError(friendly(err, 'Loading calls not connected'));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    if (online) void load(null);
  }, [rest, online]);
  if (calls.length === 0 && !error) return null;
  return (
    <section class="card" aria-labelledby="refused-h">
      <h2 id="refused-h">Not connected</h2>
      <ul class="calls">
        {calls.map((c) => (
          <li key={c.callSid}>
            <Parties c={c} />
            <span class="dur">{c.startedAt ? shortDay(c.startedAt) : ''}</span>
            <span class="billed refused">Not connected: {REFUSED[c.reason ?? ''] ?? 'refused'}</span>
          </li>
        ))}
      </ul>
      <Problem error={error} />
      {(cursor || error) && (
        <button type="button" class="more" disabled={busy} onClick={() => void load(error ? null : cursor)}>
          {busy ? 'Loading…' : error ? 'Try again' : 'Show more'}
        </button>
      )}
    </section>
  );
}
