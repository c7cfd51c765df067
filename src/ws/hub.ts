// Account rooms on this instance: which sockets watch which account, fed by the bus.
//
// Delivery to a room happens in passes. A pass walks the room's sockets in time-boxed
// slices (yielding to the event loop between slices, so a 10,000-socket room never stalls
// authorizations or webhooks), and gives each socket the call events queued before the
// pass began and the newest balance snapshot available when its turn comes. Balance
// snapshots are state, not events: passes start at most every `interval` per room, and
// everything that changed meanwhile is folded into the latest snapshot. The interval is
// MIN_PASS_INTERVAL_MS for a room that changes now and then, and doubles up to
// MAX_PASS_INTERVAL_MS while changes keep arriving faster than that (an authorization
// storm: every authorization changes `reserved`), so authorizing does not flood the
// account's own sockets; a quiet spell of MAX_PASS_INTERVAL_MS sets it back.
import { balanceView } from '../accounts/views.js';
import type { BusMessage, PoolSnapshot } from '../domain/pool-snapshot.js';
import { textFrame, type ClientConnection, type Frame } from './client-connection.js';
import { forEachSliced } from './sliced.js';
import type { BalanceMessage } from '../wire/contract.js';

/** At most ~40 balance passes per second for a room that changes now and then... */
const MIN_PASS_INTERVAL_MS = 25;
/** ...and ~10 for one that changes all the time: its sockets see the balance at most this late. */
const MAX_PASS_INTERVAL_MS = 100;

interface Room {
  accountId: string;
  clients: Set<ClientConnection>;
  latest: Frame | null;
  /** A newer snapshot from the bus, framed only when a pass needs it (most are folded). */
  pending: PoolSnapshot | null;
  /** Call events not yet handed to a pass. */
  events: Buffer[];
  running: boolean;
  timer: NodeJS.Timeout | null;
  lastPassAt: number;
  /** The current throttle (MIN_PASS_INTERVAL_MS..MAX_PASS_INTERVAL_MS). */
  interval: number;
  listener: BusListener;
  /** Settles once the bus carries the account's messages to this room. */
  listening: Promise<void>;
  /** The snapshot read in flight for sockets that just joined, or the last one while it
   *  may be reused (sharedRead). */
  reading: Promise<PoolSnapshot | null> | null;
  /** performance.now() when `reading` settled; null while it is in flight. */
  readAt: number | null;
}

/** How long a room's last snapshot read serves sockets that join after it (sharedRead). */
const READ_REUSE_MS = 1_000;

export function balanceFrame(s: PoolSnapshot): Frame {
  return { version: s.version, wire: textFrame(JSON.stringify({ type: 'balance', ...balanceView(s) } satisfies BalanceMessage)) };
}

export function callFrame(m: BusMessage): Buffer {
  const { t: _t, accountId: _a, at, ...rest } = m as Record<string, unknown>;
  return textFrame(JSON.stringify({ type: 'call', ...rest, at: typeof at === 'number' ? new Date(at).toISOString() : at }));
}

/** A low-balance alert as the socket shows it: {"type":"alert","level","available","threshold","cycleStart",…}. */
export function alertFrame(m: BusMessage): Buffer {
  const { t: _t, version: _v, cycleStart, at, ...rest } = m as Record<string, unknown>;
  const iso = (v: unknown) => (typeof v === 'number' ? new Date(v).toISOString() : v);
  return textFrame(JSON.stringify({ type: 'alert', ...rest, cycleStart: iso(cycleStart), at: iso(at) }));
}

export type BusListener = (msg: BusMessage, raw: string) => void;

/** What the hub needs of the fan-out between instances (redis/bus.ts): an account's
 *  messages, while this instance has sockets watching it. */
export interface AccountChannels {
  listen(accountId: string, fn: BusListener): Promise<void>;
  unlisten(accountId: string, fn: BusListener): Promise<void>;
}

export class Hub {
  private readonly rooms = new Map<string, Room>();
  /** Duration of the last completed pass (ms), for benchmarks and diagnostics. */
  lastPassMs = 0;

  constructor(private readonly bus: AccountChannels) {}

  roomSize(accountId: string): number {
    return this.rooms.get(accountId)?.clients.size ?? 0;
  }

  /** Resolves once the room hears the account's messages, so that whatever the socket
   *  reads next is followed by every later change. Only the socket that made the room
   *  sees a failed subscription (the bus subscribes again when it reconnects). */
  async join(accountId: string, client: ClientConnection): Promise<void> {
    let room = this.rooms.get(accountId);
    client.watch(accountId);
    if (room) {
      room.clients.add(client);
      return room.listening.catch(() => {});
    }
    const r: Room = {
      accountId,
      clients: new Set([client]),
      latest: null,
      pending: null,
      events: [],
      running: false,
      timer: null,
      lastPassAt: 0,
      interval: MIN_PASS_INTERVAL_MS,
      listener: (msg) => this.onBus(r, msg),
      listening: Promise.resolve(),
      reading: null,
      readAt: null,
    };
    room = r;
    this.rooms.set(accountId, r);
    r.listening = this.bus.listen(accountId, r.listener);
    await r.listening;
  }

