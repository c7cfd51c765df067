// The socket client: one connection to a gateway's /v1/ws for softphones and dashboards,
// the same in browsers and Node (node.ts and browser.ts only bring the transport: where the
// token goes and how a refused upgrade is recognised). It reconnects by itself with full
// jitter, keeps the latest balance (never an older version), turns authorize/cancel into
// promises, and stops for good on a refused token instead of retrying it for ever.
import {
  CLOSE,
  SOCKET_PATH,
  isDenialReason,
  parseServerMessage,
  type AlertMessage,
  type BalanceMessage,
  type CallMessage,
  type ClientMessage,
  type RequestId,
} from '../../../src/wire/contract.js';
import { DeniedError, MinutegateError } from './errors.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'unauthorized' | 'closed';

/** A static token, or a function that fetches one (called for the first connection and
 *  again, once, whenever the gateway refuses the current one). */
export type TokenSource = { token: string; getToken?: never } | { getToken: () => Promise<string>; token?: never };

export type ClientOptions = TokenSource & {
  /** The gateway's base URL (https://minutes.example.com); the socket is ws(s)://…/v1/ws. */
  url: string;
  /** Accounts to watch besides the token's own (admin dashboards, with the admin key). */
  subscribe?: string[];
  /** Reconnect delays are random in [0, min(maxDelayMs, baseDelayMs × 2ⁿ)] (full jitter). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long authorize/cancel wait for their answer, reconnections included (ms). */
  requestTimeoutMs?: number;
};

export interface Authorization {
  authorizationId: string;
  /** ISO instant after which an unused authorization lapses. */
  expiresAt: string;
}

/** The part of a Twilio Voice SDK `Device` that connectCall uses. */
export interface VoiceDevice<C> {
  connect(options: { params: Record<string, string> }): Promise<C>;
}

export interface ClientEvents {
  balance: (b: BalanceMessage) => void;
  call: (c: CallMessage) => void;
  alert: (a: AlertMessage) => void;
  state: (s: ConnectionState) => void;
  /** The client stopped (UNAUTHORIZED, FORBIDDEN, ACCOUNT_GONE), or an error frame that
   *  answered no request of this client. */
  error: (e: MinutegateError) => void;
}

export interface MinutegateClient {
  /** Connected and the first balance received; rejects if the client stops first. */
  readonly ready: Promise<BalanceMessage>;
  /** The latest balance of the token's account (by version); null before the first. */
  readonly balance: BalanceMessage | null;
  readonly state: ConnectionState;
  /** Listens to an event; returns the function that stops listening. */
  on<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): () => void;
  /** Reserves a minute for a call to `to` (R2); rejects with DeniedError when refused. */
  authorize(to: string, options?: { signal?: AbortSignal }): Promise<Authorization>;
  /** Gives an unused authorization's minute back. */
  cancel(authorizationId: string): Promise<void>;
  /** authorize, then device.connect with To and authorizationId; the authorization is
   *  released if the connect fails. */
  connectCall<C>(device: VoiceDevice<C>, to: string, params?: Record<string, string>, options?: { signal?: AbortSignal }): Promise<C>;
  close(): void;
}

/** What a transport reports when a connection ends. `status` is the HTTP status of a
 *  refused upgrade, when the transport can know it. */
export interface Ended {
  code: number;
  reason: string;
  status?: number;
}

export interface TransportHandlers {
  open(): void;
  message(text: string): void;
  ended(e: Ended): void;
}

export interface Transport {
  send(text: string): void;
  close(code: number, reason: string): void;
}

/** Opens one connection to `url` carrying `token`; each platform has its own. */
export type Connector = (url: string, token: string, on: TransportHandlers) => Transport;

