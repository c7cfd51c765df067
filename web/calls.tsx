// "Active calls" (who, to, a duration that ticks) and "Recent calls" (duration, billed
// minutes; nothing billed — 30 s or less, or unanswered — is marked free), both live.
import { useEffect, useState } from 'preact/hooks';
import { duration } from './format.js';
import type { Call } from './live.js';

const who = (c: Call) => c.staffId ?? c.from ?? 'unknown';

export function ActiveCalls({ calls }: { calls: Call[] }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (calls.length === 0) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [calls.length]);
  return (
    <section class="card" aria-labelledby="active-h">
      <h2 id="active-h">Active calls</h2>
        {calls.length === 0 ? (
          <p class="empty">No calls right now.</p>
        ) : (
          <ul class="calls">
            {calls.map((c) => (
              <li key={c.callSid}>
                <span class="live-dot" aria-hidden="true" />
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

export function RecentCalls({ calls }: { calls: Call[] }) {
  return (
    <section class="card" aria-labelledby="recent-h">
      <h2 id="recent-h">Recent calls</h2>
        {calls.length === 0 ? (
          <p class="empty">No calls yet this cycle.</p>
        ) : (
          <ul class="calls">
            {calls.map((c) => {
              const free = (c.billedMinutes ?? 0) === 0;
              return (
                <li key={c.callSid}>
                  <span class="who">{who(c)}</span>
                  <span class="to">{c.direction === 'inbound' ? `from ${c.from ?? '?'}` : `to ${c.to ?? '?'}`}</span>
                  <span class="dur">{duration(c.billableSeconds ?? 0)}</span>
                  <span class={'billed' + (free ? ' free' : '')}>{free ? 'free' : `${c.billedMinutes} min`}</span>
                </li>
              );
            })}
          </ul>
        )}
    </section>
  );
}
