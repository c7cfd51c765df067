// @minutegate/client as a user gets it: `npm pack -w @minutegate/client` (its prepack builds
// it), the tarball installed into an empty project in a temp folder from npm's cache (no
// registry), and there: publint, import from ESM and from CommonJS, a strict tsc of a
// consumer (typed REST included; an unknown path is a type error), an esbuild browser
// bundle (no Node built-ins, within bundle-limits.json), and a consumer script run against
// a real gateway. The committed generated REST types must match the gateway's document.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { spawn } from 'node:child_process';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTypes, TYPES_FILE } from '../packages/client/scripts/generate-types.js';
import { createAccount, startTestGateway, TEST_ADMIN_KEY, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const limits = JSON.parse(await readFile(join(root, 'packages/client/bundle-limits.json'), 'utf8')) as { browserBundleBytes: number };

it('the committed REST types are what openapi-typescript makes of the gateway’s OpenAPI document', async () => {
  expect(await readFile(TYPES_FILE, 'utf8')).toBe(await generateTypes());
}, 60_000);

/**
 * Installs the tarball and its dependencies into `dir` from npm's cache alone (CI may have
 * no registry). `npm install --offline <tarball>` would need the dependencies' registry
 * metadata, which an install from a lockfile never caches; so the consumer gets a lockfile
 * of its own, with the dependencies as the repository's lockfile pins them (their tarballs
 * are in the cache by integrity since `npm ci`), and `npm ci --offline` installs it.
 */
async function installOffline(dir: string, file: string, integrity: string): Promise<void> {
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  const client = lock.packages['packages/client'] as { dependencies?: Record<string, string> };
  const spec = `file:${file}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { '@minutegate/client': spec } },
    'node_modules/@minutegate/client': { version: '0.1.0', resolved: spec, integrity, dependencies: client.dependencies },
  };
  // Where npm fetched (and so cached) each tarball: the configured registry's usual path.
  const registry = (await run('npm', ['config', 'get', 'registry'], { cwd: root })).stdout.trim().replace(/\/+$/, '');
  const todo = Object.keys(client.dependencies ?? {});
  for (let name = todo.shift(); name; name = todo.shift()) {
    const entry = lock.packages[`node_modules/${name}`] as { version: string; resolved?: string; dependencies?: Record<string, string> } | undefined;
    if (!entry) throw new Error(`${name} is not in package-lock.json at the top level`);
    packages[`node_modules/${name}`] = { ...entry, resolved: entry.resolved ?? `${registry}/${name}/-/${name.split('/').pop()}-${entry.version}.tgz` };
    todo.push(...Object.keys(entry.dependencies ?? {}).filter((d) => !packages[`node_modules/${d}`]));
  }
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { '@minutegate/client': spec } }));
  await writeFile(join(dir, 'package-lock.json'), JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }));
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: dir, maxBuffer: 16 << 20 });
}

describe('the packed tarball in an empty project', () => {
  let dir: string;
  let gw: TestGateway;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'minutegate-client-'));
    const packed = await run('npm', ['pack', '-w', '@minutegate/client', '--pack-destination', dir, '--json'], { cwd: root, maxBuffer: 16 << 20 });
    // npm prints the prepack script's lines first, then the JSON.
    const [tarball] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as [{ filename: string; integrity: string; files: { path: string }[] }];
    // What a consumer needs and nothing else: no sources, scripts or tests.
    expect(tarball.files.map((f) => f.path).filter((p) => !/^(dist\/|package\.json$|README\.md$|LICENSE$)/.test(p))).toEqual([]);
    await installOffline(dir, tarball.filename.split('/').pop()!, tarball.integrity);
    gw = await startTestGateway();
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('brings no server dependency and passes publint', async () => {
    const installed = (await readdir(join(dir, 'node_modules'))).filter((n) => !n.startsWith('.'));
    expect(installed.sort()).toEqual(['@minutegate', 'openapi-fetch', 'openapi-typescript-helpers', 'ws']);
    const pkgDir = join(dir, 'node_modules/@minutegate/client');
    const { stdout } = await run(process.execPath, [join(root, 'node_modules/publint/src/cli.js'), pkgDir, '--strict'], { cwd: pkgDir });
    expect(stdout).toContain('All good');
  });

  it('imports from ESM and from CommonJS', async () => {
    const names = 'createClient,createApiClient,DeniedError,MinutegateError,socketUrl,CLOSE';
    const esm = await run(process.execPath, ['--input-type=module', '-e', `import * as m from '@minutegate/client'; console.log('${names}'.split(',').map((n) => typeof m[n]).join())`], { cwd: dir });
    expect(esm.stdout.trim()).toBe('function,function,function,function,function,object');
    const cjs = await run(process.execPath, ['--input-type=commonjs', '-e', `const m = require('@minutegate/client'); console.log('${names}'.split(',').map((n) => typeof m[n]).join())`], { cwd: dir });
    expect(cjs.stdout.trim()).toBe('function,function,function,function,function,object');
  });

  it('type-checks a strict consumer (ESM and CommonJS); an unknown REST path is a type error', async () => {
    await writeFile(
      join(dir, 'tsconfig.json'),
      // Node's types from the repository (the consumer installs nothing but the tarball).
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(root, 'node_modules/@types')] },
        include: ['*.ts', '*.cts'],
      }),
    );
    await writeFile(
      join(dir, 'consumer.ts'),
      `import { createApiClient, createClient, DeniedError, type Authorization, type BalanceMessage, type ConnectionState } from '@minutegate/client';
const c = createClient({ url: 'https://minutes.example.com', getToken: async () => 'token' });
const b: BalanceMessage = await c.ready;
const state: ConnectionState = c.state;
const off: () => void = c.on('alert', (a) => console.log(a.level, a.available));
const auth: Authorization = await c.authorize('+14155550100', { signal: AbortSignal.timeout(5000) });
await c.cancel(auth.authorizationId).catch((e: unknown) => e instanceof DeniedError && e.reason === 'no_minutes');
const api = createApiClient({ url: 'https://minutes.example.com', token: 'token' });
const { data, error } = await api.GET('/v1/accounts/{id}/balance', { params: { path: { id: b.accountId } } });
const minutes: number | undefined = data?.balance;
const code: string | undefined = error?.error.code;
// @ts-expect-error: the gateway has no such path
await api.GET('/v1/no/such/path');
// @ts-expect-error: the path parameter is required
await api.GET('/v1/accounts/{id}/balance', {});
console.log(state, off, minutes, code);
`,
    );
    await writeFile(
      join(dir, 'consumer-cjs.cts'),
      `import mg = require('@minutegate/client');
const c: mg.MinutegateClient = mg.createClient({ url: 'http://127.0.0.1:1', token: 't' });
c.close();
`,
    );
    const tsc = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir }).catch((e: { stdout: string }) => e);
    expect(tsc.stdout).toBe('');
    // The same consumer with a wrong type is refused (the check above can fail).
    await writeFile(join(dir, 'wrong.ts'), `import { createApiClient } from '@minutegate/client';\nconst { data } = await createApiClient({ url: '', token: '' }).GET('/v1/accounts/{id}/balance', { params: { path: { id: 'a' } } });\nconst s: string | undefined = data?.balance;\nconsole.log(s);\n`);
    const wrong = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir }).catch((e: { stdout: string }) => e);
    expect(wrong.stdout).toMatch(/wrong\.ts.*number.*string/s);
    await rm(join(dir, 'wrong.ts'));
  }, 60_000);

  it(`bundles for the browser with esbuild: no Node built-ins, under ${limits.browserBundleBytes} bytes unminified`, async () => {
    await writeFile(join(dir, 'page.js'), `import { createClient, createApiClient } from '@minutegate/client';\nwindow.mg = { createClient, createApiClient };\n`);
    const out = await esbuild.build({ absWorkingDir: dir, entryPoints: ['page.js'], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs.filter((i) => /(^|\/)(ws|node:|undici)/.test(i) || i.includes('node.cjs') || i.includes('/node.js'))).toEqual([]);
    expect(inputs).toContain('node_modules/@minutegate/client/dist/browser.js');
    expect(out.outputFiles[0]!.contents.length).toBeLessThan(limits.browserBundleBytes);
  });

  it('runs against a real gateway: ready, balance, authorize, cancel, events, typed REST, refused token, getToken over a revocation', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 5 });
    await writeFile(
      join(dir, 'live.mjs'),
      `import { createApiClient, createClient } from '@minutegate/client';
const { URL: url, ACCOUNT: id, ADMIN: admin } = process.env;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const mint = async () => (await (await fetch(url + '/v1/accounts/' + id + '/staff/alice/token', { method: 'POST', headers: { authorization: 'Bearer ' + admin } })).json()).token;
const token = await mint();
const c = createClient({ url, token });
const b = await c.ready;
say({ ready: b.available, balance: c.balance.balance });
const auth = await c.authorize('+14155550100');
say({ authorized: typeof auth.authorizationId, expiresAt: Date.parse(auth.expiresAt) > Date.now() });
await c.cancel(auth.authorizationId);
say({ canceled: true });
const api = createApiClient({ url, token });
const { data } = await api.GET('/v1/accounts/{id}/balance', { params: { path: { id } } });
say({ rest: data.balance });
const events = [];
await new Promise((done) => {
  c.on('call', (m) => { events.push(m.event); if (m.event === 'ended') done(); });
  say({ waiting: true });
});
say({ events, after: c.balance.balance });
c.close();

const t0 = Date.now();
let attempts = 0;
const bad = createClient({ url, getToken: async () => (attempts += 1, 'not-a-token-' + attempts) });
const err = await bad.ready.catch((e) => e);
say({ refused: err.code, ms: Date.now() - t0, attempts, state: bad.state });

let asked = 0;
const r = createClient({ url, getToken: async () => (asked += 1, mint()) });
await r.ready;
// Listening before the revocation: the socket may be closed and reopened before the
// revocation's own answer is read.
const reopened = new Promise((done) => {
  let away = false;
  r.on('state', (s) => (s === 'open' ? away && done() : (away = true)));
});
await fetch(url + '/v1/accounts/' + id + '/staff/alice/revoke-tokens', { method: 'POST', headers: { authorization: 'Bearer ' + admin } });
await reopened;
const again = await r.authorize('+14155550101');
await r.cancel(again.authorizationId);
say({ afterRevoke: asked, authorized: typeof again.authorizationId });
r.close();
`,
    );
    const child = spawn(process.execPath, ['live.mjs'], { cwd: dir, env: { ...process.env, URL: gw.url, ACCOUNT: a.id, ADMIN: TEST_ADMIN_KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const said: Record<string, unknown>[] = [];
    for await (const line of createInterface({ input: child.stdout })) {
      const o = JSON.parse(line) as Record<string, unknown>;
      said.push(o);
      if (o.waiting) {
        const call = await placeSoftphoneCall(gw, a.identity);
        await postAll(gw, answeredCallSignals(call.callSid, 65));
      }
    }
    const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', r)));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(said).toEqual([
      { ready: 5, balance: 5 },
      { authorized: 'string', expiresAt: true },
      { canceled: true },
      { rest: 5 },
      { waiting: true },
      { events: expect.arrayContaining(['started', 'ended']), after: expect.any(Number) },
      { refused: 'UNAUTHORIZED', ms: expect.any(Number), attempts: 2, state: 'unauthorized' },
      { afterRevoke: 2, authorized: 'string' },
    ]);
    expect(said[6]!.ms).toBeLessThan(5000);
  }, 60_000);
});
