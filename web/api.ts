// Every REST call the app makes, as small typed functions over one JSON request helper
// with the staff token. This is the single place the app speaks REST (the typed client
// @minutegate/client can replace the helper underneath without touching the screens).
// Errors carry the gateway's code and message ({"error":{"code","message"}}); screens show
// `friendly(err)`, a sentence for a business owner, never the raw server text.
import type { Card, Kind, Quote } from './buy-order.js';
import type { CardToken } from './tokenizer.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Api = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<T>;

/** The raw reply of a request, for the one route that is not JSON (the calls' CSV). */
export type RawApi = (path: string) => Promise<Blob>;

async function send(token: string, base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The gateway could not be reached. Check the connection and try again.');
  }
  if (!res.ok) {
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    throw new ApiError(res.status, json?.error?.code ?? 'HTTP_' + res.status, json?.error?.message ?? `The gateway answered ${res.status}.`);
  }
  return res;
}

export function makeApi(token: string, base = ''): Api {
  return async (method, path, body, headers = {}) => {
    const res = await send(token, base, method, path, body, headers);
    const text = await res.text();
    try {
      return text ? JSON.parse(text) : null;
    } catch {
      return null;
    }
  };
}

export function makeRawApi(token: string, base = ''): RawApi {
  return async (path) => (await send(token, base, 'GET', path)).blob();
}

/** A new Idempotency-Key (crypto.randomUUID needs a secure context; plain http on a LAN
 *  falls back to 128 random bits). */
export function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// What each error means for the person in front of the app. Server messages name fields
// and codes; these name what happened and what to do.
const SENTENCES: Record<string, string> = {
  NETWORK: 'The gateway could not be reached. Check the connection and try again.',
  QUOTE_EXPIRED: 'The price quote has expired (quotes last 15 minutes); ask for a new quote.',
  QUOTE_USED: 'This order was already placed with its quote; ask for a new quote to buy again.',
  CARD_EXPIRED: 'This card has expired. Choose another card or add a new one.',
  PAYMENT_METHOD_NOT_FOUND: 'This card is no longer on file. Choose another card or add a new one.',
  TOO_MANY_PAYMENT_METHODS: 'There are already as many cards on file as allowed. Remove one first.',
  ADDON_NOT_FOUND: 'This add-on could not be found; it may have ended already. Reload to see the latest.',
  RAW_CARD_NUMBER: 'Card numbers cannot be sent here. Add the card through the card form.',
  UNAUTHORIZED: 'Your sign-in has ended — ask for a new link.',
  BAD_TOKEN: 'Your sign-in has ended — ask for a new link.',
  FORBIDDEN: 'Your sign-in does not allow this.',
  UNAVAILABLE: 'The gateway is having trouble right now. Try again in a minute.',
  STORE_UNAVAILABLE: 'The gateway is having trouble right now. Try again in a minute.',
};

export function friendly(err: unknown, doing = 'That'): string {
  if (err instanceof ApiError) {
    const known = SENTENCES[err.code];
    if (known) return known;
    if (err.status === 401) return SENTENCES.UNAUTHORIZED!;
    if (err.status === 404) return `${doing} could not be found; it may have been removed. Reload to see the latest.`;
    if (err.status === 409) return `${doing} could not be done because something changed meanwhile. Reload and try again.`;
    if (err.status >= 500 || err.status === 0) return `${doing} did not work because the gateway had a problem. Try again in a moment.`;
  }
  return `${doing} did not work. Try again.`;
}

// ---- The account's routes, one small function each ----

export interface Account {
  id: string;
  name: string;
  billingAnchor: string;
  staff: { id: string; email: string; identity: string; name?: string }[];
}

export interface CallRow {
  callSid: string;
  state: string;
  direction?: string;
  from?: string;
  to?: string;
  staffId?: string | null;
  startedAt?: string;
  answeredAt?: string | null;
  endedAt?: string | null;
  billableSeconds?: number | null;
  billedMinutes?: number | null;
  overageMinutes?: number | null;
  /** A refused call's reason (no_minutes, destination_not_allowed). */
  reason?: string;
}

