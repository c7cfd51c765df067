// GET /twilio/media/<token> — Twilio Media Streams. The upgrade is a route behind
// verifyTwilio like every Twilio request (webhook-routes.ts: signed over the wss:// form of
// PUBLIC_BASE_URL + path, with no parameters), and its path must end in the call's token
// (media-token.ts, R18): a captured signature opens streams of that one call only. Frames
// are up to 64 KiB (http/upgrades.ts). `start` must name the token's call and a real
// StreamSid, else the socket is closed 1008 and nothing is recorded; it marks the call
// live. `stop` or a close marks the stream ended and never debits. One stream per call is
// open at a time. `media` frames (50/s per call) are recognised by their first bytes and
// only counted: no JSON parse, no schema, no Redis.
import { randomBytes } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { MediaStreamEvents } from '../metering/media-stream-events.js';
import { boundedParameters, isStreamSid } from './media-frames.js';
import { verifyMediaToken, type StreamBinding } from './media-token.js';

const MEDIA_PREFIX = Buffer.from('{"event":"media"');
const ROUTE = '/twilio/media';
/** Twilio sends `connected` and `start` at once; a socket that names no call by then is
 *  not a stream of ours. */
const START_TIMEOUT_MS = 10_000;
const POLICY_VIOLATION = 1008;

export interface MediaStats {
  streams: number;
  mediaFrames: number;
  malformedFrames: number;
  unknownCalls: number;
  /** Streams closed 1008: a start naming another call, a bad StreamSid, a second stream. */
  refusedStreams: number;
}

interface StreamState {
  ws: WebSocket;
  /** The call of the URL's token: the only call this socket may speak about. */
  binding: StreamBinding;
  /** Unique per socket: the holder of the call's open-stream marker in Redis. */
  connectionId: string;
  streamSid: string | null;
  stopped: boolean;
}

export class MediaStreams {
  private readonly sockets = new Set<WebSocket>();

  /** Media Streams sockets open on this instance now. */
  get openSockets(): number {
    return this.sockets.size;
  }
  /** "<accountId> <CallSid>" → its open socket on this instance (Redis holds it across them). */
  private readonly openCalls = new Map<string, WebSocket>();
  private readonly instanceId = randomBytes(8).toString('hex');
  private connections = 0;
  readonly stats: MediaStats = { streams: 0, mediaFrames: 0, malformedFrames: 0, unknownCalls: 0, refusedStreams: 0 };
  private isDraining = false;

  constructor(
    /** tokenKeys: the current key first, then the previous ones (media-token.ts). */
    private readonly opts: { tokenKeys: readonly Buffer[] },
    private readonly events: MediaStreamEvents,
    private readonly log: Logger,
  ) {}

  /** True once drain() began: the route refuses new streams (503). */
  get draining(): boolean {
    return this.isDraining;
  }

  /** The call a stream path (without its query) is for: its token's, or null when the path
   *  carries no valid token (the route then refuses the upgrade 403). */
  bindingOf(path: string): StreamBinding | null {
    const pathname = path.replace(/\/$/, '');
    const token = pathname.startsWith(`${ROUTE}/`) ? pathname.slice(ROUTE.length + 1) : '';
    return token ? verifyMediaToken(this.opts.tokenKeys, token) : null;
  }

  /** Refusal of a path bindingOf found no call in, for the route. */
  static readonly BAD_TOKEN = `a stream URL is ${ROUTE}/<token>, with the token of the call's own TwiML`;

