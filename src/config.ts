// The only reader of process.env. Every setting is validated once, at start-up, with one
// clear line per bad variable; the rest of the code receives a typed, frozen Config.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { schema } from './config-schema.js';

export { CONFIG_VARIABLES } from './config-schema.js';

export interface Config {
  production: boolean;
  /** Settings that work but deserve a look (printed at start-up, never secrets themselves). */
  warnings: string[];
  /** True when secrets were generated because none were configured (never in production). */
  devMode: boolean;
  /** Which secrets were generated for this run (only those may be printed). */
  generated: { adminApiKey: boolean; staffTokenSecret: boolean };
  port: number;
  host: string;
  redis: {
    url: string;
    clusterNodes: { host: string; port: number }[] | null;
    prefix: string;
    connectTimeoutMs: number;
    /** REDIS_USERNAME / REDIS_PASSWORD (ACL user and password); override the URL's. */
    username: string | null;
    password: string | null;
    /** TLS: a rediss:// URL, or REDIS_TLS=on (needed for cluster nodes). */
    tls: boolean;
    /** PEM CA bundle read from REDIS_TLS_CA_FILE at start-up; null = the system CAs. */
    tlsCa: string | null;
  };
  /** The books (R19): PostgreSQL, and whether start-up may create the database. */
  postgres: {
    url: string;
    createDatabase: boolean;
    /** Archived history is kept this many months (this one included), dropped a month at a time. */
    historyRetentionMonths: number;
    /** An archived ledger entry stays in Redis this long after it was written (ms). */
    ledgerRedisWindowMs: number;
    /** An archived call's record stays in Redis this long after it settled (ms). */
    callRedisRetentionMs: number;
    /** Whether this instance runs the archiver (ARCHIVER=off: it meters and answers, and
     *  leaves archiving to instances that do; at least one must). */
    archiver: boolean;
  };
  /** Browser origins allowed to call /v1/* (CORS) and open /v1/ws; empty = no CORS. */
  corsOrigins: string[];
  /** When set, /metrics requires Authorization: Bearer <token>. */
  metricsToken: string | null;
  /** The commit built (set by the image build), for minutegate_build_info; null: unknown. */
  gitCommit: string | null;
  /** On SIGTERM, /readyz answers 503 this long before the listener closes, so load
   *  balancers that poll it stop sending new work first. */
  drainDelayMs: number;
  /** The URL Twilio calls, against which signatures are checked. Null when not configured
   *  (never in production): each request's own Host header, over http, stands in. */
  publicBaseUrl: string | null;
  twilio: {
    authToken: string | null;
    accountSid: string | null;
    apiKeySid: string | null;
    apiKeySecret: string | null;
    twimlAppSid: string | null;
    apiBaseUrl: string;
    /** Twilio Video's REST API (participants), for reconciling video (R12, R15). */
    videoApiBaseUrl: string;
  };
  adminApiKey: string;
  staffTokenSecret: string;
  /** STAFF_TOKEN_PREVIOUS_SECRETS: staff and Media Streams tokens signed with them still
   *  verify; nothing new is signed with them. Empty when not rotating. */
  staffTokenPreviousSecrets: string[];
  staffTokenTtlSeconds: number;
  metering: {
    minBillableSeconds: number;
    billingIncrementSeconds: number;
    reserveMinutes: number;
    authorizationTtlSeconds: number;
    finalGraceSeconds: number;
    /** A call with no final signal by then is checked against Twilio's REST API (R15). */
    reconcileAfterSeconds: number;
    reconcilePollSeconds: number;
    /** A call or participant still open this long after it was placed has its hold
     *  released without a debit and is marked unsettled (R15's last safety net). */
    maxCallHoldSeconds: number;
  };
  /** R20: the periodic audit of Twilio's list of calls (when the REST settings exist). */
  audit: {
    intervalSeconds: number;
    /** Each run audits the calls that started this long before it. */
    lookbackSeconds: number;
  };
  /** Price of an overage minute on the charges statement (R6); 0 = not billed. */
  overagePriceCentsPerMinute: number;
  /** Low-balance alerts are also POSTed here, signed with the secret (null: no webhook). */
  alertWebhook: { url: string; secret: string } | null;
  /** R17: who may be dialled (issue #8). */
  dialling: {
    /** Emergency numbers as bare digits ("911"); a leading "+" in a To is ignored. */
    emergencyNumbers: string[];
    /** E.164 prefixes refused by default (premium rate). */
    denyPrefixes: string[];
  };
  /** Per staff member: at most this many open (unbound, unexpired) authorizations. */
  maxOpenAuthorizationsPerStaff: number;
  /** A staff member's open authorizations are released this long after their last
   *  socket (on any instance) closed. */
  authorizationReleaseGraceMs: number;
  bundlePriceCents: number;
  smtpUrl: string | null;
  receiptFrom: string;
  /** ISO 4217 code of BUNDLE_PRICE_CENTS. */
  currency: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  ws: {
    /** Add <Start><Stream> to allowed calls so Media Streams marks them live. */
    mediaStreams: boolean;
    maxMessagesPerSecond: number;
    maxBufferedBytes: number;
    heartbeatMs: number;
    /** Open client sockets per staff member on this instance (issue #16); the next is 429. */
    maxSocketsPerStaff: number;
  };
  /** On shutdown, idle keep-alive connections are closed only after this long, so a
   *  request already on its way over one is answered (with Connection: close), not reset. */
  shutdownIdleGraceMs: number;
}

