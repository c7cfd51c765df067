/**
 * What each hot pool script costs Redis (issue #12, "Cheaper scripts"):
 *
 *   npx tsx scripts/bench/lib/script-cost.ts [--lifecycles 400] [--rounds 7] [--port 6394]
 *
 * or, for instructions executed instead of time (the other work on a shared machine moves
 * the µs by ±20%, not these; per script ±7% from where Lua's GC steps fall, the lifecycle's
 * total ±2%), against a server of your own under callgrind:
 *
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=fcallCommand \
 *     --toggle-collect=evalGenericCommand redis-server --port 6396 --save '' &
 *   npx tsx scripts/bench/lib/script-cost.ts --url redis://127.0.0.1:6396 --callgrind <its pid> \
 *     --lifecycles 30 --rounds 1
 *
 * Starts a private redis-server (ports 6391–6399, the first free one unless --port), creates
 * one account through the stores and runs, sequentially and on a simulated clock:
 *   per softphone request: create-authorization, cancel-authorization;
 *   per call: authorize-call (voice), the dialled leg's initiated, ringing, in-progress, a
 *   Media Stream start, the leg's completed (a stream stop first), the <Dial action> and the
 *   parent's completed: the 6 signals of R5 through record-call-event.
 * After every script run it reads INFO commandstats: the FCALL's usec is the script's
 * time, the other commands' deltas are the redis.call()s it issued (Redis counts those
 * under their own names too) — commands per call is the machine-independent unit.
 * usec_per_call is the median over the rounds (CONFIG RESETSTAT before each), min–max beside:
 * on a shared machine the min is the steadier figure to compare.
 * The digest hashes every reply, every message published on the account's channel and the
 * account's stored state at the end (ledger ids left out): a change that keeps behaviour
 * keeps it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { createStores } from '../../../src/redis/stores.js';
import { registerScripts, type ScriptName, type ScriptRunner } from '../../../src/redis/scripts.js';
import { startRedisServer, type RedisServerHandle } from '../../../test/support/redis-server.js';
import { commandStats, type CommandStat } from './redis.js';
import { gitRevision } from './report.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const LIFECYCLES = arg('lifecycles', 400);
const ROUNDS = arg('rounds', 7);
const PORT = arg('port', 0);
// --url: a private server already running, never the shared one. --callgrind: its pid, when
// it runs under callgrind (above): each run's instructions replace its timing, which
// valgrind makes meaningless, and INFO is not read (it would be counted).
const urlIdx = process.argv.indexOf('--url');
const URL_ARG = urlIdx >= 0 ? process.argv[urlIdx + 1]! : null;
const CALLGRIND = arg('callgrind', 0);
const WARMUP = 100;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const ACCOUNT = 'acc_scriptcost';
const STAFF = 's1';

/** Per script label: runs, script usec, inner commands by name. */
interface Tally {
  calls: number;
  usec: number;
  inner: Map<string, number>;
}

async function startPrivate(): Promise<RedisServerHandle> {
  const ports = PORT ? [PORT] : [6391, 6392, 6393, 6394, 6395, 6396, 6397, 6398, 6399];
  for (const port of ports) {
    try {
      return await startRedisServer({ port });
    } catch (err) {
      if (port === ports[ports.length - 1]) throw err;
    }
  }
  throw new Error('unreachable');
}