  /** A stream socket the route upgraded for this call. */
  open(ws: WebSocket, binding: StreamBinding): void {
    if (this.isDraining) return ws.close(1012, 'server restarting');
    this.sockets.add(ws);
    this.stats.streams += 1;
    this.connections += 1;
    const st: StreamState = { ws, binding, connectionId: `${this.instanceId}:${this.connections}`, streamSid: null, stopped: false };
    const callKey = `${binding.accountId} ${binding.callSid}`;
    const holder = this.openCalls.get(callKey);
    // A holder already closing has let go: its stop is on its way.
    if (holder && holder.readyState === holder.OPEN) this.refuse(st, 'a stream of this call is already open');
    else this.openCalls.set(callKey, ws);
    const startTimer = setTimeout(() => {
      if (!st.streamSid) ws.close(POLICY_VIOLATION, 'no start frame');
    }, START_TIMEOUT_MS);
    startTimer.unref();
    ws.on('message', (data, isBinary) => this.onFrame(st, data, isBinary));
    ws.on('error', () => {});
    ws.on('close', () => {
      clearTimeout(startTimer);
      this.sockets.delete(ws);
      if (this.openCalls.get(callKey) === ws) this.openCalls.delete(callKey);
      if (!st.stopped) void this.mark(st, 'stop', {});
    });
  }

  /** Closes the socket 1008 before (or instead of) anything is recorded for it. */
  private refuse(st: StreamState, reason: string): void {
    this.stats.refusedStreams += 1;
    if (st.streamSid === null) st.stopped = true; // nothing of it was recorded: no stop to note
    st.ws.close(POLICY_VIOLATION, reason);
  }

  private onFrame(st: StreamState, data: RawData, isBinary: boolean): void {
    const buf = data as Buffer;
    if (!isBinary && Buffer.isBuffer(buf) && buf.length > MEDIA_PREFIX.length && buf.compare(MEDIA_PREFIX, 0, MEDIA_PREFIX.length, 0, MEDIA_PREFIX.length) === 0) {
      this.stats.mediaFrames += 1;
      return;
    }
    let msg: { event?: unknown; start?: { callSid?: unknown; customParameters?: unknown; streamSid?: unknown }; streamSid?: unknown };
    try {
      msg = JSON.parse(buf.toString());
      if (typeof msg !== 'object' || msg === null || typeof msg.event !== 'string') throw new Error('no event');
    } catch {
      this.stats.malformedFrames += 1;
      return;
    }
    switch (msg.event) {
      case 'media':
        this.stats.mediaFrames += 1;
        return;
      case 'start': {
        const s = msg.start;
        if (!s || typeof s !== 'object' || st.streamSid || st.stopped) {
          this.stats.malformedFrames += 1;
          return;
        }
        // The token names the call; a start about any other call is not this stream's.
        if (s.callSid !== st.binding.callSid) return this.refuse(st, "start names another call than the stream URL's");
        const sid = msg.streamSid ?? s.streamSid;
        if (!isStreamSid(sid) || (s.streamSid !== undefined && s.streamSid !== sid)) return this.refuse(st, 'start carries no valid streamSid');
        st.streamSid = sid;
        void this.mark(st, 'start', boundedParameters(s.customParameters));
        return;
      }
      case 'stop':
        st.stopped = true;
        void this.mark(st, 'stop', {});
        return;
      default:
        return; // connected, dtmf, mark: nothing to meter
    }
  }

  private async mark(st: StreamState, event: 'start' | 'stop', params: Record<string, string>): Promise<void> {
    if (!st.streamSid) return;
    const { accountId, callSid } = st.binding;
    try {
      const r = await this.events.record({ accountId, callSid }, event, st.streamSid, params, st.connectionId);
      if (event !== 'start') return;
      if (r === 'unknown_call') {
        this.stats.unknownCalls += 1;
        st.ws.close(POLICY_VIOLATION, 'unknown call');
      } else if (r === 'busy') {
        this.stats.refusedStreams += 1;
        st.ws.close(POLICY_VIOLATION, 'a stream of this call is already open');
      }
    } catch (err) {
      // A live marker is informational; the call is metered by its signals either way.
      this.log.warn('media stream event not recorded', { err, callSid, event });
    }
  }

  async drain(): Promise<void> {
    this.isDraining = true;
    for (const ws of this.sockets) ws.close(1012, 'server restarting');
  }
}
