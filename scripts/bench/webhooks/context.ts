// What every phase of the webhook bench shares: its flags, the run's identity and
// account, and the bench's Redis client (set once connected; cleanup needs it either way).
import type { Redis } from 'ioredis';
import { adminApi } from '../lib/api.js';
import { runIdentity } from '../lib/identity.js';
import { failUsage, parseArgsOrExit, wholeNumber } from '../lib/options.js';
import { createLog, pool } from '../lib/util.js';

export const USAGE = `usage: npm run bench:webhooks -- [--duration S] [--warmup S] [--connections N] [--lifecycle-calls N] [--only scale|memory|quick|catchup|instructions|ab] [--scale-duration S] [--memory-window S] [--instr-requests N] [--instr-warmup N] [--instr-connections N] [--ab-dist DIR | --ab-bare] [--ab-rounds N] [--ab-slice S] [--build]
  --duration S         measured seconds per phase (default 10)
  --warmup S           warm-up seconds per phase (and per scale configuration), not measured (default 2)
  --connections N      concurrent connections (default 50; split across the gateways in the scale phase)
  --lifecycle-calls N  full call lifecycles of the cost phase (default 2000)
  --only scale         run the scale phase alone (1 vs 2 gateways, standalone Redis vs 3-master cluster);
                       it is not part of the default run
  --scale-duration S   measured seconds per scale configuration (default 5)
  --only quick         a short loop for trying a change: the ARCHIVER=off gateway's voice and status runs and the
                       bare ceiling, each with its server CPU per request (no archive, lifecycle or books phases)
  --only catchup       what archiving costs per call, alone: the ARCHIVER=off gateway's voice and status runs
                       (unmeasured), then an archiving gateway archives that backlog; its CPU, Redis's and the
                       rest of the machine's (PostgreSQL) per call archived
  --only memory        run the memory phase alone: Redis bytes per settled call right after it and once archived and
                       past the windows, PostgreSQL rows and bytes per call (--lifecycle-calls calls)
  --memory-window S    LEDGER_REDIS_WINDOW_SECONDS and CALL_REDIS_RETENTION_SECONDS of the memory phase (default 5)
  --only instructions  the gateway's own instructions per voice and per <Dial action> webhook, counted by valgrind's
                       callgrind (deterministic enough to try a change to the gateway's JavaScript; no kernel time)
  --instr-requests N   counted requests per run of the instructions phase (default 1000)
  --instr-warmup N     uncounted warm-up requests of each kind before it (default 5000)
  --instr-connections N  connections of the instructions phase (default 8)
  --only ab            two builds side by side: the gateway of dist/ (A) and the one of --ab-dist (B), both
                       ARCHIVER=off, take turns at the voice load in short slices (A B, then B A, ...), so the
                       machine's drift falls on both alike; per build the median CPU per request (server, its main
                       thread, Redis, all processes) and the median of the paired B ÷ A ratios
  --ab-dist DIR        the compiled tree of build B, where node can find the packages: e.g. the dist/ of a git
                       worktree with a link to this node_modules (ln -s), built there with npm run build
  --ab-bare            with --only ab: B is the bare ceiling instead of a second build (no --ab-dist): the voice ÷
                       bare ratio of issue #22, measured in alternated slices
  --ab-b-node-options=F  NODE_OPTIONS for build B only (e.g. --ab-b-node-options=--max-semi-space-size=4; --ab-dist
                       may then be dist)
  --ab-rounds N        pairs of slices (default 6)
  --ab-slice S         seconds per slice (default 3)
  --build              rebuild dist/ even when it looks up to date`;

