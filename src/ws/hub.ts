// Account rooms on this instance: which sockets watch which account, fed by the bus.
// A balance broadcast is sent in slices of sockets with a yield between them, so the
// event loop never stalls on a large room (authorizations stay fast during a broadcast),
// and each socket always gets the newest snapshot available when its turn comes.
import { balanceView } from '../metering/accounts.js';
import type { Bus, BusListener, BusMessage } from '../redis/bus.js';
import type { PoolSnapshot } from '../redis/pool-store.js';
import type { ClientConnection, Frame } from './client-connection.js';

const SLICE = 500;

interface Room {
  accountId: string;
  clients: Set<ClientConnection>;
  latest: Frame | null;
  broadcasting: boolean;
  listener: BusListener;
}

export function balanceFrame(s: PoolSnapshot): Frame {
  return { version: s.version, data: Buffer.from(JSON.stringify({ type: 'balance', ...balanceView(s) })) };
}

export function callFrame(m: BusMessage): Buffer {
  const { t: _t, accountId: _a, at, ...rest } = m as Record<string, unknown>;
  return Buffer.from(JSON.stringify({ type: 'call', ...rest, at: typeof at === 'number' ? new Date(at).toISOString() : at }));
}

export class Hub {
  private readonly rooms = new Map<string, Room>();
  /** Latency of broadcasts, for benchmarks and /metrics: ms from receipt to last send. */
  lastBroadcastMs = 0;

  constructor(private readonly bus: Bus) {}

  roomSize(accountId: string): number {
    return this.rooms.get(accountId)?.clients.size ?? 0;
  }

  async join(accountId: string, client: ClientConnection): Promise<void> {
    let room = this.rooms.get(accountId);
    if (!room) {
      const r: Room = {
        accountId,
        clients: new Set(),
        latest: null,
        broadcasting: false,
        listener: (msg) => this.onBus(r, msg),
      };
      room = r;
      this.rooms.set(accountId, r);
      r.clients.add(client);
      client.accounts.add(accountId);
      await this.bus.listen(accountId, r.listener);
      return;
    }
    room.clients.add(client);
    client.accounts.add(accountId);
  }

  async leave(accountId: string, client: ClientConnection): Promise<void> {
    const room = this.rooms.get(accountId);
    client.accounts.delete(accountId);
    client.forget(accountId);
    if (!room) return;
    room.clients.delete(client);
    if (room.clients.size === 0) {
      this.rooms.delete(accountId);
      await this.bus.unlisten(accountId, room.listener);
    }
  }

  async leaveAll(client: ClientConnection): Promise<void> {
    await Promise.all([...client.accounts].map((a) => this.leave(a, client)));
  }

  /** A snapshot read directly (on connect): offered like a broadcast one. */
  offerSnapshot(accountId: string, client: ClientConnection, s: PoolSnapshot): void {
    const room = this.rooms.get(accountId);
    const frame = balanceFrame(s);
    if (room && (!room.latest || room.latest.version < frame.version)) room.latest = frame;
    client.offerBalance(accountId, room?.latest ?? frame);
  }

  private onBus(room: Room, msg: BusMessage): void {
    if (msg.t === 'balance') {
      if (room.latest && room.latest.version >= msg.version) return;
      room.latest = balanceFrame(msg as unknown as PoolSnapshot);
      this.broadcastBalance(room);
    } else {
      const data = callFrame(msg);
      for (const c of room.clients) c.sendEvent(data);
    }
  }

  private broadcastBalance(room: Room): void {
    if (room.broadcasting) return; // the running pass picks up the newer frame
    room.broadcasting = true;
    const started = performance.now();
    const clients = [...room.clients];
    const version = room.latest!.version;
    let i = 0;
    const step = () => {
      const end = Math.min(i + SLICE, clients.length);
      const frame = room.latest!;
      for (; i < end; i++) clients[i]!.offerBalance(room.accountId, frame);
      if (i < clients.length) {
        setImmediate(step);
        return;
      }
      room.broadcasting = false;
      this.lastBroadcastMs = performance.now() - started;
      // A newer snapshot arrived mid-pass: the sockets served early need it too.
      if (room.latest!.version > version) this.broadcastBalance(room);
    };
    if (clients.length <= SLICE) step();
    else setImmediate(step);
  }
}
