// The two Twilio REST reads reconciliation needs (R15): a call, and the calls it dialled.
// Plain fetch with Basic auth and a timeout; the base URL is configurable so tests point
// it at a local fake Twilio. A failed look-up is an error, never an answer.
export interface TwilioCall {
  sid: string;
  parentCallSid: string | null;
  status: string;
  /** Seconds; null while the call runs or when Twilio reports none (busy, no-answer…). */
  duration: number | null;
}

export interface TwilioRestSettings {
  baseUrl: string;
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
}

function toCall(r: RawCall): TwilioCall {
  if (typeof r.sid !== 'string' || typeof r.status !== 'string') throw new TwilioRestError('a call without sid or status');
  const d = typeof r.duration === 'string' && /^\d+$/.test(r.duration) ? Number(r.duration) : typeof r.duration === 'number' ? r.duration : null;
  return { sid: r.sid, parentCallSid: typeof r.parent_call_sid === 'string' ? r.parent_call_sid : null, status: r.status, duration: d };
}

export class TwilioRest {
  private readonly auth: string;

  constructor(private readonly s: TwilioRestSettings) {
    this.auth = `Basic ${Buffer.from(`${s.username}:${s.password}`).toString('base64')}`;
  }

  private async get(path: string): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.s.baseUrl}/2010-04-01/Accounts/${this.s.accountSid}${path}`, {
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

  async dialledLegs(parentCallSid: string): Promise<TwilioCall[]> {
    const body = (await this.get(`/Calls.json?ParentCallSid=${encodeURIComponent(parentCallSid)}&PageSize=100`)) as { calls?: unknown };
    if (!Array.isArray(body.calls)) throw new TwilioRestError('Twilio REST call list without "calls"');
    return body.calls.map((c) => toCall(c as RawCall));
  }
}
