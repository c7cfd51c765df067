// `npm run simulate` against a real gateway: signed Twilio traffic of a day of calls, then
// the books checked. The CLI's JSON line says ok only when the ledger matches, and says
// not ok when the rules it expects are not the gateway's.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseArgs } from '../scripts/simulate/args.js';
import { runSimulation } from '../scripts/simulate/simulate.js';
import { PUBLIC_BASE_URL, startTestGateway, TEST_ADMIN_KEY, TEST_AUTH_TOKEN, type TestGateway } from './support/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw.stop());

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=minutegate-source', '--import', 'tsx', 'scripts/simulate/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

it('plays 60 calls with duplicates and swaps, and finds every allowed call debited once (exit 0, one JSON line)', async () => {
  const r = await runCli([
    '--url', gw.url, '--public-base-url', PUBLIC_BASE_URL, '--twilio-auth-token', TEST_AUTH_TOKEN, '--admin-key', TEST_ADMIN_KEY,
    '--calls', '60', '--concurrency', '6', '--seed', '7', '--minutes', '300',
  ]);
  expect(r.stderr).toContain('books match');
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const out = JSON.parse(lines[0]!);
  expect(Object.keys(out)).toEqual(['calls', 'placed', 'denied', 'expectedMinutes', 'debitedMinutes', 'overageMinutes', 'ok']);
  expect(out).toMatchObject({ calls: 60, ok: true });
  expect(out.placed + out.denied).toBe(60);
  expect(out.placed).toBeGreaterThan(0);
  expect(out.debitedMinutes).toBe(out.expectedMinutes);
  expect(out.expectedMinutes).toBeGreaterThan(0);
}, 60_000);

it('reports ok: false when the ledger does not match what it expects (other billing rules)', async () => {
  const args = parseArgs([
    '--url', gw.url, '--public-base-url', PUBLIC_BASE_URL, '--twilio-auth-token', TEST_AUTH_TOKEN, '--admin-key', TEST_ADMIN_KEY,
    '--calls', '20', '--seed', '3', '--min-billable-seconds', '0', '--billing-increment-seconds', '1',
  ]);
  const r = await runSimulation(args);
  expect(r.ok).toBe(false);
  expect(r.problems.some((p) => /billed \d+, expected \d+/.test(p))).toBe(true);
});

it('refuses bad flags with a usage line and exit 2', async () => {
  const r = await runCli(['--url', 'nope', '--calls', 'many']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--twilio-auth-token is required/);
  expect(r.stderr).toMatch(/--calls: a whole number/);
  expect(r.stderr).toMatch(/usage: npm run simulate/);
});
