// The variables the gateway reads and how each is validated (zod). It reads nothing
// itself: config.ts, the only reader of the environment, hands the values in.
import { z } from 'zod';

const intIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const url = (schemes: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return schemes.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `must be a URL (${schemes.join(' or ')})`);

const optionalSecret = z.string().trim().min(1).optional();

export const schema = z.object({
  NODE_ENV: z.string().optional(),
  PORT: intIn(0, 65535).optional(),
  HOST: z.string().trim().min(1).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  REDIS_CLUSTER_NODES: z
    .string()
    .trim()
    .regex(/^[^,\s:]+:\d+(,[^,\s:]+:\d+)*$/, 'must be comma-separated host:port pairs')
    .optional(),
  REDIS_PREFIX: z
    .string()
    .trim()
    // Braces would make the prefix a Redis Cluster hash tag and pin every key to one slot.
    .regex(/^[^{}\s]{1,64}$/, 'must be 1-64 characters without braces or spaces')
    .optional(),
  REDIS_CONNECT_TIMEOUT_SECONDS: intIn(1, 300).optional(),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  HISTORY_RETENTION_MONTHS: intIn(1, 1200).optional(),
  ARCHIVER: z.enum(['on', 'off']).optional(),
  LEDGER_REDIS_WINDOW_SECONDS: intIn(0, 31 * 86400).optional(),
  CALL_REDIS_RETENTION_SECONDS: intIn(0, 90 * 86400).optional(),
  PUBLIC_BASE_URL: url(['http:', 'https:'])
    .refine((v) => !new URL(v).search && !new URL(v).hash, 'must not carry a query or fragment')
    .optional(),
  TWILIO_AUTH_TOKEN: optionalSecret,
  TWILIO_ACCOUNT_SID: z.string().trim().regex(/^AC\w+$/, 'must be a Twilio Account SID (AC…)').optional(),
  TWILIO_API_KEY_SID: z.string().trim().regex(/^SK\w+$/, 'must be a Twilio API key SID (SK…)').optional(),
  TWILIO_API_KEY_SECRET: optionalSecret,
  TWILIO_TWIML_APP_SID: z.string().trim().regex(/^AP\w+$/, 'must be a TwiML App SID (AP…)').optional(),
  TWILIO_API_BASE_URL: url(['http:', 'https:']).optional(),
  TWILIO_VIDEO_API_BASE_URL: url(['http:', 'https:']).optional(),
  ADMIN_API_KEY: z.string().trim().min(1).optional(),
  STAFF_TOKEN_SECRET: z.string().trim().min(1).optional(),
  // Rotation: secrets that signed tokens still in use (comma-separated, newest first).
  STAFF_TOKEN_PREVIOUS_SECRETS: z
    .string()
    .trim()
    .refine((v) => v.split(',').every((s) => s.trim() !== ''), 'must be comma-separated secrets, none of them empty')
    .optional(),
  STAFF_TOKEN_TTL_SECONDS: intIn(60, 30 * 86400).optional(),
  MIN_BILLABLE_SECONDS: intIn(0, 3600).optional(),
  BILLING_INCREMENT_SECONDS: intIn(1, 3600).optional(),
  RESERVE_MINUTES: intIn(1, 1000).optional(),
  AUTHORIZATION_TTL_SECONDS: intIn(1, 3600).optional(),
  FINAL_GRACE_SECONDS: intIn(1, 86400).optional(),
  RECONCILE_AFTER_SECONDS: intIn(1, 7 * 86400).optional(),
  RECONCILE_POLL_SECONDS: intIn(1, 3600).optional(),
  MAX_CALL_HOLD_SECONDS: intIn(1, 7 * 86400).optional(),
  // R20: the periodic audit against Twilio's list of calls.
  AUDIT_INTERVAL_SECONDS: intIn(60, 30 * 86400).optional(),
  AUDIT_LOOKBACK_SECONDS: intIn(60, 400 * 86400).optional(),
  ALERT_WEBHOOK_URL: url(['http:', 'https:']).optional(),
  ALERT_WEBHOOK_SECRET: z.string().trim().min(16, 'must be at least 16 characters').optional(),
  OVERAGE_PRICE_CENTS_PER_MINUTE: intIn(0, 1_000_000).optional(),
  BUNDLE_PRICE_CENTS: intIn(0, 10_000_000).optional(),
  SMTP_URL: url(['smtp:', 'smtps:']).optional(),
  RECEIPT_FROM: z.string().trim().min(3).optional(),
  CURRENCY: z.string().trim().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD').optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).optional(),
  MEDIA_STREAMS: z.enum(['on', 'off']).optional(),
  WS_MAX_MESSAGES_PER_SECOND: intIn(1, 100_000).optional(),
  WS_MAX_BUFFERED_BYTES: intIn(16 * 1024, 1024 * 1024 * 1024).optional(),
  WS_HEARTBEAT_SECONDS: intIn(1, 3600).optional(),
  WS_MAX_SOCKETS_PER_STAFF: intIn(1, 100_000).optional(),
  SHUTDOWN_IDLE_GRACE_MS: intIn(0, 30_000).optional(),
  // R17 dialling policy and the per-staff limits on authorizations (issue #8).
  EMERGENCY_NUMBERS: z
    .string()
    .trim()
    .regex(/^\+?\d{2,15}(\s*,\s*\+?\d{2,15})*$/, 'must be comma-separated numbers such as 911,112')
    .optional(),
  DIAL_DENY_PREFIXES: z
    .string()
    .trim()
    .regex(/^\+\d{1,15}(\s*,\s*\+\d{1,15})*$/, 'must be comma-separated E.164 prefixes such as +1900,+882')
    .optional(),
  MAX_OPEN_AUTHORIZATIONS_PER_STAFF: intIn(1, 100_000).optional(),
  AUTHORIZATION_RELEASE_GRACE_SECONDS: intIn(0, 3600).optional(),
  // Operator surface: CORS, metrics access, Redis credentials and TLS, shutdown drain.
  CORS_ORIGINS: z
    .string()
    .trim()
    .refine((v) => v.split(',').every((o) => isOrigin(o.trim())), 'must be comma-separated origins such as https://app.example.com (scheme://host[:port], no path)')
    .optional(),
  METRICS_TOKEN: optionalSecret,
  GIT_COMMIT: z.string().trim().min(1).max(64).regex(/^[\w.-]+$/, 'must be a commit id (letters, digits, . _ -)').optional(),
  REDIS_USERNAME: z.string().trim().min(1).optional(),
  // Not trimmed: a password is taken exactly as given.
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_TLS: z.enum(['on', 'off']).optional(),
  REDIS_TLS_CA_FILE: z.string().trim().min(1).optional(),
  DRAIN_DELAY_SECONDS: intIn(0, 10).optional(),
});

/** Every variable the gateway reads (for the deploy-file and documented-settings checks). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

function isOrigin(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === v.replace(/\/$/, '');
  } catch {
    return false;
  }
}
