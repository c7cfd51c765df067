// Phase `fanout`: balance fan-out to 10,000 dashboard sockets (see main.ts).
import { join } from 'node:path';
import { cpuSample, cpuShare, vmRssMb, type CpuSample } from '../lib/cpu.js';
import { Hist } from '../lib/histogram.mjs';
import { fileLimits, startServer, stopChild } from '../lib/processes.js';
import { ROOT, fmtInt, hrMs, r1, r2, sleep } from '../lib/util.js';
import { ID, RUN, api, check, cpuRows, failures, log, opts, rows, shared } from './context.js';
import { ask, pingProbe, startClientProc, type ClientProc } from './fanout-procs.js';
import { createAccount, mustApi, openWs, staffToken, startGateway, trackWs, wsBase } from './gateway.js';

/** A server the fan-out is measured on: the gateway, or the bare ws server (fanout-bare-server.mjs). */
interface FanoutTarget {
  /** '' for the gateway, ' ceiling' for the bare server: in log lines and the CPU table. */
  label: '' | ' ceiling';
  port: number;
  pid: number | undefined;
  accountId: string;
  /** What each dashboard socket sends as its bearer token. */
  token: string;
  /** The ping probe's upgrade headers (a socket that watches nothing). */
  probeHeaders: Record<string, string>;
}

/** Opens N dashboard sockets on the target from P client processes. */
async function openDashboards(t: FanoutTarget, N: number) {
  const P = Math.min(opts.fanoutProcs, N);
  const procs = await Promise.all(Array.from({ length: P }, (_, i) => startClientProc(i)));
  procs.forEach((p, i) => (p.count = Math.floor(N / P) + (i < N % P ? 1 : 0)));
  await sleep(1000);
  const rssBefore = vmRssMb(t.pid);
  log(`fanout${t.label}: RSS ${rssBefore?.toFixed(1)} MB; opening ${fmtInt(N)} dashboard sockets in ${P} client process(es)`);
  const opened = await Promise.all(
    procs.map((p) => ask(p, { cmd: 'open', url: `${wsBase(t.port)}/v1/ws`, token: t.token, count: p.count, concurrency: 100 })),
  );
  const openCount = opened.reduce((a, o) => a + o.opened, 0);
  const withSnapshot = opened.reduce((a, o) => a + o.withSnapshot, 0);
  const openFailed = opened.reduce((a, o) => a + o.failed, 0);
  log(`fanout${t.label}: ${fmtInt(openCount)} open (${fmtInt(withSnapshot)} with their first snapshot) in ${r1(Math.max(...opened.map((o) => o.ms)) / 1000)} s` +
    (openFailed ? `; ${openFailed} failed: ${opened.find((o) => o.firstError)?.firstError}` : ''));
  return { procs, P, rssBefore, openCount, withSnapshot, openFailed };
}

/** The measured broadcasts: one adjustment every 100 ms, each socket's arrival times, the
 *  ping probe's round trips idle and during them. Closes the client processes. */
