// The simulator's side of the wire: signed Twilio webhooks and the admin API.
import { computeTwilioSignature } from '../../src/twilio/signature.js';

export class GatewayClient {
  constructor(
    private readonly url: string,
    private readonly publicBaseUrl: string,
    private readonly authToken: string,
    private readonly adminKey: string,
  ) {}

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

  async admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(this.url + path, {
      method,
      headers: { authorization: `Bearer ${this.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { raw: text };
    }
    return { status: res.status, json };
  }
}
