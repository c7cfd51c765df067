// One softphone or dashboard socket: its principal, the accounts it watches, a per-socket
// rate limit, and flow control. Balance messages are snapshots: a socket that is behind
// gets only the latest (`version` wins), and one whose unsent buffer passes the bound is
// closed, so a slow client never slows anyone else.
import type { WebSocket } from 'ws';
import type { Principal } from '../http/auth.js';
import { CLOSE, errorFrame } from './protocol.js';

export interface Frame {
  version: number;
  /** The complete WebSocket text frame (header + payload), built once per broadcast. */
  wire: Buffer;
}

/** Frames a text message once, so a broadcast writes the same bytes to every socket
 *  instead of framing it again per socket (server frames are never masked). A string is
 *  encoded straight into the frame. */
export function textFrame(payload: Buffer | string): Buffer {
  const n = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x81; // FIN + text
  if (n < 126) {
    out[1] = n;
  } else if (n < 65536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(n, 6);
  }
  if (typeof payload === 'string') out.write(payload, head);
  else payload.copy(out, head);
  return out;
}

export interface FlowLimits {
  /** Above this many unsent bytes balance snapshots are held back (latest kept). */
  softBufferBytes: number;
  /** Above this many unsent bytes the socket is closed (SLOW_CONSUMER). */
  maxBufferBytes: number;
  /** Messages a client may send per second before RATE_LIMITED. */
  maxMessagesPerSecond: number;
}

export class ClientConnection {
  alive = true;
  /** Operations in flight (authorize/cancel): shutdown waits for them. */
  inFlight = 0;
  /** Accounts watched, with the last balance version sent for each. A plain array: nearly
   *  every socket watches one account, and 10,000 sockets' Maps and Sets add up. */
  private watched: { accountId: string; version: number }[] = [];
  /** Snapshots held back while the socket is congested: the newest per account. */
  private held: Map<string, Frame> | null = null;
  private drainArmed = false;
  private windowStart = 0;
  private windowCount = 0;
  private closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly principal: Principal,
    private readonly limits: FlowLimits,
  ) {}

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === 1;
  }

  /** Token window of one second; returns false when over the limit. Closes a client that
   *  keeps sending at twice the limit. */
  admit(now: number): boolean {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    this.windowCount += 1;
    if (this.windowCount <= this.limits.maxMessagesPerSecond) return true;
    if (this.windowCount > 2 * this.limits.maxMessagesPerSecond) {
      this.close(CLOSE.RATE_LIMITED, 'RATE_LIMITED: too many messages');
    } else {
      this.sendText(errorFrame('RATE_LIMITED', `more than ${this.limits.maxMessagesPerSecond} messages per second; slow down`));
    }
    return false;
  }

  /** Offers a balance snapshot; sends it unless this socket already has a newer one. */
  offerBalance(accountId: string, frame: Frame): void {
    const w = this.watched.find((x) => x.accountId === accountId);
    if (!w || frame.version <= w.version || !this.mayWrite()) return;
    if (this.ws.bufferedAmount > this.limits.softBufferBytes) {
      // Latest wins: keep only the newest snapshot of each account until the socket drains.
      this.held ??= new Map();
      const h = this.held.get(accountId);
      if (!h || h.version < frame.version) this.held.set(accountId, frame);
      this.armDrain();
      return;
    }
    w.version = frame.version;
    this.writeWire(frame.wire);
  }

  /** Sends a pre-framed event that is not coalesced (call events). */
  sendWire(wire: Buffer): void {
    if (this.mayWrite()) this.writeWire(wire);
  }

  /** A reply to this client alone: framed here and written whole (one write instead of
   *  ws's header-and-payload pair, which costs a writev per reply). */
  sendText(text: string): void {
    if (this.mayWrite()) this.writeWire(textFrame(text));
  }

  /** Open and within its bound; a socket past the bound is closed (SLOW_CONSUMER). */
  private mayWrite(): boolean {
    if (!this.isOpen) return false;
    if (this.ws.bufferedAmount <= this.limits.maxBufferBytes) return true;
    this.close(CLOSE.SLOW_CONSUMER, 'SLOW_CONSUMER: unsent data passed the bound');
    return false;
  }

  // Whole frames go straight to the TCP socket. Safe with ws because compression is off
  // (its sender then writes each frame synchronously, so frames never interleave), and
  // bufferedAmount still counts these bytes (it reads the socket's buffer).
  private writeWire(wire: Buffer): void {
    const socket = (this.ws as unknown as { _socket?: { write(b: Buffer): boolean; destroyed: boolean } })._socket;
    if (!socket || socket.destroyed) return;
    socket.write(wire);
  }

  get accounts(): string[] {
    return this.watched.map((w) => w.accountId);
  }

  watches(accountId: string): boolean {
    return this.watched.some((w) => w.accountId === accountId);
  }

  watch(accountId: string): void {
    if (!this.watches(accountId)) this.watched.push({ accountId, version: -1 });
  }

  forget(accountId: string): void {
    this.watched = this.watched.filter((w) => w.accountId !== accountId);
    this.held?.delete(accountId);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
    // A peer that never answers the close handshake is cut off.
    setTimeout(() => this.ws.terminate(), 5000).unref();
  }

  private armDrain(): void {
    if (this.drainArmed) return;
    const socket = (this.ws as unknown as { _socket?: NodeJS.EventEmitter })._socket;
    if (!socket) return;
    this.drainArmed = true;
    socket.once('drain', () => {
      this.drainArmed = false;
      const held = this.held;
      this.held = null;
      if (held) for (const [acc, f] of held) this.offerBalance(acc, f);
    });
  }
}