async function broadcasts(t: FanoutTarget, procs: ClientProc[]) {
  // The stall probe: idle first (baseline), then during the broadcasts.
  const probeWs = trackWs(await openWs(`${wsBase(t.port)}/v1/ws`, t.probeHeaders));
  const probe = pingProbe(probeWs);
  await sleep(1000);
  probe.take(); // the first pings warm the path up
  await sleep(2000);
  const idle = await probe.finish();
  probe.resume();

  const before = await mustApi(t.port, 'GET', `/v1/accounts/${t.accountId}/balance`, undefined, 200);
  const b0 = Number(before.balance);
  const total = Math.max(1, Math.round((opts.warmup + opts.duration) * 10));
  const warm = Math.round(opts.warmup * 10);
  const adjustments: { balance: number; sentMs: number; ackMs: number; measured: boolean }[] = [];
  let adjustFailures = 0;
  let firstAdjustFailure = '';
  log(`fanout${t.label}: ${total} adjustments, one every 100 ms (${warm} of them warm-up)`);
  const helperPids = procs.map((p) => p.child.proc.pid);
  let cpuA: CpuSample | null = null;
  const tStart = hrMs() + 50;
  const inFlight: Promise<void>[] = [];
  for (let k = 0; k < total; k++) {
    const due = tStart + k * 100;
    const wait = due - hrMs();
    if (wait > 0) await sleep(wait);
    if (k === warm) {
      probe.take();
      cpuA = await cpuSample(shared.redis, t.pid, helperPids);
    }
    const sentMs = hrMs();
    const measured = k >= warm;
    inFlight.push(
      api(t.port, 'POST', `/v1/accounts/${t.accountId}/adjustments`, { minutes: 1, reason: 'bench' }).then(
        (r) => {
          const ackMs = hrMs();
          // 201 {"balance": <the balance view>} (a bare number in older versions)
          const b = Number(typeof r.json?.balance === 'object' ? r.json.balance?.balance : r.json?.balance);
          if (r.status === 201 && Number.isFinite(b)) adjustments.push({ balance: b, sentMs, ackMs, measured });
          else {
            adjustFailures++;
            firstAdjustFailure ||= `${r.status} ${JSON.stringify(r.json).slice(0, 200)}`;
          }
        },
        (err: Error) => {
          adjustFailures++;
          firstAdjustFailure ||= err.message;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  // The window ends once the last broadcast has reached every socket (or 10 s passed).
  const lastBalance = b0 + total;
  const finals = await Promise.all(procs.map((p) => ask(p, { cmd: 'final', balance: lastBalance, timeoutMs: 10_000 })));
  const cpuB = await cpuSample(shared.redis, t.pid, helperPids);
  const busy = await probe.finish();
  const missingFinal = finals.reduce((a, f) => a + f.missing, 0);

  const measuredAdj = adjustments.filter((a) => a.measured).map((a) => [a.balance, a.sentMs, a.ackMs]);
  const reports = await Promise.all(procs.map((p) => ask(p, { cmd: 'report', adjustments: measuredAdj })));
  const fromSend = new Hist();
  const fromAck = new Hist();
  let delivered = 0;
  let expected = 0;
  let received = 0;
  const closes: Record<string, number> = {};
  const heartbeats: number[] = [];
  for (const r of reports) {
    fromSend.addSerialized(r.fromSend, r.maxMs);
    fromAck.addSerialized(r.fromAck);
    delivered += r.delivered;
    expected += r.expected;
    received += r.received;
    for (const [code, n] of Object.entries(r.closes as Record<string, number>)) closes[code] = (closes[code] ?? 0) + n;
    heartbeats.push(...(r.heartbeats as number[]));
  }
  const windowStart = cpuA?.wall ?? tStart;
  const heartbeatsInWindow = heartbeats.filter((at) => at >= windowStart && at <= cpuB.wall).length;
  const cpu = cpuA ? cpuShare(cpuA, cpuB, procs.length) : null;
  if (cpu) cpuRows.push({ phase: `fanout${t.label}`, window: `${r1((cpuB.wall - cpuA!.wall) / 1000)} s`, cpu });

  for (const p of procs) p.child.proc.send({ cmd: 'close' });
  probeWs.close();
  await Promise.all(procs.map((p) => Promise.race([p.child.exited, sleep(3000)])));

  return { total, measuredAdj, adjustments, adjustFailures, firstAdjustFailure, fromSend, fromAck, delivered, expected, received, closes, missingFinal, heartbeatsInWindow, idle, busy, cpu };
}

export async function fanoutPhase() {
  const N = opts.dashboards;
  const limits = fileLimits();
  const need = N + 200;
  if (limits.hard < need) {
    throw new Error(
      `fanout: ${N} sockets need about ${need} open files in the gateway, but the hard limit is ${limits.hard}; ` +
        `raise it (e.g. \`ulimit -Hn 65536\` as root or in /etc/security/limits.conf) or pass --dashboards`,
    );
  }
  const gw = await startGateway('fanout');
  const accountId = `wsfan${RUN}`;
  await createAccount(gw.port, accountId, [{ id: 'dash', identity: `wsb_${RUN}_dash` }]);
  const gwTarget: FanoutTarget = {
    label: '',
    port: gw.port,
    pid: gw.proc.pid,
    accountId,
    token: await staffToken(gw.port, accountId, 'dash'),
    probeHeaders: { authorization: `Bearer ${ID.adminKey}` },
  };
  const { procs, P, rssBefore, openCount, withSnapshot, openFailed } = await openDashboards(gwTarget, N);
  // RSS right after a connection storm still holds its garbage: take the lowest of a few
  // samples over 3 s of idle.
  let rssAfter: number | null = null;
  for (let i = 0; i < 6; i++) {
    await sleep(500);
    const v = vmRssMb(gw.proc.pid);
    if (v !== null && (rssAfter === null || v < rssAfter)) rssAfter = v;
  }
  const rssPer1000 = rssBefore !== null && rssAfter !== null && openCount > 0 ? (rssAfter - rssBefore) / (openCount / 1000) : null;
  const run = await broadcasts(gwTarget, procs);
  await stopChild(gw);
  const { total, measuredAdj, adjustments, adjustFailures, firstAdjustFailure, fromSend, fromAck, delivered, expected, received, closes, missingFinal, heartbeatsInWindow, idle, busy, cpu } = run;

  // The same sockets, clients, adjustments and probe against the bare ceiling.
  const bareSrv = await startServer({ name: 'fan-out bare ws server', script: join(ROOT, 'scripts', 'bench', 'ws', 'fanout-bare-server.mjs'), env: {}, readyPath: '/healthz', log, raiseFileLimit: true });
  const bareTarget: FanoutTarget = { label: ' ceiling', port: bareSrv.port, pid: bareSrv.proc.pid, accountId: 'wsbare', token: 'none', probeHeaders: {} };
  const bareOpen = await openDashboards(bareTarget, N);
  const bare = await broadcasts(bareTarget, bareOpen.procs);
  await stopChild(bareSrv);

  const s = fromSend.summary();
  const a = fromAck.summary();
  const ib = idle.hist.summary();
  const bb = busy.hist.summary();
  if (busy.hist.n === 0) failures.push('fanout: the ping probe got no answer');
  rows.push({
    phase: 'fanout',
    what: `sockets open with their first snapshot / asked`,
    value: `${fmtInt(withSnapshot)} / ${fmtInt(N)}`,
    target: 'all',
    met: check(withSnapshot === N && openFailed === 0, 'fanout: every dashboard socket opens and gets its snapshot'),
  });
  rows.push({
    phase: 'fanout',
    what: `gateway RSS idle → with ${fmtInt(openCount)} idle sockets (MB); per 1,000`,
    value: `${rssBefore?.toFixed(1)} → ${rssAfter?.toFixed(1)}; ${rssPer1000 === null ? '-' : rssPer1000.toFixed(2)}`,
    target: '≤ 8 MB per 1,000',
    met: rssPer1000 === null ? null : rssPer1000 <= 8,
  });
  // Machine-independent cost (issue #12): resident bytes per idle socket.
  const rssBytesPerSocket = rssPer1000 === null ? null : Math.round((rssPer1000 * 1024 * 1024) / 1000);
  rows.push({
    phase: 'fanout',
    what: 'gateway RSS per idle dashboard socket (bytes)',
    value: rssBytesPerSocket === null ? '-' : fmtInt(rssBytesPerSocket),
    target: '-',
    met: null,
  });
  rows.push({
    phase: 'fanout',
    what: `delivery latency, adjustment sent → socket (ms) p50 / p99 / max`,
    value: `${s.p50} / ${s.p99} / ${r1(s.max)}`,
    target: 'p99 ≤ 150',
    met: s.p99 <= 150,
  });
  rows.push({ phase: 'fanout', what: `delivery latency, adjustment's 201 → socket (ms) p50 / p99`, value: `${a.p50} / ${a.p99}`, target: '-', met: null });
  rows.push({
    phase: 'fanout',
    what: `deliveries / socket×changes (${measuredAdj.length} measured changes; the rest coalesced)`,
    value: `${fmtInt(delivered)} / ${fmtInt(expected)} (${expected ? r1((delivered / expected) * 100) : 0}%)`,
    target: '-',
    met: null,
  });
  rows.push({
    phase: 'fanout',
    what: 'every socket has the last balance; no socket closed',
    value: `${fmtInt(missingFinal)} missing; closes ${JSON.stringify(closes)}`,
    target: '0; {}',
    met: check(missingFinal === 0 && Object.keys(closes).length === 0, 'fanout: every socket receives the last balance and none is closed'),
  });
  rows.push({
    phase: 'fanout',
    what: 'adjustments answered 201',
    value: `${adjustments.length} / ${total}`,
    target: 'all',
    met: check(adjustFailures === 0, `fanout: every adjustment answered 201${firstAdjustFailure ? ` (first failure: ${firstAdjustFailure})` : ''}`),
  });
  rows.push({ phase: 'fanout', what: 'ping RTT idle p99 / max (ms) — baseline', value: `${ib.p99} / ${r1(ib.max)}`, target: '-', met: null });
  rows.push({
    phase: 'fanout',
    what: `ping RTT during broadcasts p99 / max (ms) — longest event-loop stall ≈ max${heartbeatsInWindow ? ' (a 30 s heartbeat sweep fell in the window)' : ''}`,
    value: `${bb.p99} / ${r1(bb.max)}${busy.lost ? ` (${busy.lost} unanswered)` : ''}`,
    target: 'max ≤ 20',
    met: bb.max <= 20 && busy.lost === 0,
  });
  const bs = bare.fromSend.summary();
  const bbIdle = bare.idle.hist.summary();
  const bbBusy = bare.busy.hist.summary();
  rows.push({
    phase: 'fanout',
    what: 'bare ws server, same sockets and adjustments (fanout-bare-server.mjs: frame built once, one synchronous pass, no throttle, no slices): delivery p50 / p99 (ms); ping RTT idle max / during broadcasts max (ms)',
    value: `${bs.p50} / ${bs.p99}; ${r1(bbIdle.max)} / ${r1(bbBusy.max)}`,
    target: '-',
    met: check(
      bareOpen.withSnapshot === N && bare.missingFinal === 0 && bare.adjustFailures === 0 && Object.keys(bare.closes).length === 0,
      'fanout bare: every socket opens, gets every adjustment\'s final balance, none closed',
    ),
  });
  rows.push({ phase: 'fanout', what: 'delivery p99: gateway ÷ bare ws server (same run)', value: bs.p99 > 0 ? String(r2(s.p99 / bs.p99)) : '-', target: '-', met: null });
  return {
    dashboards: N,
    clientProcesses: P,
    opened: openCount,
    withSnapshot,
    openFailed,
    rssBeforeMb: rssBefore === null ? null : r1(rssBefore),
    rssAfterMb: rssAfter === null ? null : r1(rssAfter),
    rssPer1000Mb: rssPer1000 === null ? null : r2(rssPer1000),
    rssBytesPerSocket,
    changes: total,
    measuredChanges: measuredAdj.length,
    adjustFailures,
    deliveryFromSendMs: s,
    deliveryFromAckMs: a,
    delivered,
    expected,
    framesReceived: received,
    missingFinal,
    closes,
    pingIdleMs: ib,
    pingBusyMs: { ...bb, lost: busy.lost },
    heartbeatSweepsInWindow: heartbeatsInWindow,
    cpu,
    gatewayWarnLogLines: gw.warnLines,
    bare: {
      opened: bareOpen.openCount,
      withSnapshot: bareOpen.withSnapshot,
      deliveryFromSendMs: bs,
      delivered: bare.delivered,
      expected: bare.expected,
      missingFinal: bare.missingFinal,
      closes: bare.closes,
      pingIdleMs: bbIdle,
      pingBusyMs: { ...bbBusy, lost: bare.busy.lost },
      cpu: bare.cpu,
    },
  };
}
