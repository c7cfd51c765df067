// What billing tests do through the real API: requests with any bearer and headers, staff
// tokens, cards, quotes and purchases; and a real SMTP server (smtp-server) that keeps
// what it receives.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { apiRequest, TEST_ADMIN_KEY, type TestGateway } from './gateway.js';

export interface ApiReply {
  status: number;
  json: any;
  headers: Headers;
}

export function api(
  gw: TestGateway,
  bearer: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiReply> {
  return apiRequest(gw.url, bearer, method, path, body, headers);
}

export const ADMIN = TEST_ADMIN_KEY;

export async function staffToken(gw: TestGateway, accountId: string, staffId = 'alice'): Promise<string> {
  const r = await gw.admin('POST', `/v1/accounts/${accountId}/staff/${staffId}/token`);
  if (r.status !== 201) throw new Error(`token: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.token as string;
}

export const CARD = { processorToken: 'tok_visa_test_abc123', brand: 'visa', last4: '4242', expMonth: 12, expYear: 2099 };

export async function addCard(gw: TestGateway, bearer: string, accountId: string, over: Partial<typeof CARD> = {}) {
  const r = await api(gw, bearer, 'POST', `/v1/accounts/${accountId}/payment-methods`, { ...CARD, ...over });
  if (r.status !== 201) throw new Error(`card: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as { id: string; brand: string; last4: string; expMonth: number; expYear: number };
}

export async function quote(gw: TestGateway, bearer: string, accountId: string, bundles: number, kind: 'addon' | 'one_time') {
  const r = await api(gw, bearer, 'POST', `/v1/accounts/${accountId}/purchases/quote`, { bundles, kind });
  if (r.status !== 201) throw new Error(`quote: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as { quoteId: string; minutes: number; amountCents: number; billedOn: string; expiresAt: string };
}

export function confirm(
  gw: TestGateway,
  bearer: string,
  accountId: string,
  body: { quoteId: string; paymentMethodId: string; staffId?: string },
  key: string | null = randomUUID(),
) {
  return api(gw, bearer, 'POST', `/v1/accounts/${accountId}/purchases`, body, key === null ? {} : { 'idempotency-key': key });
}

/** Quote and confirm in one go, as the app does after Review. */
export async function buy(gw: TestGateway, bearer: string, accountId: string, paymentMethodId: string, bundles: number, kind: 'addon' | 'one_time') {
  const q = await quote(gw, bearer, accountId, bundles, kind);
  const r = await confirm(gw, bearer, accountId, { quoteId: q.quoteId, paymentMethodId, ...(bearer === ADMIN ? { staffId: 'alice' } : {}) });
  if (r.status !== 201) throw new Error(`purchase: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

export interface TestSmtp {
  port: number;
  url: string;
  mails: ReceivedMail[];
  close(): Promise<void>;
}

/** A real SMTP server on 127.0.0.1 (any free port unless one is named), without TLS or
 *  auth, keeping every message it accepts. */
export async function startSmtp(port = 0): Promise<TestSmtp> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.server.address() as AddressInfo;
  return {
    port: addr.port,
    url: `smtp://127.0.0.1:${addr.port}`,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on (taken from the OS, then released). */
export async function freePort(): Promise<number> {
  const s = await startSmtp();
  const port = s.port;
  await s.close();
  return port;
}

/** The readable text of a MIME message: folded header lines joined, quoted-printable
 *  soft breaks and escapes undone. */
export function decodeMail(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split);
  return (
    head.replace(/\r?\n[ \t]+/g, ' ') +
    body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
  );
}

export async function waitFor<T>(f: () => Promise<T | null | undefined | false>, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
