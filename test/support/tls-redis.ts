// A private redis-server that also listens with TLS (Debian's redis-server is built with
// it), on a certificate made here with openssl: `ca` is the PEM file to trust. The plain
// port stays open for the test's own set-up; the gateway is pointed at `tlsPort` only.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { launchRedis, makeTempDir, pickFreePort, redisCommand, removeTempDir, type RedisProcess } from './redis-server.js';

export interface TlsRedis {
  port: number;
  tlsPort: number;
  ca: string;
  stop(): Promise<void>;
}

/** Null when openssl and a TLS-capable redis-server are here; else why not (the test is
 *  skipped, saying so). */
export function tlsToolsAvailable(): string | null {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    return 'openssl is not installed';
  }
  // A build without TLS refuses the tls-port directive at once; one with TLS would start
  // (listening nowhere) and is stopped by the timeout.
  const probe = spawnSync('redis-server', ['--port', '0', '--tls-port', '0', '--save', '', '--appendonly', 'no'], { timeout: 1_000, encoding: 'utf8' });
  if (probe.error && (probe.error as NodeJS.ErrnoException).code === 'ENOENT') return 'redis-server is not installed';
  if (/Bad directive|FATAL/i.test(`${probe.stdout}${probe.stderr}`)) return 'redis-server was built without TLS';
  return null;
}

/** A self-signed certificate for 127.0.0.1 / localhost (it is its own CA). */
export function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'redis.crt');
  const key = join(dir, 'redis.key');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

export async function startTlsRedis(): Promise<TlsRedis> {
  const dir = makeTempDir('minutegate-tls-redis-');
  const { cert, key } = makeCertificate(dir);
  const port = await pickFreePort();
  const tlsPort = await pickFreePort({ exclude: new Set([port]) });
  let proc: RedisProcess;
  try {
    proc = await launchRedis({
      port,
      dir,
      extraArgs: ['--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no'],
    });
  } catch (err) {
    removeTempDir(dir);
    throw err;
  }
  return {
    port,
    tlsPort,
    ca: cert,
    async stop() {
      await proc.kill();
      removeTempDir(dir);
    },
  };
}

export interface TlsRedisCluster {
  /** TLS ports of the three masters (what the gateway is given). */
  nodes: { host: string; port: number }[];
  ca: string;
  stop(): Promise<void>;
}

/** Three masters with `tls-cluster yes`: TLS clients are told the nodes' TLS ports. */
export async function startTlsRedisCluster(): Promise<TlsRedisCluster> {
  const dir = makeTempDir('minutegate-tls-cluster-');
  const { cert, key } = makeCertificate(dir);
  const procs: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.kill()));
    removeTempDir(dir);
  };
  try {
    const taken = new Set<number>();
    const tlsPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await pickFreePort({ min: 15_000, max: 22_000, exclude: taken });
      taken.add(port);
      // The cluster bus listens on the TLS port + 10000 when tls-cluster is on.
      const tlsPort = await pickFreePort({ min: 15_000, max: 22_000, alsoFree: [10_000], exclude: taken });
      taken.add(tlsPort);
      taken.add(tlsPort + 10_000);
      tlsPorts.push(tlsPort);
      procs.push(
        await launchRedis({
          port,
          dir,
          extraArgs: [
            '--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', cert,
            '--tls-auth-clients', 'no', '--tls-cluster', 'yes',
            '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '5000',
          ],
        }),
      );
    }
    await promisify(execFile)(
      'redis-cli',
      ['--tls', '--cacert', cert, '--cluster', 'create', ...tlsPorts.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: 30_000 },
    );
    // Every node must agree before clients connect (slots assigned, all nodes known).
    const deadline = Date.now() + 30_000;
    for (const p of procs) {
      for (;;) {
        const info = (await redisCommand(p.port, ['CLUSTER', 'INFO']).catch(() => '')) ?? '';
        if (/^cluster_state:ok\r?$/m.test(info) && /^cluster_known_nodes:3\r?$/m.test(info)) break;
        if (Date.now() > deadline) throw new Error(`TLS cluster node ${p.port} not ready: ${info}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { nodes: tlsPorts.map((port) => ({ host: '127.0.0.1', port })), ca: cert, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
