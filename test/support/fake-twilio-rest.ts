// A small local HTTP server standing in for Twilio's REST API at the network boundary:
// GET /2010-04-01/Accounts/:AC/Calls/:CA.json and /Calls.json?ParentCallSid=…, the list of
// calls filtered by start day as Twilio documents it (`StartTime>=YYYY-MM-DD`,
// `StartTime<=YYYY-MM-DD`), newest first, in pages of `PageSize` chained by a relative
// `next_page_uri` (null on the last), and Twilio Video's /v1/Rooms/:RM/Participants/:PA
// (tests point both base URLs here), Basic auth.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeCall {
  sid: string;
  parent_call_sid: string | null;
  status: string;
  duration: string | null;
  end_time?: string | null;
  /** RFC 2822, as Twilio writes it; null until dialled. */
  start_time?: string | null;
  from?: string;
  to?: string;
  direction?: string;
}

/** Twilio Video's Participant resource, as video.twilio.com serves it. */
export interface FakeParticipant {
  sid: string;
  room_sid: string;
  identity: string;
  status: 'connected' | 'disconnected';
  duration: number | null;
  start_time?: string | null;
  end_time?: string | null;
}

export interface FakeTwilioRest {
  url: string;
  calls: Map<string, FakeCall>;
  /** Video participants by "<RoomSid>/<ParticipantSid>" (GET /v1/Rooms/:RM/Participants/:PA). */
  participants: Map<string, FakeParticipant>;
  /** When set, every request gets this status (an outage). */
  failWith: number | null;
  requests: string[];
  /** Pages of the call list served so far. */
  readonly listPages: number;
  close(): Promise<void>;
}

export async function startFakeTwilioRest(accountSid: string, username: string, password: string): Promise<FakeTwilioRest> {
  const calls = new Map<string, FakeCall>();
  const participants = new Map<string, FakeParticipant>();
  const state: { failWith: number | null; requests: string[]; listPages: number } = { failWith: null, requests: [], listPages: 0 };
  const expectedAuth = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    state.requests.push(req.url ?? '');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (state.failWith) return send(state.failWith, { message: 'unavailable' });
    if (req.headers.authorization !== expectedAuth) return send(401, { code: 20003, message: 'Authenticate' });
    const url = new URL(req.url ?? '/', 'http://x');
    const video = /^\/v1\/Rooms\/(RM\w+)\/Participants\/(PA\w+)$/.exec(url.pathname);
    if (video) {
      const p = participants.get(`${video[1]}/${video[2]}`);
      return p ? send(200, p) : send(404, { code: 20404, message: 'not found' });
    }
    const base = `/2010-04-01/Accounts/${accountSid}/Calls`;
    if (url.pathname === `${base}.json`) {
      const parent = url.searchParams.get('ParentCallSid');
      if (parent !== null) return send(200, { calls: [...calls.values()].filter((c) => c.parent_call_sid === parent) });
      return send(200, listPage(url, base));
    }
    const m = new RegExp(`^${base}/(CA\\w+)\\.json$`).exec(url.pathname);
    const call = m ? calls.get(m[1]!) : undefined;
    if (!call) return send(404, { code: 20404, message: 'not found' });
    return send(200, call);
  });
  // Twilio's list: by UTC start day (inclusive bounds), newest first, paged.
  function listPage(url: URL, base: string) {
    const after = url.searchParams.get('StartTime>');
    const before = url.searchParams.get('StartTime<');
    const pageSize = Math.min(1000, Number(url.searchParams.get('PageSize') ?? 50));
    const page = Number(url.searchParams.get('Page') ?? 0);
    const day = (c: FakeCall) => (c.start_time ? new Date(Date.parse(c.start_time)).toISOString().slice(0, 10) : null);
    const all = [...calls.values()]
      .filter((c) => {
        const d = day(c);
        if ((after || before) && d === null) return false;
        return (!after || d! >= after) && (!before || d! <= before);
      })
      .sort((x, y) => Date.parse(y.start_time ?? '') - Date.parse(x.start_time ?? '') || (x.sid < y.sid ? 1 : -1));
    const slice = all.slice(page * pageSize, (page + 1) * pageSize);
    const more = (page + 1) * pageSize < all.length;
    const q = new URLSearchParams();
    if (after) q.set('StartTime>', after);
    if (before) q.set('StartTime<', before);
    q.set('PageSize', String(pageSize));
    q.set('Page', String(page + 1));
    q.set('PageToken', `PA${slice.at(-1)?.sid ?? ''}`);
    state.listPages += 1;
    return {
      calls: slice,
      page,
      page_size: pageSize,
      next_page_uri: more ? `${base}.json?${q.toString()}` : null,
      uri: `${url.pathname}${url.search}`,
    };
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    participants,
    get failWith() {
      return state.failWith;
    },
    set failWith(v) {
      state.failWith = v;
    },
    requests: state.requests,
    get listPages() {
      return state.listPages;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
