// GET /v1/ws — the softphones' and dashboards' socket, opened by the route in client-route.ts
// once the upgrade passed authentication (Authorization: Bearer, or ?token= for browsers;
// else an HTTP 401 and no upgrade). A staff token watches its own account from the first frame;
// the admin key watches any account it subscribes to. Softphones authorize calls here
// (R2): the reply's authorizationId is passed to Twilio and bound by /twilio/voice.
import type { RawData, WebSocket } from 'ws';
import { isStorageFailure } from '../domain/storage-failure.js';
import type { Authenticator, Principal } from '../http/auth.js';
import type { Logger } from '../log.js';
import type { SoftphoneAuthorizations } from '../metering/softphone-authorizations.js';
import { describeZodError } from '../http/json.js';
import { ClientConnection, type FlowLimits } from './client-connection.js';
import { Hub } from './hub.js';
import { forEachSliced } from './sliced.js';
import { CLIENT_TYPES, CLOSE, clientMessageSchema, errorFrame, quote, type ClientMessage, type RequestId } from './protocol.js';
import type { StaffPresence } from './staff-presence.js';
import { recheckStaffAccess } from './access-recheck.js';
import { StaffSockets } from './staff-sockets.js';
import { MAX_CLIENT_FRAME_BYTES, type AuthorizedMessage, type CanceledMessage, type DeniedMessage, type PongMessage } from '../wire/contract.js';

const INVALID_TO = 'to: must be an E.164 number, an emergency number or a softphone identity ("client:bob")';
/** How often each instance re-checks its staff sockets' tokens (issue #8: within 5 s). */
const ACCESS_RECHECK_MS = 2_000;

export interface ClientGatewayOptions extends FlowLimits {
  heartbeatMs: number;
  /** Open sockets per staff member on this instance (issue #16). */
  maxSocketsPerStaff: number;
  /** Hears each socket request that failed because Redis could not carry it out (R14). */
  onStorageFailure?: () => void;
  /** Hears each authorization answered: "authorized" or the reason it was denied. */
  onAuthorization?: (result: string) => void;
}

export class ClientGateway {
  readonly clients = new Set<ClientConnection>();
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly sweeps = new Map<string, { due: number[]; timer: NodeJS.Timeout | null }>();
  private isDraining = false;
  private accessTimer: NodeJS.Timeout | null = null;
  private readonly staffSockets: StaffSockets;

  constructor(
    private readonly hub: Hub,
    /** The authorize/cancel use case (R2 for softphones). */
    private readonly authorizations: SoftphoneAuthorizations,
    /** Releases a staff member's authorizations after their last socket closed (issue #8). */
    private readonly presence: StaffPresence | null,
    private readonly auth: Authenticator,
    private readonly opts: ClientGatewayOptions,
    private readonly clock: () => number,
    private readonly log: Logger,
  ) {
    this.staffSockets = new StaffSockets(opts.maxSocketsPerStaff);
  }

  /** True once drain() began: the route refuses new sockets (503). */
  get draining(): boolean {
    return this.isDraining;
  }

