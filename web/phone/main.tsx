// The softphone example at /app/phone: a dial pad that asks the gateway first and Twilio
// second. It fetches a Voice SDK token (POST /v1/accounts/:id/voice-token), authorizes
// the number over the socket (@minutegate/client: the minute is reserved, R2), and only
// then calls device.connect({params:{To, authorizationId}}). A denial shows its reason
// and nothing is dialled; a call that cannot start gives its minute back (cancel).
// The Device is Twilio's, except in `npm run demo`, where the gateway's /app/config.json
// names the demo's fake Twilio and a Device-shaped stand-in dials through it (device.ts).
// While a call is up, a timer shows its talk time; the counter is the balance, which moves
// when the call ends and is billed (the minute held meanwhile is shown beside it).
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { createClient, DeniedError, type MinutegateClient } from '@minutegate/client';
import { ApiError, makeApi, ok } from '../api.js';
import { minutes as fmtMinutes } from '../format.js';
import type { Balance } from '../live.js';
import { claimsOf, takeToken, type Claims } from '../session.js';
import { deviceFactory, type DeviceFactory } from './device.js';
import '../styles.css';
import './phone.css';

const E164 = /^\+[1-9]\d{6,14}$/;
const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '0', '#'];

const REASONS: Record<string, string> = {
  no_minutes: 'No minutes left for this account. Add more minutes in the app, then call again.',
  destination_not_allowed: 'This number cannot be called from here (premium-rate numbers are refused).',
  too_many_open_authorizations: 'Too many calls are being set up from your phone at once. Wait a moment and try again.',
};

type Voice = { kind: 'loading' } | { kind: 'ready'; token: string; device: DeviceFactory; demo: boolean } | { kind: 'not_configured'; message: string } | { kind: 'error'; message: string };