export interface UsageView {
  cycleStart: string;
  cycleEnd: string;
  groupBy: 'staff' | 'day';
  groups: { key: string; calls: number; billableSeconds: number; billedMinutes: number }[];
  totals: { calls: number; billableSeconds: number; billedMinutes: number };
}

export interface LedgerEntry {
  id: string;
  kind: string;
  minutes: number;
  balanceAfter: number;
  ref: string;
  at: string;
  [k: string]: unknown;
}

export interface Purchase {
  purchaseId: string;
  kind: Kind;
  bundles: number;
  minutes: number;
  amountCents: number;
  currency: string;
  paymentMethod: { brand: string; last4: string };
  createdAt: string;
  billedOn: string;
  balance?: any;
  receipt?: { to: string; status: 'queued' | 'sent' };
}

export interface Addon {
  purchaseId: string;
  kind: Kind;
  minutes: number;
  amountCents: number;
  currency: string;
  paymentMethod: { brand: string; last4: string };
  createdAt: string;
  endedAt: string | null;
  endsAt: string | null;
}

export interface Charges {
  cycleStart: string;
  cycleEnd: string;
  billedOn: string;
  lines: { kind: string; recurring: boolean; description: string; minutes: number; amountCents: number; at: string }[];
  totalCents: number;
  currency: string;
}

export function accountApi(api: Api, raw: RawApi, accountId: string) {
  const base = `/v1/accounts/${encodeURIComponent(accountId)}`;
  const q = (o: Record<string, string | number | undefined | null>) =>
    Object.entries(o)
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
      .join('&');
  return {
    account: () => api<Account>('GET', base),
    balance: () => api('GET', `${base}/balance`),
    calls: (state: 'active' | 'ended' | 'refused', limit: number, cursor?: string | null) =>
      api<{ calls: CallRow[]; nextCursor: string | null }>('GET', `${base}/calls?${q({ state, limit, cursor })}`),
    call: (callSid: string) => api<CallRow>('GET', `${base}/calls/${encodeURIComponent(callSid)}`),
    usage: (cycle: 'current' | 'previous', groupBy: 'staff' | 'day') => api<UsageView>('GET', `${base}/usage?${q({ cycle, groupBy })}`),
    ledger: (limit: number, cursor?: string | null) =>
      api<{ entries: LedgerEntry[]; nextCursor: string | null }>('GET', `${base}/ledger?${q({ order: 'desc', limit, cursor })}`),
    purchase: (purchaseId: string) => api<Purchase>('GET', `${base}/purchases/${encodeURIComponent(purchaseId)}`),
    quote: (bundles: number, kind: Kind) => api<Quote>('POST', `${base}/purchases/quote`, { bundles, kind }),
    buy: (quoteId: string, paymentMethodId: string, key: string) =>
      api<Purchase>('POST', `${base}/purchases`, { quoteId, paymentMethodId }, { 'idempotency-key': key }),
    charges: () => api<Charges>('GET', `${base}/charges`),
    addons: () => api<{ addons: Addon[]; ending: Addon[] }>('GET', `${base}/addons`),
    endAddon: (purchaseId: string) => api<Addon>('DELETE', `${base}/addons/${encodeURIComponent(purchaseId)}`),
    cards: () => api<{ paymentMethods: Card[] }>('GET', `${base}/payment-methods`),
    addCard: (token: CardToken, key: string) => api<Card>('POST', `${base}/payment-methods`, token, { 'idempotency-key': key }),
    removeCard: (id: string) => api<null>('DELETE', `${base}/payment-methods/${encodeURIComponent(id)}`),
    exportCalls: (from: string, to: string) => raw(`${base}/calls/export?${q({ from, to })}`),
  };
}

export type AccountApi = ReturnType<typeof accountApi>;

/** What /app/config.json says (no token needed). */
export interface AppConfig {
  devMode: boolean;
  prices?: { bundleMinutes: number; bundlePriceCents: number; overagePriceCentsPerMinute: number; currency: string };
}

export async function appConfig(): Promise<AppConfig> {
  try {
    const r = await fetch('/app/config.json');
    return (await r.json()) as AppConfig;
  } catch {
    return { devMode: false };
  }
}
