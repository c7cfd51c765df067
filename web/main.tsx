// Entry of /app: sign in by link (#token=…), check the token with the gateway, then show
// the app. A missing, malformed, expired or refused token gets a clear message instead.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, makeApi, ok } from './api.js';
import { App } from './app.js';
import { claimsOf, forgetToken, takeToken, type Claims } from './session.js';
import './styles.css';

type Gate =
  | { kind: 'checking' }
  | { kind: 'in'; token: string; claims: Claims; devMode: boolean }
  | { kind: 'out'; title: string; detail: string };

const ASK = 'Ask your administrator for a new sign-in link.';

function Root() {
  const [gate, setGate] = useState<Gate>({ kind: 'checking' });
  useEffect(() => {
    void (async () => {
      const token = takeToken();
      if (!token) return setGate({ kind: 'out', title: 'Not signed in', detail: `Open the sign-in link you were sent (it ends in #token=…). ${ASK}` });
      const claims = claimsOf(token);
      const out = (title: string) => {
        forgetToken();
        setGate({ kind: 'out', title, detail: ASK });
      };
      if (!claims) return out('This sign-in link is not valid');
      if (claims.exp * 1000 <= Date.now()) return out('This sign-in link has expired');
      const config = await fetch('/app/config.json')
        .then((r) => r.json() as Promise<{ devMode?: boolean }>)
        .catch(() => ({ devMode: false }));
      try {
        await ok(makeApi(token).GET('/v1/accounts/{id}/balance', { params: { path: { id: claims.accountId } } }));
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) {
          return out('This sign-in link is not valid or has expired');
        }
        // The gateway is away: go on, the socket reconnects by itself.
      }
      setGate({ kind: 'in', token, claims, devMode: config.devMode === true });
    })();
  }, []);

  if (gate.kind === 'in') return <App token={gate.token} claims={gate.claims} devMode={gate.devMode} />;
  return (
    <div class="app">
      <header class="top">
        <div class="title">
          <h1>minutegate</h1>
        </div>
      </header>
      {gate.kind === 'checking' ? (
        <p class="status-line" role="status">
          Signing in…
        </p>
      ) : (
        <div class="card signed-out" role="alert">
          <h2>{gate.title}</h2>
          <p>{gate.detail}</p>
        </div>
      )}
    </div>
  );
}

render(<Root />, document.getElementById('root')!);
