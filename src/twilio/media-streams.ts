// GET /twilio/media — Twilio Media Streams. The upgrade is verified like every Twilio
// request, over the wss:// form of PUBLIC_BASE_URL + path (Twilio signs that URL, with no
// parameters). `start` marks the call live; `stop` or a close marks the stream ended and
// never debits. `media` frames (50/s per call) are recognised by their first bytes and
// only counted: no JSON parse, no schema, no Redis.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { Directory } from '../metering/directory.js';
import type { PoolStore } from '../redis/pool-store.js';
import { rejectUpgrade } from '../ws/upgrade.js';
import { validateTwilioSignature } from './signature.js';
import { requestBase } from './public-url.js';

const MEDIA_PREFIX = Buffer.from('{"event":"media"');
const MAX_FRAME_BYTES = 64 * 1024;
/** Twilio sends `connected` and `start` at once; a socket that names no call by then is
 *  not a stream of ours (the upgrade signature covers only the URL, so it can be replayed). */
const START_TIMEOUT_MS = 10_000;
const POLICY_VIOLATION = 1008;

export interface MediaStats {
  streams: number;
  mediaFrames: number;
  malformedFrames: number;
  unknownCalls: number;
}

interface StreamState {
  ws: WebSocket;
  callSid: string | null;
  accountId: string | null;
  streamSid: string | null;
  stopped: boolean;
}

export class MediaStreams {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  readonly stats: MediaStats = { streams: 0, mediaFrames: 0, malformedFrames: 0, unknownCalls: 0 };
  private draining = false;

  constructor(
    private readonly opts: { authToken: string | null; publicBaseUrl: string | null },
    private readonly store: PoolStore,
    private readonly directory: Directory,
    private readonly clock: () => number,
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
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    this.sockets.add(ws);
    this.stats.streams += 1;
    const st: StreamState = { ws, callSid: null, accountId: null, streamSid: null, stopped: false };
    const startTimer = setTimeout(() => {
      if (!st.callSid) ws.close(POLICY_VIOLATION, 'no start frame');
    }, START_TIMEOUT_MS);
    startTimer.unref();
    ws.on('message', (data, isBinary) => this.onFrame(st, data, isBinary));
    ws.on('error', () => {});
    ws.on('close', () => {
      clearTimeout(startTimer);
      this.sockets.delete(ws);
      if (!st.stopped) void this.mark(st, 'stop', {});
    });
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
        if (!s || typeof s.callSid !== 'string' || st.callSid) {
          this.stats.malformedFrames += 1;
          return;
        }
        st.callSid = s.callSid;
        st.streamSid = typeof msg.streamSid === 'string' ? msg.streamSid : typeof s.streamSid === 'string' ? s.streamSid : 'unknown';
        const params: Record<string, string> = {};
        if (s.customParameters && typeof s.customParameters === 'object') {
          for (const [k, v] of Object.entries(s.customParameters as Record<string, unknown>)) {
            if (typeof v === 'string') params[k] = v;
          }
        }
        void this.mark(st, 'start', params);
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
    if (!st.callSid || !st.streamSid) return;
    try {
      // The account comes from our own CallSid map, never from the stream's parameters.
      st.accountId ??= await this.directory.lookupCall(st.callSid);
      if (!st.accountId) {
        this.stats.unknownCalls += 1;
        if (event === 'start') st.ws.close(POLICY_VIOLATION, 'unknown call');
        return;
      }
      const r = await this.store.recordMediaStream(st.accountId, st.callSid, event, st.streamSid, params, this.clock());
      if (r === 'unknown_call') {
        this.stats.unknownCalls += 1;
        if (event === 'start') st.ws.close(POLICY_VIOLATION, 'unknown call');
      }
    } catch (err) {
      // A live marker is informational; the call is metered by its signals either way.
      this.log.warn('media stream event not recorded', { err, callSid: st.callSid, event });
    }
  }

  async drain(): Promise<void> {
    this.draining = true;
    for (const ws of this.sockets) ws.close(1012, 'server restarting');
  }
}
