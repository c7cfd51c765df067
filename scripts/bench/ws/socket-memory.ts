// What an open dashboard socket costs the server in memory (issue #22), the gateway next to
// a bare `ws` server with an HS256 check at the upgrade, each in a process of its own run
// with --expose-gc (socket-memory-server.mjs). Memory only: it says nothing of throughput.
//
//   npx tsx scripts/bench/ws/socket-memory.ts [--sockets 10000] [--server gateway|bare|both]
//                                             [--snapshots <dir>] [--snapshot-sockets 2000] [--alloc <dir> [--promoted] [--broadcasts K] [--authorizations M]] [--cycles C]
//
// Per server: memory at idle after a full collection; N staff sockets opened (200 at a
// time, each waits for its first frame); RSS 5 s after the last opened (issue #22's figure,
// garbage of the opening included); then after a full collection, RSS and the V8 heap —
// what the open sockets themselves keep. With --snapshots, heap snapshots at idle and with
// --snapshot-sockets open are written for heap-diff.mjs; with --alloc, what opening the N
// sockets allocated (collected or not) for alloc-sites.mjs, or with --promoted what of it
// outlived the young generation, up to the 5 s reading. Needs dist/ (npm run build).
// SIGINT/SIGTERM stop the server and remove the run's keys (mgsockmem-<run>) and database
// (mgbench_<run>); under `timeout`, run it as `node --import tsx …`: npx does not pass
// SIGTERM on.
import { fork, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import WebSocket from 'ws';
import { signStaffToken } from '../../../src/auth/staff-token.js';
import { adminApi } from '../lib/api.js';
import { createBenchDatabase, dropBenchDatabase } from '../lib/books-db.js';
import { gatewayEnv, runIdentity } from '../lib/identity.js';
import { freePort } from '../lib/processes.js';
import { deleteBenchKeys } from '../lib/redis.js';
import { ROOT, hrMs, sleep } from '../lib/util.js';

const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '10000' },
    server: { type: 'string', default: 'both' },
    snapshots: { type: 'string' },
    'snapshot-sockets': { type: 'string', default: '2000' },
    alloc: { type: 'string' },
    promoted: { type: 'boolean', default: false },
    broadcasts: { type: 'string', default: '0' },
    cycles: { type: 'string', default: '0' },
    authorizations: { type: 'string', default: '0' },
  },
});
const N = Number(values.sockets);
const servers = values.server === 'both' ? ['bare', 'gateway'] : [values.server!];

type Mem = { cpuUs: number; rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number; mallocedMemory: number; spaces: Record<string, number> };

interface Server {
  proc: ChildProcess;
  port: number;
  ask<T>(msg: Record<string, unknown>): Promise<T>;
}

async function startServer(kind: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const proc = fork(join(ROOT, 'scripts/bench/ws/socket-memory-server.mjs'), [kind], {
    execArgv: ['--expose-gc'],
    env: { PATH: process.env.PATH ?? '', PORT: String(port), ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`${kind} server did not start`);
    await sleep(100);
  }
  const ask = <T>(msg: Record<string, unknown>) =>
    new Promise<T>((resolve) => {
      const on = (m: { cmd: string }) => {
        if (m.cmd !== msg.cmd) return;
        proc.off('message', on);
        resolve(m as T);
      };
      proc.on('message', on);
      proc.send(msg);
    });
  return { proc, port, ask };
}

const memOf = async (s: Server, gc: boolean) => (await s.ask<{ mem: Mem }>({ cmd: 'mem', gc })).mem;

/** Opens `count` sockets, `concurrency` at a time; each counts once its first frame came. */
async function openSockets(url: string, token: string, count: number, concurrency = 200): Promise<{ sockets: WebSocket[]; ms: number; failed: number }> {
  const sockets: WebSocket[] = [];
  let next = 0;
  let failed = 0;
  const started = hrMs();
  const one = () =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
      ws.once('message', () => {
        sockets.push(ws);
        resolve();
      });
      ws.once('error', () => {
        failed++;
        resolve();
      });
      ws.once('unexpected-response', () => {
        failed++;
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        next++;
        await one();
      }
    }),
  );
  return { sockets, ms: hrMs() - started, failed };
}

async function closeAll(sockets: WebSocket[]): Promise<void> {
  await Promise.all(sockets.map((ws) => new Promise<void>((r) => (ws.readyState === WebSocket.CLOSED ? r() : (ws.once('close', () => r()), ws.terminate())))));
}