/** ws(s)://…/v1/ws from the gateway's base URL (http(s) or ws(s), with or without a path). */
export function socketUrl(base: string): string {
  const u = new URL(base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TypeError(`url: expected an http(s) or ws(s) URL, got ${JSON.stringify(base)}`);
  const path = u.pathname.replace(/\/+$/, '');
  u.pathname = path.endsWith(SOCKET_PATH) ? path : path + SOCKET_PATH;
  u.search = '';
  u.hash = '';
  return u.toString();
}

interface Pending {
  frame: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  done: () => void;
}

export function createClientWith(connector: Connector, opts: ClientOptions): MinutegateClient {
  const url = socketUrl(opts.url);
  if (!opts.token && typeof opts.getToken !== 'function') throw new TypeError('createClient: give a token or a getToken function');
  const baseDelay = opts.baseDelayMs ?? 250;
  const maxDelay = opts.maxDelayMs ?? 30_000;
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;
  const listeners: { [E in keyof ClientEvents]: Set<ClientEvents[E]> } = {
    balance: new Set(),
    call: new Set(),
    alert: new Set(),
    state: new Set(),
    error: new Set(),
  };
  const pending = new Map<string, Pending>();
  /** Authorizations asked for and then abandoned (aborted): released if granted after all. */
  const abandoned = new Set<string>();
  const versions = new Map<string, number>();
  let latest: BalanceMessage | null = null;
  let state: ConnectionState = 'connecting';
  let transport: Transport | null = null;
  let isOpen = false;
  let token: string | null = opts.token ?? null;
  /** A fresh token was asked for since the last connection that opened: one only. */
  let refreshed = false;
  let failures = 0;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let seq = 0;
  const prefix = Math.random().toString(36).slice(2, 8);

  let resolveReady!: (b: BalanceMessage) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<BalanceMessage>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  // A caller that never awaits `ready` must not see an unhandled rejection when it stops.
  ready.catch(() => undefined);

  const emit = <E extends keyof ClientEvents>(event: E, arg: Parameters<ClientEvents[E]>[0]) => {
    for (const fn of listeners[event]) {
      try {
        (fn as (a: typeof arg) => void)(arg);
      } catch {
        // A listener's error is its own business; the connection goes on.
      }
    }
  };
  const setState = (s: ConnectionState) => {
    if (s === state) return;
    state = s;
    emit('state', s);
  };
  const stopped = () => state === 'closed' || state === 'unauthorized';

  const connect = async () => {
    if (stopped()) return;
    if (token === null) {
      try {
        token = await opts.getToken!();
      } catch (err) {
        return stop('unauthorized', new MinutegateError('UNAUTHORIZED', `getToken failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
      }
      if (stopped()) return;
    }
    let t: Transport;
    const handlers: TransportHandlers = {
      open: () => {
        if (transport !== t) return;
        isOpen = true;
        failures = 0;
        refreshed = false;
        setState('open');
        for (const id of opts.subscribe ?? []) send({ type: 'subscribe', accountId: id });
        // Requests still waiting are sent again: the gateway answers a repeated requestId
        // with the same authorization, so nothing is reserved twice.
        for (const p of pending.values()) t.send(p.frame);
      },
      message: (text) => {
        if (transport === t) onFrame(text);
      },
      ended: (e) => {
        if (transport !== t) return;
        transport = null;
        isOpen = false;
        onEnded(e);
      },
    };
    t = connector(url, token, handlers);
    transport = t;
  };

  const onEnded = (e: Ended) => {
    if (stopped()) return;
    if (e.status === 403) return stop('unauthorized', new MinutegateError('FORBIDDEN', `the gateway refused the connection (HTTP 403${e.reason ? `: ${e.reason}` : ''})`));
    if (e.code === CLOSE.ACCOUNT_GONE) return stop('closed', new MinutegateError('ACCOUNT_GONE', `the account no longer exists (${e.code} ${e.reason})`));
    const refused = e.status === 401 || e.code === CLOSE.UNAUTHORIZED ? 'UNAUTHORIZED' : e.code === CLOSE.ACCESS_REVOKED ? 'FORBIDDEN' : null;
    if (refused) {
      if (opts.getToken && !refreshed) {
        // Once per refusal: a fresh token at once. A second refusal in a row is final.
        refreshed = true;
        token = null;
        setState('reconnecting');
        void connect();
        return;
      }
      const why = e.status === 401 ? 'HTTP 401' : `${e.code} ${e.reason}`.trim();
      return stop('unauthorized', new MinutegateError(refused, `the gateway refused the token (${why})`));
    }
    setState('reconnecting');
    // Full jitter: a random delay in [0, min(cap, base × 2ⁿ)], so the clients of a restarted
    // gateway do not come back in lockstep.
    const ceiling = Math.min(maxDelay, baseDelay * 2 ** Math.min(failures, 20));
    failures += 1;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void connect();
    }, Math.random() * ceiling);
  };

  const onFrame = (text: string) => {
    const m = parseServerMessage(text);
    if (!m) return;
    switch (m.type) {
      case 'balance': {
        const prev = versions.get(m.accountId);
        if (prev !== undefined && prev >= m.version) return; // never an older version
        versions.set(m.accountId, m.version);
        if (!latest || latest.accountId === m.accountId) {
          latest = m;
          resolveReady(m);
        }
        emit('balance', m);
        return;
      }
      case 'call':
        return emit('call', m);
      case 'alert':
        return emit('alert', m);
      case 'authorized': {
        const id = String(m.requestId);
        if (abandoned.delete(id)) return void send({ type: 'cancel', authorizationId: m.authorizationId });
        return settle(id, (p) => p.resolve({ authorizationId: m.authorizationId, expiresAt: m.expiresAt }));
      }
      case 'denied': {
        const reason = m.reason;
        abandoned.delete(String(m.requestId));
        return settle(String(m.requestId), (p) =>
          p.reject(isDenialReason(reason) ? new DeniedError(reason, m.requestId) : new MinutegateError('DENIED', `authorization denied: ${reason}`)),
        );
      }
      case 'canceled':
        if (m.requestId !== undefined) settle(String(m.requestId), (p) => p.resolve(undefined));
        return;
      case 'error': {
        const err = new MinutegateError(m.code, m.message);
        if (m.requestId !== undefined && pending.has(String(m.requestId))) return settle(String(m.requestId), (p) => p.reject(err));
        return emit('error', err);
      }
      default:
        return;
    }
  };

  const send = (message: Omit<ClientMessage, 'requestId'> | ClientMessage) => {
    if (transport && isOpen) transport.send(JSON.stringify(message));
  };

  const settle = (requestId: string, fn: (p: Pending) => void) => {
    const p = pending.get(requestId);
    if (!p) return;
    pending.delete(requestId);
    clearTimeout(p.timer);
    p.done();
    fn(p);
  };

  const request = <T>(message: ClientMessage, signal?: AbortSignal): Promise<T> => {
    if (stopped()) return Promise.reject(stopError ?? new MinutegateError('CLOSED', 'the client is closed'));
    if (signal?.aborted) return Promise.reject(new MinutegateError('ABORTED', 'the request was aborted', { cause: signal.reason }));
    const requestId = message.requestId as string;
    const frame = JSON.stringify(message);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (message.type === 'authorize') abandoned.add(requestId);
        settle(requestId, (p) => p.reject(new MinutegateError('ABORTED', 'the request was aborted', { cause: signal?.reason })));
      };
      const timer = setTimeout(() => {
        if (message.type === 'authorize') abandoned.add(requestId);
        settle(requestId, (p) => p.reject(new MinutegateError('TIMEOUT', `no answer within ${timeoutMs} ms`)));
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      pending.set(requestId, { frame, resolve: resolve as (v: unknown) => void, reject, timer, done });
      if (transport && isOpen) transport.send(frame);
    });
  };
  const nextId = (): RequestId => `${prefix}-${(seq += 1)}`;

  let stopError: MinutegateError | null = null;
  const stop = (final: 'closed' | 'unauthorized', reason: MinutegateError) => {
    if (stopped()) return;
    stopError = reason;
    setState(final);
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    for (const id of [...pending.keys()]) settle(id, (p) => p.reject(reason));
    rejectReady(reason);
    const t = transport;
    transport = null;
    isOpen = false;
    t?.close(1000, 'client closed');
    if (reason.code !== 'CLOSED') emit('error', reason);
  };

  const client: MinutegateClient = {
    ready,
    get balance() {
      return latest;
    },
    get state() {
      return state;
    },
    on(event, fn) {
      listeners[event].add(fn as never);
      return () => void listeners[event].delete(fn as never);
    },
    authorize: (to, options) => request<Authorization>({ type: 'authorize', requestId: nextId(), to }, options?.signal),
    cancel: (authorizationId) => request<void>({ type: 'cancel', authorizationId, requestId: nextId() }),
    async connectCall(device, to, params = {}, options) {
      const { authorizationId } = await client.authorize(to, options);
      try {
        // To and authorizationId last: params cannot point the call elsewhere than the
        // destination the minute was reserved for.
        return await device.connect({ params: { ...params, To: to, authorizationId } });
      } catch (err) {
        await client.cancel(authorizationId).catch(() => undefined);
        throw err;
      }
    },
    close: () => stop('closed', new MinutegateError('CLOSED', 'the client is closed')),
  };
  void connect();
  return client;
}
