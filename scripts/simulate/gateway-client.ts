// The simulator's side of the wire: signed Twilio webhooks, and the admin API through
// @minutegate/client's typed REST client (paths and bodies checked against the gateway's
// OpenAPI document). Run with the `minutegate-source` condition (npm run simulate/demo):
// the package is used from its source, no build needed.
import { createApiClient, type ApiClient } from '@minutegate/client';
import { computeTwilioSignature } from '../../src/twilio/signature.js';

export class GatewayClient {
  private admin: ApiClient | null = null;

  /** `adminKey` may be '' for a user of the webhooks alone (the demo's fake Twilio). */
  constructor(
    private readonly url: string,
    /** The base Twilio signs for (the gateway's PUBLIC_BASE_URL); its TwiML's URLs start with it. */
    readonly publicBaseUrl: string,
    private readonly authToken: string,
    private readonly adminKey: string,
  ) {}

  /** The admin API, as the admin key. */
  get api(): ApiClient {
    if (!this.adminKey) throw new Error('GatewayClient: no admin key was given, so the admin API cannot be used');
    return (this.admin ??= createApiClient({ url: this.url, token: this.adminKey }));
  }

  /** POSTs a form exactly as Twilio does: signed over the public URL and the sorted params. */
  async twilio(path: string, params: Record<string, string>): Promise<{ status: number; text: string }> {
    const signature = computeTwilioSignature(this.authToken, this.publicBaseUrl + path, params);
    const res = await fetch(this.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: new URLSearchParams(params).toString(),
    });
    return { status: res.status, text: await res.text() };
  }
}

/** The data of a typed answer, or an Error naming what was asked and what the gateway said. */
export async function ok<T>(what: string, answer: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const r = await answer;
  if (!r.response.ok || r.data === undefined) throw new Error(`${what}: ${r.response.status} ${JSON.stringify(r.error ?? null)}`);
  return r.data;
}
