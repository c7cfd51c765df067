// Phase `fanout`: balance fan-out to 10,000 dashboard sockets (see main.ts).
import { cpuSample, cpuShare, vmRssMb, type CpuSample } from '../lib/cpu.js';
import { Hist } from '../lib/histogram.mjs';
import { fileLimits, stopChild } from '../lib/processes.js';
import { fmtInt, hrMs, r1, r2, sleep } from '../lib/util.js';
import { ID, RUN, api, check, cpuRows, failures, log, opts, rows, shared } from './context.js';
import { ask, pingProbe, startClientProc } from './fanout-procs.js';
import { createAccount, mustApi, openWs, staffToken, startGateway, trackWs, wsBase } from './gateway.js';

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
  const token = await staffToken(gw.port, accountId, 'dash');
  const P = Math.min(opts.fanoutProcs, N);
  const procs = await Promise.all(Array.from({ length: P }, (_, i) => startClientProc(i)));
  procs.forEach((p, i) => (p.count = Math.floor(N / P) + (i < N % P ? 1 : 0)));

  await sleep(1000);
  const rssBefore = vmRssMb(gw.proc.pid);
  log(`fanout: gateway RSS ${rssBefore?.toFixed(1)} MB; opening ${fmtInt(N)} dashboard sockets in ${P} client process(es)`);
  const opened = await Promise.all(
    procs.map((p) => ask(p, { cmd: 'open', url: `${wsBase(gw.port)}/v1/ws`, token, count: p.count, concurrency: 100 })),
  );
  const openCount = opened.reduce((a, o) => a + o.opened, 0);
  const withSnapshot = opened.reduce((a, o) => a + o.withSnapshot, 0);
  const openFailed = opened.reduce((a, o) => a + o.failed, 0);
  log(`fanout: ${fmtInt(openCount)} open (${fmtInt(withSnapshot)} with their first snapshot) in ${r1(Math.max(...opened.map((o) => o.ms)) / 1000)} s` +
    (openFailed ? `; ${openFailed} failed: ${opened.find((o) => o.firstError)?.firstError}` : ''));
  // RSS right after a connection storm still holds its garbage: take the lowest of a few
  // samples over 3 s of idle.
  let rssAfter: number | null = null;
  for (let i = 0; i < 6; i++) {
    await sleep(500);
    const v = vmRssMb(gw.proc.pid);
    if (v !== null && (rssAfter === null || v < rssAfter)) rssAfter = v;
  }
  const rssPer1000 = rssBefore !== null && rssAfter !== null && openCount > 0 ? (rssAfter - rssBefore) / (openCount / 1000) : null;

  // The stall probe: idle first (baseline), then during the broadcasts.
  const probeWs = trackWs(await openWs(`${wsBase(gw.port)}/v1/ws`, { authorization: `Bearer ${ID.adminKey}` }));
  const probe = pingProbe(probeWs);
  await sleep(1000);
  probe.take(); // the first pings warm the path up
  await sleep(2000);
  const idle = await probe.finish();
  probe.resume();

  const before = await mustApi(gw.port, 'GET', `/v1/accounts/${accountId}/balance`, undefined, 200);
  const b0 = Number(before.balance);
  const total = Math.max(1, Math.round((opts.warmup + opts.duration) * 10));
  const warm = Math.round(opts.warmup * 10);
  const adjustments: { balance: number; sentMs: number; ackMs: number; measured: boolean }[] = [];
  let adjustFailures = 0;
  let firstAdjustFailure = '';
  log(`fanout: ${total} adjustments, one every 100 ms (${warm} of them warm-up)`);
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
      cpuA = await cpuSample(shared.redis, gw.proc.pid, helperPids);
    }
    const sentMs = hrMs();
    const measured = k >= warm;
    inFlight.push(
      api(gw.port, 'POST', `/v1/accounts/${accountId}/adjustments`, { minutes: 1, reason: 'bench' }).then(
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
  const cpuB = await cpuSample(shared.redis, gw.proc.pid, helperPids);
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
  const heartbeatsInWindow = heartbeats.filter((t) => t >= windowStart && t <= cpuB.wall).length;
  const cpu = cpuA ? cpuShare(cpuA, cpuB, P) : null;
  if (cpu) cpuRows.push({ phase: 'fanout', window: `${r1((cpuB.wall - cpuA!.wall) / 1000)} s`, cpu });

  for (const p of procs) p.child.proc.send({ cmd: 'close' });
  probeWs.close();
  await Promise.all(procs.map((p) => Promise.race([p.child.exited, sleep(3000)])));
  await stopChild(gw);

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
  };
}
