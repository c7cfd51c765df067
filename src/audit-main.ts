// `npm run audit -- --from <ISO> --to <ISO> [--page-size <n>]` (R20, issue #18 §2): Twilio's
// list of the calls that started in [from, to) checked against what the gateway settled,
// with the gateway's own settings (TWILIO_ACCOUNT_SID and the Auth Token or an API key,
// TWILIO_API_BASE_URL, REDIS_*, DATABASE_URL). Calls nobody settled are settled now, exactly
// once; a second run over the same window settles nothing. Details go to stderr (JSON log
// lines); the last line on stdout is the report. Exit 0 when it ran, 1 when Twilio (or
// Redis, or PostgreSQL) could not be read, 2 for bad arguments or settings.
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from './config.js';
import { Reconciler } from './jobs/reconciler.js';
import { createLogger } from './log.js';
import { DENIED_MEMORY_MS } from './metering/calls.js';
import { auditFor } from './recovery/audit.js';
import { twilioRestFor } from './twilio/rest-client.js';
import { Directory } from './metering/directory.js';
import { Books } from './postgres/books.js';
import { connectRedis, createRedis } from './redis/client.js';
import { registerScripts } from './redis/scripts.js';
import { createStores } from './redis/stores.js';
import { DEFAULT_AUDIT_PAGE_SIZE } from './recovery/audit.js';

export interface AuditArgs {
  fromMs: number;
  toMs: number;
  pageSize: number;
}

/** The command line, or the message that says what is wrong with it. */
export function parseAuditArgs(argv: string[]): AuditArgs | string {
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--(from|to|page-size)(?:=(.*))?$/.exec(a);
    if (!m) return `unknown argument ${a}`;
    const v = m[2] ?? argv[++i];
    if (v === undefined) return `--${m[1]} needs a value`;
    values[m[1]!] = v;
  }
  const instant = (name: string): number | string => {
    const v = values[name];
    if (v === undefined) return `--${name} is required (an ISO 8601 instant, e.g. 2025-03-01T00:00:00Z)`;
    // A date alone (2025-03-01) is midnight UTC; anything with a time must say its zone.
    if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(v)) {
      return `--${name}: ${v} is not an ISO 8601 instant with its zone (e.g. 2025-03-01T00:00:00Z)`;
    }
    const ms = Date.parse(v);
    return Number.isFinite(ms) ? ms : `--${name}: ${v} is not a valid instant`;
  };
  const fromMs = instant('from');
  if (typeof fromMs === 'string') return fromMs;
  const toMs = instant('to');
  if (typeof toMs === 'string') return toMs;
  if (fromMs >= toMs) return '--from must be before --to';
  const ps = values['page-size'];
  const pageSize = ps === undefined ? DEFAULT_AUDIT_PAGE_SIZE : Number(ps);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) return '--page-size must be a whole number from 1 to 1000';
  return { fromMs, toMs, pageSize };
}

export async function runAudit(argv: string[]): Promise<number> {
  const fail = (code: number, msg: string) => {
    process.stderr.write(`minutegate audit: ${msg}\n`);
    return code;
  };
  const args = parseAuditArgs(argv);
  if (typeof args === 'string') return fail(2, args);
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) return fail(2, err.message);
    throw err;
  }
  const rest = twilioRestFor(config);
  if (!rest) return fail(2, 'TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET) are required');
  const log = createLogger(config.logLevel, (line) => process.stderr.write(line));
  const redis = createRedis(config.redis, 'minutegate-audit');
  const books = new Books({ url: config.postgres.url, createDatabase: false }, log);
  try {
    await connectRedis(redis, config.redis);
    // The audit cannot tell "never settled" from "archived and trimmed" without the books.
    if (!(await books.open())) return fail(1, 'PostgreSQL could not be opened');
    const m = config.metering;
    const scripts = registerScripts(redis);
    const stores = createStores(redis, scripts, {
      prefix: config.redis.prefix,
      deniedMemoryMs: DENIED_MEMORY_MS,
      finalGraceMs: m.finalGraceSeconds * 1000,
    });
    const billing = { minBillableSeconds: m.minBillableSeconds, billingIncrementSeconds: m.billingIncrementSeconds };
    // Not started: only its way of settling a call from Twilio's record is used.
    const reconciler = new Reconciler(stores.reconcileQueue, stores.pool, rest, {
      billing,
      pollMs: 60_000,
      recheckMs: 60_000,
      retryMs: 60_000,
      maxHoldMs: m.maxCallHoldSeconds * 1000,
    }, Date.now, log);
    const audit = auditFor({ rest, store: stores.pool, directory: new Directory(stores.directory), books, reconciler, config, clock: Date.now, log, pageSize: args.pageSize });
    const report = await audit.run(args.fromMs, args.toMs);
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  } catch (err) {
    return fail(1, (err as Error).message);
  } finally {
    await books.close();
    redis.disconnect();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runAudit(process.argv.slice(2)).then((code) => process.exit(code));
}
