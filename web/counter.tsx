// The minutes counter (top right, always visible) and the cycle's figures beside it. Each
// change of the available minutes replays a short highlight (the key changes), and the
// difference is shown for a moment.
import { useEffect, useRef, useState } from 'preact/hooks';
import { day, minutes } from './format.js';
import type { Balance } from './live.js';

export function Counter({ balance, open, onToggle }: { balance: Balance | null; open: boolean; onToggle(): void }) {
  const prev = useRef<number | null>(null);
  const [delta, setDelta] = useState<{ n: number; key: number } | null>(null);
  const available = balance?.available ?? null;
  useEffect(() => {
    if (available === null) return;
    if (prev.current !== null && prev.current !== available) {
      const d = { n: available - prev.current, key: Date.now() };
      setDelta(d);
      const t = setTimeout(() => setDelta((cur) => (cur === d ? null : cur)), 2500);
      prev.current = available;
      return () => clearTimeout(t);
    }
    prev.current = available;
  }, [available]);

  return (
    <div class="counter-wrap">
      <button
        type="button"
        class={'counter' + (delta ? ' changed' : '')}
        key={delta?.key ?? 0}
        aria-label={available === null ? 'Minutes remaining: loading' : `Minutes remaining: ${available}`}
        aria-expanded={open}
        aria-controls="minutes-panel"
        onClick={onToggle}
      >
        <span class="counter-number">{available === null ? '…' : minutes(available)}</span>
        <span class="counter-unit">min left</span>
        {delta && (
          <span class={'counter-delta ' + (delta.n > 0 ? 'up' : 'down')} aria-hidden="true">
            {delta.n > 0 ? '+' : '−'}
            {minutes(Math.abs(delta.n))}
          </span>
        )}
      </button>
    </div>
  );
}

export function CycleFigures({ balance }: { balance: Balance | null }) {
  if (!balance) return null;
  const plan = balance.planMinutes ?? balance.monthlyMinutes;
  return (
    <dl class="figures" aria-label="This billing cycle">
      <div>
        <dt>Plan</dt>
        <dd>{minutes(plan)}</dd>
      </div>
      {balance.addonMinutes ? (
        <div>
          <dt>Add-ons</dt>
          <dd>{minutes(balance.addonMinutes)}</dd>
        </div>
      ) : null}
      <div>
        <dt>Used this cycle</dt>
        <dd>{minutes(balance.usedThisCycle)}</dd>
      </div>
      <div>
        <dt>Overage</dt>
        <dd>{minutes(balance.overageThisCycle)}</dd>
      </div>
      <div class="resets">
        <dd>Resets on {day(balance.cycleEnd)}</dd>
      </div>
    </dl>
  );
}
