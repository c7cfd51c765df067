// The Usage screen: "Usage by staff" (each staff member's calls and minutes of the cycle,
// as GET …/usage?groupBy=staff reports them), a bar chart of minutes per day over the
// cycle (…/usage?groupBy=day; hand-drawn SVG with labelled axes — no chart library: a few
// rects do not need 40 KB), the previous cycle on demand, and the cycle's calls as CSV.
// The current cycle is reloaded when the live balance says its usage changed — never on a timer.
import { useEffect, useState } from 'preact/hooks';
import { friendly, type AccountApi, type UsageView } from './api.js';
import { day, minutes as fmt, shortDay } from './format.js';
import type { Balance } from './live.js';
import { dailySeries } from './usage-series.js';

type Cycle = 'current' | 'previous';

/** `lastEnded`: the newest ended call; a free call moves no balance, yet counts in usage. */
export function UsageScreen({ rest, balance, lastEnded }: { rest: AccountApi; balance: Balance | null; lastEnded: string | null }) {
  const [cycle, setCycle] = useState<Cycle>('current');
  // With the staff members' names (the id for one without a name), read with the figures:
  // a member added since is named too.
  const [data, setData] = useState<{ cycle: Cycle; staff: UsageView; days: UsageView; names: Record<string, string> } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const used = balance ? balance.usedThisCycle + balance.overageThisCycle : null;
  useEffect(() => {
    let gone = false;
    const t = setTimeout(
      () => {
        Promise.all([rest.usage(cycle, 'staff'), rest.usage(cycle, 'day'), rest.account()])
          .then(([staff, days, account]) => {
            if (gone) return;
            setError(null);
            setData({ cycle, staff, days, names: Object.fromEntries(account.staff.map((m) => [m.id, m.name ?? m.id])) });
          })
          .catch((err) => !gone && setError(friendly(err, 'Loading usage')));
      },
      data ? 300 : 0,
    );
    return () => {
      gone = true;
      clearTimeout(t);
    };
    // The previous cycle does not change: only the current one follows the live balance and
    // the calls that end.
  }, [rest, cycle, cycle === 'current' ? used : null, cycle === 'current' ? lastEnded : null, attempt]);

  const shown = data && data.cycle === cycle ? data : null;
  return (
    <>
      <div class="segmented" role="group" aria-label="Cycle">
        <button type="button" aria-pressed={cycle === 'current'} onClick={() => setCycle('current')}>
          This cycle
        </button>
        <button type="button" aria-pressed={cycle === 'previous'} onClick={() => setCycle('previous')}>
          Previous cycle
        </button>
      </div>
      {error && (
        <div class="problem-box" role="alert">
          <p class="problem">{error}</p>
          <button type="button" onClick={() => setAttempt((a) => a + 1)}>
            Try again
          </button>
        </div>
      )}
      {!shown && !error && (
        <p class="status-line" aria-busy="true">
          Loading usage…
        </p>
      )}
      {shown && <DailyChart v={shown.days} cycle={cycle} />}
      {shown && <ByStaff v={shown.staff} names={shown.names} />}
      {shown && <Export rest={rest} v={shown.days} />}
    </>
  );
}

function DailyChart({ v, cycle }: { v: UsageView; cycle: Cycle }) {
  const series = dailySeries(v);
  const total = v.totals.billedMinutes;
  const top = Math.max(1, ...series.map((d) => d.minutes));
  const W = 320;
  const H = 120;
  const L = 28; // room for the y axis' figures
  const B = 18; // room for the x axis' dates
  const bw = (W - L) / Math.max(1, series.length);
  const y = (m: number) => (H - B) - (m / top) * (H - B - 6);
  const caption = `${fmt(total)} minutes used since ${shortDay(v.cycleStart)}`;
  const label =
    (cycle === 'current' ? 'Minutes used this cycle: ' : 'Minutes used in the previous cycle: ') +
    `${fmt(total)} minutes used since ${shortDay(v.cycleStart)}, per day from ${day(v.cycleStart)} to ${day(v.cycleEnd)}` +
    `; the busiest day had ${fmt(Math.max(0, ...series.map((d) => d.minutes)))} minutes`;
  const last = series[series.length - 1];
  return (
    <section class="card usage" aria-labelledby="usage-h">
      <h2 id="usage-h">Usage</h2>
      <figure>
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
          <line x1={L} x2={W} y1={H - B} y2={H - B} class="axis" />
          <line x1={L} x2={L} y1={0} y2={H - B} class="axis" />
          <text x={L - 4} y={y(top) + 4} class="tick" text-anchor="end">
            {fmt(top)}
          </text>
          <text x={L - 4} y={H - B} class="tick" text-anchor="end">
            0
          </text>
          {series.map((d, i) =>
            d.minutes > 0 ? <rect key={d.day} x={L + i * bw + bw * 0.15} width={Math.max(1, bw * 0.7)} y={y(d.minutes)} height={H - B - y(d.minutes)} class="bar" /> : null,
          )}
          <text x={L} y={H - 4} class="tick">
            {shortDay(v.cycleStart)}
          </text>
          {last && (
            <text x={W} y={H - 4} class="tick" text-anchor="end">
              {shortDay(last.day + 'T12:00:00Z')}
            </text>
          )}
        </svg>
        <figcaption>
          <span>{caption}</span>
          <span class="usage-end">Minutes per day · resets {shortDay(v.cycleEnd)}</span>
        </figcaption>
      </figure>
    </section>
  );
}

function ByStaff({ v, names }: { v: UsageView; names: Record<string, string> }) {
  return (
    <section class="card" aria-labelledby="by-staff-h">
      <h2 id="by-staff-h">Usage by staff</h2>
      {v.groups.length === 0 ? (
        <p class="empty">No calls in this cycle.</p>
      ) : (
        <table class="table">
          <thead>
            <tr>
              <th scope="col">Staff</th>
              <th scope="col" class="num">
                Calls
              </th>
              <th scope="col" class="num">
                Minutes
              </th>
            </tr>
          </thead>
          <tbody>
            {v.groups.map((g) => (
              <tr key={g.key}>
                <th scope="row">{g.key === 'unassigned' ? 'Not assigned' : (names[g.key] ?? g.key)}</th>
                <td class="num">{fmt(g.calls)}</td>
                <td class="num">{fmt(g.billedMinutes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Export({ rest, v }: { rest: AccountApi; v: UsageView }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const go = async () => {
    setBusy(true);
    setError(null);
    try {
      const blob = await rest.exportCalls(v.cycleStart, v.cycleEnd);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `calls-${v.cycleStart.slice(0, 10)}.csv`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(friendly(err, 'The export'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="export">
      <button type="button" disabled={busy} onClick={() => void go()}>
        {busy ? 'Preparing…' : 'Export calls (CSV)'}
      </button>
      {error && (
        <div class="problem-box" role="alert">
          <p class="problem">{error}</p>
          <button type="button" onClick={() => void go()}>
            Try again
          </button>
        </div>
      )}
    </div>
  );
}
