// The gateway's REST API for the app: @minutegate/client's typed client (paths, parameters,
// bodies and answers from the gateway's own OpenAPI document) with the staff token, and
// `ok`, which turns an answer into its data or throws an ApiError carrying the gateway's
// code and message ({"error":{"code","message"}}) so the app can show what was wrong.
import { createApiClient, type ApiClient } from '@minutegate/client';

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
    throw new ApiError(0, 'NETWORK', 'The gateway could not be reached. Check the connection and try again.');
  }
  if (r.response.ok) return r.data as T;
  const e = (r.error as { error?: { code?: string; message?: string } } | undefined)?.error;
  throw new ApiError(r.response.status, e?.code ?? `HTTP_${r.response.status}`, e?.message ?? `The gateway answered ${r.response.status}.`);
}

/** A new Idempotency-Key (crypto.randomUUID needs a secure context; plain http on a LAN
 *  falls back to 128 random bits). */
export function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
