// Phase `voice`: signed POST /twilio/voice from a softphone, a unique CallSid per request;
// every answer must be a <Dial>. The calls it authorizes feed the status phase.
import type { Child } from '../lib/processes.js';
import { fmtInt, sleep } from '../lib/util.js';
import { POOL_PER_SECOND, pooled, publicPath, voiceBody, type SignedBody } from './bodies.js';
import { callStates, log, opts } from './context.js';
import { runPhase, type PhaseResult, type PhaseSpec } from './load.js';

/** Wrong answers (2xx but not the expected TwiML) per phase label, and the first of each. */
export const bad = { voice: 0, status: 0, bare: 0, voiceTopUp: 0, drain: 0 };
export type Label = keyof typeof bad;
export const samples: Record<string, string> = {};

/** The calls authorized so far, oldest first (the status phase completes them in order). */
export const authorized: string[] = [];
const voiceUnanswered = new Set<string>();

/** Where the <Dial action> goes: the URL the gateway's TwiML names (with the account in
 *  its query, issue #22), as the path the bench posts to. Every bench call is on the one
 *  account, so every <Dial> names the same; one naming another is a wrong answer. */
let actionPath: string | null = null;
const ACTION = /<Dial\b[^>]*\baction="([^"]+)"/;

/** The <Dial action> path the gateway named, once a <Dial> has been answered. */
export function dialActionPath(): string {
  if (actionPath === null) throw new Error('no <Dial> answered yet: the <Dial action> URL is not known');
  return actionPath;
}

/** Whether a <Dial> answer names the action every other did (the bench's URLs have
 *  nothing XML escapes). Never throws: it runs in the load generator's reply callback. */
function sameAction(body: string): boolean {
  const m = ACTION.exec(body);
  let path: string;
  try {
    path = publicPath(m?.[1] ?? '');
  } catch {
    return false;
  }
  actionPath ??= path;
  return path === actionPath;
}

export function voiceSpec(gw: Child, label: Label, counted: boolean, next: () => SignedBody = voiceBody): Omit<PhaseSpec, 'duration' | 'amount'> {
  return {
    label,
    port: gw.port,
    pid: gw.proc.pid,
    path: '/twilio/voice',
    connections: opts.connections,
    next,
    onReply(sid, status, body) {
      if (status === 200 && body.includes('<Dial') && sameAction(body)) {
        authorized.push(sid);
        return;
      }
      if (status < 200 || status > 299) {
        voiceUnanswered.add(sid); // a 5xx may still have reserved: ask the gateway later
      } else if (counted) bad[label]++;
      samples[label] ??= `${status} ${body.slice(0, 200)}`;
    },
  };
}

/** Requests cut off at the end of a run may still have been authorized: ask. */
export async function resolveVoice(gw: Child, cutOff: string[] = []) {
  cutOff.forEach((s) => voiceUnanswered.add(s));
  await sleep(300);
  const sids = [...voiceUnanswered];
  voiceUnanswered.clear();
  let added = 0;
  for (const [sid, state] of await callStates(gw.port, sids)) {
    if (state === 'active') {
      authorized.push(sid);
      added++;
    }
  }
  return { asked: sids.length, added };
}

/** Warm-up, then the measured run. */
export async function voicePhase(gw: Child): Promise<PhaseResult> {
  log(`voice: warm-up ${opts.warmup} s`);
  const warm = await runPhase({ ...voiceSpec(gw, 'voice', false), duration: opts.warmup });
  warm.unanswered.forEach((s) => voiceUnanswered.add(s));
  log(`voice: measuring ${opts.duration} s`);
  const voice = await runPhase({ ...voiceSpec(gw, 'voice', true, pooled(voiceBody, POOL_PER_SECOND * opts.duration)), duration: opts.duration });
  const v1 = await resolveVoice(gw, voice.unanswered);
  log(`voice: ${fmtInt(authorized.length)} calls authorized (${v1.asked} cut-off requests checked, ${v1.added} of them authorized)`);
  return voice;
}
