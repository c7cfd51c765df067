// The shapes of low-balance alerts (no I/O): an account's settings, and an alert as the
// pool scripts raise and keep it until delivered (lua/lib/alerts.lua).

export interface AlertSettings {
  thresholdsMinutes: number[];
  email: boolean;
  webhook: boolean;
}

/** An alert as the pool script stored it. */
export interface StoredAlert {
  id: string;
  level: 'low' | 'exhausted';
  accountId: string;
  available: number;
  threshold: number;
  cycleStart: number;
  at: number;
  /** Still to be delivered that way. */
  email: boolean;
  webhook: boolean;
}

/** The settings as the pool keeps them (field alertCfg, read by lua/lib/alerts.lua):
 *  thresholds once each, highest first. set-alerts-4.lua stores it; a restore rebuilds it. */
export function alertConfigJson(s: AlertSettings): string {
  const t = [...new Set(s.thresholdsMinutes)].sort((a, b) => b - a);
  return JSON.stringify({ t, e: s.email ? 1 : 0, w: s.webhook ? 1 : 0 });
}
