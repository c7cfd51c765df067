// What a day of calls looks like to Twilio, as data: outbound softphone calls and inbound
// calls ringing several staff softphones, answered or not, under and over 30 s — and the
// status callbacks Twilio sends for each, in its real order (legs' progress, the leg's
// completion, the <Dial action>, the parent's completion), with some sent twice and some
// swapped, as Twilio does. Pure and seeded: one seed, one day.
import { billableMinutes, type BillingRules } from '../../src/domain/billable-minutes.js';

export interface SimCall {
  callSid: string;
  kind: 'outbound' | 'inbound';
  /** The /twilio/voice request. */
  voice: Record<string, string>;
  /** The status callbacks after the call is allowed, in the order to send them. */
  signals: Record<string, string>[];
  answered: boolean;
  talkSeconds: number;
  /** R4 on this call, if it is allowed. */
  expectedMinutes: number;
}

export interface Staff {
  identity: string;
}

/** Mulberry32: small, fast, good enough to draw a day of calls. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (r: () => number, n: number) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const AC = 'AC' + '0'.repeat(32);

/** Talk times people have: many short, some long, a few very long. */
function talkTime(r: () => number): number {
  const x = r();
  if (x < 0.25) return Math.floor(r() * 31); // ≤ 30 s: free
  if (x < 0.85) return 31 + Math.floor(r() * 600);
  return 600 + Math.floor(r() * 3600);
}

/** One status callback of a <Dial>ed leg, as Twilio sends it to the noun's statusCallback
 *  (also what the demo's fake Twilio sends: scripts/demo/fake-twilio.ts). */
export function dialLegSignal(o: {
  accountSid: string;
  parentCallSid: string;
  callSid: string;
  seq: number;
  status: string;
  /** When it happened (ms). */
  at: number;
  /** CallDuration (s), on the leg's final callback. */
  duration?: number;
}): Record<string, string> {
  const p: Record<string, string> = {
    AccountSid: o.accountSid, ApiVersion: '2010-04-01', CallSid: o.callSid, ParentCallSid: o.parentCallSid, CallStatus: o.status,
    Direction: 'outbound-dial', SequenceNumber: String(o.seq), CallbackSource: 'call-progress-events', Timestamp: new Date(o.at).toUTCString(),
  };
  if (o.duration !== undefined) p.CallDuration = String(o.duration);
  return p;
}

export function drawCall(
  r: () => number,
  ctx: {
    staff: Staff[];
    number: string;
    rules: BillingRules;
    at: number;
    /** The longest a call may last, ringing and talk together (s): the demo plays calls in
     *  real time, so it keeps them short enough to watch. Default: no limit. */
    maxSeconds?: number;
  },
): SimCall {
  const callSid = `CA${hex(r, 32)}`;
  const inbound = r() < 0.4;
  const answered = r() < 0.75;
  let talk = answered ? talkTime(r) : 0;
  let ring = 2 + Math.floor(r() * 25);
  if (ctx.maxSeconds !== undefined) {
    // Drawn first, limited after: the same seed draws the same day either way.
    ring = Math.min(ring, Math.floor(ctx.maxSeconds / 5));
    talk = Math.min(talk, Math.max(0, Math.floor(ctx.maxSeconds) - ring - 1));
  }
  const t = (s: number) => new Date(ctx.at + s * 1000).toUTCString();
  const base = { AccountSid: AC, ApiVersion: '2010-04-01' };
  let voice: Record<string, string>;
  let legs: number;
  if (inbound) {
    const from = `+1415${String(Math.floor(r() * 1e7)).padStart(7, '0')}`;
    voice = { ...base, CallSid: callSid, CallStatus: 'ringing', Direction: 'inbound', From: from, Caller: from, To: ctx.number, Called: ctx.number };
    legs = Math.min(ctx.staff.length, 10);
  } else {
    const who = pick(r, ctx.staff).identity;
    const to = `+1628${String(Math.floor(r() * 1e7)).padStart(7, '0')}`;
    voice = { ...base, CallSid: callSid, CallStatus: 'ringing', Direction: 'inbound', From: `client:${who}`, Caller: `client:${who}`, To: to };
    legs = 1;
  }
  const legSids = Array.from({ length: legs }, () => `CA${hex(r, 32)}`);
  const winner = answered ? Math.floor(r() * legs) : -1;
  const signals: Record<string, string>[] = [];
  const leg = (sid: string, seq: number, status: string, at: number, duration?: number) =>
    dialLegSignal({ accountSid: AC, parentCallSid: callSid, callSid: sid, seq, status, at: ctx.at + at * 1000, duration });
  legSids.forEach((sid, i) => {
    signals.push(leg(sid, 0, 'initiated', 0), leg(sid, 1, 'ringing', 1));
    if (i === winner) {
      signals.push(leg(sid, 2, 'in-progress', ring), leg(sid, 3, 'completed', ring + talk, talk));
    } else {
      // The others stop ringing when one answers, or give up.
      signals.push(leg(sid, 2, answered ? 'canceled' : pick(r, ['no-answer', 'busy'] as const), ring, 0));
    }
  });
  signals.push({
    ...base, CallSid: callSid, CallStatus: 'in-progress', DialCallStatus: answered ? 'completed' : 'no-answer',
    DialCallSid: legSids[Math.max(0, winner)]!, DialCallDuration: String(talk), DialBridged: String(answered),
  });
  signals.push({ ...base, CallSid: callSid, CallStatus: 'completed', CallDuration: String(ring + talk + 1), Timestamp: t(ring + talk + 1) });
  // Twilio repeats itself now and then, and two requests in flight may swap.
  for (let i = signals.length - 1; i > 0; i--) {
    if (r() < 0.15) signals.splice(i, 0, signals[i]!);
    if (r() < 0.1) [signals[i], signals[i - 1]] = [signals[i - 1]!, signals[i]!];
  }
  return {
    callSid,
    kind: inbound ? 'inbound' : 'outbound',
    voice,
    signals,
    answered,
    talkSeconds: talk,
    expectedMinutes: answered ? billableMinutes(talk, ctx.rules) : 0,
  };
}
