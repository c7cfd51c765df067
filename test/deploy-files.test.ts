// The deploy files (issue #11) parsed and checked, since Docker and Kubernetes do not run
// here: compose profiles (Redis alone needs no secrets), durability and eviction settings,
// grace periods longer than the gateway's drain, the cluster profile, the Kubernetes
// probes / preStop / PDB / Service / Secret wiring, and the Dockerfile's Node LTS.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../src/config.js';

const read = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');
const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true }) as { services: Record<string, any> };
const services = compose.services;
const inProfile = (p: string) => Object.entries(services).filter(([, s]) => (s.profiles ?? []).includes(p));
const seconds = (v: string) => {
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(String(v));
  return m ? Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) : NaN;
};
// The gateway's own longest shutdown: DRAIN_DELAY_SECONDS (max 10, 5 by default in
// production) then at most 20 s before main.ts forces the exit.
const DRAIN_S = 5 + 20;
const mainTs = read('src/main.ts');

// Compose's own validation where a Compose CLI is installed (it needs no daemon for
// `config`): v2 as `docker compose`, else v1 as `docker-compose`.
function composeCli(): string[] | null {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8' });
    if (r.status === 0) return cmd;
  }
  return null;
}
const cli = composeCli();

describe.skipIf(cli === null)('docker compose config (the Compose CLI itself)', () => {
  const run = (args: string[]) =>
    spawnSync(cli![0]!, [...cli!.slice(1), ...args], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      // Nothing but PATH: no secret is set.
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });

  it('accepts the file with no secret set, in every profile', () => {
    for (const profiles of [[], ['dev'], ['prod'], ['cluster']]) {
      const r = run([...profiles.flatMap((p) => ['--profile', p]), 'config', '-q']);
      expect(r.status, `${profiles.join(',')}: ${r.stderr}`).toBe(0);
    }
  });
});

