// Phase `media`: Media Streams ingestion (see main.ts).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type WebSocket from 'ws';
import { accountKeys } from '../../../src/redis/keys.js';
import { computeTwilioSignature } from '../../../src/twilio/signature.js';
import { cpuUsPer } from '../lib/cost.js';
import { cpuSample, cpuShare, type CpuSample } from '../lib/cpu.js';
import { softphoneCallParams } from '../lib/identity.js';
import { scrapeMetrics } from '../lib/api.js';
import { startServer, stopChild } from '../lib/processes.js';
import { ROOT, fmtInt, hex, hrMs, pool, r1, r2, sleep } from '../lib/util.js';
import { AUTH_TOKEN, ID, PREFIX, RUN, TW_ACCOUNT_SID, VOICE_URL, check, cpuRows, log, notes, opts, rows, shared } from './context.js';
import { createAccount, openWs, startGateway, trackWs, wsBase } from './gateway.js';

function mulawPayload(): string {
  // 160 bytes = 20 ms of 8 kHz µ-law; values near silence (0xFF/0x7F) with some noise.
  const b = randomBytes(160);
  for (let i = 0; i < b.length; i++) b[i] = (b[i]! & 0x0f) | (i % 2 ? 0xf0 : 0x70);
  return b.toString('base64');
}

interface FrameSender {
  ws: WebSocket;
  streamSid: string;
  payload: string;
  seq: number;
  chunk: number;
  next: number;
}

/** 50 media frames/s on every stream for the warm-up and the measured window, the streams
 *  spread over the 20 ms period; the server's (`pid`) CPU sampled over the window. */
async function driveFrames(streams: FrameSender[], pid: number | undefined) {
  const S = streams.length;
  const framesPerStream = (opts.warmup + opts.duration) * 50;
  let sent = 0;
  let sentInWindow = 0;
  let maxLagMs = 0;
  let maxBuffered = 0;
  let inWindow = false;
  let windowDone = false;
  const t0 = hrMs() + 50;
  // Spread the streams over the 20 ms frame period, as independent calls would be.
  streams.forEach((s, i) => (s.next = t0 + ((i * 20) / S)));
  const sendDue = () => {
    const now = hrMs();
    let pending = false;
    for (const s of streams) {
      while (s.chunk < framesPerStream && s.next <= now) {
        if (now - s.next > maxLagMs) maxLagMs = now - s.next;
        s.seq++;
        s.chunk++;
        s.ws.send(
          `{"event":"media","sequenceNumber":"${s.seq}","media":{"track":"inbound","chunk":"${s.chunk}","timestamp":"${(s.chunk - 1) * 20}","payload":"${s.payload}"},"streamSid":"${s.streamSid}"}`,
        );
        s.next += 20;
        sent++;
        if (inWindow) sentInWindow++;
      }
      if (s.chunk < framesPerStream) pending = true;
      if (s.ws.bufferedAmount > maxBuffered) maxBuffered = s.ws.bufferedAmount;
    }
    return pending;
  };
  const cpuS: { a?: CpuSample; b?: CpuSample } = {};
  const mStart = t0 + opts.warmup * 1000;
  const mEnd = mStart + opts.duration * 1000;
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const now = hrMs();
      if (!inWindow && !windowDone && now >= mStart) {
        inWindow = true;
        void cpuSample(shared.redis, pid).then((c) => (cpuS.a = c));
      }
      if (inWindow && now >= mEnd) {
        inWindow = false;
        windowDone = true;
        void cpuSample(shared.redis, pid).then((c) => (cpuS.b = c));
      }
      if (!sendDue() && cpuS.b !== undefined) {
        clearInterval(timer);
        done();
      }
    }, 1);
  });
  return { sent, sentInWindow, maxLagMs, maxBuffered, cpuS: cpuS as Required<typeof cpuS> };
}

