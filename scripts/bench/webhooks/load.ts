// One load run of the webhook bench: autocannon (in this process) sends signed bodies at
// a fixed number of connections, for a duration or an amount, and the latencies go into
// the benches' one histogram.
import autocannon from 'autocannon';
import { cpuSample, cpuShare, threadSplit, threadSplitPer, type CpuShare as LoadgenCpuShare, type ThreadSplitPerRequest } from '../lib/cpu.js';
import { Hist } from '../lib/histogram.mjs';
import type { SignedBody } from './bodies.js';
import { shared } from './context.js';

/** This bench has no helper processes: the load generator is this process alone. */
export interface CpuShare {
  gen: number;
  server: number | null;
  redis: number | null;
  other: number | null;
}

const genShare = (s: LoadgenCpuShare): CpuShare => ({ gen: s.loadgen, server: s.server, redis: s.redis, other: s.other });

/** Every process on the machine (server, Redis, load generator, the rest), in % of one
 *  core; null when a share is unknown. */
export function machinePct(c: CpuShare): number | null {
  return c.server === null || c.redis === null || c.other === null ? null : c.server + c.redis + c.gen + c.other;
}

export interface PhaseSpec {
  label: string;
  port: number;
  /** The server's pid, for the CPU shares. */
  pid?: number;
  /** The first request's path; each signed body then goes to its own (SignedBody.path). */
  path: string;
  connections: number;
  duration?: number;
  amount?: number;
  /** Next signed request, or null when there is nothing left to send (see `filler`). */
  next(): SignedBody | null;
  /** Sent instead when next() has nothing (the run is then stopped at once). */
  filler?: () => SignedBody;
  onReply(sid: string, status: number, body: string): void;
}

export interface PhaseResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  requests: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
  /** Requests built (and maybe sent) whose response never came: the outcome is unknown. */
  unanswered: string[];
  exhausted: boolean;
  cpu: CpuShare;
  /** The server's own CPU time over the run (ms), null without /proc. */
  serverCpuMs: number | null;
  /** The same per request, split by thread (µs; context switches per request). */
  serverThreads: ThreadSplitPerRequest | null;
}

/** The runs under way (the scale phase runs one per gateway at once). */
const running = new Set<autocannon.Instance>();

/** Stops the runs under way, if any (cleanup). */
export const stopLoad = () => running.forEach((i) => i.stop());

export async function runPhase(spec: PhaseSpec): Promise<PhaseResult> {
  const cpuBefore = await cpuSample(shared.redis, spec.pid);
  const threadsBefore = threadSplit(spec.pid);
  const run = await runLoad(spec);
  const threadsAfter = threadSplit(spec.pid);
  const cpuAfter = await cpuSample(shared.redis, spec.pid);
  const serverCpuMs = cpuBefore.server === null || cpuAfter.server === null ? null : cpuAfter.server - cpuBefore.server;
  return { ...run, cpu: genShare(cpuShare(cpuBefore, cpuAfter)), serverCpuMs, serverThreads: threadSplitPer(threadsBefore, threadsAfter, run.requests) };
}

/** One autocannon run; `hist` lets parallel runs (one per gateway) share a histogram, whose
 *  percentiles are then those of all their requests. */
export function runLoad(spec: PhaseSpec, hist: Hist = new Hist()): Promise<Omit<PhaseResult, 'cpu' | 'serverCpuMs' | 'serverThreads'>> {
  const inflight = new Set<string>();
  let exhausted = false;
  return new Promise((resolvePhase, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${spec.port}`,
        connections: spec.connections,
        ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.duration }),
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: spec.path,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            setupRequest(req, context) {
              let signed = spec.next();
              if (!signed) {
                if (!exhausted) {
                  exhausted = true;
                  setImmediate(() => instance.stop());
                }
                signed = spec.filler!();
              }
              (context as { sid?: string }).sid = signed.sid;
              inflight.add(signed.sid);
              req.path = signed.path;
              req.body = signed.body;
              req.headers = { ...req.headers, 'x-twilio-signature': signed.signature };
              return req;
            },
            onResponse(status, body, context) {
              const sid = (context as { sid?: string }).sid;
              if (sid === undefined) return;
              inflight.delete(sid);
              spec.onReply(sid, status, body);
            },
          },
        ],
      },
      (err, result) => {
        running.delete(instance);
        if (err) return reject(err);
        resolvePhase({
          rps: result.requests.average,
          p50: hist.pct(50),
          p90: hist.pct(90),
          p99: hist.pct(99),
          max: hist.max(),
          requests: result.requests.total,
          ok2xx: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          durationS: result.duration,
          unanswered: [...inflight],
          exhausted,
        });
      },
    );
    running.add(instance);
    // µs resolution (autocannon's own histogram keeps whole milliseconds).
    instance.on('response', (_client, _status, _bytes, ms) => hist.recordMs(ms));
  });
}
