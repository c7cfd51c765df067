// The image's two stages, run here as the Dockerfile writes them since Docker does not run
// on this machine (issue #21, Deployment): the build stage's COPY lines (through
// .dockerignore) and `npm run build` into one folder; the runtime stage's production install
// (`npm ci --omit=dev --ignore-scripts`, exactly its flags) into another, with only dist/
// copied over; then `node dist/main.js` in production mode against the test Redis and
// PostgreSQL. So a runtime import of a devDependency (esbuild, preact, @twilio/voice-sdk,
// typescript…), a file the build stage forgets to copy or a dist/ the server cannot run
// from fails here. Also: every package the server's sources import is a runtime dependency.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatabase } from '../src/postgres/connect.js';
import { callSid, deleteKeys, PUBLIC_BASE_URL, TEST_ADMIN_KEY, TEST_AUTH_TOKEN, TEST_STAFF_SECRET, uniquePrefix, apiRequest } from './support/gateway.js';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';
import { pickFreePort } from './support/free-port.js';
import { dropTestDatabase, testDatabaseUrl } from './support/postgres.js';
import { TEST_REDIS_URL } from './support/redis-url.js';
import { signForm } from './support/twilio-sign.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const runtimeDeps = Object.keys(pkg.dependencies);
const devDeps = Object.keys(pkg.devDependencies);

// ---- the Dockerfile, read as Docker reads it (only what this file uses) ----

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  steps: Instruction[];
}

function dockerStages(text: string): Stage[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const stages: Stage[] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const args = m[2]!.replace(/\s+/g, ' ').trim();
    if (op === 'FROM') stages.push({ name: /\sAS\s+(\S+)/i.exec(args)?.[1] ?? String(stages.length), steps: [] });
    else stages.at(-1)?.steps.push({ op, args });
  }
  return stages;
}

