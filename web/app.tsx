// The signed-in screen: header with the minutes counter (top right), the cycle's figures,
// the alert banner, the connection line, the Add More Minutes panel and the calls.
import { useMemo, useState } from 'preact/hooks';
import { alertLevel, BANNER_TEXT } from './alert-level.js';
import { makeApi } from './api.js';
import { MinutesPanel } from './buy.js';
import { ActiveCalls, RecentCalls } from './calls.js';
import { Counter, CycleFigures } from './counter.js';
import { useLive } from './live.js';
import { Usage } from './usage.js';
import { forgetToken, type Claims } from './session.js';

export function App({ token, claims, devMode }: { token: string; claims: Claims; devMode: boolean }) {
  const api = useMemo(() => makeApi(token), [token]);
  const live = useLive(api, claims.accountId, token);
  const [panel, setPanel] = useState(false);
  const level = alertLevel(live.balance, live.alert);
  const away = live.state === 'reconnecting' || (live.state === 'connecting' && live.balance !== null);

  // The gateway refused the token or closed the socket for good (401, 4001/4003/4004: token
  // refused, access revoked, account gone): the link no longer signs anyone in.
  if (live.state === 'unauthorized' || live.state === 'closed') {
    forgetToken();
    return (
      <div class="app">
        <div class="card signed-out" role="alert">
          <h2>You have been signed out</h2>
          <p>This sign-in link no longer works (access was revoked or the account changed). Ask your administrator for a new sign-in link.</p>
        </div>
      </div>
    );
  }

  return (
    <div class="app">
      <header class="top">
        <div class="title">
          <h1>Calls</h1>
          <p class="who-am-i">
            {claims.staffId} · {claims.accountId} · <a href="/app/phone">Softphone</a>
          </p>
        </div>
        <Counter balance={live.balance} open={panel} onToggle={() => setPanel((p) => !p)} />
      </header>
      <CycleFigures balance={live.balance} />
      <div class="status-line" role="status" aria-live="polite">
        {away ? 'Reconnecting…' : live.balance ? '' : 'Connecting…'}
      </div>
      {level && (
        <div role="alert" class={'banner ' + level}>
          {BANNER_TEXT[level]}
        </div>
      )}
      {panel && <MinutesPanel api={api} accountId={claims.accountId} devMode={devMode} offer={live.offer} />}
      <main>
        <ActiveCalls calls={live.active} />
        <RecentCalls calls={live.recent} />
        <Usage api={api} accountId={claims.accountId} balance={live.balance} />
      </main>
    </div>
  );
}
