// `npm run demo` as a newcomer runs it: one process that prints a sign-in link that works,
// serves the app in development mode (the test card), and makes the balance move with
// simulated calls signed with its own generated Twilio auth token.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/billing.js';

const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('npm run demo', () => {
  it('prints a working /app link, runs in development mode, trickles calls that move the balance, and stops cleanly', async () => {
    const child = spawn(process.execPath, ['--conditions=minutegate-source', '--import', 'tsx', 'scripts/demo/main.ts', '--port', '0', '--every', '0.3', '--hold', '0.5', '--seed', '7', '--no-build'], {
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
    expect(await (await fetch(`${base}/app/config.json`)).json()).toMatchObject({ devMode: true });
    const get = async (path: string) => (await fetch(base + path, { headers: { authorization: `Bearer ${token}` } })).json();
    const cards = await get(`/v1/accounts/${claims.accountId}/payment-methods`);
    expect(cards.paymentMethods).toMatchObject([{ brand: 'visa', last4: '4242' }]);
    // Signed simulated calls reach the ledger (the gateway checks every signature).
    await waitFor(async () => {
      const calls = await get(`/v1/accounts/${claims.accountId}/calls?state=ended`);
      return calls.calls.length >= 2;
    }, 20_000, 200);
    expect(stderr).not.toMatch(/simulated call failed/);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
