// The minutes counter (top right, always visible) and the cycle's figures. The counter
// shows the balance — what is left for new calls once the calls in progress settle — never
// below 0; minutes held for calls being placed do not move it (a hold is not a debit, and
// a counter that dips with every dial and comes back reads as a fault), they are named on
// their own line. Each change of the balance replays a short highlight (the key changes),
// and the difference is shown for a moment.
import { useEffect, useRef, useState } from 'preact/hooks';
import { day, minutes } from './format.js';
import type { Balance } from './live.js';

/** The figure the counter shows: the balance, never below 0. */
export function shownBalance(b: Balance | null): number | null {
  if (!b) return null;
  return Math.max(0, typeof b.balance === 'number' ? b.balance : b.available);
}

export function Counter({ balance, open, onToggle }: { balance: Balance | null; open: boolean; onToggle(): void }) {
  const prev = useRef<number | null>(null);
  const [delta, setDelta] = useState<{ n: number; key: number } | null>(null);
  const shown = shownBalance(balance);
  useEffect(() => {
    if (shown === null) return;
    if (prev.current !== null && prev.current !== shown) {
      const d = { n: shown - prev.current, key: Date.now() };
      setDelta(d);
      const t = setTimeout(() => setDelta((cur) => (cur === d ? null : cur)), 2500);
      prev.current = shown;
      return () => clearTimeout(t);
    }
    prev.current = shown;
  }, [shown]);
  const held = balance ? Math.max(0, balance.reserved) : 0;
  const overage = balance?.overageThisCycle ?? 0;

  return (
    <div class="counter-wrap">
      <button
        type="button"
        class={'counter' + (delta ? ' changed' : '')}
        key={delta?.key ?? 0}
        aria-label={shown === null ? 'Minutes remaining: loading' : `Minutes remaining: ${shown}`}
        aria-expanded={open}
        aria-controls="minutes-panel"
        onClick={onToggle}
      >
        <span class="counter-unit">Minutes remaining</span>
        <span class="counter-number">{shown === null ? '…' : minutes(shown)}</span>
        {delta && (
          <span class={'counter-delta ' + (delta.n > 0 ? 'up' : 'down')} aria-hidden="true">
            {delta.n > 0 ? '+' : '−'}
            {minutes(Math.abs(delta.n))}
          </span>
        )}
      </button>
      {held > 0 && <p class="counter-note held">{minutes(held)} held for calls in progress</p>}
      {overage > 0 && <p class="counter-note overage">{minutes(overage)} overage this cycle</p>}
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