function Phone({ token, claims }: { token: string; claims: Claims }) {
  const api = useMemo(() => makeApi(token), [token]);
  const [voice, setVoice] = useState<Voice>({ kind: 'loading' });
  const [balance, setBalance] = useState<Balance | null>(null);
  const [number, setNumber] = useState('');
  const [status, setStatus] = useState('');
  const [inCall, setInCall] = useState(false);
  const [answeredAt, setAnsweredAt] = useState<number | null>(null);
  const [now, setNow] = useState(Date.now());
  const mg = useRef<MinutegateClient | null>(null);
  const call = useRef<{ disconnect(): void } | null>(null);
  // The header names the account (its id until the name is read).
  const [accountName, setAccountName] = useState<string | null>(null);
  useEffect(() => {
    ok(api.GET('/v1/accounts/{id}', { params: { path: { id: claims.accountId } } }))
      .then((a) => setAccountName(a.name))
      .catch(() => undefined);
  }, [api, claims.accountId]);

  useEffect(() => {
    const c = createClient({ url: location.origin, token });
    mg.current = c;
    const off = c.on('balance', (b) => setBalance((cur) => (cur && cur.version > b.version ? cur : (b as Balance))));
    Promise.all([ok(api.POST('/v1/accounts/{id}/voice-token', { params: { path: { id: claims.accountId } } })), deviceFactory()])
      .then(([r, d]) => setVoice({ kind: 'ready', token: r.token, device: d.make, demo: d.demo }))
      .catch((err) =>
        setVoice(
          err instanceof ApiError && err.code === 'NOT_CONFIGURED'
            ? { kind: 'not_configured', message: err.message }
            : { kind: 'error', message: err instanceof Error ? err.message : String(err) },
        ),
      );
    return () => {
      off();
      c.close();
    };
  }, [api, token, claims.accountId]);

  // The call timer ticks only while a call is up.
  useEffect(() => {
    if (answeredAt === null) return;
    const t = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(t);
  }, [answeredAt]);

  const valid = E164.test(number);

  const dial = async () => {
    if (!mg.current || voice.kind !== 'ready' || !valid || inCall) return;
    setInCall(true);
    setStatus('Asking for minutes…');
    let authorizationId: string;
    try {
      ({ authorizationId } = await mg.current.authorize(number));
    } catch (err) {
      setInCall(false);
      setStatus(
        err instanceof DeniedError
          ? `Call not placed: ${REASONS[err.reason] ?? `the gateway said no (${err.reason}).`}`
          : `Call not placed: ${(err as Error).message}`,
      );
      return;
    }
    setStatus(`Calling ${number}…`);
    try {
      const device = await voice.device(voice.token);
      const c = await device.connect({ params: { To: number, authorizationId } });
      call.current = c;
      let accepted: number | null = null;
      let failed = false;
      // A call that never started never bound its authorization: its minute goes back at once.
      const release = () => void mg.current?.cancel(authorizationId).catch(() => undefined);
      c.on('accept', () => {
        accepted = Date.now();
        setAnsweredAt(accepted);
        setNow(accepted);
        setStatus(`In call with ${number}`);
      });
      c.on('error', (e: { message?: string }) => {
        failed = true;
        setStatus(`Call failed: ${e.message ?? 'error'}`);
      });
      c.on('disconnect', () => {
        if (!failed) setStatus(accepted !== null ? `Call ended after ${clockTime(Date.now() - accepted)}.` : 'Call not connected.');
        if (accepted === null) release();
        setAnsweredAt(null);
        setInCall(false);
        call.current = null;
        device.destroy();
      });
    } catch (err) {
      setInCall(false);
      setStatus(`Call failed: ${(err as Error).message}`);
      void mg.current.cancel(authorizationId).catch(() => undefined);
    }
  };

  return (
    <div class="app phone">
      <header class="top">
        <div class="title">
          <h1>Softphone</h1>
          <p class="who-am-i">
            {claims.staffId} · {accountName ?? claims.accountId} · <a href="/app">Calls</a>
          </p>
        </div>
        <div>
          <p class="counter" aria-label={balance ? `Minutes remaining: ${Math.max(0, balance.balance)}` : 'Minutes remaining: loading'}>
            <span class="counter-number">{balance ? fmtMinutes(Math.max(0, balance.balance)) : '…'}</span>
            <span class="counter-unit">min left</span>
          </p>
          {balance && balance.reserved > 0 && <p class="held">{balance.reserved} held for calls in progress</p>}
        </div>
      </header>

      {voice.kind === 'ready' && voice.demo && (
        <p class="card hint demo-note">
          Demo: calls go through the demo's stand-in for Twilio. The number answers after a ring, the call lasts until you hang up, and
          the minutes are billed as Twilio's would be (30 s or less free, then whole minutes).
        </p>
      )}

      {voice.kind === 'not_configured' && (
        <section class="card" aria-label="Twilio settings">
          <h2>Twilio is not set up on this gateway</h2>
          <p>The softphone needs a Twilio Voice SDK token, which the gateway mints only with these settings:</p>
          <ul>
            <li>
              <code>TWILIO_ACCOUNT_SID</code> — your Twilio account (AC…)
            </li>
            <li>
              <code>TWILIO_API_KEY_SID</code> and <code>TWILIO_API_KEY_SECRET</code> — an API key that signs the tokens (SK…)
            </li>
            <li>
              <code>TWILIO_TWIML_APP_SID</code> — a TwiML App (AP…) whose Voice URL is <code>&lt;PUBLIC_BASE_URL&gt;/twilio/voice</code> (POST)
            </li>
            <li>
              <code>TWILIO_AUTH_TOKEN</code> and <code>PUBLIC_BASE_URL</code> — so the gateway can check Twilio's signatures
            </li>
          </ul>
          <p class="hint">The gateway said: {voice.message}</p>
        </section>
      )}
      {voice.kind === 'error' && (
        <p class="problem" role="alert">
          No voice token: {voice.message}
        </p>
      )}

      <form
        class="card dialer"
        onSubmit={(e) => {
          e.preventDefault();
          void dial();
        }}
      >
        <label class="number">
          <span>Number to call</span>
          <input
            type="tel"
            inputMode="tel"
            autoComplete="off"
            placeholder="+14155550100"
            value={number}
            onInput={(e) => setNumber((e.target as HTMLInputElement).value.replace(/[^\d+]/g, ''))}
          />
        </label>
        {answeredAt !== null && (
          <p class="call-timer" role="timer" aria-label="Call time">
            {clockTime(now - answeredAt)}
          </p>
        )}
        <div class="pad">
          {KEYS.map((k) => (
            <button type="button" key={k} aria-label={`Dial ${k}`} onClick={() => setNumber((n) => n + k)}>
              {k}
            </button>
          ))}
        </div>
        <div class="actions">
          <button type="button" aria-label="Delete last digit" onClick={() => setNumber((n) => n.slice(0, -1))}>
            ⌫
          </button>
          {inCall && call.current ? (
            <button type="button" class="primary hangup" onClick={() => call.current?.disconnect()}>
              Hang up
            </button>
          ) : (
            <button type="submit" class="primary" disabled={voice.kind !== 'ready' || !valid || inCall}>
              Call
            </button>
          )}
        </div>
        {number && !valid && <p class="hint">Numbers are dialled in international form: + and the country code.</p>}
      </form>
      <p class="status-line" role="status" aria-live="polite">
        {status}
      </p>
    </div>
  );
}

/** m:ss of a duration in ms (whole seconds, rounded down). */
function clockTime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function Root() {
  const token = takeToken();
  const claims = token ? claimsOf(token) : null;
  if (!token || !claims || claims.exp * 1000 <= Date.now()) {
    return (
      <div class="app">
        <div class="card signed-out" role="alert">
          <h2>Not signed in</h2>
          <p>Open the sign-in link you were sent (it ends in #token=…), then come back to /app/phone.</p>
        </div>
      </div>
    );
  }
  return <Phone token={token} claims={claims} />;
}

render(<Root />, document.getElementById('root')!);
