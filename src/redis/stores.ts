// Every store of one gateway instance on one command connection: the only classes that
// issue Redis commands (besides the bus's and the alerts' subscriber connections).
import type { Cluster, Redis } from 'ioredis';
import { AccountStore } from './account-store.js';
import { AlertStore } from './alert-store.js';
import { ArchiveQueue } from './archive-queue.js';
import { DirectoryStore } from './directory-store.js';
import { PoolStore, type PoolStoreOptions } from './pool-store.js';
import { PurchaseStore } from './purchase-store.js';
import { ReconcileQueue } from './reconcile-queue.js';
import type { ScriptRunner } from './scripts.js';
import { StaffAccessStore } from './staff-access-store.js';

export function createStores(redis: Redis | Cluster, scripts: ScriptRunner, opts: PoolStoreOptions) {
  const { prefix } = opts;
  const pool = new PoolStore(redis, scripts, opts);
  return {
    pool,
    accounts: new AccountStore(redis, scripts, prefix),
    directory: new DirectoryStore(redis, scripts, prefix),
    staffAccess: new StaffAccessStore(redis, prefix),
    reconcileQueue: new ReconcileQueue(redis, scripts, prefix),
    purchases: new PurchaseStore(redis, scripts, pool, prefix),
    alerts: new AlertStore(redis, scripts, pool, prefix),
    archive: new ArchiveQueue(redis, scripts, prefix),
  };
}
