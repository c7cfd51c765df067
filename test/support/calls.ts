// Drives calls through the real webhooks the way Twilio does: the Voice URL request, the
// dialled leg's status callbacks, the <Dial action> request, the parent's final callback.
import { callSid, type TestGateway } from './gateway.js';

export interface PlacedCall {
  callSid: string;
  status: number;
  twiml: string;
  allowed: boolean;
}

export async function placeSoftphoneCall(
  gw: TestGateway,
  identity: string,
  to = '+14155550100',
  extra: Record<string, string> = {},
): Promise<PlacedCall> {
  const sid = callSid();
  const res = await gw.twilio('/twilio/voice', {
    AccountSid: 'AC00000000000000000000000000000000',
    ApiVersion: '2010-04-01',
    ApplicationSid: 'AP00000000000000000000000000000000',
    CallSid: sid,
    CallStatus: 'ringing',
    Caller: `client:${identity}`,
    Direction: 'inbound',
    From: `client:${identity}`,
    To: to,
    ...extra,
  });
  return { callSid: sid, status: res.status, twiml: res.text, allowed: res.text.includes('<Dial') };
}

export async function placeInboundCall(gw: TestGateway, number: string, from = '+14155550199'): Promise<PlacedCall> {
  const sid = callSid();
  const res = await gw.twilio('/twilio/voice', {
    AccountSid: 'AC00000000000000000000000000000000',
    CallSid: sid,
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: from,
    Caller: from,
    To: number,
    Called: number,
  });
  return { callSid: sid, status: res.status, twiml: res.text, allowed: res.text.includes('<Dial') };
}

/** `at`: the event's Timestamp (ms); real time unless a test moves its own clock. */
export function childLegEvent(parent: string, child: string, seq: number, status: string, seconds?: number, at = Date.now()) {
  const p: Record<string, string> = {
    AccountSid: 'AC00000000000000000000000000000000',
    CallSid: child,
    ParentCallSid: parent,
    CallStatus: status,
    Direction: 'outbound-dial',
    SequenceNumber: String(seq),
    CallbackSource: 'call-progress-events',
    Timestamp: new Date(at).toUTCString(),
  };
  if (seconds !== undefined) {
    p.CallDuration = String(seconds);
    p.Duration = String(Math.ceil(seconds / 60));
  }
  return p;
}

export function parentEvent(parent: string, seq: number | null, status: string, seconds?: number) {
  const p: Record<string, string> = {
    AccountSid: 'AC00000000000000000000000000000000',
    CallSid: parent,
    CallStatus: status,
    Direction: 'inbound',
    CallbackSource: 'call-progress-events',
  };
  if (seq !== null) p.SequenceNumber = String(seq);
  if (seconds !== undefined) p.CallDuration = String(seconds);
  return p;
}

export function dialAction(parent: string, child: string, dialStatus: string, seconds: number) {
  return {
    AccountSid: 'AC00000000000000000000000000000000',
    CallSid: parent,
    CallStatus: 'in-progress',
    DialCallStatus: dialStatus,
    DialCallSid: child,
    DialCallDuration: String(seconds),
    DialBridged: dialStatus === 'completed' ? 'true' : 'false',
  };
}

/** The signals of an answered call that talked `seconds`, in Twilio's usual order. */
export function answeredCallSignals(parent: string, seconds: number, child = callSid()) {
  return [
    childLegEvent(parent, child, 0, 'initiated'),
    childLegEvent(parent, child, 1, 'ringing'),
    childLegEvent(parent, child, 2, 'in-progress'),
    childLegEvent(parent, child, 3, 'completed', seconds),
    dialAction(parent, child, 'completed', seconds),
    parentEvent(parent, null, 'completed', seconds + 5),
  ];
}

export async function postAll(gw: TestGateway, signals: Record<string, string>[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const s of signals) statuses.push((await gw.twilio('/twilio/status', s)).status);
  return statuses;
}