describe('docker-compose.yml', () => {
  it('the force-exit bound it relies on is still 20 s in main.ts', () => {
    expect(mainTs).toMatch(/setTimeout\(\(\) => process\.exit\(1\), 20_000\)/);
  });

  it('`docker compose up -d redis postgres` needs no secret: no required ${VAR:?} and only the two stores outside profiles', () => {
    expect(composeText).not.toMatch(/\$\{[A-Z_]+:?\?/);
    const always = Object.entries(services).filter(([, s]) => !s.profiles);
    expect(always.map(([n]) => n)).toEqual(['redis', 'postgres']);
  });

  it('PostgreSQL (the books): a pinned major version, a volume, a health check every gateway waits for, and its URL in every gateway', () => {
    const pg = services.postgres;
    expect(pg.image).toMatch(/^postgres:15(\.\d+)?(-alpine)?$/);
    expect(pg.volumes).toContain('postgres-data:/var/lib/postgresql/data');
    expect(pg.healthcheck.test).toContain('pg_isready');
    for (const name of ['gateway', 'gateway-dev', 'gateway-a', 'gateway-b']) {
      expect(services[name].depends_on.postgres.condition, name).toBe('service_healthy');
      expect(services[name].environment.DATABASE_URL, name).toMatch(/^postgres:\/\/minutegate:.*@postgres:5432\/minutegate$/);
    }
    // The cluster's gateways live on the cluster network: PostgreSQL is on it too.
    expect(pg.networks).toContain('cluster');
  });

  it('Redis: a pinned major.minor image, AOF on with an fsync policy, noeviction, reachable from the host', () => {
    const r = services.redis;
    expect(r.image).toMatch(/^redis:\d+\.\d+(-alpine)?$/);
    const cmd = r.command.join(' ');
    expect(cmd).toContain('--appendonly yes');
    expect(cmd).toMatch(/--appendfsync (everysec|always)/);
    expect(cmd).toContain('--maxmemory-policy noeviction');
    expect(r.ports).toContain('127.0.0.1:${REDIS_HOST_PORT:-6379}:6379');
    expect(r.volumes[0]).toMatch(/:\/data$/);
  });

  it('every gateway: stop_grace_period longer than its drain, production ones in production mode', () => {
    const gateways = Object.entries(services).filter(([, s]) => s.build);
    expect(gateways.length).toBeGreaterThanOrEqual(4);
    for (const [name, s] of gateways) {
      expect(seconds(s.stop_grace_period), name).toBeGreaterThanOrEqual(30);
      expect(seconds(s.stop_grace_period), name).toBeGreaterThan(DRAIN_S);
      for (const key of Object.keys(s.environment)) expect(CONFIG_VARIABLES, `${name}: ${key}`).toContain(key);
    }
    expect(services.gateway.profiles).toEqual(['prod']);
    expect(services.gateway.environment.NODE_ENV).toBe('production');
  });

  // Compose's own `${VAR:-default}` interpolation, for the host environment given.
  const interpolate = (env: Record<string, string>, host: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{([A-Z_]+):-([^}]*)\}/g, (_m, name: string, def: string) => host[name] ?? def)]),
    );

  it('the prod gateway refuses to start without its secrets, naming each, and starts with them', () => {
    const env = services.gateway.environment;
    try {
      loadConfig(interpolate(env, {}));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual(
        ['ADMIN_API_KEY', 'STAFF_TOKEN_SECRET', 'TWILIO_AUTH_TOKEN', 'PUBLIC_BASE_URL', 'TWILIO_ACCOUNT_SID'].map((k) => `${k}: required when NODE_ENV=production`),
      );
    }
    const host = {
      ADMIN_API_KEY: 'a'.repeat(24),
      STAFF_TOKEN_SECRET: 's'.repeat(40),
      TWILIO_AUTH_TOKEN: 't'.repeat(32),
      PUBLIC_BASE_URL: 'https://gw.example.com',
      TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
    };
    expect(loadConfig(interpolate(env, host))).toMatchObject({ production: true, redis: { url: 'redis://redis:6379' } });
  });

  it('the dev gateway starts with nothing set on the host', () => {
    const config = loadConfig(interpolate(services['gateway-dev'].environment, {}));
    expect(config).toMatchObject({ production: false, devMode: true });
  });

  it('the dev profile starts a development gateway with no secret set', () => {
    const dev = inProfile('dev');
    expect(dev.map(([n]) => n)).toEqual(['gateway-dev']);
    const env = dev[0]![1].environment;
    expect(env.NODE_ENV).toBe('development');
    // Secrets are only passed through from the host (empty when unset), never written here.
    for (const k of ['ADMIN_API_KEY', 'STAFF_TOKEN_SECRET', 'TWILIO_AUTH_TOKEN']) expect(env[k]).toBe(`\${${k}:-}`);
    expect(dev[0]![1].depends_on.redis.condition).toBe('service_healthy');
  });

  it('the cluster profile: 3 cluster-enabled masters, an init job, 2 gateways on them, one balanced port polling /readyz', () => {
    const nodes = inProfile('cluster').filter(([, s]) => s.command?.includes('--cluster-enabled'));
    expect(nodes).toHaveLength(3);
    const addrs = nodes.map(([, s]) => `${s.networks.cluster.ipv4_address}:6379`);
    for (const [, s] of nodes) {
      expect(s.command.join(' ')).toContain('--appendonly yes');
      expect(s.command.join(' ')).toContain('--maxmemory-policy noeviction');
    }
    const init = services['redis-cluster-init'];
    expect(init.entrypoint.join(' ')).toContain(`--cluster create ${addrs.join(' ')} --cluster-replicas 0`);
    const gws = inProfile('cluster').filter(([, s]) => s.build);
    expect(gws).toHaveLength(2);
    for (const [, s] of gws) {
      expect(s.environment.REDIS_CLUSTER_NODES).toBe(addrs.join(','));
      expect(s.depends_on['redis-cluster-init'].condition).toBe('service_completed_successfully');
      expect(s.ports).toBeUndefined();
    }
    const lb = services.lb;
    expect(lb.ports).toEqual(['8080:8080']);
    const cfg = read(lb.volumes[0].split(':')[0].replace(/^\.\//, ''));
    expect(cfg).toMatch(/option httpchk GET \/readyz/);
    for (const [n] of gws) expect(cfg).toMatch(new RegExp(`server ${n} ${n}:8080`));
  });
});

