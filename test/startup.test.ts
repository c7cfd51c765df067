// Start-up as an operator meets it: the real entry point in a child process.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../src/config.js';
import { builtEntry } from './support/built.js';
import { TEST_REDIS_URL } from './support/redis-url.js';
import { runMain } from './support/run-main.js';

const run = runMain;

describe('start-up', () => {
  it('exits non-zero naming REDIS_URL and how to start Redis when Redis cannot be reached', async () => {
    const r = await run({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_CONNECT_TIMEOUT_SECONDS: '1', PORT: '0' });
    expect(r.code).toBe(1);
    expect(r.out).toContain('REDIS_URL=redis://127.0.0.1:1');
    expect(r.out).toMatch(/redis-server/);
  });

  it('in production, refuses to start without its secrets, one line per variable', async () => {
    const r = await run({ NODE_ENV: 'production', PORT: '0' });
    expect(r.code).toBe(2);
    // TWILIO_ACCOUNT_SID too: without it lost signals could never be reconciled (R15).
    for (const v of ['ADMIN_API_KEY', 'STAFF_TOKEN_SECRET', 'TWILIO_AUTH_TOKEN', 'PUBLIC_BASE_URL', 'TWILIO_ACCOUNT_SID']) {
      expect(r.out).toMatch(new RegExp(`^\\s+- ${v}: required when NODE_ENV=production$`, 'm'));
    }
  });

  it('names every malformed variable', () => {
    try {
      loadConfig({ PORT: 'eighty', RESERVE_MINUTES: '0', PUBLIC_BASE_URL: 'ftp://x', REDIS_PREFIX: 'a{b}' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      for (const v of ['PORT', 'RESERVE_MINUTES', 'PUBLIC_BASE_URL', 'REDIS_PREFIX']) expect(problems).toContain(v);
    }
  });

  // `npm start` with no secrets: `node dist/main.js` (this run's build, support/built.ts).
  const devRun = (extra: Record<string, string> = {}) =>
    new Promise<{ out: string }>((resolve) => {
      const child = spawn(process.execPath, [builtEntry('src/main.ts')], {
        env: { PATH: process.env.PATH ?? '', REDIS_URL: TEST_REDIS_URL, PORT: '0', REDIS_PREFIX: `mgt-dev-${process.pid}`, LOG_LEVEL: 'info', ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      const onData = (d: Buffer) => {
        out += d;
        if (out.includes('minutegate listening')) child.kill('SIGTERM');
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('exit', () => resolve({ out }));
    });

  it('in dev mode, says so loudly and prints a generated admin key, never the staff secret', async () => {
    const r = await devRun();
    expect(r.out).toContain('DEV MODE');
    expect(r.out).toMatch(/ADMIN_API_KEY=dev-\S{20,}/);
    expect(r.out).toContain('TWILIO_AUTH_TOKEN is not set');
  });

  it('never prints a configured secret, even in dev mode', async () => {
    const key = 'configured-admin-key-never-printed';
    const r = await devRun({ ADMIN_API_KEY: key });
    expect(r.out).toContain('DEV MODE');
    expect(r.out).not.toContain(key);
    expect(r.out).not.toContain('ADMIN_API_KEY=');
  });
});
