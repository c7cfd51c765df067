// Phase `status`: signed POST /twilio/status <Dial action> (DialCallStatus=completed,
// DialCallDuration=95 → 2 minutes) for the calls authorized by voice, oldest first, each
// exactly once. Calls left over after the measured run are completed (unmeasured).
import type { Child } from '../lib/processes.js';
import { fmtInt, sleep } from '../lib/util.js';
import { POOL_PER_SECOND, dialActionBody, type SignedBody } from './bodies.js';
import { callStates, log, opts } from './context.js';
import { runPhase, type PhaseResult } from './load.js';
import { authorized, bad, dialActionPath, resolveVoice, samples, voiceSpec, type Label } from './voice.js';

export interface StatusOutcome {
  status: PhaseResult;
  completedTotal: number;
  completedMeasured: number;
  drained: number;
  toppedUp: number;
  fillers: number;
  exhaustedRuns: number;
}

export async function statusPhase(gw: Child): Promise<StatusOutcome> {
  const C = opts.connections;
  let head = 0;
  let fillerSeq = 0;
  const completedMeasured = { count: 0 };
  let completedTotal = 0;
  const statusUnanswered = new Set<string>();
  // Completions are signed before the measured run (see pooled()).
  const presigned = new Map<string, SignedBody>();
  const statusSpec = (label: Label, take: () => string | undefined, counter?: { count: number }) => ({
    label,
    port: gw.port,
    pid: gw.proc.pid,
    // The <Dial action> URL the voice answers named (the account in its query).
    path: dialActionPath(),
    connections: C,
    next: (): SignedBody | null => {
      const sid = take();
      if (sid === undefined) return null;
      const ready = presigned.get(sid);
      presigned.delete(sid);
      return ready ?? dialActionBody(sid, dialActionPath());
    },
    // Only if the queue runs dry mid-run (the run is then stopped): a call the gateway
    // does not know, answered 200 as unknown_call and not counted as a completion.
    filler: () => dialActionBody(`CA${'f'.repeat(16)}${(++fillerSeq).toString(16).padStart(16, '0')}`, dialActionPath()),
    onReply(sid: string, status: number, body: string) {
      if (sid.startsWith('CAffffffffffffffff')) return;
      if (status === 200 && body.includes('<Response')) {
        completedTotal++;
        if (counter) counter.count++;
        return;
      }
      statusUnanswered.add(sid);
      if (status >= 200 && status <= 299) bad[label]++;
      samples[label] ??= `${status} ${body.slice(0, 200)}`;
    },
  });
  const takeQueued = () => (head < authorized.length ? authorized[head++] : undefined);
  const presign = (n: number) => {
    for (let k = head; k < Math.min(authorized.length, head + n); k++) {
      const sid = authorized[k]!;
      if (!presigned.has(sid)) presigned.set(sid, dialActionBody(sid, dialActionPath()));
    }
  };

  log(`status: warm-up ${opts.warmup} s`);
  const statusWarm = await runPhase({ ...statusSpec('status', takeQueued), duration: opts.warmup });
  statusWarm.unanswered.forEach((s) => statusUnanswered.add(s));
  if (statusWarm.exhausted) {
    log(`status: the warm-up used up the ${fmtInt(head)} authorized calls after ~${statusWarm.durationS} s (harmless: the rest are topped up)`);
  }

  // Enough authorized calls for the measured run? Top up (unmeasured) if not, with a wide
  // margin: the rate swings on a shared machine. Should the queue still run dry, the run
  // is stopped, topped up again and measured once more.
  let toppedUp = 0;
  const topUp = async (need: number) => {
    const left = authorized.length - head;
    if (left >= need) return;
    const amount = Math.max(C, need - left);
    log(`status: ${fmtInt(left)} calls left, ~${fmtInt(need)} needed: authorizing ${fmtInt(amount)} more (not measured)`);
    const before = authorized.length;
    const run = await runPhase({ ...voiceSpec(gw, 'voiceTopUp', true), amount });
    await resolveVoice(gw, run.unanswered);
    toppedUp += authorized.length - before;
  };
  let rate = statusWarm.ok2xx / Math.max(0.5, statusWarm.durationS);
  let status!: PhaseResult;
  let exhaustedRuns = 0;
  for (let attempt = 1; attempt <= 2; attempt++) {
    await topUp(Math.ceil(rate * opts.duration * (attempt === 1 ? 2 : 3)) + 2 * C);
    log(`status: measuring ${opts.duration} s`);
    bad.status = 0; // count wrong answers of the measured run only (earlier ones are still checked)
    completedMeasured.count = 0;
    presign(POOL_PER_SECOND * opts.duration);
    status = await runPhase({ ...statusSpec('status', takeQueued, completedMeasured), duration: opts.duration });
    status.unanswered.forEach((s) => statusUnanswered.add(s));
    if (!status.exhausted) break;
    exhaustedRuns++;
    rate = Math.max(rate, status.ok2xx / Math.max(0.5, status.durationS));
    log(`status: the authorized calls ran out after ${status.durationS} s${attempt === 1 ? '; measuring again' : ''}`);
  }

  // Complete everything still open (unmeasured), asking about cut-off requests first so
  // no call gets a second completion.
  let drained = 0;
  for (let round = 0; round < 4; round++) {
    await sleep(300);
    const uncertain = [...statusUnanswered];
    statusUnanswered.clear();
    const open: string[] = authorized.slice(head);
    head = authorized.length;
    for (const [sid, state] of await callStates(gw.port, uncertain)) {
      if (state === 'active') open.push(sid);
      else if (state === 'ended') completedTotal++;
    }
    if (open.length === 0) break;
    if (round === 3) throw new Error(`${open.length} calls could not be completed`);
    log(`status: completing the ${fmtInt(open.length)} calls still open (not measured)`);
    let i = 0;
    const drain = await runPhase({
      ...statusSpec('drain', () => (i < open.length ? open[i++] : undefined)),
      connections: Math.min(C, open.length),
      amount: open.length,
    });
    drain.unanswered.forEach((s) => statusUnanswered.add(s));
    drained += open.length;
  }
  return { status, completedTotal, completedMeasured: completedMeasured.count, drained, toppedUp, fillers: fillerSeq, exhaustedRuns };
}
