// `npm run restore [-- --account <id>] [--dry-run]` (R20, issue #18 §1): rebuilds in Redis
// the live state of every account the books (PostgreSQL) know and Redis lost — or just
// one — with the gateway's own settings (DATABASE_URL, REDIS_URL / REDIS_CLUSTER_NODES,
// REDIS_PREFIX). Progress goes to stderr; the last line on stdout is
// {"accounts":n,"restored":n,"skipped":n}. Exit 0 when it ran; 1 when an account could not
// be restored or a store could not be reached; 2 for bad arguments or settings.
// Safe while gateways run, and to run twice or twice at once: a live account is never
// overwritten (see recovery/restore.ts).
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from './config.js';
import { REMOVED_IDENTITY_SECONDS } from './metering/directory.js';
import { createDb, redactDbUrl } from './postgres/connect.js';
import { JournalStore } from './postgres/journal-store.js';
import { RecoveryStore } from './postgres/recovery-store.js';
import { restore, UnknownAccountError } from './recovery/restore.js';
import { connectRedis, createRedis } from './redis/client.js';
import { RestoreStore } from './redis/restore-store.js';
import { registerScripts } from './redis/scripts.js';
import { accountIdSchema } from './domain/ids.js';

const USAGE = 'usage: npm run restore [-- --account <id>] [--dry-run]';

export function parseRestoreArgs(argv: string[]): { accountId?: string; dryRun: boolean } | { error: string } {
  let accountId: string | undefined;
  let dryRun = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--dry-run') dryRun = true;
    else if (a === '--account' || a.startsWith('--account=')) {
      const v = a === '--account' ? argv[++i] : a.slice('--account='.length);
      if (v === undefined || !accountIdSchema.safeParse(v).success) return { error: `--account: ${v === undefined ? 'an account id is required' : `${JSON.stringify(v)} is not an account id`}` };
      accountId = v;
    } else return { error: `unknown argument ${JSON.stringify(a)}` };
  }
  return { ...(accountId === undefined ? {} : { accountId }), dryRun };
}

export async function runRestore(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const args = parseRestoreArgs(argv);
  if ('error' in args) {
    say(`minutegate restore: ${args.error}\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      say(`minutegate restore: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const db = createDb(config.postgres.url, { max: 2 });
  const redis = createRedis(config.redis, 'minutegate-restore');
  try {
    await connectRedis(redis, config.redis);
    const scripts = registerScripts(redis);
    const journal = new JournalStore(db);
    const report = await restore(
      {
        books: new RecoveryStore(db),
        withAccountLock: (id, fn) => journal.withAccountLock(id, fn),
        live: new RestoreStore(redis, scripts, config.redis.prefix),
        clock: Date.now,
        say,
        removedIdentityMs: REMOVED_IDENTITY_SECONDS * 1000,
      },
      args,
    );
    process.stdout.write(`${JSON.stringify({ accounts: report.accounts, restored: report.restored, skipped: report.skipped })}\n`);
    if (report.failed > 0) say(`minutegate restore: ${report.failed} account(s) could not be restored (see above); run it again once the cause is fixed`);
    return report.failed > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof UnknownAccountError) {
      say(`minutegate restore: ${err.message}`);
      return 2;
    }
    say(`minutegate restore: ${(err as Error).message} (books: ${redactDbUrl(config.postgres.url)})`);
    return 1;
  } finally {
    redis.disconnect();
    await db.end().catch(() => {});
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runRestore(process.argv.slice(2)).then((code) => process.exit(code));
}