const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
const perSocket = (a: number, b: number, n: number) => Math.round((b - a) / n);

async function measure(kind: string): Promise<Record<string, unknown>> {
  const id = runIdentity('mgsockmem');
  let server: Server | null = null;
  let token: string;
  let adjust: (() => Promise<void>) | null = null;
  const env: Record<string, string> =
    kind === 'bare'
      ? { STAFF_TOKEN_SECRET: id.staffSecret }
      : { ...gatewayEnv(id), WS_MAX_SOCKETS_PER_STAFF: '100000', MAX_OPEN_AUTHORIZATIONS_PER_STAFF: '100000', WS_MAX_MESSAGES_PER_SECOND: '1000', MEDIA_STREAMS: 'on' };
  cleanUp = cleanUpOnce(() => server, kind, id);
  if (kind === 'gateway') await createBenchDatabase(id.database);
  try {
    server = await startServer(kind, env);
    if (kind === 'gateway') {
      const api = adminApi(id.adminKey);
      const accountId = `sockmem${id.run}`;
      const port = server.port;
      adjust = async () => {
        const r = await api(port, 'POST', `/v1/accounts/${accountId}/adjustments`, { minutes: 1, reason: 'bench' });
        if (r.status !== 201) throw new Error(`adjustment: ${r.status}`);
      };
      const created = await api(server.port, 'POST', '/v1/accounts', {
        id: accountId,
        name: 'socket memory',
        monthlyMinutes: 1_000_000,
        staff: [{ id: 'dash', email: 'dash@example.test', identity: `sm_${id.run}` }],
      });
      if (created.status !== 201) throw new Error(`account: ${created.status} ${JSON.stringify(created.json)}`);
      token = (await api(server.port, 'POST', `/v1/accounts/${accountId}/staff/dash/token`, { ttlSeconds: 3600 })).json.token;
    } else {
      token = signStaffToken(id.staffSecret, { accountId: 'sockmem', staffId: 'dash' }, Date.now(), 3600).token;
    }
    const url = `ws://127.0.0.1:${server.port}/v1/ws`;
    // Warm the upgrade path (code compiled, caches made) so the baseline holds it.
    await closeAll((await openSockets(url, token, 200)).sockets);
    await sleep(1000);
    if (values.snapshots) {
      await server.ask({ cmd: 'snapshot', file: join(values.snapshots, `${kind}-0.heapsnapshot`) });
      const few = await openSockets(url, token, Number(values['snapshot-sockets']));
      await sleep(1000);
      await server.ask({ cmd: 'snapshot', file: join(values.snapshots, `${kind}-${few.sockets.length}.heapsnapshot`) });
      await closeAll(few.sockets);
    }
    // After the snapshots, if any: writing one grows RSS by itself.
    await sleep(1000);
    const idle = await memOf(server, true);
    const beforeOpen = await memOf(server, false);
    if (values.alloc) await server.ask({ cmd: 'alloc-start', promoted: values.promoted });
    const opened = await openSockets(url, token, N);
    const afterOpen = await memOf(server, false);
    if (values.alloc && !values.promoted) await server.ask({ cmd: 'alloc-stop', file: join(values.alloc, `${kind}-${opened.sockets.length}.heapprofile`) });
    const n = opened.sockets.length;
    await sleep(5000);
    const after5s = await memOf(server, false);
    if (values.alloc && values.promoted) await server.ask({ cmd: 'alloc-stop', file: join(values.alloc, `${kind}-${n}-promoted.heapprofile`) });
    const afterGc = await memOf(server, true);
    // --broadcasts K (gateway): what K balance broadcasts to the open sockets allocate, per
    // socket and broadcast, one adjustment every 200 ms (each is its own pass).
    const K = Number(values.broadcasts);
    if (values.alloc && adjust && K > 0) {
      await server.ask({ cmd: 'alloc-start' });
      for (let k = 0; k < K; k++) {
        await adjust();
        await sleep(200);
      }
      await sleep(1000);
      await server.ask({ cmd: 'alloc-stop', file: join(values.alloc, `${kind}-${n}x${K}-broadcasts.heapprofile`) });
    }
    // --authorizations M (gateway, with --alloc): what M socket authorizations allocate,
    // each of 200 sockets with one in flight, answered or denied alike.
    const M = Number(values.authorizations);
    if (values.alloc && kind === 'gateway' && M > 0) {
      const senders = opened.sockets.slice(0, 200);
      let sent = 0;
      await server.ask({ cmd: 'alloc-start' });
      const cpu0 = (await memOf(server, false)).cpuUs;
      await Promise.all(
        senders.map(
          (ws, i) =>
            new Promise<void>((resolve) => {
              const next = () => {
                if (sent >= M) return resolve();
                ws.send(JSON.stringify({ type: 'authorize', requestId: `r${i}-${sent++}`, to: '+14155550100' }));
              };
              ws.on('message', (d: Buffer) => {
                if (d.includes('"requestId"')) next();
              });
              next();
            }),
        ),
      );
      const cpu1 = (await memOf(server, false)).cpuUs;
      await server.ask({ cmd: 'alloc-stop', file: join(values.alloc, `${kind}-${M}-authorizations.heapprofile`) });
      console.log(JSON.stringify({ authorizations: M, cpuUsPerAuthorization: Math.round((cpu1 - cpu0) / M) }));
    }
    await closeAll(opened.sockets);
    await sleep(1000);
    const closedGc = await memOf(server, true);
    // --cycles C: C more rounds of opening N and closing them; a leak shows as heap that
    // grows round after round (after a full collection each time).
    const afterClose: number[] = [];
    for (let i = 0; i < Number(values.cycles); i++) {
      await closeAll((await openSockets(url, token, N)).sockets);
      await sleep(1000);
      afterClose.push(perSocket(idle.heapUsed, (await memOf(server, true)).heapUsed, n));
    }
    const r = {
      server: kind,
      sockets: n,
      failed: opened.failed,
      openPerSec: Math.round(n / (opened.ms / 1000)),
      // The server's CPU (user + system) per socket opened: steadier than a rate on a shared machine.
      cpuUsPerOpen: Math.round((afterOpen.cpuUs - beforeOpen.cpuUs) / n),
      idleRssMb: mb(idle.rss),
      rss5sMb: mb(after5s.rss),
      rssPer1000Mb_5s: ((after5s.rss - idle.rss) / n * 1000 / 1024 / 1024).toFixed(2),
      rssPer1000Mb_gc: ((afterGc.rss - idle.rss) / n * 1000 / 1024 / 1024).toFixed(2),
      heapPerSocket_5s: perSocket(idle.heapUsed, after5s.heapUsed, n),
      heapPerSocket_gc: perSocket(idle.heapUsed, afterGc.heapUsed, n),
      heapTotal5sMb: mb(after5s.heapTotal),
      externalPerSocket_gc: perSocket(idle.external, afterGc.external, n),
      mallocedPerSocket_gc: perSocket(idle.mallocedMemory, afterGc.mallocedMemory, n),
      oldSpacePerSocket_gc: perSocket(idle.spaces.old_space ?? 0, afterGc.spaces.old_space ?? 0, n),
      heapAfterCloseVsIdle: perSocket(idle.heapUsed, closedGc.heapUsed, n),
      ...(afterClose.length > 0 ? { heapAfterEachMoreCycleVsIdle: afterClose } : {}),
      // Where the 5 s figure's heap is: the opening's garbage promoted to old space shows here.
      spacesPerSocket_5s: Object.fromEntries(Object.keys(after5s.spaces).map((k) => [k, perSocket(idle.spaces[k] ?? 0, after5s.spaces[k]!, n)])),
    };
    console.log(JSON.stringify(r));
    return r;
  } finally {
    await cleanUp();
  }
}

/** Stops the server and removes the run's keys and database; once, also on a signal. */
let cleanUp: () => Promise<void> = async () => {};
function cleanUpOnce(server: () => Server | null, kind: string, id: { prefix: string; database: string }): () => Promise<void> {
  let done: Promise<void> | null = null;
  return () =>
    (done ??= (async () => {
      const s = server();
      s?.proc.kill('SIGINT');
      if (s) await new Promise((r) => (s.proc.exitCode !== null ? r(null) : s.proc.once('exit', r)));
      if (kind === 'gateway') {
        await deleteBenchKeys(null, id.prefix);
        await dropBenchDatabase(id.database);
      }
    })());
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
}

for (const kind of servers) await measure(kind);
process.exit(0);