  start(): void {
    this.presence?.start();
    // Issue #8: a removed staff member's (or a revoked token's) sockets are closed on
    // every instance within ACCESS_RECHECK_MS plus one Redis read.
    const access = this.auth.access;
    if (access) {
      this.accessTimer = setInterval(() => {
        recheckStaffAccess(this.clients, access).catch((err: unknown) => this.log.warn('staff access re-check failed', { err }));
      }, ACCESS_RECHECK_MS);
      this.accessTimer.unref();
    }
    this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Issue #16: the route refuses an upgrade (429) when this is false. */
  hasRoomFor(principal: Principal): boolean {
    return this.staffSockets.hasRoom(principal);
  }

  get maxSocketsPerStaff(): number {
    return this.staffSockets.max;
  }

  /** A socket the route upgraded for this principal (authenticated and admitted). */
  open(ws: WebSocket, principal: Principal): void {
    // The drain may have begun between the route's check and the handshake.
    if (this.isDraining) return ws.close(CLOSE.RESTARTING, 'server restarting; reconnect');
    // Concurrent upgrades of one staff member may all have passed the route's check.
    if (!this.staffSockets.add(principal)) {
      return ws.close(CLOSE.TOO_MANY_SOCKETS, `TOO_MANY_SOCKETS: at most ${this.staffSockets.max} per staff member`);
    }
    const client = new ClientConnection(ws, principal, this.opts);
    this.clients.add(client);
    ws.on('pong', () => (client.alive = true));
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('error', () => {}); // 1009 and protocol errors close the socket; nothing to add
    ws.on('close', () => {
      this.clients.delete(client);
      this.staffSockets.remove(principal);
      void this.hub.leaveAll(client).catch(() => {});
      if (principal.kind === 'staff') this.presence?.closed(principal.accountId, principal.staffId);
    });
    if (principal.kind === 'staff') {
      this.presence?.opened(principal.accountId, principal.staffId);
      void this.watch(client, principal.accountId);
    }
  }

  private async watch(client: ClientConnection, accountId: string, requestId?: RequestId): Promise<void> {
    try {
      await this.hub.join(accountId, client);
      const snapshot = await this.hub.sharedRead(accountId, () => this.authorizations.snapshot(accountId));
      if (!snapshot) {
        await this.hub.leave(accountId, client);
        if (client.principal.kind === 'staff') client.close(CLOSE.ACCOUNT_GONE, `account ${accountId} does not exist`);
        else client.sendText(errorFrame('NOT_FOUND', `account ${accountId} does not exist`, requestId));
        return;
      }
      this.hub.offerSnapshot(accountId, client, snapshot);
    } catch {
      client.sendText(errorFrame('UNAVAILABLE', 'the balance could not be read; it will follow when it changes', requestId));
    }
  }

  private onMessage(client: ClientConnection, data: RawData, isBinary: boolean): void {
    // The socket server takes frames up to Media Streams' 64 KiB; this socket's are smaller.
    if ((data as Buffer).length > MAX_CLIENT_FRAME_BYTES) return client.close(CLOSE.TOO_BIG, 'frame over 16 KiB');
    if (!client.admit(Date.now())) return;
    if (isBinary) return client.sendText(errorFrame('BAD_FRAME', 'send JSON text frames, not binary'));
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString());
    } catch {
      return client.sendText(errorFrame('INVALID_JSON', 'the frame is not valid JSON'));
    }
    const rid = (raw as { requestId?: unknown } | null)?.requestId;
    const requestId = typeof rid === 'string' || typeof rid === 'number' ? rid : undefined;
    const type = (raw as { type?: unknown })?.type;
    if (typeof type !== 'string' || !CLIENT_TYPES.includes(type)) {
      return client.sendText(
        errorFrame('UNKNOWN_TYPE', `type: must be one of ${CLIENT_TYPES.join(', ')}${typeof type === 'string' ? `, not ${quote(type)}` : ''}`, requestId),
      );
    }
    const parsed = clientMessageSchema.safeParse(raw);
    if (!parsed.success) return client.sendText(errorFrame('VALIDATION_FAILED', describeZodError(parsed.error), requestId));
    // While shutting down nothing new starts, so what is in flight can finish and answer.
    if (this.isDraining) return client.sendText(errorFrame('UNAVAILABLE', 'this instance is shutting down; reconnect', requestId));
    client.inFlight += 1;
    this.handle(client, parsed.data)
      .catch((err) => {
        if (isStorageFailure(err)) this.opts.onStorageFailure?.();
        this.log.warn('ws request failed', { err, type });
        client.sendText(errorFrame('UNAVAILABLE', 'the request could not be carried out; retry', requestId));
      })
      .finally(() => (client.inFlight -= 1));
  }

  private async handle(client: ClientConnection, m: ClientMessage): Promise<void> {
    const p = client.principal;
    switch (m.type) {
      case 'ping':
        const pong: PongMessage = m.requestId === undefined ? { type: 'pong' } : { type: 'pong', requestId: m.requestId };
        client.sendText(JSON.stringify(pong));
        return;
      case 'subscribe':
      case 'unsubscribe': {
        if (p.kind === 'staff' && p.accountId !== m.accountId) {
          return client.sendText(errorFrame('FORBIDDEN', 'this token belongs to another account', m.requestId));
        }
        if (m.type === 'unsubscribe') return this.hub.leave(m.accountId, client);
        if (client.watches(m.accountId)) return;
        return this.watch(client, m.accountId, m.requestId);
      }
      case 'authorize': {
        if (p.kind !== 'staff') {
          return client.sendText(errorFrame('FORBIDDEN', 'calls are authorized for a staff member: connect with a staff token', m.requestId));
        }
        // Issue #8: a staff member removed (or a token revoked) moments ago reserves nothing,
        // even before the periodic re-check reaches this socket.
        if (!(await this.auth.admits(p))) {
          return client.close(CLOSE.ACCESS_REVOKED, 'ACCESS_REVOKED: staff member removed or token revoked');
        }
        const r = await this.authorizations.authorize(p, m.requestId, m.to);
        if (r.outcome === 'no_account') return client.sendText(errorFrame('NOT_FOUND', `account ${p.accountId} does not exist`, m.requestId));
        if (r.outcome === 'invalid') return client.sendText(errorFrame('VALIDATION_FAILED', INVALID_TO, m.requestId));
        // A repeated requestId gets the same answer again: counted once.
        if (r.outcome === 'denied') this.opts.onAuthorization?.(r.reason);
        else if (!r.repeat) this.opts.onAuthorization?.('authorized');
        if (r.outcome === 'denied') {
          return client.sendText(JSON.stringify({ type: 'denied', requestId: m.requestId, reason: r.reason } satisfies DeniedMessage));
        }
        client.sendText(
          JSON.stringify({
            type: 'authorized',
            requestId: m.requestId,
            authorizationId: r.authorizationId,
            expiresAt: new Date(r.expiresAt).toISOString(),
          } satisfies AuthorizedMessage),
        );
        if (!r.repeat) this.scheduleSweep(p.accountId, r.expiresAt);
        return;
      }
      case 'cancel': {
        if (p.kind !== 'staff') {
          return client.sendText(errorFrame('FORBIDDEN', 'only the staff member who asked can cancel', m.requestId));
        }
        if (!(await this.authorizations.cancel(p, m.authorizationId))) {
          client.sendText(errorFrame('NOT_FOUND', `authorization ${quote(m.authorizationId)} is not open (unknown, expired, used or not yours)`, m.requestId));
          return;
        }
        // An acknowledgement, so a client can tell a cancel that worked from one still on its way.
        const canceled: CanceledMessage =
          m.requestId === undefined ? { type: 'canceled', authorizationId: m.authorizationId } : { type: 'canceled', authorizationId: m.authorizationId, requestId: m.requestId };
        client.sendText(JSON.stringify(canceled));
        return;
      }
    }
  }

  /** Unbound authorizations expire lazily in every script; this makes the release show
   *  on dashboards on time even when nothing else happens on the account. Expiries only
   *  grow (now + TTL), so a queue per account is enough; ones within 100 ms share a sweep. */
  private scheduleSweep(accountId: string, expiresAt: number): void {
    let q = this.sweeps.get(accountId);
    if (!q) {
      q = { due: [], timer: null };
      this.sweeps.set(accountId, q);
    }
    const last = q.due[q.due.length - 1];
    if (last === undefined || expiresAt - last > 100) q.due.push(expiresAt);
    if (!q.timer) this.armSweep(accountId, q);
  }

  private armSweep(accountId: string, q: { due: number[]; timer: NodeJS.Timeout | null }): void {
    const next = q.due[0];
    if (next === undefined) {
      this.sweeps.delete(accountId);
      return;
    }
    q.timer = setTimeout(() => {
      q.timer = null;
      const now = this.clock();
      while (q.due.length > 0 && q.due[0]! <= now) q.due.shift();
      this.authorizations.snapshot(accountId).catch(() => {});
      this.armSweep(accountId, q);
    }, Math.max(0, next - this.clock()) + 20);
    q.timer.unref();
  }

  /** Pings every socket, in time-boxed slices so 10,000 sockets never stall the loop. */
  private beat(): void {
    forEachSliced([...this.clients], (c) => {
      if (!c.alive) return c.ws.terminate();
      c.alive = false;
      try {
        c.ws.ping();
      } catch {
        c.ws.terminate();
      }
    });
  }

  /** Graceful shutdown: refuse new sockets, let in-flight operations answer, then ask
   *  every client to reconnect elsewhere (1012). */
  async drain(timeoutMs = 10_000): Promise<void> {
    this.isDraining = true;
    this.presence?.stop();
    if (this.accessTimer) clearInterval(this.accessTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    const until = Date.now() + timeoutMs;
    while ([...this.clients].some((c) => c.inFlight > 0) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const c of this.clients) c.close(CLOSE.RESTARTING, 'server restarting; reconnect');
    for (const q of this.sweeps.values()) if (q.timer) clearTimeout(q.timer);
  }
}
