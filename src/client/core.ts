// minutegate/client: one typed connection to a gateway's /v1/ws for softphones and
// dashboards, in browsers and in Node ≥ 20 (the entry points node.ts and browser.ts only
// choose the WebSocket implementation). It reconnects by itself with backoff and jitter,
// keeps the latest balance (never an older version), and turns authorize/cancel into
// promises. Every frame is parsed with the server's own zod schemas.
import { serverMessageSchema, type AlertMessage, type BalanceMessage, type CallMessage } from '../ws/server-messages.js';

export type { AlertMessage, BalanceMessage, CallMessage } from '../ws/server-messages.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The part of the WHATWG WebSocket both `ws` and browsers provide. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ConnectOptions {
  /** ws(s)://host/v1/ws */
  url: string;
  /** A staff token (or the admin key, for dashboards that subscribe). */
  token: string;
  /** Accounts to watch besides the token's own (admin dashboards). */
  subscribe?: string[];
  /** Reconnect backoff: first delay and ceiling (ms). Jitter is added on top. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** How long authorize/cancel wait for their answer (ms). */
  requestTimeoutMs?: number;
}

export interface Authorization {
  authorizationId: string;
  /** ISO instant after which an unused authorization lapses. */
  expiresAt: string;
}

/** The gateway said no to an authorization: `reason` is its word (e.g. "no_minutes"). */
export class DeniedError extends Error {
  constructor(
    readonly reason: string,
    readonly requestId: string,
  ) {
    super(`authorization denied: ${reason}`);
    this.name = 'DeniedError';
  }
}

/** An error frame, a timeout (`TIMEOUT`) or a closed client (`CLOSED`). */
export class MinutegateError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'MinutegateError';
  }
}

type Events = {
  balance: (b: BalanceMessage) => void;
  call: (c: CallMessage) => void;
  alert: (a: AlertMessage) => void;
  state: (s: ConnectionState) => void;
};

