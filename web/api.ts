// Every REST call the app makes, as small typed functions over @minutegate/client's typed
// client (paths, parameters, bodies and answers from the gateway's own OpenAPI document:
// a wrong path or body is a type error) with the staff token. This is the single place
// the app speaks REST. Errors carry the gateway's code and message
// ({"error":{"code","message"}}); screens show `friendly(err)`, a sentence for a business
// owner, never the raw server text.
import { createApiClient, type ApiClient, type components, type paths } from '@minutegate/client';
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

export type Api = ApiClient;

/** The raw reply of a request, for the one route that is not JSON (the calls' CSV). */
export type RawApi = (path: string) => Promise<Blob>;

const NETWORK = 'The gateway could not be reached. Check the connection and try again.';

const errorOf = (status: number, body: unknown) => {
  const e = (body as { error?: { code?: string; message?: string } } | null | undefined)?.error;
  return new ApiError(status, e?.code ?? `HTTP_${status}`, e?.message ?? `The gateway answered ${status}.`);
};

/** The typed client on the page's own origin (or `base`). */
export function makeApi(token: string, base = location.origin): Api {
  return createApiClient({ url: base, token });
}

/** The data of a successful answer, else an ApiError (status 0 NETWORK when the gateway
 *  could not be reached). */
export async function ok<T>(answer: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let r: { data?: T; error?: unknown; response: Response };
  try {
    r = await answer;
  } catch {
    throw new ApiError(0, 'NETWORK', NETWORK);
  }
  if (!r.response.ok) throw errorOf(r.response.status, r.error);
  return r.data as T;
}

export function makeRawApi(token: string, base = ''): RawApi {
  return async (path) => {
    let res: Response;
    try {
      res = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
    } catch {
      throw new ApiError(0, 'NETWORK', NETWORK);
    }
    if (!res.ok) throw errorOf(res.status, await res.json().catch(() => null));
    return res.blob();
  };
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

// The shapes the screens read, as the gateway's OpenAPI document names them (the types
// @minutegate/client generates from it): nothing restated here.
type Schemas = components['schemas'];
type Answer<P extends keyof paths> = paths[P] extends { get: { responses: { 200: { content: { 'application/json': infer T } } } } } ? T : never;

export type Account = Schemas['Account'];
export type CallRow = Schemas['Call'];
export type LedgerEntry = Schemas['LedgerEntry'];
export type Purchase = Schemas['Purchase'];
export type Addon = Schemas['Addon'];
export type UsageView = Answer<'/v1/accounts/{id}/usage'>;
export type Charges = Answer<'/v1/accounts/{id}/charges'>;

export function accountApi(api: Api, raw: RawApi, accountId: string) {
  const base = `/v1/accounts/${encodeURIComponent(accountId)}`;
  const path = { id: accountId };
  // Absent, not null: openapi-fetch leaves undefined query values out.
  const some = <T>(v: T | null | undefined): T | undefined => (v === null || v === '' ? undefined : v);
  return {
    account: (): Promise<Account> => ok(api.GET('/v1/accounts/{id}', { params: { path } })),
    balance: () => ok(api.GET('/v1/accounts/{id}/balance', { params: { path } })),
    calls: (state: 'active' | 'ended' | 'refused', limit: number, cursor?: string | null): Promise<{ calls: CallRow[]; nextCursor: string | null }> =>
      ok(api.GET('/v1/accounts/{id}/calls', { params: { path, query: { state, limit, cursor: some(cursor) } } })),
    call: (callSid: string): Promise<CallRow> => ok(api.GET('/v1/accounts/{id}/calls/{callSid}', { params: { path: { ...path, callSid } } })),
    usage: (cycle: 'current' | 'previous', groupBy: 'staff' | 'day'): Promise<UsageView> =>
      ok(api.GET('/v1/accounts/{id}/usage', { params: { path, query: { cycle, groupBy } } })),
    ledger: (limit: number, cursor?: string | null): Promise<{ entries: LedgerEntry[]; nextCursor: string | null }> =>
      ok(api.GET('/v1/accounts/{id}/ledger', { params: { path, query: { order: 'desc', limit, cursor: some(cursor) } } })),
    purchase: (purchaseId: string): Promise<Purchase> => ok(api.GET('/v1/accounts/{id}/purchases/{purchaseId}', { params: { path: { ...path, purchaseId } } })),
    quote: (bundles: number, kind: Kind): Promise<Quote> => ok(api.POST('/v1/accounts/{id}/purchases/quote', { params: { path }, body: { bundles, kind } })),
    buy: (quoteId: string, paymentMethodId: string, key: string): Promise<Purchase> =>
      ok(api.POST('/v1/accounts/{id}/purchases', { params: { path, header: { 'Idempotency-Key': key } }, body: { quoteId, paymentMethodId } })),
    charges: (): Promise<Charges> => ok(api.GET('/v1/accounts/{id}/charges', { params: { path } })),
    addons: (): Promise<{ addons: Addon[]; ending: Addon[] }> => ok(api.GET('/v1/accounts/{id}/addons', { params: { path } })),
    endAddon: (purchaseId: string): Promise<Addon> => ok(api.DELETE('/v1/accounts/{id}/addons/{purchaseId}', { params: { path: { ...path, purchaseId } } })),
    cards: (): Promise<{ paymentMethods: Card[] }> => ok(api.GET('/v1/accounts/{id}/payment-methods', { params: { path } })),
    addCard: (token: CardToken, key: string): Promise<Card> =>
      ok(api.POST('/v1/accounts/{id}/payment-methods', { params: { path, header: { 'Idempotency-Key': key } }, body: token })),
    removeCard: (id: string): Promise<unknown> => ok(api.DELETE('/v1/accounts/{id}/payment-methods/{pmId}', { params: { path: { ...path, pmId: id } } })),
    // The one answer that is not JSON (CSV): fetched whole as a Blob.
    exportCalls: (from: string, to: string) => raw(`${base}/calls/export?${new URLSearchParams(Object.entries({ from, to }).filter(([, v]) => v))}`),
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
