// Fan-out between gateway instances. The pool scripts SPUBLISH every balance snapshot and
// call event on the account's sharded channel; each instance keeps ONE dedicated
// subscriber connection and subscribes to an account's channel only while it has local
// listeners for it (socket.io-adapter style), unsubscribing when the last one leaves.
// Malformed messages are counted and dropped, never thrown.
import { Cluster, Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { connectionOptions, connectionUrl, type RedisSettings } from './client.js';
import { accountKeys } from './keys.js';

import type { BusMessage } from '../domain/pool-snapshot.js';
export type { BusMessage };

export type BusListener = (msg: BusMessage, raw: string) => void;

export class Bus {
  private readonly sub: Redis | Cluster;
  private readonly listeners = new Map<string, Set<BusListener>>();
  private readonly channelToAccount = new Map<string, string>();
  dropped = 0;

  constructor(
    settings: RedisSettings,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    this.sub = settings.clusterNodes
      ? new Cluster(settings.clusterNodes, { shardedSubscribers: true, lazyConnect: true, redisOptions: connectionOptions(settings) })
      : new Redis(connectionUrl(settings), { lazyConnect: true, connectionName: 'minutegate-bus', maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(50 * n, 1000), ...connectionOptions(settings) });
    this.sub.on('error', (err: Error) => this.log.warn('bus connection error', { err }));
    this.sub.on('smessage', (channel: string, raw: string) => this.dispatch(channel, raw));
  }

  /** False while the subscriber connection is down: this instance's sockets would miss
   *  balance pushes, so /readyz reports not ready. */
  get connected(): boolean {
    return this.sub.status === 'ready';
  }

  async start(): Promise<void> {
    await this.sub.connect();
  }

  async stop(): Promise<void> {
    this.listeners.clear();
    this.sub.disconnect();
  }

  channel(accountId: string): string {
    return accountKeys(this.prefix, accountId).events;
  }

  /** Adds a local listener; the first one for an account subscribes its channel. */
  async listen(accountId: string, fn: BusListener): Promise<void> {
    const channel = this.channel(accountId);
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      this.channelToAccount.set(channel, accountId);
      set.add(fn);
      await this.sub.ssubscribe(channel);
      return;
    }
    set.add(fn);
  }

  /** Removes a local listener; the last one gone unsubscribes the channel. */
  async unlisten(accountId: string, fn: BusListener): Promise<void> {
    const channel = this.channel(accountId);
    const set = this.listeners.get(channel);
    if (!set) return;
    set.delete(fn);
    if (set.size === 0) {
      this.listeners.delete(channel);
      this.channelToAccount.delete(channel);
      await this.sub.sunsubscribe(channel).catch(() => {});
    }
  }

  subscribedChannels(): string[] {
    return [...this.listeners.keys()];
  }

  private dispatch(channel: string, raw: string): void {
    const set = this.listeners.get(channel);
    if (!set) return;
    let msg: BusMessage;
    try {
      msg = JSON.parse(raw) as BusMessage;
      if ((msg.t !== 'balance' && msg.t !== 'call' && msg.t !== 'alert') || typeof msg.version !== 'number') throw new Error('unknown shape');
      // A message must be about the account whose channel carried it.
      if (msg.accountId !== this.channelToAccount.get(channel)) throw new Error('account mismatch');
    } catch (err) {
      this.dropped += 1;
      this.log.warn('bus message dropped', { channel, err });
      return;
    }
    for (const fn of set) fn(msg, raw);
  }
}
