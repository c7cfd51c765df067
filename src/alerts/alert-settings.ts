// Low-balance alert settings: read from the pool, changed through a write committed to the
// books first (R19) and applied by set-alerts-4.lua (setting the same settings again is
// nothing, so a write applied twice is harmless).
import type { Writes } from '../books/writes.js';
import type { AlertSettings as Settings } from '../domain/alert-records.js';
import type { AlertStore } from '../redis/alert-store.js';

export class AlertSettings {
  private readonly setWrite;

  constructor(
    private readonly store: AlertStore,
    writes: Writes,
  ) {
    this.setWrite = writes.register('set_alerts', async (accountId, w: { settings: Settings; now: number }) => ({
      ok: await this.store.setSettings(accountId, w.settings, w.now),
    }));
  }

  settings(accountId: string, now: number): Promise<Settings | null> {
    return this.store.settings(accountId, now);
  }

  /** False: no such account (nothing written). */
  async setSettings(accountId: string, settings: Settings, now: number): Promise<boolean> {
    // An unknown account is refused before anything is journalled.
    if ((await this.store.settings(accountId, now)) === null) return false;
    return (await this.setWrite(accountId, { settings, now })).ok;
  }
}
