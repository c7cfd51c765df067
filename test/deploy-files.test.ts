// The deploy files (issues #11, #21) parsed and checked, since Docker and Kubernetes do not
// run here: compose profiles (Redis alone needs no secrets), durability and eviction
// settings, grace periods longer than the gateway's drain, the cluster profile, .env.example;
// the Kubernetes probes / preStop / PDB / Service / Secret wiring, the autoscaler, network
// policy, Ingress, topology spread and the Prometheus Operator's objects; haproxy's access
// log (run for real where haproxy is installed); and the Dockerfile's Node LTS.
// (test/production-install.test.ts runs the Dockerfile's commands.)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { prometheusRule } from '../scripts/prometheus-rule.mjs';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../src/config.js';
import { pickFreePort } from './support/free-port.js';

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

  it('.env.example lists exactly the variables docker-compose.yml reads, each empty (no secret in it); .env stays out of git and the image', () => {
    const example = read('.env.example');
    const lines = example.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    const entries = lines.map((l) => /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(l));
    for (const [i, m] of entries.entries()) expect(m, lines[i]).not.toBeNull();
    const keys = entries.map((m) => m![1]!);
    expect(new Set(keys).size).toBe(keys.length);
    const read_ = [...new Set([...composeText.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!))];
    expect([...keys].sort()).toEqual(read_.sort());
    for (const m of entries) expect(m![2], m![1]).toBe('');
    // Every gateway setting it names is one the gateway knows.
    for (const k of Object.keys(services.gateway.environment)) if (keys.includes(k)) expect(CONFIG_VARIABLES).toContain(k);
    expect(composeText).toContain('cp .env.example .env');
    expect(read('.gitignore').split('\n')).toContain('.env');
    expect(read('.dockerignore').split('\n')).toEqual(expect.arrayContaining(['.env', '.env.*']));
  });

  it('the gateways are built with the GIT_COMMIT build argument the Dockerfile declares', () => {
    for (const [name, s] of Object.entries(services).filter(([, s]) => s.build)) {
      expect(s.build.context, name).toBe('.');
      expect(s.build.args.GIT_COMMIT, name).toBe('${GIT_COMMIT:-}');
    }
    expect(read('Dockerfile')).toMatch(/^ARG GIT_COMMIT=""$/m);
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
  // deploy/k8s/*.yaml and deploy/k8s/monitoring/*.yaml (the Prometheus Operator's objects).
  const k8sFiles = (dir: string): string[] =>
    readdirSync(new URL(`../${dir}/`, import.meta.url)).flatMap((f) =>
      statSync(new URL(`../${dir}/${f}`, import.meta.url)).isDirectory() ? k8sFiles(`${dir}/${f}`) : f.endsWith('.yaml') ? [`${dir}/${f}`] : [],
    );
  const docs = k8sFiles('deploy/k8s').flatMap((f) => parseAllDocuments(read(f)).map((d) => ({ file: f, doc: d.toJS() as any })));
  const kind = (k: string) => docs.filter((d) => d.doc?.kind === k).map((d) => d.doc);
  const one = (k: string) => {
    const all = kind(k);
    expect(all, k).toHaveLength(1);
    return all[0];
  };
  const deployment = () => one('Deployment');
  const pod = () => deployment().spec.template.spec;
  const container = () => pod().containers[0];
  const podLabels = () => deployment().spec.template.metadata.labels;
  const envOf = () => Object.fromEntries(container().env.map((e: any) => [e.name, e.value])) as Record<string, string>;
  const secretEnv = () => one('Secret').stringData as Record<string, string>;
  const config = () => loadConfig({ ...secretEnv(), ...envOf() });

  it('parses, every document with apiVersion, kind and a name', () => {
    expect(docs.length).toBeGreaterThanOrEqual(5);
    for (const { file, doc } of docs) {
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.kind, file).toBeTruthy();
      if (doc.kind !== 'Kustomization') expect(doc.metadata?.name, file).toBeTruthy();
    }
  });

  it('Deployment: /readyz readiness, /healthz start-up and liveness, preStop, a grace period longer than preStop + drain, config from the Secret', () => {
    const [dep] = kind('Deployment');
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    // The autoscaler owns the count (a `replicas` here would reset it on every apply).
    expect(dep.spec.replicas).toBeUndefined();
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    // Start-up (Redis, PostgreSQL, migrations) gets its own probe and at least a minute;
    // liveness waits for it instead of guessing an initial delay.
    expect(c.startupProbe.httpGet.path).toBe('/healthz');
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(60);
    expect(c.livenessProbe.initialDelaySeconds).toBeUndefined();
    const portNames = c.ports.map((p: any) => p.name);
    for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) expect(portNames).toContain(probe.httpGet.port);
    // The container's port is the gateway's PORT (8080 unless the Deployment sets another).
    expect(c.ports[0].containerPort).toBe(loadConfig({ ...envOf(), ...secretEnv() }).port);
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
  });

  it('each kustomization lists every manifest of its folder but the example Secret; the Prometheus Operator\'s objects apart', () => {
    const kusts = docs.filter((d) => d.doc?.kind === 'Kustomization');
    expect(kusts.map((k) => k.file).sort()).toEqual(['deploy/k8s/kustomization.yaml', 'deploy/k8s/monitoring/kustomization.yaml']);
    for (const k of kusts) {
      const dir = k.file.replace(/\/kustomization\.yaml$/, '');
      const here = docs.filter((d) => d.file.startsWith(`${dir}/`) && !d.file.slice(dir.length + 1).includes('/'));
      const expected = here.filter((d) => !['Kustomization', 'Secret'].includes(d.doc.kind)).map((d) => d.file.slice(dir.length + 1));
      expect([...k.doc.resources].sort(), k.file).toEqual([...new Set(expected)].sort());
    }
    // The gateway deploys without the monitoring CRDs: none of theirs in the main folder.
    const main = docs.filter((d) => /^deploy\/k8s\/[^/]+$/.test(d.file));
    for (const d of main) expect(d.doc.apiVersion, d.file).not.toMatch(/monitoring\.coreos\.com/);
  });

  it('HorizontalPodAutoscaler: scales the Deployment on CPU (which it requests), from 2 up, above the PDB, down one pod at a time', () => {
    const hpa = one('HorizontalPodAutoscaler');
    const dep = deployment();
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: dep.apiVersion, kind: 'Deployment', name: dep.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    // With minAvailable below the minimum, a node drain can always evict one.
    expect(one('PodDisruptionBudget').spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
    const cpu = hpa.spec.metrics.find((m: any) => m.resource?.name === 'cpu');
    expect(cpu.resource.target.type).toBe('Utilization');
    expect(cpu.resource.target.averageUtilization).toBeGreaterThan(0);
    expect(cpu.resource.target.averageUtilization).toBeLessThanOrEqual(100);
    // Utilization is measured against the request: without one the HPA cannot act.
    expect(container().resources.requests.cpu).toBeTruthy();
    const down = hpa.spec.behavior.scaleDown;
    expect(down.policies).toEqual([expect.objectContaining({ type: 'Pods', value: 1 })]);
    expect(down.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
  });

  it('topology spread: over zones and over nodes, selecting exactly the Deployment\'s pods', () => {
    const spread = pod().topologySpreadConstraints;
    expect(spread.map((t: any) => t.topologyKey).sort()).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const t of spread) {
      expect(t.maxSkew).toBe(1);
      expect(podLabels()).toMatchObject(t.labelSelector.matchLabels);
      expect(t.labelSelector.matchLabels).toEqual(deployment().spec.selector.matchLabels);
      expect(['DoNotSchedule', 'ScheduleAnyway']).toContain(t.whenUnsatisfiable);
    }
    expect(spread.find((t: any) => t.topologyKey === 'kubernetes.io/hostname').whenUnsatisfiable).toBe('DoNotSchedule');
  });

  it("Ingress: TLS and the rule on PUBLIC_BASE_URL's host (Twilio signs over it), to the Service's port, WebSocket timeouts above the heartbeat, no access log of ?token=", () => {
    const ing = one('Ingress');
    const base = new URL(config().publicBaseUrl!);
    expect(base.protocol).toBe('https:');
    expect(base.pathname).toBe('/');
    expect(ing.spec.tls).toHaveLength(1);
    expect(ing.spec.tls[0].hosts).toEqual([base.host]);
    expect(ing.spec.tls[0].secretName).toBeTruthy();
    expect(ing.spec.rules.map((r: any) => r.host)).toEqual([base.host]);
    const [path] = ing.spec.rules[0].http.paths;
    expect(path).toMatchObject({ path: '/', pathType: 'Prefix' });
    const svc = one('Service');
    expect(path.backend.service.name).toBe(svc.metadata.name);
    expect(svc.spec.ports.map((p: any) => p.name)).toContain(path.backend.service.port.name);
    const a = ing.metadata.annotations;
    const heartbeatS = config().ws.heartbeatMs / 1000;
    for (const k of ['proxy-read-timeout', 'proxy-send-timeout']) {
      const v = Number(a[`nginx.ingress.kubernetes.io/${k}`]);
      // An hour: sockets outlive any call; and a socket idle but for heartbeats stays open.
      expect(v, k).toBeGreaterThanOrEqual(3600);
      expect(v, k).toBeGreaterThan(2 * heartbeatS);
    }
    expect(a['nginx.ingress.kubernetes.io/enable-access-log']).toBe('false');
    expect(a['nginx.ingress.kubernetes.io/force-ssl-redirect']).toBe('true');
  });

  it('NetworkPolicy: in only to the container port from the ingress controller and Prometheus; out to DNS, Redis, PostgreSQL and HTTPS', () => {
    const np = one('NetworkPolicy');
    expect(np.spec.podSelector.matchLabels).toEqual(deployment().spec.selector.matchLabels);
    expect(np.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    const [inRule] = np.spec.ingress;
    expect(np.spec.ingress).toHaveLength(1);
    const c = container();
    expect(inRule.ports.map((p: any) => p.port)).toEqual([c.ports[0].name]);
    const fromNs = inRule.from.map((f: any) => f.namespaceSelector.matchLabels['kubernetes.io/metadata.name']).sort();
    expect(fromNs).toEqual(['ingress-nginx', 'monitoring']);
    // Egress: every port a setting of the example names, plus DNS and HTTPS (Twilio's REST API).
    const allowed = new Set<string>(np.spec.egress.flatMap((r: any) => r.ports.map((p: any) => `${p.protocol}/${p.port}`)));
    const secret = secretEnv();
    const port = (url: string, def: number) => Number(new URL(url).port || def);
    const needed = ['UDP/53', 'TCP/53', 'TCP/443', `TCP/${port(secret.REDIS_URL!, 6379)}`, `TCP/${port(secret.DATABASE_URL!, 5432)}`];
    for (const n of needed) expect(allowed, n).toContain(n);
    // The cloud's metadata service is not reachable through the open egress rule.
    for (const r of np.spec.egress) for (const t of r.to) if (t.ipBlock) expect(t.ipBlock.except).toContain('169.254.169.254/32');
  });

  it("ServiceMonitor: the Service's port, /metrics, with the Secret's METRICS_TOKEN as bearer", () => {
    const sm = one('ServiceMonitor');
    const svc = one('Service');
    expect(svc.metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
    const [ep] = sm.spec.endpoints;
    expect(svc.spec.ports.map((p: any) => p.name)).toContain(ep.port);
    expect(ep.path).toBe('/metrics');
    expect(ep.authorization.type).toBe('Bearer');
    expect(ep.authorization.credentials.name).toBe(one('Secret').metadata.name);
    expect(Object.keys(secretEnv())).toContain(ep.authorization.credentials.key);
    expect(ep.authorization.credentials.key).toBe('METRICS_TOKEN');
    expect(seconds(ep.scrapeTimeout)).toBeLessThanOrEqual(seconds(ep.interval));
  });

  it('PrometheusRule: exactly the rules of deploy/prometheus/alerts.yml (generated from it by scripts/prometheus-rule.mjs)', () => {
    const alertsText = read('deploy/prometheus/alerts.yml');
    const rule = one('PrometheusRule');
    expect(rule.spec.groups).toEqual(parse(alertsText).groups);
    expect(rule.spec.groups[0].rules.length).toBeGreaterThanOrEqual(6);
    // And byte for byte what the script writes, so `node scripts/prometheus-rule.mjs` is the way to change it.
    expect(read('deploy/k8s/monitoring/prometheusrule.yaml'), 'run node scripts/prometheus-rule.mjs').toBe(prometheusRule(alertsText));
  });
});

describe.skipIf(spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status !== 0)('kubectl kustomize (kustomize itself, no cluster)', () => {
  it('builds both folders', () => {
    for (const [dir, n] of [['deploy/k8s', 6], ['deploy/k8s/monitoring', 2]] as const) {
      const r = spawnSync('kubectl', ['kustomize', dir], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(parseAllDocuments(r.stdout).length, dir).toBe(n);
    }
  });
});

describe('deploy/haproxy/haproxy.cfg: the access log never holds a token', () => {
  const cfg = read('deploy/haproxy/haproxy.cfg');

  it('logs method, path and version through its own log-format: no request line (%r), no URI or query (%HU, %HQ), no option httplog', () => {
    expect(cfg).not.toMatch(/^\s*option\s+httplog/m);
    const formats = [...cfg.matchAll(/^\s*log-format\s+(.*)$/gm)].map((m) => m[1]!);
    expect(formats).toHaveLength(1);
    expect(formats[0]).not.toMatch(/%(\{[^}]*\})?(r|HU|HQ)\b/);
    expect(formats[0]).toContain('%[var(txn.logpath)]');
    // The logged path is the `path` fetch (no query string), not `url`.
    expect(cfg).toMatch(/http-request set-var\(txn\.logpath\) path,regsub\(/);
    expect(cfg).not.toMatch(/capture request/);
  });

  const haproxy = spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!haproxy)('haproxy itself, in front of a local server: /v1/ws?token=… and /twilio/media/<token> are logged without their tokens', async () => {
    const backend: Server = createServer((req, res) => res.end('ok'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const backendPort = (backend.address() as { port: number }).port;
    const port = await pickFreePort();
    const dir = mkdtempSync(join(tmpdir(), 'mgt-haproxy-'));
    const file = join(dir, 'haproxy.cfg');
    const local = cfg.replace(/^(\s*bind\s+):8080$/m, `$1127.0.0.1:${port}`).replace(/^(\s*server (\S+)) \2:8080$/gm, `$1 127.0.0.1:${backendPort}`);
    expect(local).toContain(`127.0.0.1:${port}`);
    writeFileSync(file, local);
    const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      await expect
        .poll(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status).catch(() => 0)), { timeout: 10_000 })
        .toBe(200);
      for (const path of ['/v1/ws?token=SECRET-staff-token', '/twilio/media/SECRET-media-token', '/v1/accounts/a1/balance?token=SECRET-2']) {
        expect((await fetch(`http://127.0.0.1:${port}${path}`)).status).toBe(200);
      }
      await expect.poll(() => out.split('\n').filter((l) => l.includes('"GET /')).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(4);
      expect(out).toContain('"GET /v1/ws HTTP/1.1"');
      expect(out).toContain('"GET /twilio/media/- HTTP/1.1"');
      expect(out).toContain('"GET /v1/accounts/a1/balance HTTP/1.1"');
      expect(out).not.toContain('SECRET');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await new Promise((r) => backend.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Dockerfile', () => {
  it('builds and runs on the current Node LTS with a pinned major tag', () => {
    const froms = [...read('Dockerfile').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toBe('node:24-bookworm-slim');
  });
});
