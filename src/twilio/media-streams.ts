// GET /twilio/media/<token> — Twilio Media Streams. The upgrade is verified like every
// Twilio request, over the wss:// form of PUBLIC_BASE_URL + path (Twilio signs that URL,
// with no parameters), and its path must end in the call's token (media-token.ts, R18): a
// captured signature opens streams of that one call only. `start` must name the token's
// call and a real StreamSid, else the socket is closed 1008 and nothing is recorded; it
// marks the call live. `stop` or a close marks the stream ended and never debits. One
// stream per call is open at a time. `media` frames (50/s per call) are recognised by
// their first bytes and only counted: no JSON parse, no schema, no Redis.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { MediaStreamEvents } from '../metering/media-stream-events.js';
import { rejectUpgrade } from '../ws/upgrade.js';
import { boundedParameters, isStreamSid } from './media-frames.js';
import { verifyMediaToken, type StreamBinding } from './media-token.js';
import { validateTwilioSignature } from './signature.js';
import { requestBase } from './public-url.js';

const MEDIA_PREFIX = Buffer.from('{"event":"media"');
const MAX_FRAME_BYTES = 64 * 1024;
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
  private readonly wss: WebSocketServer;
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
  private draining = false;

  constructor(
    private readonly opts: { authToken: string | null; publicBaseUrl: string | null; tokenKey: Buffer },
    private readonly events: MediaStreamEvents,
    private readonly log: Logger,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.draining) return rejectUpgrade(socket, 503, 'UNAVAILABLE', 'this instance is shutting down');
    if (!this.opts.authToken) {
      return rejectUpgrade(socket, 503, 'NOT_CONFIGURED', 'TWILIO_AUTH_TOKEN is not configured, so Twilio requests cannot be verified');
    }
    const sig = req.headers['x-twilio-signature'];
    const signature = Array.isArray(sig) ? sig[0] : sig;
    const base = requestBase(this.opts.publicBaseUrl, req.headers.host);
    // Twilio signs the wss:// form of the URL (also for a plain-http base behind a proxy
    // or in development, where the socket itself is ws://); its docs suggest also
    // accepting the URL with a trailing slash.
    const path = req.url ?? '';
    const hostPart = base.replace(/^https?:\/\//, '');
    const candidates = [`wss://${hostPart}${path}`];
    if (base.startsWith('http:')) candidates.push(`ws://${hostPart}${path}`);
    const ok = candidates.some(
      (url) =>
        validateTwilioSignature(this.opts.authToken!, signature, url, {}) ||
        (!url.endsWith('/') && validateTwilioSignature(this.opts.authToken!, signature, `${url}/`, {})),
    );
    if (!ok) return rejectUpgrade(socket, 403, 'BAD_SIGNATURE', signature ? 'X-Twilio-Signature does not match' : 'X-Twilio-Signature is missing');
    const pathname = path.split('?')[0]!.replace(/\/$/, '');
    const token = pathname.startsWith(`${ROUTE}/`) ? pathname.slice(ROUTE.length + 1) : '';
    const binding = token ? verifyMediaToken(this.opts.tokenKey, token) : null;
    if (!binding) {
      return rejectUpgrade(socket, 403, 'BAD_TOKEN', `a stream URL is ${ROUTE}/<token>, with the token of the call's own TwiML`);
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, binding));
  }

  private onConnection(ws: WebSocket, binding: StreamBinding): void {
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
    this.draining = true;
    for (const ws of this.sockets) ws.close(1012, 'server restarting');
  }
}
