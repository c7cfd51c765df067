// Who a run is: fresh secrets and a Redis prefix, and the gateway environment bound to them.
import { benchDatabaseUrl } from './books-db.js';
import { PUBLIC_BASE_URL, REDIS_URL, hex } from './util.js';

/** Fresh secrets and a Redis prefix per run, so a run never sees (or deletes) another's keys. */
export interface RunIdentity {
  run: string;
  prefix: string;
  authToken: string;
  adminKey: string;
  staffSecret: string;
  twAccountSid: string;
  twAppSid: string;
  /** The run's own PostgreSQL database (created by prepareBench, dropped by cleanup). */
  database: string;
}

export function runIdentity(prefixBase: string): RunIdentity {
  const run = hex(4);
  return {
    run,
    prefix: `${prefixBase}-${run}`,
    authToken: `bench-auth-${hex(16)}`,
    adminKey: `bench-admin-${hex(16)}`,
    staffSecret: `bench-staff-${hex(24)}`,
    twAccountSid: `AC${hex(16)}`,
    twAppSid: `AP${hex(16)}`,
    database: `mgbench_${run}`,
  };
}

/** The gateway's environment as production runs it, bound to this run's prefix and secrets. */
export function gatewayEnv(id: RunIdentity): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    REDIS_URL,
    REDIS_PREFIX: id.prefix,
    TWILIO_AUTH_TOKEN: id.authToken,
    // Production requires it (R15); REST points nowhere: no call of a run is due for it.
    TWILIO_ACCOUNT_SID: id.twAccountSid,
    TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
    TWILIO_VIDEO_API_BASE_URL: 'http://127.0.0.1:9',
    // No load balancer to drain from: stop at once when the bench is done.
    DRAIN_DELAY_SECONDS: '0',
    ADMIN_API_KEY: id.adminKey,
    STAFF_TOKEN_SECRET: id.staffSecret,
    PUBLIC_BASE_URL,
    DATABASE_URL: benchDatabaseUrl(id.database),
  };
}

/** The parameters Twilio sends first for a call a Voice SDK softphone places through the
 *  TwiML App, in Twilio's order (the form body keeps it; the signature sorts them). Each
 *  bench adds the request's own after these. */
export function softphoneCallParams(id: RunIdentity, callSid: string, callStatus: string, identity: string): Record<string, string> {
  return {
    AccountSid: id.twAccountSid,
    ApiVersion: '2010-04-01',
    ApplicationSid: id.twAppSid,
    CallSid: callSid,
    CallStatus: callStatus,
    Called: '',
    Caller: `client:${identity}`,
  };
}
