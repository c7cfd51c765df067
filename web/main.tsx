// Entry of /app: sign in by link (#token=…), check the token with the gateway, then show
// the app. A missing, malformed, expired or refused token gets a clear message instead.
// Signing out here, or in another tab of the browser, signs every tab out.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, appConfig, makeApi, ok, type AppConfig } from './api.js';
import { App } from './app.js';
import { claimsOf, forgetToken, onTokenChange, takeToken, type Claims } from './session.js';
import './styles.css';

type Gate =
  | { kind: 'checking' }
  | { kind: 'in'; token: string; claims: Claims; config: AppConfig }
  | { kind: 'out'; title: string; detail: string };

const ASK = 'Ask your administrator for a new sign-in link.';

function Root() {
  const [gate, setGate] = useState<Gate>({ kind: 'checking' });
  const signedOut = () => setGate({ kind: 'out', title: 'You have signed out', detail: `To sign in again, open your sign-in link. ${ASK}` });
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
      const config = await appConfig();
      try {
        await ok(makeApi(token).GET('/v1/accounts/{id}/balance', { params: { path: { id: claims.accountId } } }));
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) {
          return out('This sign-in link is not valid or has expired');
        }
        // The gateway is away: go on, the app says it is offline and the socket reconnects by itself.
      }
      setGate({ kind: 'in', token, claims, config });
    })();
    // Another tab signed out (or in with another link).
    return onTokenChange((t) => {
      if (t === null) signedOut();
      else location.reload();
    });
  }, []);

  if (gate.kind === 'in') {
    return (
      <App
        token={gate.token}
        claims={gate.claims}
        config={gate.config}
        onSignOut={() => {
          forgetToken();
          signedOut();
        }}
      />
    );
  }
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