/** The instructions `pid` (a server under callgrind) executed since its counters were zeroed. */
function callgrindTotal(pid: number): number {
  const out = execFileSync('callgrind_control', ['-e', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const totals = out.slice(out.indexOf('Totals:'));
  const threads = [...totals.matchAll(/^\s*Th \d+\s+([\d,]+)/gm)];
  if (threads.length === 0) throw new Error(`callgrind_control -e gave no totals:\n${out}`);
  return threads.reduce((sum, m) => sum + Number(m[1]!.replace(/,/g, '')), 0);
}

async function main() {
  if (URL_ARG && /:6379\b/.test(URL_ARG)) throw new Error('--url must be a private server, not the shared one');
  const srv = URL_ARG ? null : await startPrivate();
  const url = URL_ARG ?? srv!.url;
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const sub = new Redis(url, { maxRetriesPerRequest: 1 });
  const digest = createHash('sha256');
  // Published messages apart: they arrive on another connection, interleaved with the
  // replies in no fixed order.
  const pubDigest = createHash('sha256');
  try {
    const prefix = `mgsc${URL_ARG ? Date.now() : ''}`;
    // Counting wrapper: labels a run by script name (record-call-event by its signal).
    const inner = registerScripts(redis);
    let label = '';
    let counting = false;
    let last = await commandStats(redis);
    let lastInstructions = 0;
    const tallies = new Map<string, Tally>();
    const runner: ScriptRunner = {
      async run(name: ScriptName, keys, args) {
        const reply = await inner.run(name, keys, args);
        digest.update(`${name} ${JSON.stringify(reply)}\n`);
        if (!counting) return reply;
        const key = label || name;
        const t = tallies.get(key) ?? { calls: 0, usec: 0, inner: new Map() };
        tallies.set(key, t);
        t.calls += 1;
        if (CALLGRIND) {
          // Cumulative counter: the delta since the previous run is this run's (no INFO read).
          const total = callgrindTotal(CALLGRIND);
          t.usec += total - lastInstructions;
          lastInstructions = total;
          return reply;
        }
        const now = await commandStats(redis);
        for (const [cmd, s] of now) {
          const d = s.calls - (last.get(cmd)?.calls ?? 0);
          if (d === 0 || cmd === 'info') continue;
          if (/^(fcall|function\|load|evalsha|eval)$/.test(cmd)) t.usec += s.usec - (last.get(cmd)?.usec ?? 0);
          else t.inner.set(cmd, (t.inner.get(cmd) ?? 0) + d);
        }
        last = now;
        return reply;
      },
    };
    const stores = createStores(redis, runner, { prefix, deniedMemoryMs: 60_000, finalGraceMs: 120_000 });
    const pool = stores.pool;
    const k = pool.keys(ACCOUNT);
    await sub.ssubscribe(k.events);
    let published = 0;
    sub.on('smessage', (_ch: string, msg: string) => {
      published++;
      pubDigest.update(`${msg}\n`);
    });

    let clock = T0;
    const tick = (ms = 7) => (clock += ms);
    const created = await pool.createAccount(
      { accountId: ACCOUNT, name: 'script cost', monthlyMinutes: 10_000_000, anchor: T0 - 3 * DAY, inboundWhenExhausted: 'allow',
        staff: [{ id: STAFF, json: JSON.stringify({ id: STAFF, email: 's1@example.test', identity: 'alice' }) }], phoneNumbers: ['+14155550000'] },
      clock,
    );
    if (!created) throw new Error('account not created');

    let n = 0;
    const softphone = async () => {
      n++;
      label = 'create-authorization';
      const a = await pool.createAuthorization(
        { accountId: ACCOUNT, authorizationId: `az_${n}`, staffId: STAFF, requestId: `rq${n}`, to: '+14155550100', reserveMinutes: 2, ttlMs: 60_000, maxOpenPerStaff: 10 },
        tick(),
      );
      if (a?.decision !== 'authorized') throw new Error(`authorization ${n}: ${JSON.stringify(a)}`);
      label = 'cancel-authorization';
      if (!(await pool.cancelAuthorization(ACCOUNT, `az_${n}`, STAFF, tick()))) throw new Error(`cancel ${n} failed`);
    };
    const call = async () => {
      n++;
      const sid = `CA${String(n).padStart(32, '0')}`;
      const leg = `CA${String(n).padStart(31, '0')}L`;
      label = 'authorize-call';
      const placedAt = tick();
      const v = await pool.authorizeCall(
        { accountId: ACCOUNT, callSid: sid, direction: 'outbound', from: 'client:alice', to: '+14155550100', staffId: STAFF, reserveMinutes: 2, authorizationId: '', expectedLegs: 1,
          check: { member: sid, dueAt: placedAt + 4 * 3600_000 } },
        placedAt,
      );
      if (v?.decision !== 'allowed') throw new Error(`voice ${n}: ${JSON.stringify(v)}`);
      const signal = async (what: string, e: Partial<Parameters<typeof pool.recordCallEvent>[1]>) => {
        label = `record-call-event ${what}`;
        const at = tick(300);
        return pool.recordCallEvent(ACCOUNT, { callSid: sid, kind: 'child', legSid: leg, sequenceNumber: null, status: '', seconds: null, minutes: null, dialCallSid: null, eventAt: at - 100, ...e }, at);
      };
      await signal('child initiated', { sequenceNumber: 0, status: 'initiated' });
      await signal('child ringing', { sequenceNumber: 1, status: 'ringing' });
      await signal('child in-progress', { sequenceNumber: 2, status: 'in-progress' });
      label = 'media-stream start';
      const stream = `MZ${String(n).padStart(32, '0')}`;
      await pool.recordMediaStream(ACCOUNT, sid, 'start', stream, { staff: STAFF }, tick(), `conn${n}`);
      label = 'media-stream stop';
      await pool.recordMediaStream(ACCOUNT, sid, 'stop', stream, {}, tick(60_000), `conn${n}`);
      await signal('child completed', { sequenceNumber: 3, status: 'completed', seconds: 95, minutes: 2 });
      await signal('action', { kind: 'action', legSid: sid, status: 'completed', seconds: 95, minutes: 2, dialCallSid: leg });
      const r = await signal('parent completed', { kind: 'parent', legSid: sid, status: 'completed', seconds: 100, minutes: 2 });
      if (r.outcome !== 'late') throw new Error(`parent completed of ${n}: ${JSON.stringify(r)}`);
    };

    for (let i = 0; i < WARMUP; i++) await softphone(), await call();
    const rounds: Map<string, Tally>[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      await redis.config('RESETSTAT');
      tallies.clear();
      last = await commandStats(redis);
      if (CALLGRIND) lastInstructions = callgrindTotal(CALLGRIND);
      counting = true;
      for (let i = 0; i < LIFECYCLES; i++) await softphone(), await call();
      counting = false;
      rounds.push(new Map(tallies));
    }

    // The account's state at the end, for the digest (stream ids are wall-clock: left out).
    await new Promise((r) => setTimeout(r, 300));
    const sorted = (h: Record<string, string>) => JSON.stringify(Object.entries(h).sort(([a], [b]) => (a < b ? -1 : 1)));
    // The pool's "unarchived" holds a ledger stream id (lib/ledger.lua), which the server's
    // clock makes: left out like the entries' own ids.
    const { unarchived: _unarchived, ...poolFields } = await redis.hgetall(k.pool);
    digest.update(sorted(poolFields));
    digest.update(sorted(await redis.hgetall(k.auths)));
    digest.update(JSON.stringify(await redis.zrange(k.authExpiry, '0', '-1', 'WITHSCORES')));
    digest.update(JSON.stringify(await redis.zrange(k.endedCalls, '0', '-1', 'WITHSCORES')));
    digest.update(JSON.stringify(await redis.zrange(k.activeCalls, '0', '-1', 'WITHSCORES')));
    for (const i of [2, 3, n - 1, n]) digest.update(sorted(await redis.hgetall(k.call(`CA${String(i).padStart(32, '0')}`))));
    for (const [, f] of await redis.xrange(k.ledger, '-', '+')) digest.update(JSON.stringify(f));

    const scale = CALLGRIND ? 1000 : 1;
    const fmtK = (x: number) => `${Math.round(x / 1000)}k`;
    const rows = [...rounds[0]!.keys()].map((name) => {
      const per = rounds.map((t) => t.get(name)!.usec / t.get(name)!.calls).sort((a, b) => a - b);
      const t0 = rounds[0]!.get(name)!;
      const cmds = [...t0.inner.entries()].sort((a, b) => b[1] - a[1]);
      const total = cmds.reduce((s, [, c]) => s + c, 0);
      return {
        script: name,
        calls: t0.calls,
        usecPerCall: Math.round((per[Math.floor(per.length / 2)]! / scale) * 10) / 10,
        min: Math.round((per[0]! / scale) * 10) / 10,
        max: Math.round((per[per.length - 1]! / scale) * 10) / 10,
        commandsPerCall: Math.round((total / t0.calls) * 100) / 100,
        commands: cmds.map(([c, x]) => `${c}:${Math.round((x / t0.calls) * 100) / 100}`).join(' '),
      };
    });
    const out = process.stdout;
    out.write(`script cost — ${new Date().toISOString()} git ${gitRevision()} redis ${/redis_version:(\S+)/.exec(await redis.info('server'))?.[1]}, ` +
      `${LIFECYCLES} softphone requests + ${LIFECYCLES} call lifecycles per round, ${ROUNDS} rounds, median (min–max) ${CALLGRIND ? 'thousand instructions' : 'µs'}\n`);
    out.write(`${'script'.padEnd(36)}${'calls'.padStart(7)}${(CALLGRIND ? 'kinstr/run' : 'usec/call').padStart(11)}${'  min–max'.padEnd(16)}${'cmds/call'.padStart(10)}  commands per call\n`);
    for (const r of rows) {
      out.write(`${r.script.padEnd(36)}${String(r.calls).padStart(7)}${r.usecPerCall.toFixed(1).padStart(11)}  ${`${r.min}–${r.max}`.padEnd(14)}` +
        `${r.commandsPerCall.toFixed(2).padStart(10)}  ${r.commands}\n`);
    }
    out.write(`published ${published}, digest ${digest.digest('hex').slice(0, 16)}/${pubDigest.digest('hex').slice(0, 16)}\n`);
    if (CALLGRIND) {
      const all = rounds.reduce((sum, t) => sum + [...t.values()].reduce((x, y) => x + y.usec, 0), 0);
      out.write(`Redis instructions per softphone request + call lifecycle: ${fmtK(all / (LIFECYCLES * ROUNDS))} (commands per call are counted without --callgrind)\n`);
    }
    out.write(`${JSON.stringify({ rows })}\n`);
  } finally {
    sub.disconnect();
    redis.disconnect();
    await srv?.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
