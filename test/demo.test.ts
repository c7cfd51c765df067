// `npm run demo` as a newcomer runs it: one process that prints a sign-in link that works,
// serves the app in development mode (the test card), makes the balance move with
// simulated calls signed with its own generated Twilio auth token, names its fake Twilio
// to the softphone page (config and CSP), and keeps receipts as files in its mail folder.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeMail, waitFor } from './support/billing.js';

const children: ReturnType<typeof spawn>[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('npm run demo', () => {
  it('prints a working /app link, runs in development mode, trickles calls that move the balance, keeps receipts as files, and stops cleanly', async () => {
    const mailDir = await mkdtemp(join(tmpdir(), 'mg-demo-mail-'));
    dirs.push(mailDir);
    const child = spawn(process.execPath, ['--conditions=minutegate-source', '--import', 'tsx', 'scripts/demo/main.ts', '--port', '0', '--every', '0.3', '--hold', '4', '--seed', '7', '--mail-dir', mailDir, '--no-build'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout! });
    const [link] = (await Promise.race([
      once(lines, 'line'),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no link within 30 s; stderr: ${stderr}`)), 30_000)),
    ])) as [string];
    const m = /^(http:\/\/127\.0\.0\.1:\d+)\/app#token=([\w.-]+)$/.exec(link);
    expect(m, link).not.toBeNull();
    const [, base, token] = m!;
    const claims = JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString());

    expect((await fetch(`${base}/app`)).status).toBe(200);
    // The softphone page is told where the demo's Twilio is, and may reach it (only there).
    const config = await (await fetch(`${base}/app/config.json`)).json();
    expect(config).toMatchObject({ devMode: true, demoTwilio: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    const phoneCsp = (await fetch(`${base}/app/phone`)).headers.get('content-security-policy')!;
    expect(phoneCsp).toContain(`connect-src 'self' https://*.twilio.com wss://*.twilio.com ${config.demoTwilio} ${config.demoTwilio.replace('http', 'ws')};`);
    expect((await fetch(`${base}/app`)).headers.get('content-security-policy')).not.toContain(config.demoTwilio);
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, json: await res.json() };
    };
    const get = async (path: string) => (await call('GET', path)).json;
    // Voice tokens are minted (with the run's made-up Twilio API key) for the softphone.
    const voice = await call('POST', `/v1/accounts/${claims.accountId}/voice-token`);
    expect(voice.status).toBe(201);
    expect(voice.json.identity).toBe(`${claims.accountId}_ana`);
    // A softphone call through the fake Twilio, as the page's demo Device places it: the
    // voice webhook and callbacks it signs reach the gateway and settle the call.
    const device = new WebSocket(`${config.demoTwilio.replace('http', 'ws')}/v1/device`);
    const said: { type: string; callSid?: string }[] = [];
    device.on('message', (m) => {
      said.push(JSON.parse(String(m)));
      if (said.at(-1)!.type === 'accepted') setTimeout(() => device.send(JSON.stringify({ type: 'hangup' })), 500);
    });
    device.on('open', () => device.send(JSON.stringify({ type: 'invite', token: voice.json.token, params: { To: '+14155550123' } })));
    await once(device, 'close');
    expect(said.map((m) => m.type)).toEqual(['ringing', 'accepted', 'ended']);
    const placed = await get(`/v1/accounts/${claims.accountId}/calls/${said[0]!.callSid}`);
    expect(placed).toMatchObject({ state: 'ended', from: `client:${claims.accountId}_ana`, to: '+14155550123', billedMinutes: 0 });
    // The fake Twilio's REST answers only the run's API key.
    expect((await fetch(`${config.demoTwilio}/2010-04-01/Accounts/ACx/Calls.json`)).status).toBe(401);
    const cards = await get(`/v1/accounts/${claims.accountId}/payment-methods`);
    expect(cards.paymentMethods).toMatchObject([{ brand: 'visa', last4: '4242' }]);
    // A purchase's receipt lands in the mail folder as a readable .eml file.
    const q = await call('POST', `/v1/accounts/${claims.accountId}/purchases/quote`, { bundles: 1, kind: 'one_time' });
    expect(q.status).toBe(201);
    const bought = await call('POST', `/v1/accounts/${claims.accountId}/purchases`, { quoteId: q.json.quoteId, paymentMethodId: cards.paymentMethods[0].id }, { 'idempotency-key': randomUUID() });
    expect(bought.status).toBe(201);
    const receipt = await waitFor(async () => (await readdir(mailDir)).find((f) => f.endsWith('-receipt.eml')), 20_000, 200);
    const text = decodeMail(await readFile(join(mailDir, receipt), 'utf8'));
    expect(text).toMatch(/^To: ana@demo-[0-9a-f]{4}\.example/m);
    expect(text).toContain('4242');
    // The console says where it is (once the file is written).
    await waitFor(async () => stderr.includes(`→ ${join(mailDir, receipt)}`), 5000, 100);
    // Signed simulated calls reach the ledger (the gateway checks every signature).
    // Played in real time: no call is billed for more seconds than it really lasted, from
    // the voice webhook (startedAt, the gateway's clock) to when this test first saw it
    // ended. (endedAt is the time Twilio's callback says, so it cannot tell.)
    const seenEnded = new Map<string, number>();
    const ended = await waitFor(async () => {
      const calls = (await get(`/v1/accounts/${claims.accountId}/calls?state=ended`)).calls as any[];
      for (const c of calls) if (!seenEnded.has(c.callSid)) seenEnded.set(c.callSid, Date.now());
      return calls.length >= 2 && calls.some((c) => c.billableSeconds > 0) && calls;
    }, 20_000, 200);
    for (const c of ended) {
      const lasted = seenEnded.get(c.callSid)! - Date.parse(c.startedAt);
      // 250 ms: the voice webhook's own latency, counted in startedAt but not in the talk.
      expect(c.billableSeconds * 1000, JSON.stringify(c)).toBeLessThanOrEqual(lasted + 250);
    }
    expect(stderr).not.toMatch(/simulated call failed/);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
