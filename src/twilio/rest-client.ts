// The Twilio REST reads reconciliation needs (R15): a call, the calls it dialled, and a
// Video participant.
// Plain fetch with Basic auth and a timeout; the base URL is configurable so tests point
// it at a local fake Twilio. A failed look-up is an error, never an answer.
export interface TwilioCall {
  sid: string;
  parentCallSid: string | null;
  status: string;
  /** Seconds; null while the call runs or when Twilio reports none (busy, no-answer…). */
  duration: number | null;
  /** When it ended (ms), if Twilio says. */
  endTime: number | null;
}

/** Twilio Video's Participant resource (GET /v1/Rooms/{RoomSid}/Participants/{Sid}). */
export interface TwilioParticipant {
  sid: string;
  roomSid: string | null;
  identity: string | null;
  status: string;
  /** Seconds; null while connected (or when Twilio has not filled it in yet). */
  duration: number | null;
  endTime: number | null;
}

export interface TwilioRestSettings {
  baseUrl: string;
  /** Twilio Video's API (https://video.twilio.com). */
  videoBaseUrl: string;
  accountSid: string;
  /** Basic-auth user and password: AccountSid + AuthToken, or API key SID + secret. */
  username: string;
  password: string;
  timeoutMs?: number;
}

export class TwilioRestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TwilioRestError';
  }
}

interface RawCall {
  sid?: unknown;
  parent_call_sid?: unknown;
  status?: unknown;
  duration?: unknown;
  end_time?: unknown;
}

interface RawParticipant {
  sid?: unknown;
  room_sid?: unknown;
  identity?: unknown;
  status?: unknown;
  duration?: unknown;
  end_time?: unknown;
}

/** Durations come as a string of digits (voice) or a number (video); anything else is none. */
function seconds(v: unknown): number | null {
  if (typeof v === 'string' && /^\d{1,9}$/.test(v)) return Number(v);
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  return null;
}

function instant(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : null;
}

function toCall(r: RawCall): TwilioCall {
  if (typeof r.sid !== 'string' || typeof r.status !== 'string') throw new TwilioRestError('a call without sid or status');
  return {
    sid: r.sid,
    parentCallSid: typeof r.parent_call_sid === 'string' ? r.parent_call_sid : null,
    status: r.status,
    duration: seconds(r.duration),
    endTime: instant(r.end_time),
  };
}

function toParticipant(r: RawParticipant): TwilioParticipant {
  if (typeof r.sid !== 'string' || typeof r.status !== 'string') throw new TwilioRestError('a participant without sid or status');
  return {
    sid: r.sid,
    roomSid: typeof r.room_sid === 'string' ? r.room_sid : null,
    identity: typeof r.identity === 'string' ? r.identity : null,
    status: r.status,
    duration: seconds(r.duration),
    endTime: instant(r.end_time),
  };
}

export class TwilioRest {
  private readonly auth: string;

  constructor(private readonly s: TwilioRestSettings) {
    this.auth = `Basic ${Buffer.from(`${s.username}:${s.password}`).toString('base64')}`;
  }

  private async get(path: string): Promise<unknown> {
    return this.getUrl(`${this.s.baseUrl}/2010-04-01/Accounts/${this.s.accountSid}${path}`, path);
  }

  private async getUrl(url: string, path: string): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: this.auth, accept: 'application/json' },
        signal: AbortSignal.timeout(this.s.timeoutMs ?? 5000),
      });
    } catch (err) {
      throw new TwilioRestError(`Twilio REST unreachable: ${(err as Error).message}`);
    }
    if (!res.ok) throw new TwilioRestError(`Twilio REST answered ${res.status} for ${path}`);
    try {
      return await res.json();
    } catch {
      throw new TwilioRestError(`Twilio REST sent invalid JSON for ${path}`);
    }
  }

  async fetchCall(callSid: string): Promise<TwilioCall> {
    return toCall((await this.get(`/Calls/${encodeURIComponent(callSid)}.json`)) as RawCall);
  }

  async fetchParticipant(roomSid: string, participantSid: string): Promise<TwilioParticipant> {
    const path = `/v1/Rooms/${encodeURIComponent(roomSid)}/Participants/${encodeURIComponent(participantSid)}`;
    return toParticipant((await this.getUrl(`${this.s.videoBaseUrl}${path}`, path)) as RawParticipant);
  }

  async dialledLegs(parentCallSid: string): Promise<TwilioCall[]> {
    const body = (await this.get(`/Calls.json?ParentCallSid=${encodeURIComponent(parentCallSid)}&PageSize=100`)) as { calls?: unknown };
    if (!Array.isArray(body.calls)) throw new TwilioRestError('Twilio REST call list without "calls"');
    return body.calls.map((c) => toCall(c as RawCall));
  }
}