/** .dockerignore's patterns as a test on paths relative to the build context. */
function dockerIgnored(): (rel: string) => boolean {
  const patterns = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const res = patterns.map((p) => {
    const body = p
      .replace(/^\//, '')
      .split('**/')
      .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
      .join('(?:.*/)?');
    // A pattern names a file or a folder (and so everything under it).
    return new RegExp(`^${body}(?:/.*)?$`);
  });
  return (rel) => res.some((r) => r.test(rel));
}

/** COPY <src>... <dest> from the build context (not --from), into `dir` (the WORKDIR). */
function copyFromContext(step: Instruction, dir: string): void {
  const parts = step.args.split(' ');
  const dest = parts.pop()!;
  const ignored = dockerIgnored();
  for (const src of parts) {
    const from = join(root, src);
    const to = parts.length > 1 || dest.endsWith('/') ? join(dir, dest, src.split('/').at(-1)!) : join(dir, dest);
    expect(existsSync(from), `COPY ${src}: not in the repository`).toBe(true);
    expect(ignored(src), `COPY ${src}: excluded by .dockerignore`).toBe(false);
    cpSync(from, to, { recursive: true, filter: (f) => f === from || !ignored(relative(root, f)) });
  }
}

/** The environment of the stages' commands: this one without what `npm test` adds
 *  (npm_config_local_prefix and the like would point npm at this checkout). */
const stageEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE_ENV'));

function sh(cmd: string, cwd: string): string {
  const r = spawnSync('sh', ['-c', cmd], { cwd, env: stageEnv, encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status, `${cmd}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** The `npm ci …` of a RUN line (the part before any `&&`). */
const npmCiOf = (run: string) => run.split('&&').map((c) => c.trim()).find((c) => c.startsWith('npm ci'));

const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const stages = dockerStages(dockerfile);
const build = stages.find((s) => s.name === 'build')!;
const runtime = stages.at(-1)!;

describe('the Dockerfile installs without install scripts, and only dependencies at run time', () => {
  it('both stages run `npm ci --ignore-scripts`; the runtime one with --omit=dev; the runtime gets dist/ from the build stage', () => {
    expect(build).toBeDefined();
    const builds = build.steps.filter((s) => s.op === 'RUN').map((s) => npmCiOf(s.args)).filter(Boolean);
    const runs = runtime.steps.filter((s) => s.op === 'RUN').map((s) => npmCiOf(s.args)).filter(Boolean);
    expect(builds).toHaveLength(1);
    expect(runs).toHaveLength(1);
    expect(builds[0]!.split(' ')).toContain('--ignore-scripts');
    expect(builds[0]!.split(' ')).not.toContain('--omit=dev');
    expect(runs[0]!.split(' ')).toEqual(expect.arrayContaining(['--omit=dev', '--ignore-scripts']));
    const fromBuild = runtime.steps.filter((s) => s.op === 'COPY' && s.args.startsWith('--from='));
    expect(fromBuild.map((s) => s.args)).toEqual(['--from=build /app/dist ./dist']);
    expect(runtime.steps.find((s) => s.op === 'CMD')?.args).toBe('["node", "dist/main.js"]');
  });

  it('every package the server imports at run time is a dependency; the web build\'s tools are not', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.ts$/.test(e.name) && !/\.(test|spec)\.ts$/.test(e.name)) files.push(p);
      }
    };
    walk(join(root, 'src'));
    const imported = new Set<string>();
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      // Static and dynamic imports, and require() through createRequire; type-only imports
      // vanish from the compiled JavaScript.
      const specs = [
        ...[...text.matchAll(/^\s*import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]!),
        ...[...text.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => m[1]!),
        ...[...text.matchAll(/\b(?:import|require)\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
      ];
      for (const s of specs) {
        if (s.startsWith('.') || s.startsWith('node:')) continue;
        imported.add(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!);
      }
    }
    // What the gateway is made of: if one of these stopped being imported the check would
    // prove little, so it is named.
    for (const p of ['hono', 'ioredis', 'pg', 'ws', 'zod', 'swagger-ui-dist']) expect(imported, p).toContain(p);
    for (const p of imported) expect(runtimeDeps, `src imports ${p}`).toContain(p);
    for (const p of ['esbuild', 'preact', '@twilio/voice-sdk', 'typescript']) {
      expect(devDeps, p).toContain(p);
      expect(runtimeDeps, p).not.toContain(p);
    }
  });
});

describe('the image, stage by stage: build, production install, `node dist/main.js`', () => {
  const work = mkdtempSync(join(tmpdir(), 'mgt-image-'));
  const buildDir = join(work, 'build');
  const appDir = join(work, 'app');
  const prefix = uniquePrefix('image');
  const dbUrl = testDatabaseUrl(prefix);
  const redis = new Redis(TEST_REDIS_URL);
  let gw: GatewayProcess | null = null;
  let port = 0;

  beforeAll(async () => {
    // Build stage. Its `npm ci` is the repository's own install (same lockfile, every
    // dependency): installing 250 MB again here would test npm, not the image.
    for (const step of build.steps) {
      if (step.op === 'COPY') copyFromContext(step, buildDir);
      else if (step.op === 'RUN') {
        for (const cmd of step.args.split('&&').map((c) => c.trim())) {
          if (cmd.startsWith('npm ci')) symlinkSync(join(root, 'node_modules'), join(buildDir, 'node_modules'), 'dir');
          else sh(cmd, buildDir);
        }
      }
    }
    // Runtime stage: its commands as written, from the npm cache when it has the packages
    // (--prefer-offline); `npm cache clean` is left out — it would empty this machine's cache.
    for (const step of runtime.steps) {
      if (step.op === 'COPY' && step.args.startsWith('--from=build ')) {
        const [, from, to] = step.args.split(' ');
        cpSync(join(buildDir, relative('/app', from!)), join(appDir, to!), { recursive: true });
      } else if (step.op === 'COPY') copyFromContext(step, appDir);
      else if (step.op === 'RUN') {
        for (const cmd of step.args.split('&&').map((c) => c.trim())) {
          if (cmd.startsWith('npm cache clean')) continue;
          sh(cmd.startsWith('npm ci') ? `${cmd} --prefer-offline` : cmd, appDir);
        }
      }
    }
    // In production the gateway does not create its database: the operator does.
    await ensureDatabase(dbUrl);
    port = await pickFreePort();
  }, 300_000);

  afterAll(async () => {
    if (gw) await gw.stop().catch(() => {});
    await deleteKeys(redis, prefix).catch(() => {});
    redis.disconnect();
    await dropTestDatabase(dbUrl).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  it('the runtime node_modules holds the dependencies and none of the devDependencies', () => {
    const installed = (name: string) => existsSync(join(appDir, 'node_modules', name, 'package.json'));
    for (const d of runtimeDeps) expect(installed(d), d).toBe(true);
    for (const d of devDeps) expect(installed(d), d).toBe(false);
    // Nor the typescript/esbuild binaries that came in through them.
    expect(existsSync(join(appDir, 'node_modules', '@esbuild'))).toBe(false);
    // The built app is in dist/, the sources are not in the image.
    expect(existsSync(join(appDir, 'dist', 'web', 'index.html'))).toBe(true);
    expect(existsSync(join(appDir, 'src'))).toBe(false);
    expect(existsSync(join(appDir, 'web'))).toBe(false);
  });

  it('starts in production mode and serves the API, the webhooks, the web app, /docs and /metrics', async () => {
    const env: Record<string, string> = {};
    for (const s of runtime.steps.filter((x) => x.op === 'ENV')) {
      const [k, v] = s.args.split('=');
      env[k!] = v!;
    }
    expect(env.NODE_ENV).toBe('production');
    gw = await startGatewayProcess(
      prefix,
      {
        ...env,
        GIT_COMMIT: 'abc1234',
        PORT: String(port),
        DATABASE_URL: dbUrl,
        TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
        DRAIN_DELAY_SECONDS: '0',
      },
      { args: ['dist/main.js'], cwd: appDir },
    );
    expect(gw.url).toBe(`http://127.0.0.1:${port}`);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);

    // PostgreSQL (the journal) and Redis (the script) through an account's creation.
    const id = `acct${prefix.slice(-8)}`;
    const number = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    const created = await apiRequest(gw.url, TEST_ADMIN_KEY, 'POST', '/v1/accounts', {
      id,
      name: 'Image test',
      monthlyMinutes: 10,
      staff: [{ id: 'alice', email: 'alice@image.example', identity: `${id}_alice` }],
      phoneNumbers: [number],
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    // A signed Voice URL request for its number: the call is authorized (<Dial>).
    const { body, signature } = signForm(TEST_AUTH_TOKEN, `${PUBLIC_BASE_URL}/twilio/voice`, {
      AccountSid: `AC${'0'.repeat(32)}`,
      CallSid: callSid(),
      CallStatus: 'ringing',
      Direction: 'inbound',
      From: '+14155550199',
      To: number,
    });
    const voice = await fetch(`${gw.url}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body,
    });
    expect(voice.status).toBe(200);
    expect(await voice.text()).toContain('<Dial');

    // The web app bundled in the build stage, and one of its assets.
    const app = await fetch(`${gw.url}/app/`);
    expect(app.status).toBe(200);
    const html = await app.text();
    const asset = /src="(\/app\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset, html).toBeDefined();
    expect((await fetch(`${gw.url}${asset}`)).status).toBe(200);
    // swagger-ui-dist, installed without its install script.
    const docs = await fetch(`${gw.url}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toMatch(/swagger/i);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/minutegate_build_info\{[^}]*commit="abc1234"[^}]*\} 1/);
    expect(metrics).toContain(`version="${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}"`);
  }, 60_000);

  it("the image's HEALTHCHECK command passes against it, and fails once it has stopped", async () => {
    expect(gw).not.toBeNull();
    const hc = runtime.steps.find((s) => s.op === 'HEALTHCHECK')!;
    const argv = JSON.parse(/\bCMD\s+(\[.*\])$/.exec(hc.args)![1]!) as string[];
    expect(argv[0]).toBe('node');
    const probe = () => spawnSync(process.execPath, argv.slice(1), { cwd: appDir, env: { PATH: process.env.PATH ?? '', PORT: String(port) }, encoding: 'utf8' }).status;
    expect(probe()).toBe(0);
    expect(await gw!.stop('SIGTERM')).toBe(0);
    gw = null;
    expect(probe()).toBe(1);
  }, 60_000);
});
