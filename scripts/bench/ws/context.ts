// What every phase of the WebSocket bench shares: its flags, the run's identity, the
// bench's Redis client (set once connected), and the report's rows and failures.
import type { Redis } from 'ioredis';
import { adminApi } from '../lib/api.js';
import type { CpuShare } from '../lib/cpu.js';
import { runIdentity } from '../lib/identity.js';
import { failUsage, parseArgsOrExit, wholeNumber } from '../lib/options.js';
import { PUBLIC_BASE_URL, createLog } from '../lib/util.js';

export const PHASES = ['auth', 'fanout', 'media'] as const;
export type Phase = (typeof PHASES)[number];

export const USAGE = `usage: npm run bench:ws -- [--duration S] [--warmup S] [--only auth|fanout|media] [--build] [tuning]
  --duration S        measured seconds per phase (default 10)
  --warmup S          warm-up seconds per phase, not measured (default 2)
  --only PHASE        run one phase: auth, fanout or media (default: all three)
  --build             rebuild dist/ even when it looks up to date
 tuning (defaults are the issue's figures):
  --sockets N         auth: staff sockets (200)
  --staff N           auth: staff members per account (10)
  --auth-accounts N   auth: accounts the sockets are spread over (1)
  --inflight N        auth: authorize requests in flight per socket (1)
  --auth-rate R       auth: pace to R requests/s in total instead of a closed loop (0 = off)
  --auth-rounds N     auth: then N rounds in which the gateway and the ceiling take turns at the
                      closed-loop load (slices of --auth-slice S seconds, default 3), for a steadier ratio
                      (0 = off; not with --auth-rate)
  --dashboards N      fanout: dashboard sockets (10000)
  --fanout-procs N    fanout: client processes holding them (2)
  --streams N         media: concurrent streams at 50 frames/s (500)`;

function parseOptions() {
  const values = parseArgsOrExit(USAGE, {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    only: { type: 'string' },
    build: { type: 'boolean', default: false },
    sockets: { type: 'string', default: '200' },
    staff: { type: 'string', default: '10' },
    'auth-accounts': { type: 'string', default: '1' },
    inflight: { type: 'string', default: '1' },
    'auth-rate': { type: 'string', default: '0' },
    'auth-rounds': { type: 'string', default: '0' },
    'auth-slice': { type: 'string', default: '3' },
    dashboards: { type: 'string', default: '10000' },
    'fanout-procs': { type: 'string', default: '2' },
    streams: { type: 'string', default: '500' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const int = (name: string, raw: string, min: number, max: number) => wholeNumber(USAGE, name, raw, min, max);
  if (values.only !== undefined && !PHASES.includes(values.only as Phase)) {
    failUsage(USAGE, `--only: must be one of ${PHASES.join(', ')}, got ${values.only}`);
  }
  const o = {
    duration: int('duration', values.duration, 1, 600),
    warmup: int('warmup', values.warmup, 0, 60),
    phases: values.only ? [values.only as Phase] : [...PHASES],
    build: values.build,
    sockets: int('sockets', values.sockets, 1, 2000),
    staff: int('staff', values.staff, 1, 1000),
    authAccounts: int('auth-accounts', values['auth-accounts'], 1, 2000),
    inflight: int('inflight', values.inflight, 1, 64),
    authRate: int('auth-rate', values['auth-rate'], 0, 1_000_000),
    authRounds: int('auth-rounds', values['auth-rounds'], 0, 100),
    authSlice: int('auth-slice', values['auth-slice'], 1, 600),
    dashboards: int('dashboards', values.dashboards, 1, 20_000),
    fanoutProcs: int('fanout-procs', values['fanout-procs'], 1, 8),
    streams: int('streams', values.streams, 1, 5000),
  };
  if (o.authRounds > 0 && o.authRate > 0) failUsage(USAGE, '--auth-rounds alternates the closed-loop load: leave out --auth-rate');
  if (o.authAccounts > o.sockets) {
    process.stderr.write(`--auth-accounts (${o.authAccounts}) cannot exceed --sockets (${o.sockets})\n`);
    process.exit(2);
  }
  return o;
}

export const opts = parseOptions();

export const ID = runIdentity('mgbench-ws');
export const { run: RUN, prefix: PREFIX, authToken: AUTH_TOKEN, adminKey: ADMIN_KEY, twAccountSid: TW_ACCOUNT_SID } = ID;
export const VOICE_URL = `${PUBLIC_BASE_URL}/twilio/voice`;
/** The API caps monthlyMinutes at 10,000,000 (account-routes.ts). */
export const MONTHLY_MINUTES = 10_000_000;
export const AUTHORIZATION_TTL_SECONDS = 60;
export const WS_MAX_MESSAGES_PER_SECOND = 100_000;

export const log = createLog('bench:ws');
export const api = adminApi(ADMIN_KEY);
/** Set in main(); cleanup also runs when main() failed before connecting. */
export const shared: { redis: Redis | null } = { redis: null };

export interface Row {
  phase: Phase;
  what: string;
  value: string;
  target: string;
  met: boolean | null; // null: no target
}

export const rows: Row[] = [];
export const cpuRows: { phase: Phase | `${Phase} ceiling`; window: string; cpu: CpuShare }[] = [];
export const failures: string[] = [];
export const notes: string[] = [];

export function check(ok: boolean, what: string): boolean {
  if (!ok) failures.push(what);
  return ok;
}
