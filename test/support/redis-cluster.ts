/**
 * A throwaway local Redis Cluster (3 masters, no replicas) on spare ports, for tests.
 *
 *   const cluster = await startRedisCluster();
 *   const client = new Cluster(cluster.nodes);
 *   ...
 *   await cluster.stop();
 *
 * Nodes listen on 127.0.0.1 only; for each node both `port` and the cluster bus
 * port `port + 10000` were free when chosen. Processes are protected against leaks
 * the same way as in `redis-server.ts` (exit hook + parent-death watchdog).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  RedisLaunchError,
  launchRedis,
  makeTempDir,
  pickFreePort,
  redisCommand,
  removeTempDir,
  type RedisProcess,
} from './redis-server.js';

export interface RedisClusterNode {
  host: string;
  port: number;
}

export interface RedisClusterHandle {
  /** The three masters, e.g. for `new Cluster(handle.nodes)` from ioredis. */
  readonly nodes: RedisClusterNode[];
  /** Kill every node, wait for the processes to exit and remove the temp dir. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const MASTERS = 3;
const BUS_OFFSET = 10_000;
const CREATE_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 30_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function runRedisCli(args: readonly string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 20_000) output = output.slice(-20_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`redis-cli ${args.join(' ')}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // redis-cli --cluster reports some failures with exit code 0 and "[ERR]".
      if (code === 0 && !/\[ERR\]/.test(output)) resolve();
      else reject(new Error(`redis-cli ${args.join(' ')} failed (code ${code}, signal ${signal})\n${output}`));
    });
  });
}

async function waitForClusterOk(ports: readonly number[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = '';
  for (;;) {
    let allOk = true;
    for (const port of ports) {
      try {
        const info = (await redisCommand(port, ['CLUSTER', 'INFO'], 1_000)) ?? '';
        if (!/^cluster_state:ok\r?$/m.test(info) || !/^cluster_known_nodes:(\d+)\r?$/m.test(info)) {
          allOk = false;
          last = `${port}: ${info}`;
          break;
        }
        const known = Number(/^cluster_known_nodes:(\d+)\r?$/m.exec(info)?.[1]);
        if (known !== ports.length) {
          allOk = false;
          last = `${port}: knows ${known} nodes`;
          break;
        }
      } catch (err) {
        allOk = false;
        last = `${port}: ${(err as Error).message}`;
        break;
      }
    }
    if (allOk) return;
    if (Date.now() > deadline) {
      throw new Error(`cluster did not reach cluster_state:ok within ${READY_TIMEOUT_MS} ms; last: ${last}`);
    }
    await sleep(100);
  }
}

async function startOnce(): Promise<RedisClusterHandle> {
  const dir = makeTempDir('minutegate-cluster-');
  const procs: RedisProcess[] = [];
  const killAll = async () => {
    await Promise.all(procs.map((p) => p.kill()));
    removeTempDir(dir);
  };

  try {
    // Ports P in [15000, 22000): bus ports P+10000 stay below the usual ephemeral range.
    const ports: number[] = [];
    const taken = new Set<number>();
    for (let i = 0; i < MASTERS; i++) {
      const port = await pickFreePort({ min: 15_000, max: 22_000, alsoFree: [BUS_OFFSET], exclude: taken });
      ports.push(port);
      taken.add(port);
      taken.add(port + BUS_OFFSET);
    }

    for (const port of ports) {
      procs.push(
        await launchRedis({
          port,
          dir,
          extraArgs: [
            '--cluster-enabled', 'yes',
            '--cluster-config-file', join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout', '5000',
          ],
        }),
      );
    }

    await runRedisCli(
      ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      CREATE_TIMEOUT_MS,
    );
    await waitForClusterOk(ports);

    let stopped: Promise<void> | undefined;
    return {
      nodes: ports.map((port) => ({ host: HOST, port })),
      stop: () => (stopped ??= killAll()),
    };
  } catch (err) {
    await killAll();
    throw err;
  }
}

/**
 * Start a 3-master Redis Cluster on 127.0.0.1. Resolves once every node reports
 * `cluster_state:ok`. Always call `stop()` (e.g. in afterAll).
 */
export async function startRedisCluster(): Promise<RedisClusterHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce();
    } catch (err) {
      // Another process grabbed one of the ports between picking and binding: retry.
      if (err instanceof RedisLaunchError && err.addressInUse && attempt < 4) continue;
      throw err;
    }
  }
}