describe('deploy/k8s', () => {
  const docs = readdirSync(new URL('../deploy/k8s/', import.meta.url))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(read(`deploy/k8s/${f}`)).map((d) => ({ file: f, doc: d.toJS() as any })));
  const kind = (k: string) => docs.filter((d) => d.doc?.kind === k).map((d) => d.doc);

  it('parses, every document with apiVersion, kind and a name', () => {
    expect(docs.length).toBeGreaterThanOrEqual(5);
    for (const { file, doc } of docs) {
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.kind, file).toBeTruthy();
      if (doc.kind !== 'Kustomization') expect(doc.metadata?.name, file).toBeTruthy();
    }
  });

  it('Deployment: /readyz readiness, /healthz liveness, preStop, a grace period longer than preStop + drain, config from the Secret', () => {
    const [dep] = kind('Deployment');
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    expect(dep.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    const preStop = Number(c.lifecycle.preStop.exec.command.at(-1));
    expect(preStop).toBeGreaterThan(0);
    const drainDelay = Number(c.env.find((e: any) => e.name === 'DRAIN_DELAY_SECONDS')?.value ?? 5);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + drainDelay + 20);
    const [secret] = kind('Secret');
    expect(c.envFrom[0].secretRef.name).toBe(secret.metadata.name);
    expect(c.env.find((e: any) => e.name === 'NODE_ENV').value).toBe('production');
    for (const e of c.env) expect(CONFIG_VARIABLES).toContain(e.name);
    for (const k of Object.keys(secret.stringData)) expect(CONFIG_VARIABLES).toContain(k);
    // Redis is a managed service reached over TLS, not a pod of this example.
    expect(secret.stringData.REDIS_URL).toMatch(/^rediss:\/\//);
    expect(kind('StatefulSet')).toEqual([]);
  });

  it("the Deployment's settings and the Secret's keys together pass the gateway's own production validation", () => {
    const [dep] = kind('Deployment');
    const [secret] = kind('Secret');
    const env: Record<string, string> = { ...secret.stringData };
    for (const e of dep.spec.template.spec.containers[0].env) env[e.name] = e.value;
    const config = loadConfig(env);
    expect(config.production).toBe(true);
    expect(config.redis.tls).toBe(true);
    expect(config.drainDelayMs).toBe(Number(env.DRAIN_DELAY_SECONDS) * 1000);
  });

  it('PodDisruptionBudget and Service select the Deployment\'s pods; the Service targets its port', () => {
    const [dep] = kind('Deployment');
    const labels = dep.spec.template.metadata.labels;
    const [pdb] = kind('PodDisruptionBudget');
    const [svc] = kind('Service');
    expect(labels).toMatchObject(pdb.spec.selector.matchLabels);
    expect(labels).toMatchObject(svc.spec.selector);
    expect(dep.spec.selector.matchLabels).toEqual(pdb.spec.selector.matchLabels);
    expect(pdb.spec.minAvailable ?? pdb.spec.maxUnavailable).toBeDefined();
    const portName = svc.spec.ports[0].targetPort;
    expect(dep.spec.template.spec.containers[0].ports.map((p: any) => p.name)).toContain(portName);
    const [kust] = kind('Kustomization');
    expect(kust.resources).toEqual(expect.arrayContaining(['deployment.yaml', 'service.yaml', 'pdb.yaml']));
  });
});

describe('Dockerfile', () => {
  it('builds and runs on the current Node LTS with a pinned major tag', () => {
    const froms = [...read('Dockerfile').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toBe('node:24-bookworm-slim');
  });
});
