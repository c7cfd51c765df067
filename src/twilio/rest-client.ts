// The Twilio REST reads reconciliation needs (R15): a call, the calls it dialled, and a
// Video participant; and the audit's (R20): every call that started in a window, page by page.
// Plain fetch with Basic auth and a timeout; the base URL is configurable so tests point
// it at a local fake Twilio. A failed look-up is an error, never an answer.
import type { Config } from '../config.js';
export interface TwilioCall {
  sid: string;
  parentCallSid: string | null;
  status: string;
  /** Seconds; null while the call runs or when Twilio reports none (busy, no-answer…). */
  duration: number | null;
  /** When it ended (ms), if Twilio says. */
  endTime: number | null;
  /** When it started (ms); null until dialled. */
  startTime: number | null;
  from: string;
  to: string;
}

/** One page of Twilio's list of calls, and the path of the next (null on the last). */
export interface TwilioCallPage {
  calls: TwilioCall[];
  nextPageUri: string | null;
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
  start_time?: unknown;
  end_time?: unknown;
  from?: unknown;
  to?: unknown;
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
    startTime: instant(r.start_time),
    from: typeof r.from === 'string' ? r.from : '',
    to: typeof r.to === 'string' ? r.to : '',
  };
}

/** Twilio's day filters take a UTC date (YYYY-MM-DD). */
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function toPage(body: unknown): TwilioCallPage {
  const b = body as { calls?: unknown; next_page_uri?: unknown };
  if (!Array.isArray(b.calls)) throw new TwilioRestError('Twilio REST call list without "calls"');
  return {
    calls: b.calls.map((c) => toCall(c as RawCall)),
    nextPageUri: typeof b.next_page_uri === 'string' && b.next_page_uri !== '' ? b.next_page_uri : null,
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
    return toPage(await this.get(`/Calls.json?ParentCallSid=${encodeURIComponent(parentCallSid)}&PageSize=100`)).calls;
  }

  /** Every call (parents and dialled legs) that started on the UTC days from `fromMs` to
   *  `toMs` inclusive, page by page, as Twilio filters by day (`StartTime>=` / `StartTime<=`
   *  YYYY-MM-DD); the caller filters precisely by each record's start. Follows
   *  next_page_uri (a path on the same host) until Twilio gives none. */
  async *callsStarted(fromMs: number, toMs: number, pageSize: number): AsyncGenerator<TwilioCallPage> {
    const q = `StartTime%3E=${utcDay(fromMs)}&StartTime%3C=${utcDay(toMs)}&PageSize=${pageSize}`;
    let page = toPage(await this.get(`/Calls.json?${q}`));
    yield page;
    while (page.nextPageUri) {
      const uri = page.nextPageUri;
      if (!uri.startsWith('/')) throw new TwilioRestError(`Twilio REST gave a next page that is not a path: ${uri.slice(0, 100)}`);
      page = toPage(await this.getUrl(`${this.s.baseUrl}${uri}`, uri));
      yield page;
    }
  }
}

/** Twilio REST for reconciliation and the audit: Basic auth with an API key if one is set,
 *  else with the Auth Token. Null when the account SID or any credential is missing. */
export function twilioRestFor(config: Config): TwilioRest | null {
  const t = config.twilio;
  if (!t.accountSid) return null;
  const creds =
    t.apiKeySid && t.apiKeySecret
      ? { username: t.apiKeySid, password: t.apiKeySecret }
      : t.authToken
        ? { username: t.accountSid, password: t.authToken }
        : null;
  return creds ? new TwilioRest({ baseUrl: t.apiBaseUrl, videoBaseUrl: t.videoApiBaseUrl, accountSid: t.accountSid, ...creds }) : null;
}