export async function mediaPhase() {
  const S = opts.streams;
  const gw = await startGateway('media');
  const accountId = `wsmed${RUN}`;
  const identity = `wsb_${RUN}_media`;
  const number = `+1628556${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}`;
  await createAccount(gw.port, accountId, [{ id: 'alice', identity }], [number]);

  // Real calls first: the streams' start/stop then find their account and call.
  const sidBase = hex(8);
  const callSids = Array.from({ length: S }, (_, i) => `CA${sidBase}${(i + 1).toString(16).padStart(16, '0')}`);
  log(`media: placing ${S} calls through signed POST /twilio/voice`);
  const placed = await pool(callSids, 20, async (sid) => {
    const params: Record<string, string> = {
      ...softphoneCallParams(ID, sid, 'ringing', identity),
      Direction: 'inbound',
      From: `client:${identity}`,
      To: '+14155550100',
    };
    const res = await fetch(`http://127.0.0.1:${gw.port}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeTwilioSignature(AUTH_TOKEN, VOICE_URL, params) },
      body: new URLSearchParams(params).toString(),
    });
    const text = await res.text();
    // Each call's stream URL carries its own token in the path (R18).
    const url = /<Stream url="([^"]+)"/.exec(text)?.[1];
    return res.status === 200 && text.includes('<Dial') && url ? url.replace(/&amp;/g, '&') : null;
  });
  const allowed = placed.filter(Boolean).length;
  if (!check(allowed === S, `media: all ${S} calls allowed by /twilio/voice`)) throw new Error(`media: only ${allowed} of ${S} calls were allowed`);

  interface Stream {
    ws: WebSocket;
    callSid: string;
    streamSid: string;
    payload: string;
    seq: number;
    chunk: number;
    next: number;
  }
  log(`media: opening ${S} signed Media Streams sockets`);
  let closedEarly = 0;
  let running = true;
  const streams = await pool(callSids.map((sid, i) => [sid, placed[i]!] as const), 50, async ([callSid, streamUrl]): Promise<Stream> => {
    // Twilio signs the stream's upgrade over its URL alone.
    const signature = computeTwilioSignature(AUTH_TOKEN, streamUrl, {});
    const ws = trackWs(await openWs(`${wsBase(gw.port)}${new URL(streamUrl).pathname}`, { 'x-twilio-signature': signature }));
    ws.on('close', () => {
      if (running) closedEarly++;
    });
    const streamSid = `MZ${hex(16)}`;
    ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}');
    ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        start: {
          accountSid: TW_ACCOUNT_SID,
          streamSid,
          callSid,
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          customParameters: { callSid },
        },
        streamSid,
      }),
    );
    return { ws, callSid, streamSid, payload: mulawPayload(), seq: 1, chunk: 0, next: 0 };
  });

  log(`media: ${S} streams × 50 frames/s = ${fmtInt(S * 50)} frames/s; warm-up ${opts.warmup} s, then measuring ${opts.duration} s`);
  const { sent, sentInWindow, maxLagMs, maxBuffered, cpuS } = await driveFrames(streams, gw.proc.pid);
  running = false;
  for (const s of streams) {
    s.seq++;
    s.ws.send(JSON.stringify({ event: 'stop', sequenceNumber: String(s.seq), stop: { accountSid: TW_ACCOUNT_SID, callSid: s.callSid }, streamSid: s.streamSid }));
  }
  await sleep(500);
  const metrics = await scrapeMetrics(gw.port);
  // Each stream's start and stop reached the call (media-stream-2.lua stamps the call hash).
  const keys = accountKeys(PREFIX, accountId);
  const pipe = shared.redis!.pipeline();
  for (const sid of callSids) pipe.hmget(keys.call(sid), 'streamStartedAt', 'streamEndedAt');
  const stamps = ((await pipe.exec()) ?? []).map(([, v]) => v as (string | null)[]);
  const startedMarked = stamps.filter((v) => v?.[0]).length;
  const stoppedMarked = stamps.filter((v) => v?.[1]).length;
  for (const s of streams) s.ws.close();
  await sleep(200);
  await stopChild(gw);
  const bare = await bareRun(S);

  const counted = metrics.get('minutegate_media_frames_total{kind="media"}') ?? -1;
  const malformed = metrics.get('minutegate_media_frames_total{kind="malformed"}') ?? -1;
  const cpu = cpuShare(cpuS.a!, cpuS.b!);
  const windowS = (cpuS.b!.wall - cpuS.a!.wall) / 1000;
  cpuRows.push({ phase: 'media', window: `${r1(windowS)} s`, cpu });
  rows.push({
    phase: 'media',
    what: `frames sent / counted by the gateway (${S} streams)`,
    value: `${fmtInt(sent)} / ${fmtInt(counted)}; malformed ${malformed}`,
    target: 'equal; 0',
    met: check(counted === sent && malformed === 0 && closedEarly === 0, 'media: the gateway counts every frame sent, none malformed, no stream closed early'),
  });
  rows.push({
    phase: 'media',
    what: 'calls whose stream start / stop the gateway recorded',
    value: `${startedMarked} / ${stoppedMarked} of ${S}`,
    target: 'all',
    met: check(startedMarked === S && stoppedMarked === S, 'media: every stream start and stop is recorded on its call'),
  });
  rows.push({
    phase: 'media',
    what: `frames/s in the measured window (loadgen lag max ${r1(maxLagMs)} ms)`,
    value: fmtInt(sentInWindow / windowS),
    target: `${fmtInt(S * 50)}`,
    met: sentInWindow / windowS >= S * 50 * 0.95,
  });
  rows.push({
    phase: 'media',
    what: 'gateway CPU, % of one core',
    value: cpu.server === null ? '-' : `${cpu.server}%`,
    // Issue #22's target (issue #3's was 50%).
    target: '≤ 20%',
    met: cpu.server === null ? null : cpu.server <= 20,
  });
  // Machine-independent cost (issue #12): the gateway's own CPU time per frame.
  const cpuUsPerFrame = cpuUsPer(cpuS.a!.server === null || cpuS.b!.server === null ? null : cpuS.b!.server - cpuS.a!.server, sentInWindow);
  rows.push({
    phase: 'media',
    what: 'gateway CPU per media frame (/proc); DERIVED: frames/s per gateway core (1e6 / µs)',
    value: cpuUsPerFrame === null ? '-' : `${cpuUsPerFrame} µs; ${fmtInt(1e6 / cpuUsPerFrame)}/s`,
    target: '-',
    met: null,
  });
  rows.push({
    phase: 'media',
    what: 'bare ws server, same frames (media-bare-server.mjs: the same socket options, media frames counted by prefix): % of one core; µs per frame',
    value: `${bare.cpu.server === null ? '-' : `${bare.cpu.server}%`}; ${bare.cpuUsPerFrame ?? '-'} µs (counted ${fmtInt(bare.counted)} of ${fmtInt(bare.sent)})`,
    target: '-',
    met: check(bare.counted === bare.sent, 'media bare: counts every frame sent'),
  });
  const ratio = cpuUsPerFrame !== null && bare.cpuUsPerFrame ? r2(cpuUsPerFrame / bare.cpuUsPerFrame) : null;
  rows.push({ phase: 'media', what: 'gateway CPU per frame ÷ bare ws server\'s (same run)', value: ratio === null ? '-' : String(ratio), target: '-', met: null });
  if (maxLagMs > 40) {
    notes.push(`media: the load generator fell up to ${r1(maxLagMs)} ms behind its 20 ms schedule (frames then went out in bursts); the rate over the window is what counts`);
  }
  return {
    streams: S,
    framesSent: sent,
    framesInWindow: sentInWindow,
    framesPerSecond: Math.round(sentInWindow / windowS),
    framesCounted: counted,
    malformed,
    closedEarly,
    loadgenMaxLagMs: r2(maxLagMs),
    maxClientBufferedBytes: maxBuffered,
    gatewayCpuUsPerFrame: cpuUsPerFrame,
    callSidsKnown: true,
    streamStartsRecorded: startedMarked,
    streamStopsRecorded: stoppedMarked,
    cpu,
    gatewayWarnLogLines: gw.warnLines,
    bare: { cpu: bare.cpu, cpuUsPerFrame: bare.cpuUsPerFrame, framesSent: bare.sent, framesCounted: bare.counted },
  };
}

/** The same frames at the same rate against the bare ws server, in its own process. */
async function bareRun(S: number) {
  const srv = await startServer({ name: 'media bare ws server', script: join(ROOT, 'scripts', 'bench', 'ws', 'media-bare-server.mjs'), env: {}, readyPath: '/healthz', log });
  log(`media: the same ${S} streams against the bare ws server`);
  const payload = mulawPayload();
  const streams = await pool(Array.from({ length: S }, (_, i) => i), 50, async (): Promise<FrameSender> => ({
    ws: trackWs(await openWs(wsBase(srv.port), {})),
    streamSid: `MZ${hex(16)}`,
    payload,
    seq: 1,
    chunk: 0,
    next: 0,
  }));
  const { sent, sentInWindow, cpuS } = await driveFrames(streams, srv.proc.pid);
  await sleep(500);
  const counted = Number(await (await fetch(`http://127.0.0.1:${srv.port}/count`)).text());
  for (const s of streams) s.ws.close();
  await stopChild(srv);
  const cpu = cpuShare(cpuS.a, cpuS.b);
  const windowS = (cpuS.b.wall - cpuS.a.wall) / 1000;
  cpuRows.push({ phase: 'media ceiling', window: `${r1(windowS)} s`, cpu });
  const cpuUsPerFrame = cpuUsPer(cpuS.a.server === null || cpuS.b.server === null ? null : cpuS.b.server - cpuS.a.server, sentInWindow);
  return { sent, counted, cpu, cpuUsPerFrame };
}