function parseOptions() {
  const values = parseArgsOrExit(USAGE, {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    'lifecycle-calls': { type: 'string', default: '2000' },
    only: { type: 'string' },
    'scale-duration': { type: 'string', default: '5' },
    'memory-window': { type: 'string', default: '5' },
    'instr-requests': { type: 'string', default: '1000' },
    'instr-warmup': { type: 'string', default: '5000' },
    'instr-connections': { type: 'string', default: '8' },
    'ab-dist': { type: 'string' },
    'ab-bare': { type: 'boolean', default: false },
    'ab-b-node-options': { type: 'string', default: '' },
    'ab-rounds': { type: 'string', default: '6' },
    'ab-slice': { type: 'string', default: '3' },
    build: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const int = (name: string, raw: string, min: number, max: number) => wholeNumber(USAGE, name, raw, min, max);
  if (values.only !== undefined && !['scale', 'memory', 'quick', 'catchup', 'instructions', 'ab'].includes(values.only)) {
    failUsage(USAGE, `--only: the phases that run alone are scale, memory, quick, catchup, instructions and ab, got ${values.only}`);
  }
  if (values.only === 'ab' && !values['ab-dist'] && !values['ab-bare']) failUsage(USAGE, '--only ab needs --ab-dist <the compiled tree of build B>, or --ab-bare');
  if (values['ab-bare'] && values['ab-dist']) failUsage(USAGE, '--ab-bare and --ab-dist each name build B: give one');
  // The scale phase splits the connections between 2 gateways: each needs one at least.
  if (values.only === 'scale') int('connections', values.connections, 2, 1000);
  return {
    duration: int('duration', values.duration, 1, 3600),
    warmup: int('warmup', values.warmup, 1, 600),
    connections: int('connections', values.connections, 1, 1000),
    lifecycleCalls: int('lifecycle-calls', values['lifecycle-calls'], 10, 1_000_000),
    only: values.only as 'scale' | 'memory' | 'quick' | 'catchup' | 'instructions' | 'ab' | undefined,
    abDist: values['ab-dist'],
    abBare: values['ab-bare'],
    abBNodeOptions: values['ab-b-node-options'],
    abRounds: int('ab-rounds', values['ab-rounds'], 1, 100),
    abSlice: int('ab-slice', values['ab-slice'], 1, 600),
    instrRequests: int('instr-requests', values['instr-requests'], 100, 1_000_000),
    instrWarmup: int('instr-warmup', values['instr-warmup'], 0, 1_000_000),
    instrConnections: int('instr-connections', values['instr-connections'], 1, 1000),
    memoryWindow: int('memory-window', values['memory-window'], 0, 3600),
    scaleDuration: int('scale-duration', values['scale-duration'], 1, 600),
    build: values.build,
  };
}

export const opts = parseOptions();

export const ID = runIdentity('mgbench');
export const VOICE_PATH = '/twilio/voice';

export const ACCOUNT_ID = `bench${ID.run}`;
export const STAFF_ID = 'alice';
export const IDENTITY = `bench_${ID.run}_alice`;
export const NUMBER = `+1628555${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}`;
/** The API caps monthlyMinutes at 10,000,000 (account-routes.ts), ~100× what a run uses. */
export const MONTHLY_MINUTES = 10_000_000;
export const DIAL_SECONDS = 95;
export const MINUTES_PER_CALL = 2; // 95 s → 2 minutes under the default billing rules (R4)

export const log = createLog('bench');
export const api = adminApi(ID.adminKey);

/** Set in main(); cleanup also runs when main() failed before connecting. */
export const shared: { redis: Redis | null } = { redis: null };

/** The account a gateway meters the bench's calls on. */
export async function createBenchAccount(port: number, id: string = ACCOUNT_ID): Promise<void> {
  const created = await api(port, 'POST', '/v1/accounts', {
    id,
    name: 'Webhook bench',
    monthlyMinutes: MONTHLY_MINUTES,
    staff: [{ id: STAFF_ID, email: `alice@${id}.example`, identity: IDENTITY }],
    phoneNumbers: [NUMBER],
  });
  if (created.status !== 201) throw new Error(`account creation failed: ${created.status} ${JSON.stringify(created.json)}`);
}

/** The state of each call as the gateway has it: 'active', 'ended' or 'none' (unknown or denied). */
export async function callStates(port: number, sids: string[], accountId: string = ACCOUNT_ID): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await pool(sids, 16, async (sid) => {
    const r = await api(port, 'GET', `/v1/accounts/${accountId}/calls/${sid}`);
    if (r.status === 200) out.set(sid, String(r.json.state));
    else if (r.status === 404) out.set(sid, 'none');
    else throw new Error(`GET call ${sid}: ${r.status} ${JSON.stringify(r.json)}`);
  });
  return out;
}