interface Pending {
  frame: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Close codes after which reconnecting cannot help (the gateway's 4xxx for identity). */
const FINAL_CLOSE_CODES = new Set([4001, 4003, 4004]);

export interface MinutegateClient {
  /** Resolves with the first balance (rejects if the client is closed first). */
  readonly ready: Promise<BalanceMessage>;
  /** The latest balance snapshot (by version); null before the first. */
  readonly balance: BalanceMessage | null;
  readonly state: ConnectionState;
  on<E extends keyof Events>(event: E, fn: Events[E]): () => void;
  authorize(to: string): Promise<Authorization>;
  cancel(authorizationId: string): Promise<void>;
  close(): void;
}

export function connectWith(WebSocketImpl: WebSocketConstructor, opts: ConnectOptions): MinutegateClient {
  const minDelay = opts.minDelayMs ?? 250;
  const maxDelay = opts.maxDelayMs ?? 10_000;
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;
  const listeners: { [E in keyof Events]: Set<Events[E]> } = {
    balance: new Set(),
    call: new Set(),
    alert: new Set(),
    state: new Set(),
  };
  const pending = new Map<string, Pending>();
  const balances = new Map<string, BalanceMessage>();
  let latest: BalanceMessage | null = null;
  let state: ConnectionState = 'connecting';
  let socket: WebSocketLike | null = null;
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let seq = 0;
  const prefix = Math.random().toString(36).slice(2, 8);

  let resolveReady!: (b: BalanceMessage) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<BalanceMessage>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  // A caller that never awaits `ready` must not see an unhandled rejection on close().
  ready.catch(() => undefined);

  const emit = <E extends keyof Events>(event: E, arg: Parameters<Events[E]>[0]) => {
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

  const url = () => {
    const u = new URL(opts.url);
    u.searchParams.set('token', opts.token);
    return u.toString();
  };

  const open = () => {
    const ws = new WebSocketImpl(url());
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      setState('open');
      for (const id of opts.subscribe ?? []) ws.send(JSON.stringify({ type: 'subscribe', accountId: id }));
      // Requests still waiting are sent again: the gateway answers a repeated requestId
      // with the same authorization, so nothing is reserved twice.
      for (const p of pending.values()) ws.send(p.frame);
    };
    ws.onmessage = (ev) => onFrame(typeof ev.data === 'string' ? ev.data : String(ev.data));
    ws.onerror = () => undefined; // onclose follows and decides
    ws.onclose = (ev) => {
      if (socket !== ws) return;
      socket = null;
      if (state === 'closed') return;
      if (FINAL_CLOSE_CODES.has(ev.code)) return shutdown(new MinutegateError('CLOSED', `the gateway closed the connection (${ev.code} ${ev.reason})`));
      setState('reconnecting');
      const delay = Math.min(maxDelay, minDelay * 2 ** attempt);
      attempt += 1;
      // Full jitter: many clients of a restarted gateway do not come back in lockstep.
      retryTimer = setTimeout(open, delay / 2 + Math.random() * (delay / 2));
    };
  };

  const onFrame = (text: string) => {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return;
    }
    const parsed = serverMessageSchema.safeParse(raw);
    if (!parsed.success) return;
    const m = parsed.data;
    switch (m.type) {
      case 'balance': {
        const prev = balances.get(m.accountId);
        if (prev && prev.version >= m.version) return; // never an older version
        balances.set(m.accountId, m);
        if (!latest || latest.accountId === m.accountId) {
          latest = m;
          if (!prev) resolveReady(m);
        }
        emit('balance', m);
        return;
      }
      case 'call':
        return emit('call', m);
      case 'alert':
        return emit('alert', m);
      case 'authorized':
        return settle(String(m.requestId), (p) => p.resolve({ authorizationId: m.authorizationId, expiresAt: m.expiresAt }));
      case 'denied':
        return settle(String(m.requestId), (p) => p.reject(new DeniedError(m.reason, String(m.requestId))));
      case 'canceled':
        if (m.requestId !== undefined) settle(String(m.requestId), (p) => p.resolve(undefined));
        return;
      case 'error':
        if (m.requestId !== undefined) settle(String(m.requestId), (p) => p.reject(new MinutegateError(m.code, m.message)));
        return;
      default:
        return;
    }
  };

  const settle = (requestId: string, fn: (p: Pending) => void) => {
    const p = pending.get(requestId);
    if (!p) return;
    pending.delete(requestId);
    clearTimeout(p.timer);
    fn(p);
  };

  const request = <T>(message: Record<string, unknown>): Promise<T> => {
    if (state === 'closed') return Promise.reject(new MinutegateError('CLOSED', 'the client is closed'));
    seq += 1;
    const requestId = `${prefix}-${seq}`;
    const frame = JSON.stringify({ ...message, requestId });
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => settle(requestId, (p) => p.reject(new MinutegateError('TIMEOUT', `no answer within ${timeoutMs} ms`))),
        timeoutMs,
      );
      pending.set(requestId, { frame, resolve: resolve as (v: unknown) => void, reject, timer });
      if (socket && socket.readyState === 1) socket.send(frame);
    });
  };

  const shutdown = (reason: Error) => {
    setState('closed');
    if (retryTimer) clearTimeout(retryTimer);
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.reject(reason);
    }
    rejectReady(reason);
    const ws = socket;
    socket = null;
    ws?.close(1000, 'client closed');
  };

  open();
  return {
    ready,
    get balance() {
      return latest;
    },
    get state() {
      return state;
    },
    on(event, fn) {
      listeners[event].add(fn as never);
      return () => listeners[event].delete(fn as never);
    },
    authorize: (to) => request<Authorization>({ type: 'authorize', to }),
    cancel: (authorizationId) => request<void>({ type: 'cancel', authorizationId }),
    close: () => {
      if (state !== 'closed') shutdown(new MinutegateError('CLOSED', 'the client is closed'));
    },
  };
}
