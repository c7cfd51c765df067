// The gateway as the WebSocket bench drives it: a fresh process per phase, accounts and
// staff tokens through the admin API, and client sockets (closed by cleanup).
import { join } from 'node:path';
import WebSocket from 'ws';
import { gatewayEnv } from '../lib/identity.js';
import { startServer, type Child } from '../lib/processes.js';
import { ROOT } from '../lib/util.js';
import { AUTHORIZATION_TTL_SECONDS, ID, MONTHLY_MINUTES, WS_MAX_MESSAGES_PER_SECOND, api, log } from './context.js';

/** A fresh gateway per phase, with the open-files limit raised for 10,000 sockets. */
export function startGateway(label: string): Promise<Child> {
  return startServer({
    name: `gateway (${label})`,
    script: join(ROOT, 'dist', 'main.js'),
    env: {
      ...gatewayEnv(ID),
      WS_MAX_MESSAGES_PER_SECOND: String(WS_MAX_MESSAGES_PER_SECOND),
      AUTHORIZATION_TTL_SECONDS: String(AUTHORIZATION_TTL_SECONDS),
      // The auth phase keeps every authorization open for its TTL, thousands per staff
      // member: the per-staff cap (issue #8) is lifted so it measures throughput.
      MAX_OPEN_AUTHORIZATIONS_PER_STAFF: '100000',
      // The fan-out phase opens 10,000 sockets with one staff token (issue #16's bound).
      WS_MAX_SOCKETS_PER_STAFF: '100000',
      // Media Streams are off by default (the route answers 404); the media phase needs them.
      MEDIA_STREAMS: 'on',
    },
    readyPath: '/readyz',
    log,
    raiseFileLimit: true,
  });
}

export async function mustApi(port: number, method: string, path: string, body: unknown, expect: number): Promise<any> {
  const r = await api(port, method, path, body);
  if (r.status !== expect) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
  return r.json;
}

export async function createAccount(port: number, id: string, staff: { id: string; identity: string }[], phoneNumbers: string[] = []) {
  await mustApi(
    port,
    'POST',
    '/v1/accounts',
    {
      id,
      name: `ws bench ${id}`,
      monthlyMinutes: MONTHLY_MINUTES,
      staff: staff.map((s) => ({ id: s.id, email: `${s.id}@${id}.example`, identity: s.identity })),
      phoneNumbers,
    },
    201,
  );
}

export async function staffToken(port: number, accountId: string, staffId: string): Promise<string> {
  return (await mustApi(port, 'POST', `/v1/accounts/${accountId}/staff/${staffId}/token`, { ttlSeconds: 3600 }, 201)).token as string;
}

export const wsBase = (port: number) => `ws://127.0.0.1:${port}`;

/** `onMessage` is attached before the handshake: a first frame that arrives in the same
 *  read as the 101 response is emitted synchronously right after 'open', before any
 *  continuation of an awaited open could attach a listener. */
export function openWs(url: string, headers: Record<string, string>, onMessage?: (data: Buffer) => void): Promise<WebSocket> {
  return new Promise((resolveWs, reject) => {
    const ws = new WebSocket(url, {
      headers,
      perMessageDeflate: false,
      skipUTF8Validation: true,
      generateMask() {}, // all-zero mask: no client-side masking work
      handshakeTimeout: 20_000,
    });
    if (onMessage) ws.on('message', (data: Buffer) => onMessage(data));
    ws.once('open', () => resolveWs(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => reject(new Error(`upgrade refused: HTTP ${res.statusCode} ${body.slice(0, 200)}`)));
    });
  });
}

export const BALANCE_PREFIX = Buffer.from('{"type":"balance"');
export const isBalance = (data: Buffer) =>
  data.length >= BALANCE_PREFIX.length && data.compare(BALANCE_PREFIX, 0, BALANCE_PREFIX.length, 0, BALANCE_PREFIX.length) === 0;

// ---- sockets of this process, terminated on cleanup

/** Sockets of this process, terminated on cleanup. */
export const openSockets = new Set<WebSocket>();
export const trackWs = (ws: WebSocket) => {
  openSockets.add(ws);
  ws.once('close', () => openSockets.delete(ws));
  return ws;
};