export const DEFAULT_EMERGENCY_NUMBERS = '911,112,999,000,110,119,100,101,102,108';
export const DEFAULT_DIAL_DENY_PREFIXES = '+1900,+1976,+882,+883';
const listOf = (v: string) => v.split(',').map((x) => x.trim()).filter((x) => x !== '');

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Settings a production deployment must set explicitly. TWILIO_ACCOUNT_SID: without it
 *  lost signals could never be reconciled from Twilio's REST API (R15). */
const PRODUCTION_SECRETS = ['ADMIN_API_KEY', 'STAFF_TOKEN_SECRET', 'TWILIO_AUTH_TOKEN', 'PUBLIC_BASE_URL', 'TWILIO_ACCOUNT_SID', 'DATABASE_URL'] as const;

/** Outside production the books default to a local database, created at start-up. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/minutegate';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset: docker-compose passes `VAR=` for unset optionals.
  const raw: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== '') raw[key] = v;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`),
    );
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  // A webhook nobody can verify is worse than none.
  if (e.ALERT_WEBHOOK_URL !== undefined && e.ALERT_WEBHOOK_SECRET === undefined) {
    throw new ConfigError(['ALERT_WEBHOOK_SECRET: required when ALERT_WEBHOOK_URL is set (it signs every alert webhook)']);
  }
  if (production) {
    const missing = PRODUCTION_SECRETS.filter((k) => e[k] === undefined);
    if (missing.length > 0) {
      throw new ConfigError(missing.map((k) => `${k}: required when NODE_ENV=production`));
    }
  }
  const devMode = !production && (e.ADMIN_API_KEY === undefined || e.STAFF_TOKEN_SECRET === undefined);
  const port = e.PORT ?? 8080;
  const clusterNodes = e.REDIS_CLUSTER_NODES
    ? e.REDIS_CLUSTER_NODES.split(',').map((hp) => {
        const i = hp.lastIndexOf(':');
        return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
      })
    : null;
  const warnings: string[] = [];
  let tlsCa: string | null = null;
  if (e.REDIS_TLS_CA_FILE !== undefined) {
    try {
      tlsCa = readFileSync(e.REDIS_TLS_CA_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError([`REDIS_TLS_CA_FILE: cannot read ${e.REDIS_TLS_CA_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
    if (!tlsCa.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError([`REDIS_TLS_CA_FILE: ${e.REDIS_TLS_CA_FILE} holds no PEM certificate`]);
    }
  }
  if (tlsCa !== null && e.REDIS_TLS !== 'on' && !(e.REDIS_URL ?? '').startsWith('rediss:')) {
    warnings.push('REDIS_TLS_CA_FILE is set but TLS is off: use a rediss:// URL or REDIS_TLS=on');
  }
  if (e.ADMIN_API_KEY !== undefined && e.ADMIN_API_KEY.length < 16) warnings.push('ADMIN_API_KEY is shorter than 16 characters');
  if (e.STAFF_TOKEN_SECRET !== undefined && e.STAFF_TOKEN_SECRET.length < 32) {
    warnings.push('STAFF_TOKEN_SECRET is shorter than 32 characters');
  }
  const previousSecrets = e.STAFF_TOKEN_PREVIOUS_SECRETS === undefined ? [] : listOf(e.STAFF_TOKEN_PREVIOUS_SECRETS);
  if (previousSecrets.length > 0 && e.STAFF_TOKEN_SECRET === undefined) {
    // A generated secret dies with the process: there is nothing to rotate from or to.
    warnings.push('STAFF_TOKEN_PREVIOUS_SECRETS is set but STAFF_TOKEN_SECRET is not (a generated one is used)');
  }
  if (e.STAFF_TOKEN_SECRET !== undefined && previousSecrets.includes(e.STAFF_TOKEN_SECRET.trim())) {
    warnings.push('STAFF_TOKEN_PREVIOUS_SECRETS lists the current STAFF_TOKEN_SECRET');
  }
  return Object.freeze({
    production,
    warnings,
    devMode,
    generated: { adminApiKey: e.ADMIN_API_KEY === undefined, staffTokenSecret: e.STAFF_TOKEN_SECRET === undefined },
    port,
    host: e.HOST ?? '0.0.0.0',
    redis: {
      url: e.REDIS_URL ?? 'redis://127.0.0.1:6379',
      clusterNodes,
      prefix: e.REDIS_PREFIX ?? 'mg',
      connectTimeoutMs: (e.REDIS_CONNECT_TIMEOUT_SECONDS ?? 5) * 1000,
      username: e.REDIS_USERNAME ?? null,
      password: e.REDIS_PASSWORD ?? null,
      tls: e.REDIS_TLS === 'on' || (e.REDIS_URL ?? '').startsWith('rediss:'),
      tlsCa,
    },
    postgres: {
      url: e.DATABASE_URL ?? DEFAULT_DATABASE_URL,
      createDatabase: !production,
      historyRetentionMonths: e.HISTORY_RETENTION_MONTHS ?? 25,
      ledgerRedisWindowMs: (e.LEDGER_REDIS_WINDOW_SECONDS ?? 3600) * 1000,
      callRedisRetentionMs: (e.CALL_REDIS_RETENTION_SECONDS ?? 86400) * 1000,
      archiver: e.ARCHIVER !== 'off',
    },
    corsOrigins: e.CORS_ORIGINS ? e.CORS_ORIGINS.split(',').map((o) => o.trim().replace(/\/$/, '')) : [],
    metricsToken: e.METRICS_TOKEN ?? null,
    gitCommit: e.GIT_COMMIT ?? null,
    // Behind a load balancer (production) by default; a laptop has none to wait for.
    drainDelayMs: (e.DRAIN_DELAY_SECONDS ?? (production ? 5 : 0)) * 1000,
    publicBaseUrl: e.PUBLIC_BASE_URL === undefined ? null : e.PUBLIC_BASE_URL.replace(/\/+$/, ''),
    twilio: {
      authToken: e.TWILIO_AUTH_TOKEN ?? null,
      accountSid: e.TWILIO_ACCOUNT_SID ?? null,
      apiKeySid: e.TWILIO_API_KEY_SID ?? null,
      apiKeySecret: e.TWILIO_API_KEY_SECRET ?? null,
      twimlAppSid: e.TWILIO_TWIML_APP_SID ?? null,
      apiBaseUrl: (e.TWILIO_API_BASE_URL ?? 'https://api.twilio.com').replace(/\/+$/, ''),
      videoApiBaseUrl: (e.TWILIO_VIDEO_API_BASE_URL ?? 'https://video.twilio.com').replace(/\/+$/, ''),
    },
    // Dev mode generates throwaway secrets so `npm start` works with nothing configured;
    // main.ts prints the admin key loudly. Production never gets here without them.
    adminApiKey: e.ADMIN_API_KEY ?? `dev-${randomBytes(18).toString('base64url')}`,
    staffTokenSecret: e.STAFF_TOKEN_SECRET ?? randomBytes(32).toString('base64url'),
    staffTokenPreviousSecrets: [...new Set(previousSecrets)].filter((s) => s !== e.STAFF_TOKEN_SECRET),
    staffTokenTtlSeconds: e.STAFF_TOKEN_TTL_SECONDS ?? 12 * 3600,
    metering: {
      minBillableSeconds: e.MIN_BILLABLE_SECONDS ?? 30,
      billingIncrementSeconds: e.BILLING_INCREMENT_SECONDS ?? 60,
      reserveMinutes: e.RESERVE_MINUTES ?? 1,
      authorizationTtlSeconds: e.AUTHORIZATION_TTL_SECONDS ?? 60,
      finalGraceSeconds: e.FINAL_GRACE_SECONDS ?? 120,
      reconcileAfterSeconds: e.RECONCILE_AFTER_SECONDS ?? 4 * 3600,
      reconcilePollSeconds: e.RECONCILE_POLL_SECONDS ?? 5,
      // Twilio's default <Dial timeLimit> (4 h) plus a minute for its last callbacks.
      maxCallHoldSeconds: e.MAX_CALL_HOLD_SECONDS ?? 4 * 3600 + 60,
    },
    audit: {
      intervalSeconds: e.AUDIT_INTERVAL_SECONDS ?? 3600,
      // Two days: a call settles within hours (R15), so each call is audited many times over.
      lookbackSeconds: e.AUDIT_LOOKBACK_SECONDS ?? 172800,
    },
    overagePriceCentsPerMinute: e.OVERAGE_PRICE_CENTS_PER_MINUTE ?? 0,
    alertWebhook: e.ALERT_WEBHOOK_URL && e.ALERT_WEBHOOK_SECRET ? { url: e.ALERT_WEBHOOK_URL, secret: e.ALERT_WEBHOOK_SECRET } : null,
    dialling: {
      emergencyNumbers: listOf(e.EMERGENCY_NUMBERS ?? DEFAULT_EMERGENCY_NUMBERS).map((n) => n.replace(/^\+/, '')),
      denyPrefixes: listOf(e.DIAL_DENY_PREFIXES ?? DEFAULT_DIAL_DENY_PREFIXES),
    },
    maxOpenAuthorizationsPerStaff: e.MAX_OPEN_AUTHORIZATIONS_PER_STAFF ?? 5,
    authorizationReleaseGraceMs: (e.AUTHORIZATION_RELEASE_GRACE_SECONDS ?? 10) * 1000,
    bundlePriceCents: e.BUNDLE_PRICE_CENTS ?? 1500,
    smtpUrl: e.SMTP_URL ?? null,
    receiptFrom: e.RECEIPT_FROM ?? 'minutegate <receipts@localhost>',
    currency: e.CURRENCY ?? 'USD',
    logLevel: e.LOG_LEVEL ?? 'info',
    ws: {
      mediaStreams: e.MEDIA_STREAMS === 'on',
      maxMessagesPerSecond: e.WS_MAX_MESSAGES_PER_SECOND ?? 50,
      maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES ?? 1024 * 1024,
      heartbeatMs: (e.WS_HEARTBEAT_SECONDS ?? 30) * 1000,
      maxSocketsPerStaff: e.WS_MAX_SOCKETS_PER_STAFF ?? 20,
    },
    shutdownIdleGraceMs: e.SHUTDOWN_IDLE_GRACE_MS ?? 1000,
  });
}
