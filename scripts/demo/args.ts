// Command line of `npm run demo`: [--port 8080] [--host 127.0.0.1] [--minutes 1000]
// [--every 8] [--hold 150] [--seed S] [--mail-dir DIR] [--no-build]. REDIS_URL, PORT and HOST are honoured as for the gateway.
import type { Cluster, Redis } from 'ioredis';

export interface DemoArgs {
  port: number;
  host: string;
  redisUrl: string | undefined;
  minutes: number;
  /** Seconds between simulated calls, on average. */
  everySeconds: number;
  /** The longest a simulated call lasts, ringing and talk together (real seconds, which
   *  are also the billed ones). */
  holdSeconds: number;
  seed: number;
  /** Where the mail sink keeps receipts and alert e-mails; default: a new folder in the OS temp dir. */
  mailDir: string | undefined;
  /** Skip bundling web/ (the tests build it once for the whole run). */
  build: boolean;
}

export const DEMO_USAGE = 'usage: npm run demo -- [--port 8080] [--host 127.0.0.1] [--minutes 1000] [--every 8] [--hold 150] [--seed S] [--mail-dir DIR] [--no-build]';

export function demoArgs(argv: string[], env: Record<string, string | undefined>): DemoArgs {
  const flags = new Map<string, string>();
  const problems: string[] = [];
  let build = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--no-build') {
      build = false;
      continue;
    }
    if (!a.startsWith('--') || i + 1 >= argv.length) {
      problems.push(`unexpected argument ${a}`);
      continue;
    }
    flags.set(a.slice(2), argv[++i]!);
  }
  const num = (name: string, dflt: number, min: number, max: number) => {
    const v = flags.get(name);
    if (v === undefined) return dflt;
    if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < min || Number(v) > max) problems.push(`--${name}: a number from ${min} to ${max}`);
    return Number(v);
  };
  for (const k of flags.keys()) if (!['port', 'host', 'minutes', 'every', 'hold', 'seed', 'mail-dir'].includes(k)) problems.push(`unknown flag --${k}`);
  const out: DemoArgs = {
    port: num('port', env.PORT ? Number(env.PORT) : 8080, 0, 65535),
    host: flags.get('host') ?? env.HOST ?? '127.0.0.1',
    redisUrl: env.REDIS_URL || undefined,
    minutes: num('minutes', 1000, 0, 10_000_000),
    everySeconds: num('every', 8, 0.1, 3600),
    holdSeconds: num('hold', 150, 0, 3600),
    seed: num('seed', Date.now() % 2 ** 31, 0, 2 ** 31),
    mailDir: flags.get('mail-dir'),
    build,
  };
  if (problems.length) throw new Error(`${problems.join('\n')}\n${DEMO_USAGE}`);
  return out;
}

/** Removes the demo's keys (its own prefix only; nothing else is touched). */
export async function deleteDemoKeys(redis: Redis | Cluster, prefix: string): Promise<void> {
  const nodes = 'nodes' in redis && typeof redis.nodes === 'function' ? redis.nodes('master') : [redis as Redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await node.unlink(...keys);
    } while (cursor !== '0');
  }
}