  /**
   * The snapshot for a socket that has just joined. A read in flight is shared by the
   * sockets of the room that join meanwhile, and a read that completed serves those that
   * join within READ_REUSE_MS after it: a reconnect storm brings thousands of one account's
   * dashboards at once, and a read each cost an ioredis pipeline of ~4 KB apiece that the
   * storm promoted into the old generation (issue #22).
   *
   * The socket gets no older state for it. The read began after the room was listening
   * (join() resolves then), so whatever changed since is in the room already or on its
   * way to it, and offerSnapshot hands out the newer of the read and the room's own. What
   * a read of its own would add is only what no script has published yet (authorizations
   * lapsed but not yet swept, which every script applies and the issuing instance sweeps
   * on time) — for at most READ_REUSE_MS.
   */
  sharedRead(accountId: string, read: () => Promise<PoolSnapshot | null>): Promise<PoolSnapshot | null> {
    const room = this.rooms.get(accountId);
    if (!room) return read();
    if (room.reading && (room.readAt === null || performance.now() - room.readAt < READ_REUSE_MS)) return room.reading;
    const p: Promise<PoolSnapshot | null> = read().then(
      (snapshot) => {
        if (room.reading === p) room.readAt = performance.now();
        return snapshot;
      },
      (err: unknown) => {
        // A failed read is not reused: the next socket reads again.
        if (room.reading === p) room.reading = null;
        throw err;
      },
    );
    room.reading = p;
    room.readAt = null;
    return p;
  }

  async leave(accountId: string, client: ClientConnection): Promise<void> {
    const room = this.rooms.get(accountId);
    client.forget(accountId);
    if (!room) return;
    room.clients.delete(client);
    if (room.clients.size === 0) {
      this.rooms.delete(accountId);
      if (room.timer) clearTimeout(room.timer);
      await this.bus.unlisten(accountId, room.listener);
    }
  }

  async leaveAll(client: ClientConnection): Promise<void> {
    await Promise.all(client.accounts.map((a) => this.leave(a, client)));
  }

  /** A snapshot read directly (on connect), offered like a broadcast one. */
  offerSnapshot(accountId: string, client: ClientConnection, s: PoolSnapshot): void {
    const room = this.rooms.get(accountId);
    if (!room) return client.offerBalance(accountId, balanceFrame(s));
    if (this.newest(room) < s.version) room.pending = s;
    const frame = this.frameOf(room);
    if (frame) client.offerBalance(accountId, frame);
  }

  private newest(room: Room): number {
    return Math.max(room.pending?.version ?? -1, room.latest?.version ?? -1);
  }

  /** The newest snapshot, framed (once). */
  private frameOf(room: Room): Frame | null {
    if (room.pending && (!room.latest || room.pending.version > room.latest.version)) {
      room.latest = balanceFrame(room.pending);
    }
    room.pending = null;
    return room.latest;
  }

  private onBus(room: Room, msg: BusMessage): void {
    if (msg.t === 'balance') {
      if (this.newest(room) >= msg.version) return;
      room.pending = msg as unknown as PoolSnapshot;
    } else {
      // Call events and alerts are events: delivered in order, never folded.
      room.events.push(msg.t === 'alert' ? alertFrame(msg) : callFrame(msg));
    }
    this.schedule(room);
  }

  private schedule(room: Room): void {
    if (room.running || room.timer) return; // the running pass or the timer picks it up
    const now = performance.now();
    if (now - room.lastPassAt >= MAX_PASS_INTERVAL_MS) room.interval = MIN_PASS_INTERVAL_MS;
    const wait = room.lastPassAt + room.interval - now;
    // Call events are not held back by the balance throttle.
    if (wait <= 0 || room.events.length > 0) {
      this.pass(room);
      return;
    }
    // Held back: the room changes faster than its interval, which grows while that lasts.
    room.interval = Math.min(MAX_PASS_INTERVAL_MS, room.interval * 2);
    room.timer = setTimeout(() => {
      room.timer = null;
      this.pass(room);
    }, wait);
  }

  private pass(room: Room): void {
    room.running = true;
    const started = performance.now();
    room.lastPassAt = started;
    const clients = [...room.clients];
    const events = room.events;
    room.events = [];
    let frame = this.frameOf(room);
    const version = frame?.version ?? -1;
    forEachSliced(
      clients,
      (c) => {
        for (const e of events) c.sendWire(e);
        if (frame) c.offerBalance(room.accountId, frame);
      },
      {
        // Each slice offers the newest snapshot there is by then.
        beforeSlice: () => {
          if (room.pending) frame = this.frameOf(room);
        },
        done: () => {
          room.running = false;
          this.lastPassMs = performance.now() - started;
          // Newer state or events arrived mid-pass: the sockets served early need them too.
          if (room.events.length > 0 || this.newest(room) > version) this.schedule(room);
        },
      },
    );
  }
}
