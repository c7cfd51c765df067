// The signed-in app: the header (the account's name, the minutes counter top right), the
// navigation (Calls, Usage, Billing — paths under /app), the cycle's figures, the honest
// states (offline with the figures' time, a sign-in that has ended), the banners, the
// counter's menu (Add More Minutes, How minutes work) and the current screen.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { alertLevel } from './alert-level.js';
import { accountApi, makeApi, makeRawApi, type AppConfig } from './api.js';
import { BillingScreen } from './billing.js';
import { MinutesPanel, type Step } from './buy.js';
import { ActiveCalls, NotConnected, RecentCalls } from './calls.js';
import { Counter, CycleFigures, shownBalance } from './counter.js';
import { clock, minutes } from './format.js';
import { HowMinutesWork } from './how-minutes-work.js';
import { useLive } from './live.js';
import { navigate, SCREENS, useScreen } from './router.js';
import { forgetToken, type Claims } from './session.js';
import { UsageScreen } from './usage.js';

export const ENDED_TEXT = 'Your sign-in has ended — ask for a new link';

export function App({ token, claims, config, onSignOut }: { token: string; claims: Claims; config: AppConfig; onSignOut(): void }) {
  const rest = useMemo(() => accountApi(makeApi(token), makeRawApi(token), claims.accountId), [token, claims.accountId]);
  const live = useLive(rest, token, claims.exp);
  const screen = useScreen();
  const [panel, setPanel] = useState<{ start: Step; key: number } | null>(null);
  const [how, setHow] = useState(false);
  const [name, setName] = useState<string | null>(null);
  // Bumped by each purchase: the Billing screen's lists reload.
  const [bought, setBought] = useState(0);
  useEffect(() => {
    rest
      .account()
      .then((a) => setName(a.name))
      .catch(() => undefined); // the header shows the id until the name is known
  }, [rest]);
  useEffect(() => {
    document.title = `${SCREENS.find((s) => s.screen === screen)!.label} · ${name ?? 'minutegate'}`;
  }, [screen, name]);

  const shown = shownBalance(live.balance);
  const level = alertLevel(live.balance && { ...live.balance, available: shown ?? 0 }, live.alert);
  const offline = live.offlineSince !== null;

  // The gateway refused the sign-in (revoked, expired, staff removed): say so, for good.
  if (live.ended) {
    forgetToken();
    return (
      <div class="app">
        <div class="card signed-out" role="alert">
          <h2>{ENDED_TEXT}</h2>
          <p>This sign-in link no longer works: it expired, or access was withdrawn. Ask your administrator for a new sign-in link.</p>
        </div>
      </div>
    );
  }

  const openPanel = (start: Step) => setPanel({ start, key: Date.now() });
  return (
    <div class="app">
      <header class="top">
        <div class="title">
          <h1>{name ?? claims.accountId}</h1>
          <p class="who-am-i">
            {claims.staffId} ·{' '}
            <button type="button" class="link" onClick={onSignOut}>
              Sign out
            </button>
          </p>
        </div>
        <Counter balance={live.balance} open={panel !== null} onToggle={() => (panel ? setPanel(null) : openPanel('menu'))} />
      </header>
      <nav class="tabs" aria-label="Screens">
        {SCREENS.map((s) => (
          <a
            key={s.screen}
            href={s.path}
            aria-current={screen === s.screen ? 'page' : undefined}
            onClick={(e) => {
              if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
              e.preventDefault();
              navigate(s.path);
            }}
          >
            {s.label}
          </a>
        ))}
        <a href="/app/phone">Softphone</a>
      </nav>
      <CycleFigures balance={live.balance} />
      <div class={'status-line' + (offline ? ' offline' : '')} role="status" aria-live="polite">
        {offline
          ? live.balance
            ? `Offline — figures from ${clock(live.offlineSince!)}`
            : 'Offline — the gateway cannot be reached; trying again'
          : live.balance
            ? ''
            : 'Connecting…'}
      </div>
      {level && (
        <div role="alert" class={'banner ' + level}>
          <span>
            {level === 'low'
              ? `Low on minutes: ${minutes(shown ?? 0)} minute${shown === 1 ? '' : 's'} left`
              : 'Out of minutes — calls in progress continue; new calls need more minutes'}
          </span>
          <button type="button" onClick={() => openPanel('bundle')}>
            Add minutes
          </button>
        </div>
      )}
      {panel && (
        <MinutesPanel
          key={panel.key}
          start={panel.start}
          rest={rest}
          devMode={config.devMode}
          prices={config.prices}
          offer={(b) => {
            live.offer(b);
            setBought((n) => n + 1);
          }}
          onHow={() => setHow(true)}
        />
      )}
      <HowMinutesWork open={how} onClose={() => setHow(false)} resetsOn={live.balance?.cycleEnd ?? null} prices={config.prices} />
      <main>
        {screen === 'calls' && (
          <>
            <ActiveCalls calls={live.active} frozenAt={live.offlineSince} />
            <RecentCalls calls={live.recent} hasMore={live.hasMore} more={live.more} />
            <NotConnected rest={rest} online={live.offlineSince === null} />
          </>
        )}
        {screen === 'usage' && <UsageScreen rest={rest} balance={live.balance} lastEnded={live.recent[0]?.callSid ?? null} />}
        {screen === 'billing' && <BillingScreen rest={rest} devMode={config.devMode} version={bought} />}
      </main>
    </div>
  );
}
