// One softphone or dashboard socket: its principal, the accounts it watches, a per-socket
// rate limit, and flow control. Balance messages are snapshots: a socket that is behind
// gets only the latest (`version` wins), and one whose unsent buffer passes the bound is
// closed, so a slow client never slows anyone else.
import type { WebSocket } from 'ws';
import type { Principal } from '../http/auth.js';
import { CLOSE, errorFrame } from './protocol.js';

export interface Frame {
  version: number;
  data: Buffer;
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
  readonly accounts = new Set<string>();
  private lastBalanceVersion = new Map<string, number>();
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
    if (!this.isOpen) return;
    const last = this.lastBalanceVersion.get(accountId) ?? -1;
    if (frame.version <= last) return;
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.limits.maxBufferBytes) {
      this.close(CLOSE.SLOW_CONSUMER, 'SLOW_CONSUMER: unsent data passed the bound');
      return;
    }
    if (buffered > this.limits.softBufferBytes) {
      // Latest wins: keep only the newest snapshot of each account until the socket drains.
      this.held ??= new Map();
      const h = this.held.get(accountId);
      if (!h || h.version < frame.version) this.held.set(accountId, frame);
      this.armDrain();
      return;
    }
    this.lastBalanceVersion.set(accountId, frame.version);
    this.ws.send(frame.data, { binary: false });
  }

  /** Sends an event that is not coalesced (call events, replies). */
  sendEvent(data: Buffer | string): void {
    if (!this.isOpen) return;
    if (this.ws.bufferedAmount > this.limits.maxBufferBytes) {
      this.close(CLOSE.SLOW_CONSUMER, 'SLOW_CONSUMER: unsent data passed the bound');
      return;
    }
    this.ws.send(data, { binary: false });
  }

  sendText(text: string): void {
    this.sendEvent(text);
  }

  forget(accountId: string): void {
    this.lastBalanceVersion.delete(accountId);
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
